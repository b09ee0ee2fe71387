//! Catch-up sync over `/swapmesh/sync/1` (DESIGN §4): gossip reaches only nodes that
//! are online, so when a peer that shares a topic connects, after a restart, and on
//! a jittered timer, the two reconcile the topic's set of `(created_at, id)` items
//! with [`swapmesh_sync::Reconciler`], then the initiator fetches what it lacks and
//! pushes what the peer lacks, in size-capped batches.
//!
//! - `driver`: [`SyncService`], which drives `swapmesh_sync`'s sans-IO session
//!   machines (wire format, bounds, budgeting, session caps) over the network and
//!   hands every fetched or pushed batch to the node's ingest path;
//! - `schedule`: which sessions run when — the topics each peer joined, one queue
//!   and one worker per peer, the jittered timer.

mod driver;
pub(crate) mod schedule;

use serde::{Deserialize, Serialize};

pub use driver::{SessionError, SyncService};
pub use swapmesh_sync::SessionReport;

/// Progress of the sessions this node runs, for `status`.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Progress {
    /// Sessions running now.
    pub running: usize,
    /// Records expected from the running sessions.
    pub expected: usize,
    /// Records fetched so far by the running sessions.
    pub fetched: usize,
    /// Sessions begun as the initiator since start (ended well or not).
    pub started: u64,
    /// Sessions completed since start.
    pub completed: u64,
    /// Records fetched since start.
    pub fetched_total: u64,
}
