//! The sync driver: moves the bytes of [`swapmesh_sync`]'s session machines over
//! `/swapmesh/sync/1` and hands every fetched or pushed batch to the [`Ingestor`]
//! (the same path as gossip; records that arrive by sync are not gossiped again:
//! they are old news to everyone else). The wire format, the bounds, the fetch
//! budgeting and the responder session caps all live in `swapmesh_sync`; a peer
//! that breaks them is charged here, by the fault the machine names.
//!
//! On a private mesh's topic both sides prove membership first
//! ([`swapmesh_protocol::private`]), before anything of the mesh is said: the
//! initiator sends a hello, a reconciliation request with its proof and an
//! empty message; the responder answers only a valid proof (a wrong one is
//! refused as "not served", uncharged: what a node outside the mesh answers)
//! with its own proof and an empty message, opening no session; only when
//! that proof checks does the initiator begin the session. (A first message
//! that carries a proof is served too, with the responder's proof in the
//! answer.) A peer proven on a topic may reconcile, fetch and push there for
//! [`SESSION_IDLE`] after its last request.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use swapmesh_net::{Misbehaviour, NetworkHandle, PeerId, Protocol, RequestError, ResponseHandle};
use swapmesh_protocol::private::{MeshSecrets, Proof, Role};
use swapmesh_protocol::{RecordId, Topic, topics};
use swapmesh_store::{Store, StoreError, TopicSync};
use swapmesh_sync::wire::{Refusal, SyncRequest, SyncResponse};
use swapmesh_sync::{
    Admission, Handled, Initiator, PeerFault, ResponderLimits, Responders, SESSION_IDLE, Served,
    SessionConfig, SessionReport, SyncSource,
};
use tokio::sync::{Semaphore, broadcast};
use tracing::debug;

use super::Progress;
use crate::events::NodeEvent;
use crate::ingest::{IngestError, Ingestor};
use crate::meshes::MeshBook;

/// Why a sync session this node ran failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The request failed on the network.
    #[error("request failed: {0}")]
    Request(#[from] RequestError),
    /// The session broke a rule, or the peer refused (see
    /// [`swapmesh_sync::SessionError::fault`]).
    #[error("{0}")]
    Session(#[from] swapmesh_sync::SessionError),
    /// A fetched batch could not be ingested (nothing of it was stored).
    #[error("ingest: {0}")]
    Ingest(#[from] IngestError),
    /// The node is shutting down (its blocking pool is gone).
    #[error("the node is shutting down")]
    Stopped,
    /// A private mesh's topic that this node holds no key of.
    #[error("not a member of the private mesh of {0}")]
    NotMember(Topic),
    /// The peer did not prove it is a member of the private mesh: nothing
    /// was fetched from it or pushed to it.
    #[error("the peer did not prove membership of {0}")]
    Unproven(Topic),
}

/// Most (peer, private topic) pairs remembered as proven at once; more are
/// dropped oldest first (their peers prove themselves again).
const MAX_PROVEN: usize = 4096;

/// What [`SyncService::check_membership`] says of a request.
enum Membership {
    /// Served by the responders; with our proof to put in the answer of a
    /// proven first message.
    Serve(Option<Proof>),
    /// A valid hello: answered with our proof at once, no session opened.
    Hello(Proof),
    /// On a private mesh's topic without a valid proof: refused as not served.
    Unproven,
}

/// The node's records as the session machines read them: the live records of the
/// topics it listens to.
struct NodeSource<'a> {
    store: &'a Store,
    meshes: &'a MeshBook,
}

impl SyncSource for NodeSource<'_> {
    type Items<'b>
        = TopicSync<'b>
    where
        Self: 'b;
    type Error = StoreError;

    fn items(&self, topic: &Topic) -> Option<TopicSync<'_>> {
        self.meshes
            .listens_to(topic)
            .then(|| self.store.sync_view(topic))
    }

    fn record(&self, topic: &Topic, id: &RecordId) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .store
            .get(id)?
            .filter(|r| topics(&r.body).contains(topic))
            .map(|r| r.signed.encode()))
    }
}

/// The sync side of a node: serves peers and runs sessions with them.
#[derive(Clone)]
pub struct SyncService {
    inner: Arc<ServiceInner>,
}

struct ServiceInner {
    store: Store,
    meshes: Arc<MeshBook>,
    ingestor: Arc<Ingestor>,
    events: broadcast::Sender<NodeEvent>,
    net: NetworkHandle,
    config: SessionConfig,
    /// Held only to admit a request and to put its session back, never across
    /// a store read.
    responders: Mutex<Responders<PeerId>>,
    /// Store reads of sync, both sides, run on the blocking pool, at most
    /// this many at once: one core is left to the API and the network.
    readers: Semaphore,
    progress: Mutex<Progress>,
    /// Requests refused, by reason.
    refused: Mutex<BTreeMap<&'static str, u64>>,
    /// This node's peer id, which membership proofs bind.
    me: PeerId,
    /// Peers that proved membership of a private topic, and when they last
    /// used it.
    proven: Mutex<HashMap<(PeerId, Topic), Instant>>,
}

impl SyncService {
    /// The sync service of a node, for sync frames of at most `frame_limit` bytes.
    pub(crate) fn new(
        store: Store,
        meshes: Arc<MeshBook>,
        ingestor: Arc<Ingestor>,
        net: NetworkHandle,
        events: broadcast::Sender<NodeEvent>,
        frame_limit: usize,
        limits: ResponderLimits,
    ) -> Result<Self, swapmesh_sync::SessionError> {
        let config = SessionConfig::new(frame_limit)?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let me = net.local_peer_id();
        Ok(Self {
            inner: Arc::new(ServiceInner {
                store,
                meshes,
                ingestor,
                events,
                net,
                config,
                responders: Mutex::new(Responders::with_limits(config, limits)),
                readers: Semaphore::new(cores.saturating_sub(1).max(1)),
                progress: Mutex::new(Progress::default()),
                refused: Mutex::new(BTreeMap::new()),
                me,
                proven: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Progress of the sessions this node runs.
    pub fn progress(&self) -> Progress {
        self.inner.progress.lock().expect("progress lock").clone()
    }

    fn source(&self) -> NodeSource<'_> {
        NodeSource {
            store: &self.inner.store,
            meshes: &self.inner.meshes,
        }
    }

    /// A peer disconnected: its responder sessions go.
    pub(crate) fn forget(&self, peer: &PeerId) {
        self.inner
            .responders
            .lock()
            .expect("responders lock")
            .forget(peer);
        self.inner
            .proven
            .lock()
            .expect("proven lock")
            .retain(|(p, _), _| p != peer);
    }

    /// Answers one inbound sync request: admitted under the responders' lock,
    /// its store reads on the blocking pool without it. On a private mesh's
    /// topic, only a proven member is served.
    pub(crate) async fn serve(&self, peer: PeerId, data: Vec<u8>, reply: ResponseHandle) {
        let our_proof = match self.check_membership(peer, &data) {
            Membership::Serve(proof) => proof,
            Membership::Hello(proof) => {
                let answer = SyncResponse::Reconcile {
                    message: Vec::new(),
                    proof: Some(proof),
                };
                if let Err(e) = reply.respond(answer.encode()).await {
                    debug!(%peer, error = %e, "could not answer a sync hello");
                }
                return;
            }
            Membership::Unproven => {
                debug!(%peer, "refused an unproven request on a private topic");
                self.count_refusal("unproven");
                let refused = SyncResponse::Refused {
                    reason: Refusal::NotServing,
                };
                if let Err(e) = reply.respond(refused.encode()).await {
                    debug!(%peer, error = %e, "could not answer a sync request");
                }
                return;
            }
        };
        let admission = self
            .responders()
            .admit(&peer, &data, Instant::now(), &self.source());
        drop(data);
        let served = match admission {
            Admission::Served(served) => served,
            Admission::Work(work) => {
                // Fails only when the node is stopping: the request goes
                // unanswered, and its session expires.
                let Ok(done) = self.read(move |source| work.run(source)).await else {
                    return;
                };
                self.responders().complete(done, Instant::now())
            }
        };
        let response = match served {
            Served::Answer(response) => response,
            Served::Ingest { topic, records } => self.take_push(peer, &topic, records).await,
            Served::Refused { response, error } => {
                debug!(%peer, error = %error, "refused a sync request");
                self.count_refusal(reason(&error));
                if let Some(fault) = error.fault() {
                    self.charge(peer, misbehaviour(fault)).await;
                }
                response
            }
        };
        let response = match (response, our_proof) {
            (SyncResponse::Reconcile { message, .. }, Some(proof)) => SyncResponse::Reconcile {
                message,
                proof: Some(proof),
            },
            (response, _) => response,
        };
        if let Err(e) = reply.respond(response.encode()).await {
            debug!(%peer, error = %e, "could not answer a sync request");
        }
    }

    /// Whether `peer` may be served the request `data`: any request on an
    /// area or open mesh topic (or one that does not decode, for the
    /// responders to refuse); on a private mesh's topic we are in, a hello
    /// with a valid proof (answered with ours), a first message with one
    /// (served, with ours), or any request of a peer proven there lately.
    fn check_membership(&self, peer: PeerId, data: &[u8]) -> Membership {
        let Some(topic) = SyncRequest::peek_topic(data).filter(Topic::is_private) else {
            return Membership::Serve(None);
        };
        // Not a member: the responders refuse it as a topic not served.
        let Some(secrets) = self.inner.meshes.secrets(&topic) else {
            return Membership::Serve(None);
        };
        let Ok(request) = SyncRequest::decode(data, self.inner.config.frame_limit()) else {
            return Membership::Serve(None);
        };
        let (peer_bytes, me) = (peer.to_bytes(), self.inner.me.to_bytes());
        let now = Instant::now();
        if let SyncRequest::Reconcile {
            proof: Some(proof),
            message,
            ..
        } = &request
        {
            if !secrets.check_proof(proof, Role::Initiator, &peer_bytes, &me) {
                return Membership::Unproven;
            }
            self.prove(peer, topic, now);
            let ours = secrets.proof(Role::Responder, &peer_bytes, &me);
            return match message.is_empty() {
                true => Membership::Hello(ours),
                false => Membership::Serve(Some(ours)),
            };
        }
        let mut proven = self.inner.proven.lock().expect("proven lock");
        match proven.get_mut(&(peer, topic)) {
            Some(last) if now.duration_since(*last) < SESSION_IDLE => {
                *last = now;
                Membership::Serve(None)
            }
            _ => Membership::Unproven,
        }
    }

    /// The hello of a session on a private mesh's topic: our proof, then the
    /// peer's, before anything of the mesh is said.
    async fn hello(
        &self,
        peer: PeerId,
        topic: &Topic,
        secrets: &MeshSecrets,
    ) -> Result<(), SessionError> {
        let (me, them) = (self.inner.me.to_bytes(), peer.to_bytes());
        let hello = SyncRequest::Reconcile {
            topic: topic.clone(),
            session: rand::random(),
            message: Vec::new(),
            proof: Some(secrets.proof(Role::Initiator, &me, &them)),
        };
        let bytes = self
            .inner
            .net
            .send_request(Protocol::Sync, peer, hello.encode())
            .await?;
        match SyncResponse::decode(&bytes, self.inner.config.frame_limit()) {
            Ok(SyncResponse::Reconcile {
                proof: Some(proof),
                message,
            }) if message.is_empty()
                && secrets.check_proof(&proof, Role::Responder, &me, &them) =>
            {
                self.prove(peer, topic.clone(), Instant::now());
                Ok(())
            }
            _ => {
                debug!(%peer, %topic, "the peer did not prove membership: no session");
                Err(SessionError::Unproven(topic.clone()))
            }
        }
    }

    /// Remembers that `peer` proved membership of `topic` now.
    fn prove(&self, peer: PeerId, topic: Topic, now: Instant) {
        let mut proven = self.inner.proven.lock().expect("proven lock");
        if proven.len() >= MAX_PROVEN {
            proven.retain(|_, last| now.duration_since(*last) < SESSION_IDLE);
            if proven.len() >= MAX_PROVEN
                && let Some(oldest) = proven
                    .iter()
                    .min_by_key(|(_, t)| **t)
                    .map(|(k, _)| k.clone())
            {
                proven.remove(&oldest);
            }
        }
        proven.insert((peer, topic), now);
    }

    /// A push within a session: records we hold cost a lookup, not a
    /// signature check; the new ones count against the pusher's record rate
    /// and are judged and stored like gossip.
    async fn take_push(&self, peer: PeerId, topic: &Topic, records: Vec<Vec<u8>>) -> SyncResponse {
        // Gossip races honest pushes: records that reached us lately (within
        // a session's life) are no fault, nor are a few held long; more than
        // a quarter of the batch held long is work asked for nothing.
        let total = records.len();
        let (records, held) = self.inner.ingestor.without_held(records);
        if (held.held - held.lately) * 4 > total {
            self.charge(peer, Misbehaviour::HeldPush).await;
        }
        // Over the rate: "busy, retry later", uncharged, as gossip over it is
        // ignored uncharged.
        let fits = records.is_empty()
            || self
                .inner
                .net
                .take_record_rate(peer, records.len())
                .await
                .unwrap_or(false);
        if !fits {
            self.count_refusal("push_rate");
            return SyncResponse::Refused {
                reason: Refusal::Busy,
            };
        }
        match self.inner.ingestor.batch(topic, records, peer).await {
            Ok(outcome) => {
                if outcome.invalid > 0 {
                    self.charge(peer, Misbehaviour::InvalidRecord).await;
                }
                SyncResponse::pushed(outcome.stored)
            }
            Err(e) => {
                debug!(%peer, error = %e, "a pushed batch was not stored");
                SyncResponse::Refused {
                    reason: Refusal::Unavailable,
                }
            }
        }
    }

    fn count_refusal(&self, reason: &'static str) {
        *self
            .inner
            .refused
            .lock()
            .expect("refused lock")
            .entry(reason)
            .or_default() += 1;
    }

    fn responders(&self) -> std::sync::MutexGuard<'_, Responders<PeerId>> {
        self.inner.responders.lock().expect("responders lock")
    }

    /// Runs `f` on the node's records on the blocking pool, one of at most
    /// [`ServiceInner::readers`] at once: sled reads block, and a peer's
    /// session can ask for many.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&NodeSource<'_>) -> T + Send + 'static,
    ) -> Result<T, SessionError> {
        let _permit = self
            .inner
            .readers
            .acquire()
            .await
            .map_err(|_| SessionError::Stopped)?;
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            f(&NodeSource {
                store: &inner.store,
                meshes: &inner.meshes,
            })
        })
        .await
        .map_err(|_| SessionError::Stopped)
    }

    /// The responders' gauges and the refusals by reason, as Prometheus text.
    pub(crate) fn render_metrics(&self) -> String {
        let (open, held, memory, limit) = {
            let r = self.responders();
            (r.open(), r.held_items(), r.memory(), r.memory_limit())
        };
        let refused = self.inner.refused.lock().expect("refused lock").clone();
        let mut out = format!(
            "# HELP swapmesh_sync_responder_sessions Peers' sync sessions this node answers now.\n\
             # TYPE swapmesh_sync_responder_sessions gauge\n\
             swapmesh_sync_responder_sessions {open}\n\
             # HELP swapmesh_sync_responder_items Items the answered sessions hold between rounds.\n\
             # TYPE swapmesh_sync_responder_items gauge\n\
             swapmesh_sync_responder_items {held}\n\
             # HELP swapmesh_sync_responder_memory_bytes Memory the answered sessions take (estimated).\n\
             # TYPE swapmesh_sync_responder_memory_bytes gauge\n\
             swapmesh_sync_responder_memory_bytes {memory}\n\
             # HELP swapmesh_sync_responder_memory_limit_bytes The most the answered sessions may take.\n\
             # TYPE swapmesh_sync_responder_memory_limit_bytes gauge\n\
             swapmesh_sync_responder_memory_limit_bytes {limit}\n\
             # HELP swapmesh_sync_refused Peers' sync requests refused, by reason.\n\
             # TYPE swapmesh_sync_refused counter\n"
        );
        for (reason, n) in refused {
            let _ = writeln!(
                out,
                "swapmesh_sync_refused_total{{reason=\"{reason}\"}} {n}"
            );
        }
        out
    }

    async fn charge(&self, peer: PeerId, what: Misbehaviour) {
        let _ = self.inner.net.report_misbehaviour(peer, what).await;
    }

    /// Runs one session with `peer` on `topic` as the initiator: reconcile, fetch
    /// what we lack, push what the peer lacks.
    pub async fn run_session(
        &self,
        peer: PeerId,
        topic: &Topic,
    ) -> Result<SessionReport, SessionError> {
        let session = Initiator::new(topic.clone(), rand::random(), self.inner.config)?;
        // Shared with the reading thread of each step; only this task uses it.
        let session = Arc::new(Mutex::new(session));
        self.inner.progress.lock().expect("progress lock").started += 1;
        let mut begun = false;
        let result = self.drive(peer, &session, &mut begun).await;
        let report = lock(&session).report().clone();
        if begun {
            self.end(report.fetched);
        }
        result.map(|()| report)
    }

    async fn drive(
        &self,
        peer: PeerId,
        session: &Arc<Mutex<Initiator>>,
        begun: &mut bool,
    ) -> Result<(), SessionError> {
        let topic = lock(session).topic().clone();
        if topic.is_private() {
            let secrets = self
                .inner
                .meshes
                .secrets(&topic)
                .ok_or_else(|| SessionError::NotMember(topic.clone()))?;
            self.hello(peer, &topic, &secrets).await?;
        }
        loop {
            let next = self
                .step(session, |s, source| s.poll_request(source))
                .await?;
            let (reconciled, needed) = {
                let s = lock(session);
                (s.is_reconciled(), s.report().needed)
            };
            if !*begun && reconciled {
                *begun = true;
                self.begin(needed);
            }
            let Some(request) = next else {
                return Ok(());
            };
            let bytes = self
                .inner
                .net
                .send_request(Protocol::Sync, peer, request.encode())
                .await?;
            let handled = self
                .step(session, move |s, source| {
                    s.handle_response_bytes(source, &bytes)
                })
                .await;
            match handled {
                Ok(Handled::Continue) => {}
                Ok(Handled::RetryLater { after }) => {
                    debug!(%peer, ?after, "the peer is busy: asking again later");
                    tokio::time::sleep(after).await;
                }
                Ok(Handled::Fetched(records)) => {
                    let outcome = self.inner.ingestor.batch(&topic, records, peer).await?;
                    if outcome.invalid > 0 {
                        self.charge(peer, Misbehaviour::InvalidRecord).await;
                    }
                    let report = {
                        let mut s = lock(session);
                        s.stored(outcome.stored);
                        s.report().clone()
                    };
                    self.advance(outcome.stored);
                    let _ = self.inner.events.send(NodeEvent::SyncProgress {
                        peer,
                        topic: topic.clone(),
                        fetched: report.fetched,
                        expected: report.needed,
                    });
                }
                Err(SessionError::Session(e)) => {
                    if let Some(fault) = e.fault() {
                        self.charge(peer, misbehaviour(fault)).await;
                    }
                    return Err(e.into());
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// One step of our session that reads our records (a reconciliation
    /// message, a push batch), on the blocking pool like the responders'.
    async fn step<T: Send + 'static>(
        &self,
        session: &Arc<Mutex<Initiator>>,
        f: impl FnOnce(&mut Initiator, &NodeSource<'_>) -> Result<T, swapmesh_sync::SessionError>
        + Send
        + 'static,
    ) -> Result<T, SessionError> {
        let session = session.clone();
        Ok(self
            .read(move |source| f(&mut lock(&session), source))
            .await??)
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

/// The misbehaviour a peer is charged for a fault the session machines found.
fn misbehaviour(fault: PeerFault) -> Misbehaviour {
    match fault {
        PeerFault::Protocol => Misbehaviour::MalformedFrame,
        PeerFault::Flooding => Misbehaviour::Flooding,
        PeerFault::Records => Misbehaviour::InvalidRecord,
    }
}

fn lock(session: &Mutex<Initiator>) -> std::sync::MutexGuard<'_, Initiator> {
    session.lock().expect("session lock")
}

/// The reason a refusal is counted under in `/metrics`.
fn reason(error: &swapmesh_sync::SessionError) -> &'static str {
    use swapmesh_sync::SessionError as E;
    match error {
        E::OverBudget { flooding: false } => "over_budget",
        E::OverBudget { flooding: true } => "flooding",
        E::Busy { .. } => "busy",
        E::NoSession { .. } => "no_session",
        E::NotServing(_) => "not_serving",
        e if e.is_peer_fault() => "bad_request",
        _ => "unavailable",
    }
}
