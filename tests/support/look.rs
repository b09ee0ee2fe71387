//! What a node holds and counts, and the events it emits.

use swapmesh_node::{Node, NodeEvent};
use swapmesh_protocol::{ListingId, MeshId, RecordId};
use tokio::sync::broadcast;

/// The id of the version of a listing a node holds, if any.
pub(crate) fn held(node: &Node, id: &ListingId) -> Option<RecordId> {
    node.listing(id).expect("store read").map(|r| r.id)
}

/// The stable id of `node`'s listing named `d`.
pub(crate) fn listing_id(node: &Node, d: &str) -> ListingId {
    ListingId {
        author: node.author(),
        d: d.to_owned(),
    }
}

/// A mesh id for tests.
pub(crate) fn mesh(name: &str) -> MeshId {
    MeshId::parse(name).expect("test mesh id")
}

/// The value of one sample line of the node's `/metrics` text, e.g.
/// `swapmesh_gossip_records_total{verdict="accepted",reason="inserted"}` (0 when
/// absent).
pub(crate) async fn metric(node: &Node, sample: &str) -> u64 {
    let text = node.metrics_text().await.expect("metrics");
    text.lines()
        .find_map(|line| line.strip_prefix(sample)?.trim().parse().ok())
        .unwrap_or(0)
}

/// Collects a node's events in the background from now on.
pub(crate) struct Recorder {
    rx: broadcast::Receiver<NodeEvent>,
    seen: Vec<NodeEvent>,
}

impl Recorder {
    pub(crate) fn new(node: &Node) -> Self {
        Self {
            rx: node.subscribe_events(),
            seen: Vec::new(),
        }
    }

    /// Everything seen so far.
    pub(crate) fn seen(&mut self) -> &[NodeEvent] {
        loop {
            match self.rx.try_recv() {
                Ok(event) => self.seen.push(event),
                Err(broadcast::error::TryRecvError::Lagged(n)) => {
                    panic!("the test fell {n} events behind");
                }
                Err(_) => break,
            }
        }
        &self.seen
    }
}
