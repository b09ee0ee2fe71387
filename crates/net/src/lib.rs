//! swapmesh-net: placeholder until its issue lands.
