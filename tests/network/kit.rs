//! The real-network test kit: whole nodes on 127.0.0.1 over TCP or QUIC (never
//! another address), mDNS off, fast timers, a temporary data directory each, and
//! waits bounded in time.

use std::path::Path;
use std::time::Duration;

pub(crate) use crate::support::{held, wait_until};

use swapmesh_net::{Multiaddr, PeerId, Transport, multiaddr::Protocol};
use swapmesh_node::{Node, NodeConfig, NodeEvent};
use swapmesh_protocol::{Geohash, ListingId};
use tempfile::TempDir;
use tokio::sync::broadcast;

/// Which real transport a node runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Net {
    Tcp,
    Quic,
}

impl Net {
    /// The listen address on loopback, port chosen by the system.
    pub(crate) fn listen(self) -> Multiaddr {
        match self {
            Net::Tcp => "/ip4/127.0.0.1/tcp/0",
            Net::Quic => "/ip4/127.0.0.1/udp/0/quic-v1",
        }
        .parse()
        .expect("a valid multiaddr")
    }

    fn transport(self) -> Transport {
        match self {
            Net::Tcp => Transport::Tcp,
            Net::Quic => Transport::Quic,
        }
    }

    /// Whether `address` runs over this transport.
    pub(crate) fn carries(self, address: &Multiaddr) -> bool {
        address.iter().any(|p| match self {
            Net::Tcp => matches!(p, Protocol::Tcp(_)),
            Net::Quic => matches!(p, Protocol::QuicV1),
        })
    }
}

/// A config for tests: loopback only, mDNS off, 100 ms heartbeats, discovery
/// every second.
pub(crate) fn config(dir: &Path, net: Net, area: Option<&str>) -> NodeConfig {
    let mut config = NodeConfig::new(dir);
    config.transport = net.transport();
    config.listen = vec![net.listen()];
    config.area = area.map(|a| Geohash::parse_area(a).expect("test area"));
    config.mdns = false;
    config.gossip.heartbeat_interval = Duration::from_millis(100);
    config.store.cache_capacity = 1024 * 1024;
    config.discovery.provider_lookup_interval = Duration::from_secs(1);
    config.discovery.provider_announce_interval = Duration::from_secs(2);
    config
}

/// A node and the temporary directory it lives in.
pub(crate) struct TestNode {
    pub(crate) node: Node,
    pub(crate) dir: TempDir,
}

impl std::ops::Deref for TestNode {
    type Target = Node;
    fn deref(&self) -> &Node {
        &self.node
    }
}

/// Starts a node in a fresh directory with the test config changed by `adjust`.
pub(crate) async fn node(
    net: Net,
    area: Option<&str>,
    adjust: impl FnOnce(&mut NodeConfig),
) -> TestNode {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = config(dir.path(), net, area);
    adjust(&mut config);
    let node = Node::start(config).await.expect("node starts");
    TestNode { node, dir }
}

/// The first address a node listens on, with its `/p2p/<peer>`.
pub(crate) async fn address(node: &Node) -> Multiaddr {
    wait_until("a listen address", || async {
        !node.listen_addresses().await.unwrap_or_default().is_empty()
    })
    .await;
    let address = node.listen_addresses().await.unwrap()[0].clone();
    assert_loopback(&address);
    address.with(Protocol::P2p(node.peer_id()))
}

/// Fails the test if `address` is not on 127.0.0.1.
pub(crate) fn assert_loopback(address: &Multiaddr) {
    assert!(
        address
            .iter()
            .any(|p| matches!(p, Protocol::Ip4(ip) if ip.is_loopback())),
        "{address} is not a loopback address"
    );
}

/// Whether `node` has a connection to `peer`.
pub(crate) async fn connected(node: &Node, peer: PeerId) -> bool {
    node.peers().await.unwrap_or_default().contains(&peer)
}

/// Waits until `a` and `b` are connected both ways.
pub(crate) async fn wait_connected(a: &Node, b: &Node) {
    let (pa, pb) = (a.peer_id(), b.peer_id());
    wait_until("a connection", || async {
        connected(a, pb).await && connected(b, pa).await
    })
    .await;
}

/// The stable id of `node`'s listing named `d`.
pub(crate) fn listing_id(node: &Node, d: &str) -> ListingId {
    ListingId {
        author: node.author(),
        d: d.to_owned(),
    }
}

/// Waits a little to let gossip that should NOT arrive have its chance.
pub(crate) async fn settle() {
    tokio::time::sleep(Duration::from_millis(2000)).await;
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
