//! [`Responders`]: the answering side of every peer's sessions.

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
/// [`MAX_SESSIONS_PER_PEER`] per peer, each dropped after [`SESSION_IDLE`] without
/// a request. A session that ended is remembered by its id and topic alone for
/// [`SESSION_IDLE`] (at most [`FINISHED_PER_PEER`] per peer): a push must name
/// an open or remembered session on its topic. Fetches need none.
///
/// `P` names a peer (the node uses libp2p's `PeerId`; tests use numbers).
#[derive(Debug)]
pub struct Responders<P> {
    config: SessionConfig,
    sessions: BTreeMap<(P, u64), Session>,
    /// Sessions that ended well: their topic and when.
    finished: BTreeMap<(P, u64), (Topic, Instant)>,
}

/// Most ended sessions remembered per peer (the oldest is forgotten first).
pub const FINISHED_PER_PEER: usize = 4 * MAX_SESSIONS_PER_PEER;

#[derive(Debug)]
struct Session {
    topic: Topic,
    reconciler: Reconciler,
    last_used: Instant,
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

impl<P: Ord + Clone> Responders<P> {
    /// No sessions yet, under `config`.
    pub fn new(config: SessionConfig) -> Self {
        Self {
            config,
            sessions: BTreeMap::new(),
            finished: BTreeMap::new(),
        }
    }

    /// The bounds in force.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// Answers one inbound frame of `peer` at `now`: decoded under the frame limit,
    /// then as [`Responders::handle`]. Never panics, whatever the bytes.
    pub fn serve<S: SyncSource>(
        &mut self,
        peer: &P,
        bytes: &[u8],
        now: Instant,
        source: &S,
    ) -> Served {
        match SyncRequest::decode(bytes, self.config.frame_limit()) {
            Ok(request) => self.handle(peer, request, now, source),
            Err(e) => Served::refused(e.into()),
        }
    }

    /// Answers one request of `peer` at `now`.
    pub fn handle<S: SyncSource>(
        &mut self,
        peer: &P,
        request: SyncRequest,
        now: Instant,
        source: &S,
    ) -> Served {
        if let Err(e) = request.validate() {
            return Served::refused(e.into());
        }
        match request {
            SyncRequest::Reconcile {
                topic,
                session,
                message,
            } => self.reconcile(peer, topic, session, &message, now, source),
            SyncRequest::Fetch { topic, ids } => self.fetch(&topic, &ids, source),
            SyncRequest::Push {
                topic,
                session,
                records,
            } => {
                if !source.serves(&topic) {
                    return Served::refused(SessionError::NotServing(topic));
                }
                if !self.knows(peer, session, &topic, now) {
                    return Served::refused(SessionError::NoSession { session });
                }
                Served::Ingest { topic, records }
            }
        }
    }

    /// Drops the sessions idle for [`SESSION_IDLE`] at `now`, and forgets the
    /// ended ones as old; returns how many open ones were dropped.
    pub fn expire(&mut self, now: Instant) -> usize {
        let before = self.sessions.len();
        self.sessions
            .retain(|_, s| now.saturating_duration_since(s.last_used) < SESSION_IDLE);
        self.finished
            .retain(|_, (_, at)| now.saturating_duration_since(*at) < SESSION_IDLE);
        before - self.sessions.len()
    }

    /// Whether `peer`'s session `session` on `topic` is open, or ended within
    /// [`SESSION_IDLE`] of `now`.
    fn knows(&self, peer: &P, session: u64, topic: &Topic, now: Instant) -> bool {
        let key = (peer.clone(), session);
        if let Some(open) = self.sessions.get(&key) {
            return open.topic == *topic;
        }
        self.finished
            .get(&key)
            .is_some_and(|(t, at)| t == topic && now.saturating_duration_since(*at) < SESSION_IDLE)
    }

    /// Remembers that `peer`'s session `session` on `topic` ended well.
    fn finish(&mut self, peer: &P, session: u64, topic: Topic, now: Instant) {
        let range = (peer.clone(), 0)..=(peer.clone(), u64::MAX);
        if self.finished.range(range.clone()).count() >= FINISHED_PER_PEER {
            let oldest = self
                .finished
                .range(range)
                .min_by_key(|(_, (_, at))| *at)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                self.finished.remove(&oldest);
            }
        }
        self.finished.insert((peer.clone(), session), (topic, now));
    }

    /// Ended sessions remembered, all peers.
    pub fn remembered(&self) -> usize {
        self.finished.len()
    }

    /// Drops every session of `peer` (it disconnected); returns how many.
    pub fn forget(&mut self, peer: &P) -> usize {
        let keys: Vec<(P, u64)> = self.sessions_of(peer).map(|(k, _)| k.clone()).collect();
        for key in &keys {
            self.sessions.remove(key);
        }
        self.finished.retain(|(p, _), _| p != peer);
        keys.len()
    }

    /// Sessions open, all peers.
    pub fn open(&self) -> usize {
        self.sessions.len()
    }

    /// Sessions open with `peer`.
    pub fn open_with(&self, peer: &P) -> usize {
        self.sessions_of(peer).count()
    }

    fn sessions_of(&self, peer: &P) -> impl Iterator<Item = (&(P, u64), &Session)> {
        self.sessions
            .range((peer.clone(), 0)..=(peer.clone(), u64::MAX))
    }

    fn reconcile<S: SyncSource>(
        &mut self,
        peer: &P,
        topic: Topic,
        session: u64,
        message: &[u8],
        now: Instant,
        source: &S,
    ) -> Served {
        let Some(items) = source.items(&topic) else {
            return Served::refused(SessionError::NotServing(topic));
        };
        self.expire(now);
        let open = self.open_with(peer);
        let key = (peer.clone(), session);
        let state = match self.sessions.entry(key.clone()) {
            Entry::Occupied(entry) if entry.get().topic != topic => {
                entry.remove();
                return Served::refused(SessionError::TopicChanged { session });
            }
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                if open >= MAX_SESSIONS_PER_PEER {
                    return Served::refused(SessionError::Busy {
                        limit: MAX_SESSIONS_PER_PEER,
                    });
                }
                let reconciler = match Reconciler::responder(*self.config.reconcile()) {
                    Ok(r) => r,
                    Err(e) => return Served::refused(e.into()),
                };
                entry.insert(Session {
                    topic,
                    reconciler,
                    last_used: now,
                })
            }
        };
        state.last_used = now;
        let result = state.reconciler.handle_bytes(&items, message);
        let done = state.reconciler.is_done();
        match result {
            Ok(Some(reply)) => {
                // An answer that asks nothing more ends the session on our
                // side; its id stays known for the initiator's push.
                if done && let Some(ended) = self.sessions.remove(&key) {
                    self.finish(peer, session, ended.topic, now);
                }
                Served::Answer(SyncResponse::Reconcile { message: reply })
            }
            Ok(None) => {
                self.sessions.remove(&key);
                Served::refused(SyncError::Unexpected("responder has nothing to say").into())
            }
            Err(e) => {
                self.sessions.remove(&key);
                Served::refused(e.into())
            }
        }
    }

    /// The records asked for that we hold on `topic`, in the order asked, as many
    /// as fit a frame.
    fn fetch<S: SyncSource>(&self, topic: &Topic, ids: &[RecordId], source: &S) -> Served {
        if !source.serves(topic) {
            return Served::refused(SessionError::NotServing(topic.clone()));
        }
        let mut batch = RecordBatch::new(self.config.frame_limit());
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
}
