//! A node under test: a real network instance plus a tiny app that validates
//! gossip (anything starting with `bad` is rejected), answers requests with
//! `re:` + the request, and records every event with the time it arrived.

use std::{
    future::Future,
    time::{Duration, Instant},
};

use swapmesh_net::{
    BlockReason, Keypair, MessageId, Misbehaviour, Multiaddr, NetworkConfig, NetworkEvent,
    NetworkHandle, PeerId, Protocol, UnblockReason, Validation,
};
use tokio::{sync::mpsc, task::JoinHandle};

/// Upper bound of any one test.
pub(crate) const TEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Upper bound of waiting for one event.
pub(crate) const WAIT_TIMEOUT: Duration = Duration::from_secs(15);
/// The topic most tests use.
pub(crate) const TOPIC: &str = "swapmesh/1/area/u4pru";

/// Runs `test` with the test time bound.
pub(crate) async fn bounded<F: Future>(test: F) -> F::Output {
    tokio::time::timeout(TEST_TIMEOUT, test)
        .await
        .expect("test timed out")
}

/// What the test app saw.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Seen {
    Gossip {
        id: MessageId,
        topic: String,
        data: Vec<u8>,
        from: PeerId,
    },
    Request {
        protocol: Protocol,
        peer: PeerId,
        data: Vec<u8>,
    },
    Connected(PeerId),
    Disconnected(PeerId),
    Subscribed(PeerId, String),
    ListenAddr(Multiaddr),
    Misbehaved(PeerId, Misbehaviour),
    Blocked(PeerId, BlockReason),
    Unblocked(PeerId, UnblockReason),
    Other(String),
}

/// One node and its test app.
pub(crate) struct Node {
    pub(crate) handle: NetworkHandle,
    pub(crate) peer: PeerId,
    /// Its listen address, with `/p2p/<peer>` (only `/p2p/<peer>` if it
    /// listens nowhere).
    pub(crate) addr: Multiaddr,
    rx: mpsc::UnboundedReceiver<(Instant, Seen)>,
    seen: Vec<(Instant, Seen)>,
    event_loop: JoinHandle<()>,
}

/// The configuration tests start from: fast heartbeats, short blocks.
pub(crate) fn test_config() -> NetworkConfig {
    let mut config = NetworkConfig::new(Keypair::generate_ed25519());
    config.gossip.heartbeat_interval = Duration::from_millis(100);
    config.misbehaviour.block_duration = Duration::from_secs(1);
    config.request_timeout = Duration::from_secs(5);
    config
}

impl Node {
    /// A node with the test configuration.
    pub(crate) async fn start() -> Node {
        Self::start_with(|_| {}).await
    }

    /// A node with the test configuration changed by `tweak`.
    pub(crate) async fn start_with(tweak: impl FnOnce(&mut NetworkConfig)) -> Node {
        let mut config = test_config();
        tweak(&mut config);
        let listens = !config.listen_addresses.is_empty();
        let (handle, mut events, event_loop) = swapmesh_net::new(config).expect("network builds");
        let event_loop = tokio::spawn(event_loop.run());
        let (tx, rx) = mpsc::unbounded_channel();
        let app = handle.clone();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                let seen = match event {
                    NetworkEvent::Gossip {
                        message_id,
                        topic,
                        data,
                        propagation_source,
                    } => {
                        let verdict = if data.starts_with(b"bad") {
                            Validation::Reject
                        } else {
                            Validation::Accept
                        };
                        let _ = app
                            .report_validation(message_id, propagation_source, verdict)
                            .await;
                        Seen::Gossip {
                            id: message_id,
                            topic,
                            data,
                            from: propagation_source,
                        }
                    }
                    NetworkEvent::InboundRequest {
                        protocol,
                        peer,
                        data,
                        reply,
                    } => {
                        let mut answer = b"re:".to_vec();
                        answer.extend_from_slice(&data);
                        let _ = reply.respond(answer).await;
                        Seen::Request {
                            protocol,
                            peer,
                            data,
                        }
                    }
                    NetworkEvent::PeerConnected { peer, .. } => Seen::Connected(peer),
                    NetworkEvent::PeerDisconnected { peer } => Seen::Disconnected(peer),
                    NetworkEvent::PeerSubscribed { peer, topic } => Seen::Subscribed(peer, topic),
                    NetworkEvent::NewListenAddr { address } => Seen::ListenAddr(address),
                    NetworkEvent::PeerMisbehaved {
                        peer, misbehaviour, ..
                    } => Seen::Misbehaved(peer, misbehaviour),
                    NetworkEvent::PeerBlocked { peer, reason } => Seen::Blocked(peer, reason),
                    NetworkEvent::PeerUnblocked { peer, reason } => Seen::Unblocked(peer, reason),
                    other => Seen::Other(format!("{other:?}")),
                };
                if tx.send((Instant::now(), seen)).is_err() {
                    break;
                }
            }
        });
        let peer = handle.local_peer_id();
        let mut node = Node {
            handle,
            peer,
            addr: Multiaddr::empty(),
            rx,
            seen: Vec::new(),
            event_loop,
        };
        let address = if listens {
            node.wait_for("a listen address", |seen| match seen {
                Seen::ListenAddr(a) => Some(a.clone()),
                _ => None,
            })
            .await
        } else {
            Multiaddr::empty()
        };
        node.addr = address.with_p2p(peer).expect("no /p2p yet");
        node
    }

    /// Waits until an event (already seen or new) satisfies `matches`.
    pub(crate) async fn wait_for<T>(
        &mut self,
        what: &str,
        matches: impl FnMut(&Seen) -> Option<T>,
    ) -> T {
        self.wait_for_at(what, matches).await.1
    }

    /// Like [`Node::wait_for`], also returning when the app saw the event.
    pub(crate) async fn wait_for_at<T>(
        &mut self,
        what: &str,
        matches: impl FnMut(&Seen) -> Option<T>,
    ) -> (Instant, T) {
        self.wait_for_since(0, what, matches).await
    }

    /// The position in the log of the next event: pass it to
    /// [`Node::wait_for_event_since`] to wait only for later events.
    pub(crate) fn mark(&mut self) -> usize {
        self.seen().len()
    }

    /// Waits for an event equal to `expected` at or after log position `mark`.
    pub(crate) async fn wait_for_event_since(&mut self, mark: usize, expected: Seen) -> Instant {
        let what = format!("{expected:?} after event {mark}");
        self.wait_for_since(mark, &what, |s| (*s == expected).then_some(()))
            .await
            .0
    }

    async fn wait_for_since<T>(
        &mut self,
        mark: usize,
        what: &str,
        mut matches: impl FnMut(&Seen) -> Option<T>,
    ) -> (Instant, T) {
        if let Some(found) = self
            .seen
            .iter()
            .skip(mark)
            .find_map(|(at, s)| matches(s).map(|t| (*at, t)))
        {
            return found;
        }
        let deadline = tokio::time::Instant::now() + WAIT_TIMEOUT;
        loop {
            let next = tokio::time::timeout_at(deadline, self.rx.recv()).await;
            let Ok(Some((at, seen))) = next else {
                panic!(
                    "{}: no {what} within {WAIT_TIMEOUT:?}; saw {:#?}",
                    self.peer, self.seen
                );
            };
            let found = matches(&seen);
            self.seen.push((at, seen));
            if let Some(found) = found {
                return (at, found);
            }
        }
    }

    /// Waits for an event equal to `expected`; returns when the app saw it.
    pub(crate) async fn wait_for_event(&mut self, expected: Seen) -> Instant {
        let what = format!("{expected:?}");
        self.wait_for_at(&what, |s| (*s == expected).then_some(()))
            .await
            .0
    }

    /// Waits for a gossip message with these bytes.
    pub(crate) async fn wait_for_gossip(&mut self, data: &[u8]) -> (MessageId, String, PeerId) {
        self.wait_for(
            &format!("gossip {:?}", String::from_utf8_lossy(data)),
            |s| match s {
                Seen::Gossip {
                    id,
                    topic,
                    data: d,
                    from,
                } if d == data => Some((*id, topic.clone(), *from)),
                _ => None,
            },
        )
        .await
    }

    /// Everything seen so far (after taking what has already arrived).
    pub(crate) fn seen(&mut self) -> Vec<Seen> {
        while let Ok(item) = self.rx.try_recv() {
            self.seen.push(item);
        }
        self.seen.iter().map(|(_, s)| s.clone()).collect()
    }

    /// Gossip messages seen so far, as (topic, data).
    pub(crate) fn gossip_seen(&mut self) -> Vec<(String, Vec<u8>)> {
        self.seen()
            .into_iter()
            .filter_map(|s| match s {
                Seen::Gossip { topic, data, .. } => Some((topic, data)),
                _ => None,
            })
            .collect()
    }

    /// Shuts the node down and waits for its loop to end.
    pub(crate) async fn stop(self) {
        self.handle.shutdown().await;
        self.event_loop.await.expect("event loop task");
    }
}

/// Dials `b` from `a` and waits until both see the connection.
pub(crate) async fn connect(a: &mut Node, b: &mut Node) {
    a.handle.dial(b.addr.clone()).await.expect("dial starts");
    a.wait_for_event(Seen::Connected(b.peer)).await;
    b.wait_for_event(Seen::Connected(a.peer)).await;
}

/// Waits until `node` has seen `peer` join `topic`.
pub(crate) async fn wait_subscribed(node: &mut Node, peer: PeerId, topic: &str) {
    node.wait_for_event(Seen::Subscribed(peer, topic.to_owned()))
        .await;
}

/// `n` nodes, all joined to `topic`, connected in a line, each having seen its
/// neighbours join.
pub(crate) async fn line(n: usize, topic: &str) -> Vec<Node> {
    let mut nodes = Vec::with_capacity(n);
    for _ in 0..n {
        let node = Node::start().await;
        node.handle.subscribe(topic).await.expect("subscribe");
        nodes.push(node);
    }
    for i in 0..n - 1 {
        let (left, right) = nodes.split_at_mut(i + 1);
        connect(&mut left[i], &mut right[0]).await;
    }
    for i in 0..n {
        if i > 0 {
            let peer = nodes[i - 1].peer;
            wait_subscribed(&mut nodes[i], peer, topic).await;
        }
        if i + 1 < n {
            let peer = nodes[i + 1].peer;
            wait_subscribed(&mut nodes[i], peer, topic).await;
        }
    }
    nodes
}

/// Shuts every node down.
pub(crate) async fn stop_all(nodes: Vec<Node>) {
    for node in nodes {
        node.stop().await;
    }
}

/// A bare libp2p swarm on the memory transport (noise, yamux), running only
/// `behaviour`: a peer that speaks our protocols however a test wants.
pub(crate) fn bare_swarm<B: libp2p::swarm::NetworkBehaviour>(
    behaviour: impl FnOnce(&Keypair) -> B,
) -> libp2p::Swarm<B> {
    use libp2p::{
        Transport as _,
        core::{transport::MemoryTransport, upgrade::Version},
        noise, yamux,
    };
    libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_other_transport(|key| {
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(
                MemoryTransport::default()
                    .upgrade(Version::V1)
                    .authenticate(noise::Config::new(key)?)
                    .multiplex(yamux::Config::default()),
            )
        })
        .expect("the memory transport builds")
        .with_behaviour(behaviour)
        .expect("the behaviour builds")
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build()
}
