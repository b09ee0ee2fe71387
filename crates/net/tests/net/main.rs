//! Integration tests of swapmesh-net, on the in-memory transport unless a test
//! needs real sockets (the door's, on loopback only): one binary,
//! one module per promise area (STYLE §10).

mod support;

mod discovery;
mod door;
mod event_loop;
mod find_peer;
mod gossip;
mod kademlia;
mod line;
mod misbehaviour;
mod request_response;
mod validation;
