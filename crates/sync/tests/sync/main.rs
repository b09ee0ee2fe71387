//! The promises of swapmesh-sync, one module per area.

mod fingerprint;
mod hostile;
mod reconcile;
mod session;
mod session_hostile;
mod support;
