//! [`Responders`]: the answering side of every peer's sessions.
//!
//! A request is answered in three steps, so that a node can read its store
//! without holding the responders (and without blocking an async worker):
//! [`Responders::admit`] (decode, check, charge the peer's budget, check out
//! the session), [`Work::run`] (the store reads, on any thread, no lock), and
//! [`Responders::complete`] (put the session back, charge the answer).
//! [`Responders::serve`] does all three in a row.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::time::Instant;

use swapmesh_protocol::{RecordId, Topic};

use super::{MAX_SESSIONS_PER_PEER, SESSION_IDLE, SessionConfig};
use crate::budget::{Offer, RecordBatch};
use crate::error::{SessionError, SyncError};
use crate::reconcile::Reconciler;
use crate::store::SyncSource;
use crate::wire::{SyncRequest, SyncResponse};

/// The responder side of a node: answers each request of each peer, holding one
/// reconciliation session per (peer, session id), at most
/// [`MAX_SESSIONS_PER_PEER`] per peer and [`ResponderLimits::max_sessions`] in
/// all (at the cap, a peer with fewer sessions takes the place of the
/// longest-idle one of the peer with the most), each dropped after
/// [`SESSION_IDLE`] without a request. A session holds
/// counters only (no item sets: see [`Reconciler`]), so their memory is bounded
/// by their count ([`Responders::memory_limit`]). A session that ended is
/// remembered by its id and topic alone for [`SESSION_IDLE`] (at most
/// [`FINISHED_PER_PEER`] per peer, [`ResponderLimits::max_sessions`] × 4 in
/// all): a push must name an open or remembered session on its topic. Fetches
/// need none.
///
/// Each peer has a budget of bytes served ([`ResponderLimits::bytes_per_second`]):
/// every request costs its own bytes, its answer's and [`REQUEST_COST`]. A peer
/// out of budget is answered "busy, retry later", which is no fault, so a large
/// honest catch-up only slows down; a peer that keeps asking deep in debt
/// (beyond two frames and an eighth of [`ResponderLimits::burst_bytes`]) is
/// flooding.
///
/// `P` names a peer (the node uses libp2p's `PeerId`; tests use numbers).
#[derive(Debug)]
pub struct Responders<P> {
    config: SessionConfig,
    limits: ResponderLimits,
    sessions: BTreeMap<(P, u64), Slot>,
    /// Sessions that ended well: their topic and when.
    finished: BTreeMap<(P, u64), (Topic, Instant)>,
    budgets: BTreeMap<P, Budget>,
}

/// Most ended sessions remembered per peer (the oldest is forgotten first).
pub const FINISHED_PER_PEER: usize = 4 * MAX_SESSIONS_PER_PEER;

/// What every request costs a peer's budget beyond its bytes: the fixed work
/// of a request (a stream, a decode, a lookup), so that tiny requests are not
/// free.
pub const REQUEST_COST: u64 = 1024;

/// The responder's own bounds (the protocol's bounds are in [`SessionConfig`]).
/// They need not match between peers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ResponderLimits {
    /// Most reconciliation sessions open at once, all peers (default 256). A
    /// new session beyond it is answered "busy, retry later".
    pub max_sessions: usize,
    /// Bytes a peer's requests may cost per second: requests read plus
    /// answers sent plus [`REQUEST_COST`] each (default 8 MiB/s).
    pub bytes_per_second: u64,
    /// Bytes a peer's requests may cost at once (default 64 MiB: the catch-up
    /// of a busy area in one go).
    pub burst_bytes: u64,
}

impl Default for ResponderLimits {
    fn default() -> Self {
        Self {
            max_sessions: 256,
            bytes_per_second: 8 << 20,
            burst_bytes: 64 << 20,
        }
    }
}

/// A session's place in the map: ready, or checked out by a [`Work`].
#[derive(Debug)]
enum Slot {
    Idle(Session),
    /// Checked out at `since` on `topic`; its [`Work`] brings it back.
    Out {
        topic: Topic,
        since: Instant,
    },
}

impl Slot {
    fn topic(&self) -> &Topic {
        match self {
            Self::Idle(s) => &s.topic,
            Self::Out { topic, .. } => topic,
        }
    }

    fn last_used(&self) -> Instant {
        match self {
            Self::Idle(s) => s.last_used,
            Self::Out { since, .. } => *since,
        }
    }
}

#[derive(Debug)]
struct Session {
    topic: Topic,
    reconciler: Reconciler,
    last_used: Instant,
}

/// A peer's budget of bytes served: a token bucket that may run into debt by
/// the answer it is being served.
#[derive(Clone, Copy, Debug)]
struct Budget {
    bytes: i64,
    at: Instant,
}

/// What to do with one request.
#[derive(Debug)]
#[must_use]
pub enum Served {
    /// Send this answer.
    Answer(SyncResponse),
    /// The peer pushed records of `topic` (signed bytes, not yet checked): judge
    /// and store them, then answer [`SyncResponse::pushed`] with how many were
    /// stored. Invalid records among them are the peer's fault, judged by the node.
    Ingest {
        /// The topic they were pushed on.
        topic: Topic,
        /// The records' signed bytes.
        records: Vec<Vec<u8>>,
    },
    /// The request is refused: send `response`. `error` says why; report the peer
    /// when [`SessionError::fault`] names a fault (a busy or unserved topic is not).
    Refused {
        /// The refusal to send.
        response: SyncResponse,
        /// Why.
        error: SessionError,
    },
}

impl Served {
    fn refused(error: SessionError) -> Self {
        Self::Refused {
            response: SyncResponse::Refused {
                reason: error.refusal(),
            },
            error,
        }
    }
}

/// What [`Responders::admit`] made of a request.
#[derive(Debug)]
#[must_use]
pub enum Admission<P> {
    /// Done without reading the store.
    Served(Served),
    /// Store reads to do: [`Work::run`] them (off the lock), then hand the
    /// result to [`Responders::complete`].
    Work(Work<P>),
}

/// A request's store reads, taken out of [`Responders`] with its session.
#[derive(Debug)]
#[must_use]
pub struct Work<P> {
    peer: P,
    frame_limit: usize,
    job: Job,
}

#[derive(Debug)]
enum Job {
    Reconcile {
        session: u64,
        state: Session,
        message: Vec<u8>,
    },
    Fetch {
        topic: Topic,
        ids: Vec<RecordId>,
    },
}

/// A [`Work`] done: for [`Responders::complete`].
#[derive(Debug)]
#[must_use]
pub struct Done<P> {
    peer: P,
    outcome: Outcome,
}

#[derive(Debug)]
enum Outcome {
    Reconciled {
        session: u64,
        state: Session,
        result: Result<Option<Vec<u8>>, SessionError>,
    },
    Fetched(Served),
}

impl<P> Work<P> {
    /// The peer it is for.
    pub fn peer(&self) -> &P {
        &self.peer
    }

    /// Reads the store: the reconciliation step or the fetched records. Holds
    /// no lock of the responders; may run on any thread.
    pub fn run<S: SyncSource>(self, source: &S) -> Done<P> {
        let outcome = match self.job {
            Job::Reconcile {
                session,
                mut state,
                message,
            } => {
                let result = match source.items(&state.topic) {
                    Some(items) => state
                        .reconciler
                        .handle_bytes(&items, &message)
                        .map_err(SessionError::from),
                    None => Err(SessionError::NotServing(state.topic.clone())),
                };
                Outcome::Reconciled {
                    session,
                    state,
                    result,
                }
            }
            Job::Fetch { topic, ids } => {
                Outcome::Fetched(fetch(&topic, &ids, source, self.frame_limit))
            }
        };
        Done {
            peer: self.peer,
            outcome,
        }
    }
}

impl<P: Ord + Clone> Responders<P> {
    /// No sessions yet, under `config` and the default [`ResponderLimits`].
    pub fn new(config: SessionConfig) -> Self {
        Self::with_limits(config, ResponderLimits::default())
    }

    /// No sessions yet, under `config` and `limits`.
    pub fn with_limits(config: SessionConfig, limits: ResponderLimits) -> Self {
        Self {
            config,
            limits: ResponderLimits {
                max_sessions: limits.max_sessions.max(1),
                ..limits
            },
            sessions: BTreeMap::new(),
            finished: BTreeMap::new(),
            budgets: BTreeMap::new(),
        }
    }

    /// The bounds in force.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// The responder's own bounds.
    pub fn limits(&self) -> &ResponderLimits {
        &self.limits
    }

    /// Answers one inbound frame of `peer` at `now`: [`Responders::admit`], then
    /// [`Work::run`] and [`Responders::complete`] in place. Never panics,
    /// whatever the bytes.
    pub fn serve<S: SyncSource>(
        &mut self,
        peer: &P,
        bytes: &[u8],
        now: Instant,
        source: &S,
    ) -> Served {
        let admission = self.admit(peer, bytes, now, source);
        self.settle(admission, now, source)
    }

    /// Answers one request of `peer` at `now` (as [`Responders::serve`], for
    /// a request already decoded).
    pub fn handle<S: SyncSource>(
        &mut self,
        peer: &P,
        request: SyncRequest,
        now: Instant,
        source: &S,
    ) -> Served {
        let len = request.encode().len();
        let admission = self.admit_request(peer, request, len, now, source);
        self.settle(admission, now, source)
    }

    /// Runs an admission's store reads in place and completes it.
    fn settle<S: SyncSource>(
        &mut self,
        admission: Admission<P>,
        now: Instant,
        source: &S,
    ) -> Served {
        match admission {
            Admission::Served(served) => served,
            Admission::Work(work) => {
                let done = work.run(source);
                self.complete(done, now)
            }
        }
    }

    /// Takes one inbound frame of `peer` at `now`: decodes it under the frame
    /// limit, charges the peer's budget, and either settles it or gives out
    /// the store reads it needs (with its session, which no other request can
    /// use meanwhile). `source` is asked only whether it serves a topic.
    pub fn admit<S: SyncSource>(
        &mut self,
        peer: &P,
        bytes: &[u8],
        now: Instant,
        source: &S,
    ) -> Admission<P> {
        match SyncRequest::decode(bytes, self.config.frame_limit()) {
            Ok(request) => self.admit_request(peer, request, bytes.len(), now, source),
            Err(e) => {
                self.spend(peer, bytes.len(), now);
                Admission::Served(Served::refused(e.into()))
            }
        }
    }

    fn admit_request<S: SyncSource>(
        &mut self,
        peer: &P,
        request: SyncRequest,
        len: usize,
        now: Instant,
        source: &S,
    ) -> Admission<P> {
        self.expire(now);
        if let Err(e) = request.validate() {
            self.spend(peer, len, now);
            return Admission::Served(Served::refused(e.into()));
        }
        let over = self.spend(peer, len, now);
        if let Some(debt) = over {
            return Admission::Served(Served::refused(SessionError::OverBudget {
                flooding: debt > self.flooding_debt(),
            }));
        }
        if !source.serves(request.topic()) {
            return Admission::Served(Served::refused(SessionError::NotServing(
                request.topic().clone(),
            )));
        }
        let served = match request {
            SyncRequest::Reconcile {
                topic,
                session,
                message,
                ..
            } => return self.check_out(peer, topic, session, message, now),
            SyncRequest::Fetch { topic, ids } => {
                return Admission::Work(Work {
                    peer: peer.clone(),
                    frame_limit: self.config.frame_limit(),
                    job: Job::Fetch { topic, ids },
                });
            }
            SyncRequest::Push {
                topic,
                session,
                records,
            } => {
                if self.knows(peer, session, &topic, now) {
                    Served::Ingest { topic, records }
                } else {
                    Served::refused(SessionError::NoSession { session })
                }
            }
        };
        Admission::Served(served)
    }

    /// Puts back what [`Work::run`] did at `now`, and gives the answer.
    pub fn complete(&mut self, done: Done<P>, now: Instant) -> Served {
        let Done { peer, outcome } = done;
        let served = match outcome {
            Outcome::Fetched(served) => served,
            Outcome::Reconciled {
                session,
                mut state,
                result,
            } => {
                let key = (peer.clone(), session);
                // Only the slot this work took out: it may have expired, or its
                // peer gone, meanwhile.
                let ours = matches!(
                    self.sessions.get(&key),
                    Some(Slot::Out { topic, .. }) if *topic == state.topic
                );
                if ours {
                    self.sessions.remove(&key);
                }
                match result {
                    Ok(Some(reply)) => {
                        // An answer that asks nothing more ends the session on
                        // our side; its id stays known for the initiator's push.
                        if state.reconciler.is_done() {
                            self.finish(&peer, session, state.topic, now);
                        } else if ours {
                            state.last_used = now;
                            self.sessions.insert(key, Slot::Idle(state));
                        }
                        Served::Answer(SyncResponse::Reconcile {
                            message: reply,
                            proof: None,
                        })
                    }
                    Ok(None) => Served::refused(
                        SyncError::Unexpected("responder has nothing to say").into(),
                    ),
                    Err(e) => Served::refused(e),
                }
            }
        };
        if let Served::Answer(answer) = &served {
            self.spend(&peer, payload_len(answer), now);
        }
        served
    }

    /// The debt beyond which a peer is flooding: an honest peer owes at most
    /// its last request and answer (a frame each) when it is told "busy",
    /// and then waits; beyond that, only requests made in debt add to it,
    /// an eighth of the burst of them.
    fn flooding_debt(&self) -> u64 {
        2 * (self.config.frame_limit() as u64 + REQUEST_COST) + self.limits.burst_bytes / 8
    }

    /// Takes session `session` of `peer` out for a reconciliation step,
    /// opening it if new.
    fn check_out(
        &mut self,
        peer: &P,
        topic: Topic,
        session: u64,
        message: Vec<u8>,
        now: Instant,
    ) -> Admission<P> {
        let open = self.open_with(peer);
        let key = (peer.clone(), session);
        if !self.sessions.contains_key(&key) && self.sessions.len() >= self.limits.max_sessions {
            self.make_room(open);
        }
        let total = self.sessions.len();
        let state = match self.sessions.entry(key) {
            Entry::Occupied(entry) if *entry.get().topic() != topic => {
                entry.remove();
                return Admission::Served(Served::refused(SessionError::TopicChanged { session }));
            }
            Entry::Occupied(mut entry) => {
                let out = Slot::Out {
                    topic: topic.clone(),
                    since: now,
                };
                match std::mem::replace(entry.get_mut(), out) {
                    Slot::Idle(state) => state,
                    busy @ Slot::Out { .. } => {
                        // Its last request is still being answered: an honest
                        // initiator waits for the answer before it asks again.
                        *entry.get_mut() = busy;
                        return Admission::Served(Served::refused(SessionError::Busy {
                            limit: MAX_SESSIONS_PER_PEER,
                        }));
                    }
                }
            }
            Entry::Vacant(entry) => {
                if open >= MAX_SESSIONS_PER_PEER {
                    return Admission::Served(Served::refused(SessionError::Busy {
                        limit: MAX_SESSIONS_PER_PEER,
                    }));
                }
                if total >= self.limits.max_sessions {
                    return Admission::Served(Served::refused(SessionError::Busy {
                        limit: self.limits.max_sessions,
                    }));
                }
                let reconciler = match Reconciler::responder(*self.config.reconcile()) {
                    Ok(r) => r,
                    Err(e) => return Admission::Served(Served::refused(e.into())),
                };
                entry.insert(Slot::Out {
                    topic: topic.clone(),
                    since: now,
                });
                Session {
                    topic,
                    reconciler,
                    last_used: now,
                }
            }
        };
        Admission::Work(Work {
            peer: peer.clone(),
            frame_limit: self.config.frame_limit(),
            job: Job::Reconcile {
                session,
                state,
                message,
            },
        })
    }

    /// At the cap, a peer with `open` sessions takes the place of the
    /// longest-idle session of the peer that holds the most, if that is more:
    /// peers that hold the cap cannot keep a newcomer out.
    fn make_room(&mut self, open: usize) {
        let mut held: BTreeMap<&P, usize> = BTreeMap::new();
        for (p, _) in self.sessions.keys() {
            *held.entry(p).or_default() += 1;
        }
        let Some((greedy, most)) = held.into_iter().max_by_key(|(_, n)| *n) else {
            return;
        };
        if most <= open {
            return;
        }
        let greedy = greedy.clone();
        let victim = self
            .sessions_of(&greedy)
            .filter(|(_, slot)| matches!(slot, Slot::Idle(_)))
            .min_by_key(|(_, slot)| slot.last_used())
            .map(|(k, _)| k.clone());
        if let Some(victim) = victim {
            self.sessions.remove(&victim);
        }
    }

    /// Charges `peer` for `bytes` (plus [`REQUEST_COST`] when a request) at
    /// `now`; gives the debt when the peer was already out of budget.
    fn spend(&mut self, peer: &P, bytes: usize, now: Instant) -> Option<u64> {
        let limits = self.limits;
        let budget = self.budgets.entry(peer.clone()).or_insert(Budget {
            bytes: limits.burst_bytes as i64,
            at: now,
        });
        let refill =
            now.saturating_duration_since(budget.at).as_secs_f64() * limits.bytes_per_second as f64;
        budget.bytes = (budget.bytes as f64 + refill).min(limits.burst_bytes as f64) as i64;
        budget.at = now;
        let over = (budget.bytes <= 0).then_some(budget.bytes.unsigned_abs());
        budget.bytes = budget
            .bytes
            .saturating_sub(bytes as i64)
            .saturating_sub(REQUEST_COST as i64);
        over
    }

    /// Drops the sessions idle for [`SESSION_IDLE`] at `now`, forgets the
    /// ended ones as old and the budgets filled up again; returns how many open
    /// sessions were dropped.
    pub fn expire(&mut self, now: Instant) -> usize {
        let before = self.sessions.len();
        self.sessions
            .retain(|_, s| now.saturating_duration_since(s.last_used()) < SESSION_IDLE);
        self.finished
            .retain(|_, (_, at)| now.saturating_duration_since(*at) < SESSION_IDLE);
        let limits = self.limits;
        self.budgets.retain(|_, b| {
            let refill =
                now.saturating_duration_since(b.at).as_secs_f64() * limits.bytes_per_second as f64;
            (b.bytes as f64 + refill) < limits.burst_bytes as f64
        });
        before - self.sessions.len()
    }

    /// Whether `peer`'s session `session` on `topic` is open, or ended within
    /// [`SESSION_IDLE`] of `now`.
    fn knows(&self, peer: &P, session: u64, topic: &Topic, now: Instant) -> bool {
        let key = (peer.clone(), session);
        if let Some(open) = self.sessions.get(&key) {
            return open.topic() == topic;
        }
        self.finished
            .get(&key)
            .is_some_and(|(t, at)| t == topic && now.saturating_duration_since(*at) < SESSION_IDLE)
    }

    /// Remembers that `peer`'s session `session` on `topic` ended well: at
    /// most [`FINISHED_PER_PEER`] per peer and four per open session allowed
    /// in all, the oldest forgotten first.
    fn finish(&mut self, peer: &P, session: u64, topic: Topic, now: Instant) {
        let range = (peer.clone(), 0)..=(peer.clone(), u64::MAX);
        if self.finished.range(range.clone()).count() >= FINISHED_PER_PEER
            && let Some(oldest) = oldest(self.finished.range(range))
        {
            self.finished.remove(&oldest);
        }
        if self.finished.len() >= self.max_finished()
            && let Some(oldest) = oldest(self.finished.iter())
        {
            self.finished.remove(&oldest);
        }
        self.finished.insert((peer.clone(), session), (topic, now));
    }

    fn max_finished(&self) -> usize {
        4 * self.limits.max_sessions
    }

    /// Ended sessions remembered, all peers.
    pub fn remembered(&self) -> usize {
        self.finished.len()
    }

    /// Drops every session of `peer` (it disconnected); returns how many. Its
    /// budget stays: reconnecting does not refill it.
    pub fn forget(&mut self, peer: &P) -> usize {
        let keys: Vec<(P, u64)> = self.sessions_of(peer).map(|(k, _)| k.clone()).collect();
        for key in &keys {
            self.sessions.remove(key);
        }
        self.finished.retain(|(p, _), _| p != peer);
        keys.len()
    }

    /// Sessions open, all peers (those being answered included).
    pub fn open(&self) -> usize {
        self.sessions.len()
    }

    /// Sessions open with `peer`.
    pub fn open_with(&self, peer: &P) -> usize {
        self.sessions_of(peer).count()
    }

    /// Items the open sessions hold between messages: none, however many rounds
    /// a peer drives (a responder's [`Reconciler`] keeps counters only).
    pub fn held_items(&self) -> usize {
        self.sessions
            .values()
            .map(|s| match s {
                Slot::Idle(s) => s.reconciler.held_items(),
                Slot::Out { .. } => 0,
            })
            .sum()
    }

    /// Bytes the sessions and remembered sessions take in memory (an estimate
    /// from their sizes; a checked-out session counts as open).
    pub fn memory(&self) -> usize {
        let item = std::mem::size_of::<crate::Item>();
        let sessions: usize = self
            .sessions
            .values()
            .map(|s| {
                let held = match s {
                    Slot::Idle(s) => s.reconciler.held_items() * item,
                    Slot::Out { .. } => 0,
                };
                SESSION_BYTES + s.topic().as_str().len() + held
            })
            .sum();
        let finished: usize = self
            .finished
            .values()
            .map(|(t, _)| FINISHED_BYTES + t.as_str().len())
            .sum();
        sessions + finished
    }

    /// The most [`Responders::memory`] can be: every allowed session open and
    /// every allowed ended one remembered, on the longest topics.
    pub fn memory_limit(&self) -> usize {
        self.limits.max_sessions * (SESSION_BYTES + MAX_TOPIC_BYTES)
            + self.max_finished() * (FINISHED_BYTES + MAX_TOPIC_BYTES)
    }

    fn sessions_of(&self, peer: &P) -> impl Iterator<Item = (&(P, u64), &Slot)> {
        self.sessions
            .range((peer.clone(), 0)..=(peer.clone(), u64::MAX))
    }
}

/// A session's size in the map, less its topic's text.
const SESSION_BYTES: usize = std::mem::size_of::<(u64, Slot)>() + 64;
/// An ended session's size in the map, less its topic's text.
const FINISHED_BYTES: usize = std::mem::size_of::<(u64, (Topic, Instant))>() + 64;
/// The longest topic name (`swapmesh/1/mesh/` and a 32-character mesh id).
const MAX_TOPIC_BYTES: usize = 48;

/// The key of the oldest of `entries`.
fn oldest<'a, K: Clone + 'a>(
    entries: impl Iterator<Item = (&'a K, &'a (Topic, Instant))>,
) -> Option<K> {
    entries
        .min_by_key(|(_, (_, at))| *at)
        .map(|(k, _)| k.clone())
}

/// The bytes an answer carries (its framing is in [`REQUEST_COST`]).
fn payload_len(answer: &SyncResponse) -> usize {
    match answer {
        SyncResponse::Reconcile { message, .. } => message.len(),
        SyncResponse::Records { records } => records.iter().map(Vec::len).sum(),
        _ => 0,
    }
}

/// The records asked for that we hold on `topic`, in the order asked, as many
/// as fit a frame.
fn fetch<S: SyncSource>(topic: &Topic, ids: &[RecordId], source: &S, frame_limit: usize) -> Served {
    let mut batch = RecordBatch::new(frame_limit);
    for id in ids {
        match source.record(topic, id) {
            Ok(Some(record)) => match batch.offer(record) {
                Offer::Taken | Offer::Oversize => {}
                Offer::Full(_) => break,
            },
            Ok(None) => {}
            Err(e) => return Served::refused(SessionError::source(e)),
        }
    }
    Served::Answer(SyncResponse::Records {
        records: batch.into_records(),
    })
}
