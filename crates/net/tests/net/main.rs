//! Integration tests of swapmesh-net on the in-memory transport: one binary,
//! one module per promise area (STYLE §10).

mod support;

mod discovery;
mod event_loop;
mod find_peer;
mod gossip;
mod line;
mod misbehaviour;
mod request_response;
mod validation;
