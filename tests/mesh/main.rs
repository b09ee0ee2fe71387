//! Many whole nodes in one process on the memory transport, each with its own sled
//! store: the node library's promises about gossip, validation and restarts.

#[path = "../support/mod.rs"]
mod support;

mod kit;

mod agreements;
mod budget;
mod catchup;
mod gossip;
mod hostile;
mod ingest;
mod lifecycle;
mod mail;
mod photos;
mod private;
mod pushes;
mod quotas;
mod receipts;
mod replays;
mod responders;
mod search;
mod subscriptions;
mod trust;
