//! Sybils for the city (issue 28): for every honest node, a few hostile peers
//! with fresh keys each, raw network peers speaking the node's protocols (no
//! node behind them), that join their victim's cell topic and attack all at
//! once: forged versions of honest listings (a higher version under the
//! honest author's key, signed by the Sybil), undecodable gossip, replays of
//! honest records, valid listings from throwaway authors, garbage sync
//! requests and answers, and subscription churn. The [`Watch`] records what
//! the honest nodes did about it: whom they charged and blocked, for what,
//! when, and whom gossipsub's scoring graylisted.

// Shared by the `city` test and bench: each uses a part of it.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use swapmesh_net::{Keypair, NetworkConfig, NetworkEvent, NetworkHandle, PeerId, Protocol};
use swapmesh_node::NodeEvent;
use swapmesh_protocol::signed::author_of;
use swapmesh_protocol::{GossipMessage, SignedRecord, Timestamp, Topic, fixtures};
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

use crate::harness::City;

/// Memory ports for Sybils, apart from the city's.
static NEXT_PORT: AtomicU64 = AtomicU64::new(1 << 50);

/// Seeds of throwaway authors' keys, apart from every other key in the city.
static NEXT_AUTHOR: AtomicU64 = AtomicU64::new(1 << 40);

/// How hard the Sybils attack.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attack {
    /// Sybils per honest node.
    pub(crate) per_node: usize,
    /// The seed of their keys' placement and their choices.
    pub(crate) seed: u64,
    /// How long each Sybil only listens, in the mesh and uncharged, before
    /// its first act: it sees what honest nodes publish meanwhile, and
    /// forges it.
    pub(crate) holding_fire: Duration,
    /// Each Sybil's pause between two acts.
    pub(crate) every: Duration,
    /// Each Sybil stops after this many acts...
    pub(crate) acts: u64,
    /// ... or this long, whichever comes first.
    pub(crate) lasting: Duration,
}

/// What one Sybil does next, in turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Act {
    /// A forged newer version of an honest listing it saw (or, before it saw
    /// one, a listing of a throwaway author with a broken signature).
    Forged,
    /// Bytes that decode as no gossip message.
    Garbage,
    /// An honest record it saw, published again.
    Replay,
    /// A valid listing of a fresh throwaway author.
    Flood,
    /// A sync request of random bytes to its victim.
    SyncGarbage,
    /// Leaves and rejoins a neighbouring cell's topic.
    Churn,
}

const ACTS: [Act; 6] = [
    Act::Forged,
    Act::Garbage,
    Act::Replay,
    Act::Flood,
    Act::SyncGarbage,
    Act::Churn,
];

/// What the Sybils did.
#[derive(Debug, Default, Clone)]
pub(crate) struct Sent {
    /// Acts done, by kind.
    pub(crate) acts: BTreeMap<Act, u64>,
    /// Acts that reached nobody (no peer left to take them).
    pub(crate) unheard: u64,
    /// Bytes of gossip and requests sent (payloads, without framing).
    pub(crate) bytes: u64,
    /// Sync requests of honest nodes answered with garbage.
    pub(crate) garbage_answers: u64,
    /// Sybils that ever had a connection (an honest node may refuse them:
    /// its connection limits).
    pub(crate) connected: u64,
    /// Sybils whose victim took their connection (it may be full).
    pub(crate) reached_victim: u64,
    /// Sybils that got at least one act to a peer (into a gossip mesh, or a
    /// request answered).
    pub(crate) heard: u64,
    /// Valid records heard by gossip (honest listings, and throwaway ones
    /// of other Sybils that honest nodes forwarded), at most 64 a Sybil.
    pub(crate) seen: u64,
    /// Forged newer versions made of them.
    pub(crate) forged_of_seen: u64,
    /// The records forged (the originals' ids).
    pub(crate) forged: HashSet<swapmesh_protocol::RecordId>,
}

impl Sent {
    /// Counts one act of `bytes`, which reached a peer or not; `heard`: its
    /// Sybil's flag of having reached one before.
    fn count(&mut self, act: Act, bytes: u64, reached: bool, heard: &mut bool) {
        *self.acts.entry(act).or_default() += 1;
        self.bytes += bytes;
        if !reached {
            self.unheard += 1;
        } else if !*heard {
            *heard = true;
            self.heard += 1;
        }
    }
}

/// The Sybils of a city.
pub(crate) struct Sybils {
    /// Their peer ids.
    pub(crate) peers: HashSet<PeerId>,
    handles: Vec<NetworkHandle>,
    tasks: Vec<JoinHandle<()>>,
    sent: Arc<Mutex<Sent>>,
    /// When the attack began.
    pub(crate) began: Instant,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Sybils {
    /// Starts `attack.per_node` Sybils for every honest node of `city` that is
    /// not a server: each dials its victim and one more node of the victim's
    /// cell, joins the cell's topic and, once it has a peer there, attacks.
    pub(crate) async fn start(city: &City, attack: Attack) -> Sybils {
        let mut rng = StdRng::seed_from_u64(attack.seed);
        let sent = Arc::new(Mutex::new(Sent::default()));
        let mut addresses = Vec::with_capacity(city.nodes.len());
        for node in &city.nodes {
            addresses.push(crate::harness::address_of(node).await);
        }
        // Who attacks whom, seeded; then all of them at once.
        let mut plans = Vec::new();
        for victim in city.plan.servers..city.nodes.len() {
            let cell = &city.cell_of[victim];
            let neighbours: Vec<usize> = (city.plan.servers..city.nodes.len())
                .filter(|&j| j != victim && city.cell_of[j] == *cell)
                .collect();
            for _ in 0..attack.per_node {
                let mut targets = vec![victim];
                if !neighbours.is_empty() {
                    targets.push(neighbours[rng.gen_range(0..neighbours.len())]);
                }
                plans.push((victim, targets, rng.r#gen::<u64>()));
            }
        }
        // Their own runtime, on threads of their own name, so that their CPU
        // can be told from the honest nodes' (`Sybils::cpu_seconds`).
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("sybil")
            .enable_all()
            .build()
            .expect("the Sybils' runtime");
        let on = runtime.handle().clone();
        let started =
            futures::future::join_all(plans.into_iter().map(|(victim, targets, seed)| {
                let cell = city.cell_of[victim].clone();
                let victim_peer = city.nodes[victim].peer_id();
                let dial: Vec<_> = targets.iter().map(|&t| addresses[t].clone()).collect();
                let sent = sent.clone();
                let heartbeat = city.plan.heartbeat;
                let started = on.spawn(async move {
                    let mut config = NetworkConfig::new(Keypair::generate_ed25519());
                    let port = NEXT_PORT.fetch_add(1, Ordering::Relaxed);
                    config.listen_addresses =
                        vec![format!("/memory/{port}").parse().expect("addr")];
                    config.gossip.heartbeat_interval = heartbeat;
                    // They dial whom they attack; the city's discovery is not
                    // theirs to spend.
                    config.discovery.kademlia = false;
                    config.nat.autonat_client = false;
                    let (handle, events, event_loop) = swapmesh_net::new(config).expect("a Sybil");
                    let mut tasks = vec![tokio::spawn(event_loop.run())];
                    let seen = Arc::new(Mutex::new(Vec::new()));
                    tasks.push(tokio::spawn(listen(
                        events,
                        seen.clone(),
                        sent.clone(),
                        victim_peer,
                        seed,
                    )));
                    for address in dial {
                        let _ = handle.dial(address).await;
                    }
                    let topic = Topic::area(&cell);
                    handle.subscribe(topic.as_str()).await.expect("subscribed");
                    let others: Vec<Topic> = cell.neighbours().iter().map(Topic::area).collect();
                    tasks.push(tokio::spawn(attack_loop(
                        handle.clone(),
                        victim_peer,
                        topic,
                        others,
                        seen,
                        sent,
                        attack,
                        seed,
                    )));
                    (handle, tasks)
                });
                async move { started.await.expect("a Sybil started") }
            }))
            .await;
        let mut sybils = Sybils {
            peers: HashSet::new(),
            handles: Vec::new(),
            tasks: Vec::new(),
            sent,
            began: Instant::now(),
            runtime: Some(runtime),
        };
        for (handle, tasks) in started {
            sybils.peers.insert(handle.local_peer_id());
            sybils.handles.push(handle);
            sybils.tasks.extend(tasks);
        }
        sybils
    }

    /// A copy of what they did so far.
    pub(crate) fn sent(&self) -> Sent {
        self.sent.lock().expect("sent").clone()
    }

    /// CPU seconds the Sybils' threads have used, user and system (from
    /// `/proc/self/task`; a thread that has ended no longer counts).
    pub(crate) fn cpu_seconds(&self) -> f64 {
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
            return 0.0;
        };
        let ticks: u64 = tasks
            .flatten()
            .filter(|t| {
                std::fs::read_to_string(t.path().join("comm"))
                    .is_ok_and(|name| name.trim_end() == "sybil")
            })
            .filter_map(|t| std::fs::read_to_string(t.path().join("stat")).ok())
            .map(|stat| {
                // Fields after the name (which ends with ')'): utime and
                // stime are the 12th and 13th.
                let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
                let fields: Vec<&str> = rest.split_whitespace().collect();
                let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
                field(11).unwrap_or(0) + field(12).unwrap_or(0)
            })
            .sum();
        ticks as f64 / 100.0
    }

    /// Stops every Sybil.
    pub(crate) async fn stop(mut self) {
        for task in &self.tasks {
            task.abort();
        }
        futures::future::join_all(self.handles.iter().map(|h| h.shutdown())).await;
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for Sybils {
    /// A runtime may not be dropped where blocking is not allowed (a test
    /// that panicked before [`Sybils::stop`]).
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A Sybil's ears: remembers the honest records it hears (for replays and
/// forgeries), answers every request with garbage, and drains the rest.
async fn listen(
    mut events: tokio::sync::mpsc::Receiver<NetworkEvent>,
    seen: Arc<Mutex<Vec<SignedRecord>>>,
    sent: Arc<Mutex<Sent>>,
    victim: PeerId,
    seed: u64,
) {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let (mut connected, mut reached) = (false, false);
    while let Some(event) = events.recv().await {
        match event {
            NetworkEvent::PeerConnected { peer, .. } if !connected || !reached => {
                let mut sent = sent.lock().expect("sent");
                if !connected {
                    connected = true;
                    sent.connected += 1;
                }
                if peer == victim && !reached {
                    reached = true;
                    sent.reached_victim += 1;
                }
            }
            NetworkEvent::Gossip { data, .. } => {
                if let Ok(GossipMessage::V1(record)) = GossipMessage::decode(&data) {
                    let mut seen = seen.lock().expect("seen");
                    if seen.len() < 64 {
                        seen.push(record);
                        sent.lock().expect("sent").seen += 1;
                    }
                }
            }
            NetworkEvent::InboundRequest { reply, .. } => {
                let garbage: Vec<u8> = (0..rng.gen_range(1..512)).map(|_| rng.r#gen()).collect();
                sent.lock().expect("sent").garbage_answers += 1;
                tokio::spawn(async move {
                    let _ = reply.respond(garbage).await;
                });
            }
            _ => {}
        }
    }
}

/// A Sybil's hands: one act every `attack.every`, in a seeded order.
#[allow(clippy::too_many_arguments)]
async fn attack_loop(
    net: NetworkHandle,
    victim: PeerId,
    topic: Topic,
    others: Vec<Topic>,
    seen: Arc<Mutex<Vec<SignedRecord>>>,
    sent: Arc<Mutex<Sent>>,
    attack: Attack,
    seed: u64,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let began = Instant::now();
    let mut forged: HashSet<swapmesh_protocol::RecordId> = HashSet::new();
    let mut churned: Option<Topic> = None;
    let mut heard = false;
    tokio::time::sleep(attack.holding_fire).await;
    for n in 0..attack.acts {
        if began.elapsed() > attack.lasting {
            break;
        }
        tokio::time::sleep(attack.every).await;
        let act = ACTS[(n as usize + (seed as usize)) % ACTS.len()];
        let now = Timestamp::now();
        let payload: Option<Vec<u8>> = match act {
            Act::Forged => {
                // The newest honest record not forged yet, else a throwaway's.
                let original = {
                    let seen = seen.lock().expect("seen");
                    seen.iter()
                        .rev()
                        .find(|r| !forged.contains(&r.id()))
                        .cloned()
                };
                let record = match original.and_then(|r| r.decode_trusted().ok().map(|b| (r, b))) {
                    Some((original, mut body)) => {
                        forged.insert(original.id());
                        let mut sent = sent.lock().expect("sent");
                        sent.forged_of_seen += 1;
                        sent.forged.insert(original.id());
                        drop(sent);
                        body.seq += 1_000;
                        let sybil = fixtures::key(rng.r#gen());
                        SignedRecord::sign(&body, &sybil)
                    }
                    None => {
                        let author = fixtures::key(rng.r#gen());
                        let cell = topic.as_str().rsplit('/').next().unwrap_or("u4pru");
                        let body = fixtures::listing_body(
                            author_of(&author),
                            cell,
                            fixtures::listing("forged"),
                            now,
                        );
                        SignedRecord::sign(&body, &fixtures::key(rng.r#gen()))
                    }
                };
                Some(GossipMessage::record(record).encode())
            }
            Act::Garbage => Some((0..rng.gen_range(1..600)).map(|_| rng.r#gen()).collect()),
            Act::Replay => {
                let seen = seen.lock().expect("seen");
                if seen.is_empty() {
                    None
                } else {
                    let record = seen[rng.gen_range(0..seen.len())].clone();
                    Some(GossipMessage::record(record).encode())
                }
            }
            Act::Flood => {
                let key = fixtures::key(NEXT_AUTHOR.fetch_add(1, Ordering::Relaxed));
                let cell = topic.as_str().rsplit('/').next().unwrap_or("u4pru");
                let body = fixtures::listing_body(
                    author_of(&key),
                    cell,
                    fixtures::listing(&format!("flood-{n}")),
                    now,
                );
                Some(GossipMessage::record(SignedRecord::sign(&body, &key)).encode())
            }
            Act::SyncGarbage => {
                let garbage: Vec<u8> = (0..rng.gen_range(1..512)).map(|_| rng.r#gen()).collect();
                let bytes = garbage.len() as u64;
                let answered = net.send_request(Protocol::Sync, victim, garbage).await;
                sent.lock()
                    .expect("sent")
                    .count(act, bytes, answered.is_ok(), &mut heard);
                continue;
            }
            Act::Churn => {
                match churned.take() {
                    Some(t) => {
                        let _ = net.unsubscribe(t.as_str()).await;
                    }
                    None => {
                        let t = others[rng.gen_range(0..others.len())].clone();
                        let _ = net.subscribe(t.as_str()).await;
                        churned = Some(t);
                    }
                }
                *sent.lock().expect("sent").acts.entry(act).or_default() += 1;
                continue;
            }
        };
        let Some(payload) = payload else { continue };
        let bytes = payload.len() as u64;
        let published = net.publish(topic.as_str(), payload).await;
        sent.lock()
            .expect("sent")
            .count(act, bytes, published.is_ok(), &mut heard);
    }
}

/// One honest node's verdict on a peer.
#[derive(Debug, Clone)]
pub(crate) struct Verdict {
    /// The honest node.
    pub(crate) node: usize,
    /// The peer.
    pub(crate) peer: PeerId,
    /// Charged for what, or `None` when blocked.
    pub(crate) charge: Option<swapmesh_net::Misbehaviour>,
    /// When.
    pub(crate) at: Instant,
}

/// What the honest nodes did to their peers: every charge and block (from
/// their event streams), and every peer gossipsub's scoring put under the
/// graylist threshold (sampled).
pub(crate) struct Watch {
    verdicts: Arc<Mutex<Vec<Verdict>>>,
    graylisted: Arc<Mutex<BTreeMap<(usize, PeerId), Instant>>>,
    lagged: Arc<AtomicU64>,
    tasks: Vec<JoinHandle<()>>,
}

impl Watch {
    /// Starts watching every node of `city`; samples gossip scores every `every`.
    pub(crate) fn start(city: &City, every: Duration) -> Watch {
        let verdicts = Arc::new(Mutex::new(Vec::new()));
        let graylisted = Arc::new(Mutex::new(BTreeMap::new()));
        let lagged = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for (i, node) in city.nodes.iter().enumerate() {
            let mut events = node.subscribe_events();
            let verdicts = verdicts.clone();
            let lagged = lagged.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    let (peer, charge) = match events.recv().await {
                        Ok(NodeEvent::PeerCharged { peer, misbehaviour }) => {
                            (peer, Some(misbehaviour))
                        }
                        Ok(NodeEvent::PeerBlocked { peer }) => (peer, None),
                        Ok(_) => continue,
                        Err(RecvError::Lagged(n)) => {
                            lagged.fetch_add(n, Ordering::Relaxed);
                            continue;
                        }
                        Err(RecvError::Closed) => break,
                    };
                    verdicts.lock().expect("verdicts").push(Verdict {
                        node: i,
                        peer,
                        charge,
                        at: Instant::now(),
                    });
                }
            }));
            let net = node.network().clone();
            let graylisted = graylisted.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    let Ok(scores) = net.peer_scores().await else {
                        break;
                    };
                    let mut graylisted = graylisted.lock().expect("graylisted");
                    for s in scores {
                        if s.gossip < swapmesh_net::scoring::GRAYLIST_THRESHOLD {
                            graylisted.entry((i, s.peer)).or_insert_with(Instant::now);
                        }
                    }
                }
            }));
        }
        Watch {
            verdicts,
            graylisted,
            lagged,
            tasks,
        }
    }

    /// Every charge and block so far.
    pub(crate) fn verdicts(&self) -> Vec<Verdict> {
        self.verdicts.lock().expect("verdicts").clone()
    }

    /// Every (node, peer) found graylisted, and when first.
    pub(crate) fn graylisted(&self) -> BTreeMap<(usize, PeerId), Instant> {
        self.graylisted.lock().expect("graylisted").clone()
    }

    /// Node events missed because a node's event channel overflowed: while
    /// non-zero, "nobody honest was charged" is not known.
    pub(crate) fn lagged(&self) -> u64 {
        self.lagged.load(Ordering::Relaxed)
    }

    /// Stops watching.
    pub(crate) fn stop(self) {
        for task in self.tasks {
            task.abort();
        }
    }
}

/// The honest peers among `peers`: the city's nodes.
pub(crate) fn honest_of(city: &City, peers: impl IntoIterator<Item = PeerId>) -> BTreeSet<usize> {
    let index: HashMap<PeerId, usize> = city
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.peer_id(), i))
        .collect();
    peers
        .into_iter()
        .filter_map(|p| index.get(&p).copied())
        .collect()
}
