//! swapmesh-node: a swapmesh node as a library, and the `swapmesh` binary.
//!
//! # Layout
//! - [`identity`]: the key file and the data directory.
//! - [`config`]: [`NodeConfig`], what a node starts with.
//! - `node`: [`Node`], which wires identity, store and network, runs the ingest
//!   loop and offers the library API (listings, profile, meshes, search, events).
//! - `ingest`: the verdict on each gossip message.
//! - [`events`]: the [`NodeEvent`]s.
//! - [`settings`]: swapmesh.toml < SWAPMESH_* < flags, parsed once.
//! - [`api`]: the local HTTP API (axum) under `/api/v1`.
//! - [`sync`]: catch-up sync sessions over `/swapmesh/sync/1`.
//! - [`run`]: `swapmesh init` and `swapmesh run`. [`cli`] and [`client`]: the
//!   command line and its API client.

pub mod api;
pub mod cli;
pub mod client;
pub mod config;
mod error;
pub mod events;
pub mod identity;
mod ingest;
pub mod invite;
mod metrics;
mod node;
pub mod run;
pub mod settings;
pub mod sync;

pub use config::{NodeConfig, Role};
pub use error::NodeError;
pub use events::NodeEvent;
pub use node::{Node, Placement};
