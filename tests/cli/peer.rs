//! A neighbour that is not this build's CLI: a library [`Node`] in the test
//! process on 127.0.0.1 over TCP. It publishes what the API would refuse (a
//! currency outside the ISO 4217 table, as a newer node might) and other
//! authors' listings, which reach the daemons over the real network.

use std::time::Duration;

use swapmesh_net::Transport;
use swapmesh_node::{Node, NodeConfig};
use swapmesh_protocol::Geohash;
use swapmesh_protocol::listing::Listing;
use tempfile::TempDir;
use tokio::runtime::Runtime;

/// A library node and the runtime it runs on.
pub(crate) struct Peer {
    pub(crate) node: Node,
    pub(crate) runtime: Runtime,
    _dir: TempDir,
}

impl Peer {
    /// A node in `area`, listening on a free TCP port of 127.0.0.1, no mDNS.
    pub(crate) fn start(area: &str) -> Peer {
        let runtime = Runtime::new().expect("a tokio runtime");
        let dir = tempfile::tempdir().unwrap();
        let mut config = NodeConfig::new(dir.path());
        config.transport = Transport::Tcp;
        config.listen = vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()];
        config.area = Some(Geohash::parse_area(area).expect("test area"));
        config.mdns = false;
        config.gossip.heartbeat_interval = Duration::from_millis(100);
        let node = runtime
            .block_on(Node::start(config))
            .expect("the peer starts");
        Peer {
            node,
            runtime,
            _dir: dir,
        }
    }

    /// Its address with `/p2p/<peer id>`, for a daemon's `--bootstrap`.
    pub(crate) fn bootstrap_address(&self) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let addrs = self
                .runtime
                .block_on(self.node.listen_addresses())
                .expect("addresses");
            if let Some(a) = addrs.first() {
                return format!("{a}/p2p/{}", self.node.peer_id());
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the peer listens nowhere"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Publishes a listing; returns its id.
    pub(crate) fn publish(&self, listing: Listing) -> String {
        let d = listing.d.clone();
        self.runtime
            .block_on(self.node.publish_listing(listing))
            .expect("the peer publishes");
        format!("{}.{d}", self.node.author())
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.runtime.block_on(self.node.shutdown());
    }
}
