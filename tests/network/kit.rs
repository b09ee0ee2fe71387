//! The real-network kit: whole nodes on 127.0.0.1 over TCP or QUIC (never
//! another address), mDNS off, fast timers. Nodes in temporary directories,
//! connections, events and waits come from the shared kit (`tests/support`),
//! re-exported here.

use std::path::Path;
use std::time::Duration;

pub(crate) use crate::support::*;

use swapmesh_net::{Multiaddr, Transport, multiaddr::Protocol};
use swapmesh_node::{Node, NodeConfig};
use swapmesh_protocol::Geohash;

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

/// Starts a node in a fresh directory with the test config changed by `adjust`.
pub(crate) async fn node(
    net: Net,
    area: Option<&str>,
    adjust: impl FnOnce(&mut NodeConfig),
) -> TestNode {
    TestNode::start(|dir| {
        let mut config = config(dir, net, area);
        adjust(&mut config);
        config
    })
    .await
}

/// The first address a node listens on, with its `/p2p/<peer>`; fails the test
/// if it is not on 127.0.0.1.
pub(crate) async fn address(node: &Node) -> Multiaddr {
    let address = crate::support::address(node).await;
    assert_loopback(&address);
    address
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
