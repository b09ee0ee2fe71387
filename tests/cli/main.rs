//! The real `swapmesh` binary as separate processes: init and run, the API's
//! security and its answers to bad input, configuration, and several nodes over
//! real sockets on 127.0.0.1.

mod kit;

mod api;
mod commands;
mod network;
