//! What a node holds and counts, and the events it emits.

use std::sync::{Arc, Mutex};

use swapmesh_net::PeerId;
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

/// The misbehaviour points `node` holds against `peer`, if it knows the peer.
pub(crate) async fn misbehaviour_of(node: &Node, peer: PeerId) -> Option<f64> {
    node.network()
        .peer_scores()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.peer == peer)
        .map(|s| s.misbehaviour)
}

/// Collects what nodes log, for the tests that read the log.
#[derive(Clone, Default)]
pub(crate) struct Log(pub(crate) Arc<Mutex<Vec<u8>>>);

impl Log {
    /// Everything written so far, as text.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
