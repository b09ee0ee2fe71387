//! Whole nodes on real sockets (127.0.0.1 only, mDNS off): TCP and QUIC,
//! Kademlia topic providers, a relay, mesh invites and the address book. Each
//! test is bounded in time by the kit's waits.

#[path = "../support/mod.rs"]
mod support;

mod kit;

mod invites;
mod providers;
mod relay;
mod restart;
mod transports;
