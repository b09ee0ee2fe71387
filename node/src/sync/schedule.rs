//! [`Schedule`]: which sync sessions run when. It knows the topics each connected
//! peer has joined; a peer that joins a topic we share gets a session at once
//! (when [`NodeConfig::sync_on_connect`](crate::NodeConfig::sync_on_connect)), and
//! every `sync_interval` (jittered ±25 %) one random peer that shares topics with
//! us does. Sessions with one peer run one after another (a peer serves only a
//! few at once), by one worker per peer.

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use swapmesh_net::PeerId;
use swapmesh_protocol::Topic;
use tokio::sync::broadcast;
use tracing::{debug, info};

use super::SyncService;
use crate::address_book::AddressBook;
use crate::events::NodeEvent;
use crate::meshes::MeshBook;
use crate::tasks::Tasks;

/// The sync schedule of one node.
pub(crate) struct Schedule {
    service: SyncService,
    meshes: Arc<MeshBook>,
    /// Told of every finished session: peers we exchanged records with are
    /// redialled first at the next start.
    address_book: Arc<AddressBook>,
    events: broadcast::Sender<NodeEvent>,
    tasks: Arc<Tasks>,
    on_connect: bool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The topics each connected peer has joined (from gossipsub).
    peer_topics: HashMap<PeerId, BTreeSet<Topic>>,
    /// Topics waiting for a session, per peer. A peer has an entry while its
    /// worker runs.
    queue: HashMap<PeerId, BTreeSet<Topic>>,
    /// When a peer's joining a topic last started a session: subscribe and
    /// unsubscribe churn starts at most one per [`JOIN_SESSION_EVERY`].
    joined: HashMap<(PeerId, Topic), Instant>,
}

/// The least time between two sessions that a peer's joining one topic
/// starts.
pub(crate) const JOIN_SESSION_EVERY: Duration = Duration::from_secs(60);

impl Schedule {
    pub(crate) fn new(
        service: SyncService,
        meshes: Arc<MeshBook>,
        address_book: Arc<AddressBook>,
        events: broadcast::Sender<NodeEvent>,
        tasks: Arc<Tasks>,
        on_connect: bool,
    ) -> Self {
        Self {
            service,
            meshes,
            address_book,
            events,
            tasks,
            on_connect,
            state: Mutex::new(State::default()),
        }
    }

    /// A peer joined `topic`. When we share it, catch up: both sides start a
    /// session, so the one that was away (or just restarted) fetches what it
    /// missed at once; when nothing differs a session is one round of a few
    /// hundred bytes.
    /// Joining again within [`JOIN_SESSION_EVERY`] starts none.
    pub(crate) fn peer_joined(self: &Arc<Self>, peer: PeerId, topic: Topic) {
        let start = {
            let mut state = self.lock();
            state
                .peer_topics
                .entry(peer)
                .or_default()
                .insert(topic.clone());
            if !self.on_connect || !self.meshes.listens_to(&topic) {
                false
            } else {
                let now = Instant::now();
                match state.joined.entry((peer, topic.clone())) {
                    Entry::Occupied(e) if now.duration_since(*e.get()) < JOIN_SESSION_EVERY => {
                        debug!(%peer, %topic, "joined again within a minute: no new session");
                        false
                    }
                    Entry::Occupied(mut e) => {
                        e.insert(now);
                        true
                    }
                    Entry::Vacant(e) => {
                        e.insert(now);
                        true
                    }
                }
            }
        };
        if start {
            self.queue(peer, topic);
        }
    }

    /// The connected peers that have joined any of `topics`.
    pub(crate) fn peers_on(&self, topics: &[Topic]) -> Vec<PeerId> {
        self.lock()
            .peer_topics
            .iter()
            .filter(|(_, joined)| topics.iter().any(|t| joined.contains(t)))
            .map(|(peer, _)| *peer)
            .collect()
    }

    /// The topics `peer` has joined.
    pub(crate) fn topics_of(&self, peer: PeerId) -> Vec<Topic> {
        self.lock()
            .peer_topics
            .get(&peer)
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// A peer left `topic`.
    pub(crate) fn peer_left(&self, peer: PeerId, topic: &Topic) {
        if let Some(topics) = self.lock().peer_topics.get_mut(&peer) {
            topics.remove(topic);
        }
    }

    /// A peer disconnected.
    pub(crate) fn peer_gone(&self, peer: PeerId) {
        let mut state = self.lock();
        state.peer_topics.remove(&peer);
        // Its joins of the last minute are kept: reconnecting is no way
        // around the bound. Older ones go, so the map stays small.
        let now = Instant::now();
        state
            .joined
            .retain(|_, at| now.duration_since(*at) < JOIN_SESSION_EVERY);
    }

    /// Queues a session with `peer` on `topic`; starts the peer's worker unless
    /// it runs.
    pub(crate) fn queue(self: &Arc<Self>, peer: PeerId, topic: Topic) {
        {
            let mut state = self.lock();
            if let Some(queue) = state.queue.get_mut(&peer) {
                queue.insert(topic);
                return;
            }
            state.queue.insert(peer, BTreeSet::from([topic]));
        }
        self.tasks.spawn(self.clone().worker(peer));
    }

    /// Every `interval` (jittered by ±25 %), syncs the shared topics with one
    /// random connected peer: this heals partitions that gossip cannot, since
    /// gossip only reaches nodes that are online when a record is published.
    pub(crate) async fn timer(self: Arc<Self>, interval: Duration) {
        if interval.is_zero() {
            return;
        }
        loop {
            let jitter = rand::thread_rng().gen_range(0.75..1.25);
            tokio::time::sleep(interval.mul_f64(jitter)).await;
            if let Some((peer, topics)) = self.random_peer_with_shared_topics() {
                for topic in topics {
                    self.queue(peer, topic);
                }
            }
        }
    }

    fn random_peer_with_shared_topics(&self) -> Option<(PeerId, Vec<Topic>)> {
        let peers: Vec<(PeerId, BTreeSet<Topic>)> = self
            .lock()
            .peer_topics
            .iter()
            .map(|(p, t)| (*p, t.clone()))
            .collect();
        let listening = self.meshes.topics();
        let shared: Vec<(PeerId, Vec<Topic>)> = peers
            .into_iter()
            .map(|(p, topics)| {
                let topics = topics.into_iter().filter(|t| listening.contains(t));
                (p, topics.collect::<Vec<_>>())
            })
            .filter(|(_, topics)| !topics.is_empty())
            .collect();
        if shared.is_empty() {
            return None;
        }
        let i = rand::thread_rng().gen_range(0..shared.len());
        shared.into_iter().nth(i)
    }

    /// Runs the queued sessions with one peer until its queue is empty.
    async fn worker(self: Arc<Self>, peer: PeerId) {
        loop {
            let next = {
                let mut state = self.lock();
                let topic = state.queue.get_mut(&peer).and_then(BTreeSet::pop_first);
                if topic.is_none() {
                    state.queue.remove(&peer);
                }
                topic
            };
            let Some(topic) = next else { return };
            match self.service.run_session(peer, &topic).await {
                Ok(report) => {
                    self.address_book.exchanged(peer);
                    if report.needed + report.offered > 0 {
                        info!(%peer, %topic, ?report, "sync session done");
                    }
                    let _ = self.events.send(NodeEvent::SyncFinished {
                        peer,
                        topic,
                        fetched: report.fetched,
                        pushed: report.pushed,
                    });
                }
                Err(e) => debug!(%peer, %topic, error = %e, "sync session failed"),
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("sync schedule lock")
    }
}
