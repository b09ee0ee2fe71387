//! The memory-transport kit: nodes on `/memory/0` with fast timers, graphs of
//! them (a line, a seeded random graph) and bare network peers with no node
//! behind them. Nodes, connections and waits come from the shared kit
//! (`tests/support`), re-exported here.

use std::path::Path;
use std::time::Duration;

pub(crate) use crate::support::*;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use swapmesh_net::{NetworkConfig, NetworkHandle};
use swapmesh_node::{Node, NodeConfig};
use swapmesh_protocol::Geohash;

/// A config for tests: 100 ms heartbeats, no mDNS, short blocks.
pub(crate) fn config(dir: &Path, area: Option<&str>) -> NodeConfig {
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
    TestNode::start(|dir| {
        let mut config = config(dir, area);
        adjust(&mut config);
        config
    })
    .await
}

/// Starts a node whose clock stands still until the test moves it
/// ([`TestNode::clock`]).
pub(crate) async fn node_with_clock(area: Option<&str>) -> TestNode {
    TestNode::start_with_clock(|dir| config(dir, area)).await
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
pub(crate) async fn raw_peer() -> NetworkHandle {
    raw_peer_with(|_| {}).await
}

/// A bare network peer with its config changed by `adjust` (a larger
/// `gossip.max_message_bytes` than a node's, for example).
pub(crate) async fn raw_peer_with(adjust: impl FnOnce(&mut NetworkConfig)) -> NetworkHandle {
    let mut config = NetworkConfig::new(swapmesh_net::Keypair::generate_ed25519());
    config.gossip.heartbeat_interval = Duration::from_millis(100);
    adjust(&mut config);
    let (handle, mut events, event_loop) = swapmesh_net::new(config).expect("network");
    tokio::spawn(event_loop.run());
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    handle
}

/// Dials `node` from the bare peer `raw` and waits until the node sees it.
pub(crate) async fn connect_raw(raw: &NetworkHandle, node: &Node) {
    raw.dial(address(node).await).await.expect("dial");
    let peer = raw.local_peer_id();
    wait_until("the raw peer to connect", || async {
        connected(node, peer).await
    })
    .await;
}

/// Opens sync session `session` on `topic` from the bare peer `raw` with
/// `node` (one reconcile round from an empty set), so that a push may name it.
pub(crate) async fn open_session(
    raw: &NetworkHandle,
    node: &Node,
    topic: &swapmesh_protocol::Topic,
    session: u64,
) {
    use swapmesh_sync::wire::{SyncRequest, SyncResponse};
    let first = swapmesh_sync::Reconciler::initiator(swapmesh_sync::Config::default())
        .expect("a reconciler")
        .initiate_bytes(&swapmesh_sync::MemoryStore::new())
        .expect("a first message");
    let request = SyncRequest::Reconcile {
        topic: topic.clone(),
        session,
        message: first,
        proof: None,
    };
    let answer = raw
        .send_request(
            swapmesh_net::Protocol::Sync,
            node.peer_id(),
            request.encode(),
        )
        .await
        .expect("an answer");
    let answer = SyncResponse::decode(&answer, answer.len()).expect("a response");
    assert!(
        matches!(answer, SyncResponse::Reconcile { .. }),
        "{answer:?}"
    );
}

/// Publishes `data` from the bare peer `raw` on `topic`, retrying while it is
/// still connected to `node` (it may not have learnt the node's subscription
/// yet); whether it was sent (false once it has been cut off).
pub(crate) async fn publish_while_connected(
    raw: &NetworkHandle,
    node: &Node,
    topic: &str,
    data: Vec<u8>,
) -> bool {
    for _ in 0..200 {
        if raw.publish(topic, data.clone()).await.is_ok() {
            return true;
        }
        if !node.peers().await.unwrap().contains(&raw.local_peer_id()) {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}
