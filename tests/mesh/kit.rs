//! The in-process test kit: build nodes with temporary stores on the memory
//! transport, connect them as a line, a ring or a seeded random graph, and wait for
//! a condition with a timeout.

use std::time::Duration;

pub(crate) use crate::support::{TIMEOUT, held, wait_until};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use swapmesh_net::{Multiaddr, PeerId};
use swapmesh_node::{Node, NodeConfig};
use swapmesh_protocol::{Geohash, MeshId};
use tempfile::TempDir;

/// A node and the temporary directory it lives in.
pub(crate) struct TestNode {
    pub(crate) node: Node,
    /// Kept so the directory lives as long as the node.
    _dir: TempDir,
}

impl std::ops::Deref for TestNode {
    type Target = Node;
    fn deref(&self) -> &Node {
        &self.node
    }
}

/// A config with fast timers for tests: 100 ms heartbeats, no mDNS, short blocks.
pub(crate) fn config(dir: &std::path::Path, area: Option<&str>) -> NodeConfig {
    let mut config = NodeConfig::new(dir);
    config.area = area.map(|a| Geohash::parse_area(a).expect("test area"));
    config.mdns = false;
    config.gossip.heartbeat_interval = Duration::from_millis(100);
    config.store.cache_capacity = 1024 * 1024;
    config.misbehaviour.block_duration = Duration::from_secs(2);
    config
}

/// Starts a node in a fresh temporary directory.
pub(crate) async fn node(area: Option<&str>) -> TestNode {
    node_with(area, |_| {}).await
}

/// Starts a node in a fresh temporary directory, with its config adjusted.
pub(crate) async fn node_with(
    area: Option<&str>,
    adjust: impl FnOnce(&mut NodeConfig),
) -> TestNode {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = config(dir.path(), area);
    adjust(&mut config);
    let node = Node::start(config).await.expect("node starts");
    TestNode { node, _dir: dir }
}

/// Starts `n` nodes with areas given by `area_of(i)`.
pub(crate) async fn nodes(
    n: usize,
    area_of: impl Fn(usize) -> Option<&'static str>,
) -> Vec<TestNode> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(node(area_of(i)).await);
    }
    out
}

/// The address a node listens on.
pub(crate) async fn address(node: &Node) -> Multiaddr {
    wait_until("a listen address", || async {
        !node.listen_addresses().await.unwrap_or_default().is_empty()
    })
    .await;
    node.listen_addresses().await.unwrap()[0].clone()
}

/// Connects `a` to `b` and waits until both see the connection.
pub(crate) async fn connect(a: &Node, b: &Node) {
    let addr = address(b).await;
    a.dial(addr).await.expect("dial");
    let (pa, pb) = (a.peer_id(), b.peer_id());
    wait_until("a connection", || async {
        connected(a, pb).await && connected(b, pa).await
    })
    .await;
}

async fn connected(node: &Node, peer: PeerId) -> bool {
    node.peers().await.unwrap_or_default().contains(&peer)
}

/// Connects the nodes in a line: 0-1, 1-2, ...
pub(crate) async fn line(nodes: &[TestNode]) {
    for pair in nodes.windows(2) {
        connect(&pair[0], &pair[1]).await;
    }
}

/// A seeded random connected graph: a random spanning tree plus `extra` random edges.
pub(crate) fn random_edges(n: usize, extra: usize, seed: u64) -> Vec<(usize, usize)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut edges = Vec::new();
    for i in 1..n {
        edges.push((rng.gen_range(0..i), i));
    }
    while edges.len() < n - 1 + extra {
        let (a, b) = (rng.gen_range(0..n), rng.gen_range(0..n));
        if a != b && !edges.contains(&(a.min(b), a.max(b))) {
            edges.push((a.min(b), a.max(b)));
        }
    }
    edges
}

/// Connects nodes along `edges`.
pub(crate) async fn connect_edges(nodes: &[TestNode], edges: &[(usize, usize)]) {
    for &(a, b) in edges {
        connect(&nodes[a], &nodes[b]).await;
    }
}

/// A bare network peer (no node behind it) that sends whatever bytes a test gives
/// it: a stale, hostile or scripted peer. Its event channel is kept drained so
/// its loop never stalls.
pub(crate) async fn raw_peer() -> swapmesh_net::NetworkHandle {
    let mut config = swapmesh_net::NetworkConfig::new(swapmesh_net::Keypair::generate_ed25519());
    config.gossip.heartbeat_interval = Duration::from_millis(100);
    let (handle, mut events, event_loop) = swapmesh_net::new(config).expect("network");
    tokio::spawn(event_loop.run());
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    handle
}

/// A mesh id for tests.
pub(crate) fn mesh(name: &str) -> MeshId {
    MeshId::parse(name).expect("test mesh id")
}

/// Waits a little to let gossip that should NOT arrive have its chance.
pub(crate) async fn settle() {
    tokio::time::sleep(Duration::from_millis(1500)).await;
}
