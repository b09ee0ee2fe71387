//! [`TestNode`]: a whole node in a temporary data directory, which a test can
//! stop, start again on that directory, and run on a clock it moves; and the
//! addresses and connections between nodes.

use std::path::Path;
use std::sync::Arc;

use swapmesh_net::{Multiaddr, PeerId, multiaddr::Protocol};
use swapmesh_node::{ManualClock, Node, NodeConfig};
use tempfile::TempDir;

use super::wait::wait_until;

/// A node and the temporary directory it lives in. It derefs to the running
/// [`Node`].
pub(crate) struct TestNode {
    /// `None` between [`TestNode::stop`] and [`TestNode::resume`]. Declared
    /// before `dir` so the node is dropped before its directory is removed.
    node: Option<Node>,
    /// The config it was last started with, for starting it again.
    config: NodeConfig,
    /// The clock the node reads, when the test moves it.
    clock: Option<ManualClock>,
    dir: TempDir,
}

impl std::ops::Deref for TestNode {
    type Target = Node;
    fn deref(&self) -> &Node {
        self.node.as_ref().expect("the test node is stopped")
    }
}

impl TestNode {
    /// Starts a node in a fresh temporary directory, with the config `config`
    /// makes for that directory.
    pub(crate) async fn start(config: impl FnOnce(&Path) -> NodeConfig) -> TestNode {
        Self::start_on(None, config).await
    }

    /// Starts a node like [`TestNode::start`] whose clock stands still at the
    /// system's time now until the test moves it ([`TestNode::clock`]).
    pub(crate) async fn start_with_clock(config: impl FnOnce(&Path) -> NodeConfig) -> TestNode {
        Self::start_on(Some(ManualClock::starting_now()), config).await
    }

    async fn start_on(
        clock: Option<ManualClock>,
        config: impl FnOnce(&Path) -> NodeConfig,
    ) -> TestNode {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = config(dir.path());
        if let Some(clock) = &clock {
            config.clock = Arc::new(clock.clone());
        }
        let node = Node::start(config.clone()).await.expect("node starts");
        TestNode {
            node: Some(node),
            config,
            clock,
            dir,
        }
    }

    /// The clock the node reads, to move it (clones share the time). Only for a
    /// node started with [`TestNode::start_with_clock`].
    pub(crate) fn clock(&self) -> &ManualClock {
        self.clock
            .as_ref()
            .expect("the node was not started with a manual clock")
    }

    /// The node's data directory.
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Shuts the node down and drops it, keeping its data directory, so that it
    /// can [`resume`](TestNode::resume) later. Until then the node is off: using
    /// it panics.
    pub(crate) async fn stop(&mut self) {
        let node = self.node.take().expect("the test node is already stopped");
        node.shutdown().await.expect("node stops");
        // The store is released with the last handle, before a new node opens it.
        drop(node);
    }

    /// Starts the stopped node again on its data directory, with the config it
    /// had (and the same clock) changed by `adjust`; the change is kept for
    /// later restarts.
    pub(crate) async fn resume(&mut self, adjust: impl FnOnce(&mut NodeConfig)) {
        assert!(self.node.is_none(), "the test node is running");
        adjust(&mut self.config);
        let node = Node::start(self.config.clone())
            .await
            .expect("node starts again");
        self.node = Some(node);
    }

    /// Stops the node and starts it again on its data directory, with the same
    /// config and clock.
    pub(crate) async fn restart(&mut self) {
        self.stop().await;
        self.resume(|_| {}).await;
    }
}

/// The first address `node` listens on, with its `/p2p/<peer>`.
pub(crate) async fn address(node: &Node) -> Multiaddr {
    wait_until("a listen address", || async {
        !node.listen_addresses().await.unwrap_or_default().is_empty()
    })
    .await;
    let address = node.listen_addresses().await.unwrap()[0].clone();
    address.with(Protocol::P2p(node.peer_id()))
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

/// Connects `a` to `b` and waits until both see the connection.
pub(crate) async fn connect(a: &Node, b: &Node) {
    a.dial(address(b).await).await.expect("dial");
    wait_connected(a, b).await;
}
