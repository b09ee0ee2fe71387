//! The sync driver: runs sessions as the initiator and serves peers' sessions,
//! moving bytes over `/swapmesh/sync/1` and handing every fetched or pushed batch to
//! the [`Ingestor`] (the same path as gossip; records that arrive by sync are not
//! gossiped again: they are old news to everyone else).
//!
//! Bounds, so a peer cannot make us work without end: rounds per session (the
//! reconciler's `max_rounds`), the frame size (the network's sync frame limit),
//! ids per fetch ([`FETCH_IDS`]), concurrent responder sessions per peer
//! ([`MAX_SESSIONS_PER_PEER`]), idle sessions dropped after [`SESSION_IDLE`]. A
//! peer whose reconciliation messages are malformed or endless is charged
//! misbehaviour and its session dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use swapmesh_net::{Misbehaviour, NetworkHandle, PeerId, Protocol, RequestError, ResponseHandle};
use swapmesh_protocol::encoding;
use swapmesh_protocol::{RecordId, SignedRecord, Topic, topics};
use swapmesh_store::Store;
use swapmesh_sync::{Config, Item, Reconciler, SyncError};
use tokio::sync::broadcast;
use tracing::debug;

use super::{Progress, SessionReport};
use crate::events::NodeEvent;
use crate::ingest::{IngestError, Ingestor};

/// Most ids asked for in one fetch.
pub const FETCH_IDS: usize = 256;
/// Most responder sessions one peer may have open at once.
pub const MAX_SESSIONS_PER_PEER: usize = 4;
/// A responder session unused this long is dropped.
pub const SESSION_IDLE: Duration = Duration::from_secs(60);
/// Room left in a frame for the envelope around the records.
const FRAME_MARGIN: usize = 1024;

/// A request of `/swapmesh/sync/1`. The enum tag is the version.
#[derive(Debug, Serialize, Deserialize)]
enum SyncRequest {
    /// One reconciliation message of session `session` on `topic`.
    Reconcile {
        topic: String,
        session: u64,
        message: ByteBuf,
    },
    /// Records of `topic` by id.
    Fetch { topic: String, ids: Vec<RecordId> },
    /// Records of `topic` the asker found we lack.
    Push {
        topic: String,
        records: Vec<ByteBuf>,
    },
}

/// A response of `/swapmesh/sync/1`.
#[derive(Debug, Serialize, Deserialize)]
enum SyncResponse {
    /// The responder's reconciliation message.
    Reconcile { message: ByteBuf },
    /// Records found (possibly fewer than asked, to fit the frame).
    Records { records: Vec<ByteBuf> },
    /// How many pushed records were stored.
    Pushed { stored: u32 },
    /// Not served, and why.
    Refused { reason: String },
}

/// Why a sync session failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The request failed on the network.
    #[error("request failed: {0}")]
    Request(#[from] RequestError),
    /// Reconciliation failed.
    #[error("reconciliation: {0}")]
    Sync(#[from] SyncError),
    /// A response did not decode or was not the expected kind.
    #[error("bad response: {0}")]
    BadResponse(String),
    /// The peer refused.
    #[error("refused by peer: {0}")]
    Refused(String),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] swapmesh_store::StoreError),
    /// A batch could not be ingested (nothing of it was stored).
    #[error("ingest: {0}")]
    Ingest(#[from] IngestError),
}

/// Why a responder step produced no answer.
enum Step {
    /// The peer has as many sessions open as it may: not a fault, retry later.
    Busy,
    /// Reconciliation failed.
    Failed(SyncError),
}

struct ResponderSession {
    reconciler: Reconciler,
    last_used: Instant,
}

/// The sync side of a node: serves peers and runs sessions with them.
#[derive(Clone)]
pub struct SyncService {
    inner: Arc<ServiceInner>,
}

struct ServiceInner {
    store: Store,
    ingestor: Arc<Ingestor>,
    events: broadcast::Sender<NodeEvent>,
    net: NetworkHandle,
    config: Config,
    frame_limit: usize,
    sessions: Mutex<HashMap<(PeerId, u64), ResponderSession>>,
    progress: Mutex<Progress>,
}

impl SyncService {
    /// The sync service of a node with this store and network.
    pub(crate) fn new(
        store: Store,
        ingestor: Arc<Ingestor>,
        net: NetworkHandle,
        events: broadcast::Sender<NodeEvent>,
        frame_limit: usize,
    ) -> Self {
        let config = Config {
            max_message_bytes: Config::default()
                .max_message_bytes
                .min(frame_limit - FRAME_MARGIN),
            ..Config::default()
        };
        Self {
            inner: Arc::new(ServiceInner {
                store,
                ingestor,
                events,
                net,
                config,
                frame_limit,
                sessions: Mutex::new(HashMap::new()),
                progress: Mutex::new(Progress::default()),
            }),
        }
    }

    /// Progress of the sessions this node runs.
    pub fn progress(&self) -> Progress {
        self.inner.progress.lock().expect("progress lock").clone()
    }

    /// Answers one inbound sync request. `listening` says whether we serve a topic.
    pub async fn serve(
        &self,
        peer: PeerId,
        data: Vec<u8>,
        reply: ResponseHandle,
        listening: impl Fn(&Topic) -> bool,
    ) {
        let response =
            match encoding::decode_canonical::<SyncRequest>(&data, self.inner.frame_limit) {
                Ok(request) => self.answer(peer, request, &listening).await,
                Err(e) => {
                    debug!(%peer, error = %e, "malformed sync request");
                    self.charge(peer, Misbehaviour::MalformedFrame).await;
                    SyncResponse::Refused {
                        reason: format!("malformed request: {e}"),
                    }
                }
            };
        if let Err(e) = reply.respond(encoding::encode(&response)).await {
            debug!(%peer, error = %e, "could not answer a sync request");
        }
    }

    async fn charge(&self, peer: PeerId, what: Misbehaviour) {
        let _ = self.inner.net.report_misbehaviour(peer, what).await;
    }

    async fn answer(
        &self,
        peer: PeerId,
        request: SyncRequest,
        listening: &impl Fn(&Topic) -> bool,
    ) -> SyncResponse {
        let topic_of = |t: &str| Topic::parse(t).filter(|t| listening(t));
        match request {
            SyncRequest::Reconcile {
                topic,
                session,
                message,
            } => {
                let Some(topic) = topic_of(&topic) else {
                    return refused(format!("not serving topic {topic:?}"));
                };
                match self.reconcile_step(peer, &topic, session, &message) {
                    Ok(reply) => SyncResponse::Reconcile {
                        message: ByteBuf::from(reply),
                    },
                    Err(Step::Busy) => refused(format!(
                        "at most {MAX_SESSIONS_PER_PEER} sessions at once; retry later"
                    )),
                    Err(Step::Failed(e)) => {
                        if e.is_peer_fault() {
                            debug!(%peer, error = %e, "peer broke reconciliation");
                            self.charge(peer, Misbehaviour::MalformedFrame).await;
                        }
                        refused(e.to_string())
                    }
                }
            }
            SyncRequest::Fetch { topic, ids } => {
                let Some(topic) = topic_of(&topic) else {
                    return refused(format!("not serving topic {topic:?}"));
                };
                if ids.len() > FETCH_IDS {
                    self.charge(peer, Misbehaviour::MalformedFrame).await;
                    return refused(format!("at most {FETCH_IDS} ids per fetch"));
                }
                match self.records_of(&topic, &ids) {
                    Ok(records) => SyncResponse::Records { records },
                    Err(e) => refused(format!("store: {e}")),
                }
            }
            SyncRequest::Push { topic, records } => {
                let Some(topic) = topic_of(&topic) else {
                    return refused(format!("not serving topic {topic:?}"));
                };
                let records = records.into_iter().map(ByteBuf::into_vec).collect();
                match self.inner.ingestor.batch(&topic, records).await {
                    Ok(outcome) => {
                        if outcome.invalid > 0 {
                            self.charge(peer, Misbehaviour::InvalidRecord).await;
                        }
                        SyncResponse::Pushed {
                            stored: outcome.stored as u32,
                        }
                    }
                    Err(e) => refused(format!("not stored: {e}")),
                }
            }
        }
    }

    fn reconcile_step(
        &self,
        peer: PeerId,
        topic: &Topic,
        session: u64,
        message: &[u8],
    ) -> Result<Vec<u8>, Step> {
        let view = self.inner.store.sync_view(topic);
        let mut sessions = self.inner.sessions.lock().expect("sessions lock");
        sessions.retain(|_, s| s.last_used.elapsed() < SESSION_IDLE);
        let key = (peer, session);
        if !sessions.contains_key(&key) {
            let open = sessions.keys().filter(|(p, _)| *p == peer).count();
            if open >= MAX_SESSIONS_PER_PEER {
                return Err(Step::Busy);
            }
            let reconciler = Reconciler::responder(self.inner.config).map_err(Step::Failed)?;
            sessions.insert(
                key,
                ResponderSession {
                    reconciler,
                    last_used: Instant::now(),
                },
            );
        }
        let s = sessions.get_mut(&key).expect("just inserted");
        s.last_used = Instant::now();
        match s.reconciler.handle_bytes(&view, message) {
            Ok(Some(bytes)) => {
                // An answer that asks nothing more ends the session on our side.
                if s.reconciler.is_done() {
                    sessions.remove(&key);
                }
                Ok(bytes)
            }
            Ok(None) => {
                sessions.remove(&key);
                Err(Step::Failed(SyncError::Unexpected(
                    "responder has nothing to say",
                )))
            }
            Err(e) => {
                sessions.remove(&key);
                Err(Step::Failed(e))
            }
        }
    }

    /// The signed bytes of the records asked for that we hold on this topic, as
    /// many as fit a frame.
    fn records_of(
        &self,
        topic: &Topic,
        ids: &[RecordId],
    ) -> Result<Vec<ByteBuf>, swapmesh_store::StoreError> {
        let budget = self.inner.frame_limit - FRAME_MARGIN;
        let mut used = 0;
        let mut out = Vec::new();
        for id in ids {
            let Some(record) = self.inner.store.get(id)? else {
                continue;
            };
            if !topics(&record.body).contains(topic) {
                continue;
            }
            let bytes = record.signed.encode();
            if used + bytes.len() + 8 > budget {
                break;
            }
            used += bytes.len() + 8;
            out.push(ByteBuf::from(bytes));
        }
        Ok(out)
    }

    /// Runs one session with `peer` on `topic` as the initiator: reconcile, fetch
    /// what we lack, push what the peer lacks.
    pub async fn run_session(
        &self,
        peer: PeerId,
        topic: &Topic,
    ) -> Result<SessionReport, SessionError> {
        let session: u64 = rand::random();
        let mut reconciler = Reconciler::initiator(self.inner.config)?;
        let view = self.inner.store.sync_view(topic);
        let mut message = reconciler.initiate_bytes(&view)?;
        loop {
            let request = SyncRequest::Reconcile {
                topic: topic.as_str().to_owned(),
                session,
                message: ByteBuf::from(message),
            };
            let reply = match self.request(peer, &request).await? {
                SyncResponse::Reconcile { message } => message.into_vec(),
                SyncResponse::Refused { reason } => return Err(SessionError::Refused(reason)),
                other => return Err(SessionError::BadResponse(format!("{other:?}"))),
            };
            match reconciler.handle_bytes(&view, &reply) {
                Ok(Some(next)) => message = next,
                Ok(None) => break,
                Err(e) => {
                    if e.is_peer_fault() {
                        self.charge(peer, Misbehaviour::MalformedFrame).await;
                    }
                    return Err(e.into());
                }
            }
        }
        let outcome = reconciler.into_outcome();
        let mut report = SessionReport {
            rounds: outcome.rounds,
            needed: outcome.need.len(),
            offered: outcome.have.len(),
            ..SessionReport::default()
        };
        self.begin(report.needed);
        let result = self
            .fetch_and_push(peer, topic, &outcome.need, &outcome.have, &mut report)
            .await;
        self.end(report.fetched);
        result.map(|()| report)
    }

    async fn fetch_and_push(
        &self,
        peer: PeerId,
        topic: &Topic,
        need: &[Item],
        have: &[Item],
        report: &mut SessionReport,
    ) -> Result<(), SessionError> {
        let mut wanted: Vec<RecordId> = need.iter().map(|i| i.id).collect();
        while !wanted.is_empty() {
            let batch: Vec<RecordId> = wanted.iter().take(FETCH_IDS).copied().collect();
            let request = SyncRequest::Fetch {
                topic: topic.as_str().to_owned(),
                ids: batch.clone(),
            };
            let records = match self.request(peer, &request).await? {
                SyncResponse::Records { records } => records,
                SyncResponse::Refused { reason } => return Err(SessionError::Refused(reason)),
                other => return Err(SessionError::BadResponse(format!("{other:?}"))),
            };
            if records.is_empty() {
                break; // the peer no longer has them (expired or replaced meanwhile)
            }
            let received: Vec<RecordId> = records
                .iter()
                .filter_map(|b| SignedRecord::decode(b).ok().map(|r| r.id()))
                .collect();
            if received.iter().any(|id| !batch.contains(id)) {
                self.charge(peer, Misbehaviour::InvalidRecord).await;
                return Err(SessionError::BadResponse(
                    "records we did not ask for".into(),
                ));
            }
            let records = records.into_iter().map(ByteBuf::into_vec).collect();
            let outcome = self.inner.ingestor.batch(topic, records).await?;
            if outcome.invalid > 0 {
                self.charge(peer, Misbehaviour::InvalidRecord).await;
            }
            report.fetched += outcome.stored;
            self.advance(outcome.stored);
            let _ = self.inner.events.send(NodeEvent::SyncProgress {
                peer,
                topic: topic.clone(),
                fetched: report.fetched,
                expected: report.needed,
            });
            wanted.retain(|id| !received.contains(id));
        }
        self.inner.store.flush().await?;

        let mut pending: Vec<Vec<u8>> = Vec::new();
        let mut used = 0;
        let budget = self.inner.frame_limit - FRAME_MARGIN;
        for item in have {
            let Some(record) = self.inner.store.get(&item.id)? else {
                continue;
            };
            let bytes = record.signed.encode();
            if used + bytes.len() + 8 > budget && !pending.is_empty() {
                report.pushed += self.push(peer, topic, std::mem::take(&mut pending)).await?;
                used = 0;
            }
            used += bytes.len() + 8;
            pending.push(bytes);
        }
        if !pending.is_empty() {
            report.pushed += self.push(peer, topic, pending).await?;
        }
        Ok(())
    }

    async fn push(
        &self,
        peer: PeerId,
        topic: &Topic,
        records: Vec<Vec<u8>>,
    ) -> Result<usize, SessionError> {
        let request = SyncRequest::Push {
            topic: topic.as_str().to_owned(),
            records: records.into_iter().map(ByteBuf::from).collect(),
        };
        match self.request(peer, &request).await? {
            SyncResponse::Pushed { stored } => Ok(stored as usize),
            SyncResponse::Refused { reason } => Err(SessionError::Refused(reason)),
            other => Err(SessionError::BadResponse(format!("{other:?}"))),
        }
    }

    async fn request(
        &self,
        peer: PeerId,
        request: &SyncRequest,
    ) -> Result<SyncResponse, SessionError> {
        let bytes = self
            .inner
            .net
            .send_request(Protocol::Sync, peer, encoding::encode(request))
            .await?;
        match encoding::decode_canonical::<SyncResponse>(&bytes, self.inner.frame_limit) {
            Ok(response) => Ok(response),
            Err(e) => {
                self.charge(peer, Misbehaviour::MalformedFrame).await;
                Err(SessionError::BadResponse(e.to_string()))
            }
        }
    }

    fn begin(&self, expected: usize) {
        let mut p = self.inner.progress.lock().expect("progress lock");
        p.running += 1;
        p.expected += expected;
    }

    fn advance(&self, fetched: usize) {
        let mut p = self.inner.progress.lock().expect("progress lock");
        p.fetched += fetched;
        p.fetched_total += fetched as u64;
    }

    fn end(&self, fetched: usize) {
        let mut p = self.inner.progress.lock().expect("progress lock");
        p.running = p.running.saturating_sub(1);
        p.completed += 1;
        if p.running == 0 {
            p.expected = 0;
            p.fetched = 0;
        } else {
            p.fetched = p.fetched.saturating_sub(fetched);
        }
    }
}

fn refused(reason: String) -> SyncResponse {
    SyncResponse::Refused { reason }
}
