//! The sync driver: moves the bytes of [`swapmesh_sync`]'s session machines over
//! `/swapmesh/sync/1` and hands every fetched or pushed batch to the [`Ingestor`]
//! (the same path as gossip; records that arrive by sync are not gossiped again:
//! they are old news to everyone else). The wire format, the bounds, the fetch
//! budgeting and the responder session caps all live in `swapmesh_sync`; a peer
//! that breaks them is charged here, by the fault the machine names.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use swapmesh_net::{Misbehaviour, NetworkHandle, PeerId, Protocol, RequestError, ResponseHandle};
use swapmesh_protocol::{RecordId, Topic, topics};
use swapmesh_store::{Store, StoreError, TopicSync};
use swapmesh_sync::wire::{Refusal, SyncResponse};
use swapmesh_sync::{
    Handled, Initiator, PeerFault, Responders, Served, SessionConfig, SessionReport, SyncSource,
};
use tokio::sync::broadcast;
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
    responders: Mutex<Responders<PeerId>>,
    progress: Mutex<Progress>,
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
    ) -> Result<Self, swapmesh_sync::SessionError> {
        let config = SessionConfig::new(frame_limit)?;
        Ok(Self {
            inner: Arc::new(ServiceInner {
                store,
                meshes,
                ingestor,
                events,
                net,
                config,
                responders: Mutex::new(Responders::new(config)),
                progress: Mutex::new(Progress::default()),
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
    }

    /// Answers one inbound sync request.
    pub(crate) async fn serve(&self, peer: PeerId, data: Vec<u8>, reply: ResponseHandle) {
        let served = {
            let mut responders = self.inner.responders.lock().expect("responders lock");
            responders.expire(Instant::now());
            responders.serve(&peer, &data, Instant::now(), &self.source())
        };
        let response = match served {
            Served::Answer(response) => response,
            Served::Ingest { topic, records } => {
                // Held records cost a lookup, not a signature check. Gossip
                // races honest pushes, so a few held are no fault; more than
                // a quarter of the batch is work asked for nothing.
                let total = records.len();
                let (records, held) = self.inner.ingestor.without_held(records);
                if held * 4 > total {
                    self.charge(peer, Misbehaviour::HeldPush).await;
                }
                match self.inner.ingestor.batch(&topic, records, peer).await {
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
            Served::Refused { response, error } => {
                debug!(%peer, error = %error, "refused a sync request");
                if let Some(fault) = error.fault() {
                    self.charge(peer, misbehaviour(fault)).await;
                }
                response
            }
        };
        if let Err(e) = reply.respond(response.encode()).await {
            debug!(%peer, error = %e, "could not answer a sync request");
        }
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
        let mut session = Initiator::new(topic.clone(), rand::random(), self.inner.config)?;
        self.inner.progress.lock().expect("progress lock").started += 1;
        let mut begun = false;
        let result = self.drive(peer, &mut session, &mut begun).await;
        if begun {
            self.end(session.report().fetched);
        }
        result.map(|()| session.into_report())
    }

    async fn drive(
        &self,
        peer: PeerId,
        session: &mut Initiator,
        begun: &mut bool,
    ) -> Result<(), SessionError> {
        loop {
            let next = session.poll_request(&self.source())?;
            if !*begun && session.is_reconciled() {
                *begun = true;
                self.begin(session.report().needed);
            }
            let Some(request) = next else {
                return Ok(());
            };
            let bytes = self
                .inner
                .net
                .send_request(Protocol::Sync, peer, request.encode())
                .await?;
            match session.handle_response_bytes(&self.source(), &bytes) {
                Ok(Handled::Continue) => {}
                Ok(Handled::Fetched(records)) => {
                    let topic = session.topic().clone();
                    let outcome = self.inner.ingestor.batch(&topic, records, peer).await?;
                    if outcome.invalid > 0 {
                        self.charge(peer, Misbehaviour::InvalidRecord).await;
                    }
                    session.stored(outcome.stored);
                    self.advance(outcome.stored);
                    let report = session.report();
                    let _ = self.inner.events.send(NodeEvent::SyncProgress {
                        peer,
                        topic,
                        fetched: report.fetched,
                        expected: report.needed,
                    });
                }
                Err(e) => {
                    if let Some(fault) = e.fault() {
                        self.charge(peer, misbehaviour(fault)).await;
                    }
                    return Err(e.into());
                }
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

/// The misbehaviour a peer is charged for a fault the session machines found.
fn misbehaviour(fault: PeerFault) -> Misbehaviour {
    match fault {
        PeerFault::Protocol => Misbehaviour::MalformedFrame,
        PeerFault::Records => Misbehaviour::InvalidRecord,
    }
}
