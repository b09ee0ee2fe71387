//! [`Initiator`]: one session with one peer on one topic, as the side that asks.

use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use swapmesh_protocol::{RecordId, SignedRecord, Topic};

use super::{SessionConfig, SessionReport};
use crate::budget::{Offer, RecordBatch};
use crate::error::SessionError;
use crate::reconcile::Reconciler;
use crate::store::SyncSource;
use crate::wire::{FETCH_IDS, SyncRequest, SyncResponse};

/// The initiator of one session: reconcile rounds until the difference is known,
/// then fetch batches of at most [`FETCH_IDS`] ids until we hold what we lacked (or
/// the peer has no more of it), then push batches that fit a frame until the peer
/// holds what it lacked.
///
/// Driven in turns: [`Initiator::poll_request`] gives the next request to send
/// (`None` when the session is over), and the peer's answer goes to
/// [`Initiator::handle_response`] (or [`Initiator::handle_response_bytes`]), which
/// may hand out fetched records to ingest, after which the driver reports how many
/// it stored with [`Initiator::stored`]. Any error ends the session: later calls
/// fail with [`SessionError::OutOfOrder`].
#[derive(Debug)]
pub struct Initiator {
    topic: Topic,
    session: u64,
    config: SessionConfig,
    /// Until reconciliation ends.
    reconciler: Option<Reconciler>,
    state: State,
    /// Ids still to fetch, in item order.
    wanted: VecDeque<RecordId>,
    /// The ids of the fetch out now.
    asked: Vec<RecordId>,
    /// Ids still to push, in item order.
    offer: VecDeque<RecordId>,
    /// A loaded record that did not fit the last push: it opens the next.
    carry: Option<Vec<u8>>,
    /// The request out now, kept to ask again after "retry later".
    out: Option<SyncRequest>,
    /// "Retry later" answers in a row.
    retries: u32,
    report: SessionReport,
}

/// How often in a row a request refused with "retry later" is asked again
/// before the session fails; the waits double from [`RETRY_FIRST`], about 16 s
/// in all.
pub const MAX_RETRIES: u32 = 6;
/// The wait before the first retry.
pub const RETRY_FIRST: Duration = Duration::from_millis(250);

#[derive(Debug)]
enum State {
    /// The first reconciliation message is still to be made.
    Start,
    /// This reconciliation message goes out next.
    Reconcile(Vec<u8>),
    /// The difference is known: fetch, then push.
    Transfer,
    /// A request is out; its answer is awaited.
    Waiting(Waiting),
    /// The peer said "retry later": the request out goes again.
    Retry(Waiting),
    Done,
    Failed,
}

#[derive(Clone, Copy, Debug)]
enum Waiting {
    Reconcile,
    Records,
    Pushed { sent: usize },
}

impl Waiting {
    fn expected(self) -> &'static str {
        match self {
            Self::Reconcile => "reconcile",
            Self::Records => "records",
            Self::Pushed { .. } => "pushed",
        }
    }
}

/// What an answer gave the driver to do.
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub enum Handled {
    /// Nothing: ask [`Initiator::poll_request`] for the next request.
    Continue,
    /// Fetched records of the session's topic, as signed bytes (each decodes, and
    /// each was asked for): judge and store them, then call [`Initiator::stored`].
    Fetched(Vec<Vec<u8>>),
    /// The peer is busy: wait `after`, then [`Initiator::poll_request`] gives
    /// the same request again.
    RetryLater {
        /// How long to wait.
        after: Duration,
    },
}

impl Initiator {
    /// A session on `topic` with the random id `session` (drawn by the driver, so
    /// tests choose it), under `config`.
    pub fn new(topic: Topic, session: u64, config: SessionConfig) -> Result<Self, SessionError> {
        Ok(Self {
            topic,
            session,
            config,
            reconciler: Some(Reconciler::initiator(*config.reconcile())?),
            state: State::Start,
            wanted: VecDeque::new(),
            asked: Vec::new(),
            offer: VecDeque::new(),
            carry: None,
            out: None,
            retries: 0,
            report: SessionReport::default(),
        })
    }

    /// The session's topic.
    pub fn topic(&self) -> &Topic {
        &self.topic
    }

    /// The session id.
    pub fn session(&self) -> u64 {
        self.session
    }

    /// What the session did so far (`needed` and `offered` once reconciliation
    /// ended).
    pub fn report(&self) -> &SessionReport {
        &self.report
    }

    /// What the session did.
    pub fn into_report(self) -> SessionReport {
        self.report
    }

    /// Whether reconciliation is over: from then on `report().needed` (the records
    /// to fetch) and `report().offered` are known.
    pub fn is_reconciled(&self) -> bool {
        self.reconciler.is_none()
    }

    /// Whether the session ended well ([`Initiator::poll_request`] gave `None`).
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// The next request to send, or `None` when the session is over. Reads our
    /// items for the first reconciliation message and our records for pushes.
    pub fn poll_request<S: SyncSource>(
        &mut self,
        source: &S,
    ) -> Result<Option<SyncRequest>, SessionError> {
        if let State::Retry(waiting) = self.state
            && let Some(request) = self.out.clone()
        {
            self.state = State::Waiting(waiting);
            return Ok(Some(request));
        }
        let result = self.next_request(source);
        match &result {
            Ok(request) => self.out.clone_from(request),
            Err(_) => self.state = State::Failed,
        }
        result
    }

    /// Handles the peer's answer to the request last given out.
    pub fn handle_response<S: SyncSource>(
        &mut self,
        source: &S,
        response: SyncResponse,
    ) -> Result<Handled, SessionError> {
        let result = self.handle(source, response);
        if result.is_err() {
            self.state = State::Failed;
        }
        result
    }

    /// [`Initiator::handle_response`] on the answer's frame, decoded under the frame
    /// limit.
    pub fn handle_response_bytes<S: SyncSource>(
        &mut self,
        source: &S,
        bytes: &[u8],
    ) -> Result<Handled, SessionError> {
        match SyncResponse::decode(bytes, self.config.frame_limit()) {
            Ok(response) => self.handle_response(source, response),
            Err(e) => {
                self.state = State::Failed;
                Err(e.into())
            }
        }
    }

    /// The driver stored `count` of the records last handed out.
    pub fn stored(&mut self, count: usize) {
        self.report.fetched += count;
    }

    fn next_request<S: SyncSource>(
        &mut self,
        source: &S,
    ) -> Result<Option<SyncRequest>, SessionError> {
        match std::mem::replace(&mut self.state, State::Failed) {
            State::Start => {
                let items = items(source, &self.topic)?;
                let reconciler = self
                    .reconciler
                    .as_mut()
                    .ok_or(SessionError::OutOfOrder("reconciliation already ended"))?;
                let message = reconciler.initiate_bytes(&items)?;
                Ok(Some(self.reconcile_request(message)))
            }
            State::Reconcile(message) => Ok(Some(self.reconcile_request(message))),
            State::Transfer => {
                if !self.wanted.is_empty() {
                    let n = self.wanted.len().min(FETCH_IDS);
                    self.asked = self.wanted.drain(..n).collect();
                    self.state = State::Waiting(Waiting::Records);
                    return Ok(Some(SyncRequest::Fetch {
                        topic: self.topic.clone(),
                        ids: self.asked.clone(),
                    }));
                }
                let records = self.push_batch(source)?;
                if records.is_empty() {
                    self.state = State::Done;
                    return Ok(None);
                }
                self.state = State::Waiting(Waiting::Pushed {
                    sent: records.len(),
                });
                Ok(Some(SyncRequest::Push {
                    session: self.session,
                    topic: self.topic.clone(),
                    records,
                }))
            }
            State::Waiting(w) => {
                self.state = State::Waiting(w);
                Err(SessionError::OutOfOrder(
                    "a request is already waiting for its answer",
                ))
            }
            State::Retry(_) => Err(SessionError::OutOfOrder("no request to ask again")),
            State::Done => {
                self.state = State::Done;
                Ok(None)
            }
            State::Failed => Err(SessionError::OutOfOrder("the session has failed")),
        }
    }

    fn reconcile_request(&mut self, message: Vec<u8>) -> SyncRequest {
        self.state = State::Waiting(Waiting::Reconcile);
        SyncRequest::Reconcile {
            topic: self.topic.clone(),
            session: self.session,
            message,
            proof: None,
        }
    }

    fn handle<S: SyncSource>(
        &mut self,
        source: &S,
        response: SyncResponse,
    ) -> Result<Handled, SessionError> {
        let State::Waiting(waiting) = std::mem::replace(&mut self.state, State::Failed) else {
            return Err(SessionError::OutOfOrder("an answer with no request out"));
        };
        response.validate()?;
        if !matches!(response, SyncResponse::Refused { .. }) {
            self.retries = 0;
        }
        match (waiting, response) {
            (_, SyncResponse::Refused { reason })
                if reason.is_retry_later() && self.retries < MAX_RETRIES =>
            {
                let after = RETRY_FIRST * 2u32.pow(self.retries);
                self.retries += 1;
                self.state = State::Retry(waiting);
                Ok(Handled::RetryLater { after })
            }
            (_, SyncResponse::Refused { reason }) => Err(SessionError::Refused(reason)),
            (Waiting::Reconcile, SyncResponse::Reconcile { message, .. }) => {
                self.reconciled(source, &message)?;
                Ok(Handled::Continue)
            }
            (Waiting::Records, SyncResponse::Records { records }) => self.fetched(records),
            (Waiting::Pushed { sent }, SyncResponse::Pushed { stored }) => {
                if stored as usize > sent {
                    return Err(SessionError::StoredTooMany { stored, sent });
                }
                self.report.pushed += stored as usize;
                self.state = State::Transfer;
                Ok(Handled::Continue)
            }
            (waiting, other) => Err(SessionError::WrongResponse {
                expected: waiting.expected(),
                got: other.kind(),
            }),
        }
    }

    /// One reconciliation answer: the next message, or the difference.
    fn reconciled<S: SyncSource>(
        &mut self,
        source: &S,
        message: &[u8],
    ) -> Result<(), SessionError> {
        let items = items(source, &self.topic)?;
        let reconciler = self
            .reconciler
            .as_mut()
            .ok_or(SessionError::OutOfOrder("reconciliation already ended"))?;
        if let Some(next) = reconciler.handle_bytes(&items, message)? {
            self.state = State::Reconcile(next);
            return Ok(());
        }
        let outcome = self
            .reconciler
            .take()
            .map(Reconciler::into_outcome)
            .unwrap_or_default();
        self.report.rounds = outcome.rounds;
        self.report.needed = outcome.need.len();
        self.report.offered = outcome.have.len();
        self.wanted = outcome.need.iter().map(|i| i.id).collect();
        self.offer = outcome.have.iter().map(|i| i.id).collect();
        self.state = State::Transfer;
        Ok(())
    }

    /// One fetch answer: only records asked for, each once; none means the peer no
    /// longer has any of them (expired or replaced meanwhile), so fetching ends.
    fn fetched(&mut self, records: Vec<Vec<u8>>) -> Result<Handled, SessionError> {
        let asked = std::mem::take(&mut self.asked);
        if records.is_empty() {
            self.wanted.clear();
            self.state = State::Transfer;
            return Ok(Handled::Continue);
        }
        let mut open: BTreeSet<RecordId> = asked.iter().copied().collect();
        for bytes in &records {
            let id = SignedRecord::decode(bytes)
                .map_err(|error| SessionError::BadRecord { error })?
                .id();
            if !open.remove(&id) {
                return Err(SessionError::NotAskedFor { id });
            }
        }
        // What was asked and not sent goes first in the next fetch.
        for id in asked.iter().rev().filter(|id| open.contains(id)) {
            self.wanted.push_front(*id);
        }
        self.state = State::Transfer;
        Ok(Handled::Fetched(records))
    }

    /// The next push: records the peer lacks, as many as fit a frame.
    fn push_batch<S: SyncSource>(&mut self, source: &S) -> Result<Vec<Vec<u8>>, SessionError> {
        let mut batch = RecordBatch::new(self.config.frame_limit());
        if let Some(record) = self.carry.take() {
            // It was refused only because the last batch was full.
            let _ = batch.offer(record);
        }
        while let Some(id) = self.offer.pop_front() {
            let Some(record) = source
                .record(&self.topic, &id)
                .map_err(SessionError::source)?
            else {
                continue; // gone meanwhile (replaced or expired)
            };
            match batch.offer(record) {
                Offer::Taken | Offer::Oversize => {}
                Offer::Full(record) => {
                    self.carry = Some(record);
                    break;
                }
            }
        }
        Ok(batch.into_records())
    }
}

/// The items of `topic`, which we must still serve.
fn items<'a, S: SyncSource>(source: &'a S, topic: &Topic) -> Result<S::Items<'a>, SessionError> {
    source
        .items(topic)
        .ok_or_else(|| SessionError::NotServing(topic.clone()))
}
