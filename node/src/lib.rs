//! swapmesh-node: a swapmesh node as a library, and the `swapmesh` binary.
//!
//! # Layout
//! The node is a façade over parts that each own their state; data flows one way:
//! API → node → net → peer → ingest → store.
//!
//! - `node`: [`Node`], the façade: lifecycle (start, tasks, shutdown) and the
//!   library API the HTTP API, the CLI and the tests use.
//! - `dispatch`: the router of network events to the parts below; topic names are
//!   parsed into [`Topic`](swapmesh_protocol::Topic)s there, once.
//! - `ingest`: the `Ingestor`, the one path by which records of others enter:
//!   judge, store in one transaction, emit events, count verdicts (gossip and sync).
//! - `publish`: the `Publisher` of our own records: versioning, signing, durable
//!   insert, publishing, records held back for topics nobody joined yet.
//! - `meshes`: the `MeshBook`, the named meshes we are in and the topics we
//!   listen to.
//! - `address_book`: the peers we met and where they listen.
//! - [`agree`]: agreements over `/swapmesh/agree/1` — the sequencer, our pending
//!   event, holds, the outbox, the timers (DESIGN §5).
//! - `mail`: sealed mail — the host that keeps envelopes for the neighbours
//!   its operator admits, and our own letters (put, fetched, opened, queued);
//!   what they carry is `agree`'s business (issue 26).
//! - [`sync`]: catch-up sync — the driver of sessions over `/swapmesh/sync/1`
//!   and the schedule of which run when.
//! - `tasks`: the node's background tasks, aborted together at shutdown.
//! - [`health`]: whether the disk takes writes; a failed write turns the node
//!   degraded until a reopened store takes a probe.
//! - `meshes` also keeps the cells dropped for the store budget
//!   (`Node::keep_store_budget`, in `node/mesh.rs`).
//! - [`clock`]: the [`Clock`](clock::Clock) the node reads `now` from (tests move it).
//! - [`config`]: [`NodeConfig`], what a node starts with; [`settings`]:
//!   swapmesh.toml < SWAPMESH_* < flags, parsed once into it.
//! - [`data_dir`]: [`DataDir`], the files of the data directory; [`identity`]: the
//!   key file in it.
//! - [`events`]: the [`NodeEvent`]s; `metrics`: the node's counters in `/metrics`;
//!   `error`: [`NodeError`].
//! - [`invite`]: mesh invites.
//! - [`blobs`]: photos as content-addressed blobs: normalising uploads,
//!   files within a budget, `/swapmesh/blob/1` serving and fetching, garbage
//!   collection in the sweep.
//! - [`api`]: the local HTTP API (axum) under `/api/v1`, one file per resource,
//!   every request and response type in [`api::json`], the OpenAPI document
//!   generated from the handlers (utoipa), errors with codes ([`api::error`]).
//! - [`run`]: `swapmesh init` and `swapmesh run`; [`cli`] and [`client`]: the
//!   command line (money as people type it, pages, short ids, completions, man
//!   pages) and its typed API client.

mod address_book;
pub mod agree;
pub mod api;
pub mod blobs;
mod blocks;
pub mod cli;
pub mod client;
pub mod clock;
pub mod config;
pub mod data_dir;
mod dispatch;
mod error;
pub mod events;
pub mod health;
pub mod identity;
mod ingest;
pub mod invite;
mod mail;
mod meshes;
mod metrics;
mod node;
mod publish;
pub mod run;
pub mod settings;
pub mod skew;
pub mod sync;
mod tasks;
pub mod trust;
pub mod web;

pub use agree::{
    Acted, AgreeError, AgreementSummary, AgreementView, Delivery, Derived, EventSummary,
    ListFilter, PendingView, Proposal,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{Faults, NodeConfig, Role};
pub use data_dir::DataDir;
pub use error::NodeError;
pub use events::NodeEvent;
pub use ingest::IngestError;
pub use mail::MailboxStatus;
pub use node::{Node, Placement, ReviewSummary};
