//! The outbox: a worker per peer delivers what the store's `outbox` tree holds
//! for it, each agreement's entries in order, no agreement waiting on another. An
//! entry leaves in the commit that records its answer. A worker wakes at start,
//! when its peer connects, identifies itself or is discovered, and on its own
//! retry timer (1 s doubling to 10 min, jittered).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};
use swapmesh_net::{Protocol, RequestError};
use swapmesh_protocol::agreement::wire::{
    AgreeRequest, AgreeResponse, Note, Request, Response, deliveries,
};
use swapmesh_protocol::agreement::{EventId, SignedEvent};
use swapmesh_protocol::encoding;
use swapmesh_protocol::{AuthorKey, Timestamp};
use swapmesh_store::OutboxKey;
use tokio::sync::Notify;
use tracing::{debug, warn};

use super::{Agree, AgreeError, peer_of};

const FIRST_RETRY: Duration = Duration::from_secs(1);
const LAST_RETRY: Duration = Duration::from_secs(600);

/// What an outbox entry asks for.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub(super) enum Item {
    /// The sequencer delivers its chain from this index on.
    Deliver {
        /// The first event to send.
        from: u32,
    },
    /// The other party delivers its pending event (if it is still this one).
    Pending {
        /// The event.
        event: EventId,
    },
    /// A note beside the chain.
    Note(Note),
    /// Our signature over the receipt statement of the chain the sequencer ended.
    ReceiptSig {
        /// The signature.
        sig: swapmesh_protocol::Signature,
    },
}

impl Item {
    pub(super) fn encode(&self) -> Vec<u8> {
        encoding::encode(self)
    }

    pub(super) fn decode(bytes: &[u8]) -> Option<Self> {
        encoding::decode_canonical(bytes, encoding::MAX_DECODE).ok()
    }
}

/// The workers, by peer.
#[derive(Default)]
pub(super) struct Outbox {
    workers: Mutex<HashMap<AuthorKey, Arc<Notify>>>,
    attempts: Mutex<HashMap<AuthorKey, Attempts>>,
    /// Since when direct tries to a peer have failed, by the node's clock.
    failing: Mutex<HashMap<AuthorKey, Timestamp>>,
    /// Peers found unreachable in their worker's current round: the rest of
    /// the round skips the direct tries and only mails.
    down: Mutex<std::collections::HashSet<AuthorKey>>,
}

/// How a worker's deliveries to its peer go, at the node's time.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Attempts {
    /// When it last tried.
    pub(super) last: Option<Timestamp>,
    /// When it tries again, while it backs off.
    pub(super) next: Option<Timestamp>,
}

impl Outbox {
    /// How the deliveries to `peer` go.
    pub(super) fn attempts(&self, peer: &AuthorKey) -> Attempts {
        self.attempts
            .lock()
            .expect("outbox lock")
            .get(peer)
            .copied()
            .unwrap_or_default()
    }

    fn note_attempt(&self, peer: AuthorKey, last: Option<Timestamp>, next: Option<Timestamp>) {
        let mut attempts = self.attempts.lock().expect("outbox lock");
        let entry = attempts.entry(peer).or_default();
        if last.is_some() {
            entry.last = last;
        }
        entry.next = next;
    }

    /// Since when direct tries to `peer` have failed (from `now` on, if
    /// this is the first failure).
    pub(super) fn failing_since(&self, peer: AuthorKey, now: Timestamp) -> Timestamp {
        *self
            .failing
            .lock()
            .expect("outbox lock")
            .entry(peer)
            .or_insert(now)
    }

    fn set_down(&self, peer: AuthorKey, down: bool) {
        let mut set = self.down.lock().expect("outbox lock");
        if down {
            set.insert(peer);
        } else {
            set.remove(&peer);
        }
    }

    fn is_down(&self, peer: &AuthorKey) -> bool {
        self.down.lock().expect("outbox lock").contains(peer)
    }

    fn reached(&self, peer: &AuthorKey) {
        self.failing.lock().expect("outbox lock").remove(peer);
    }

    /// Wakes every worker.
    pub(super) fn poke_all(&self) {
        for n in self.workers.lock().expect("outbox lock").values() {
            n.notify_one();
        }
    }

    /// Wakes `peer`'s worker, if it has one.
    pub(super) fn poke(&self, peer: &AuthorKey) {
        if let Some(n) = self.workers.lock().expect("outbox lock").get(peer) {
            n.notify_one();
        }
    }
}

/// How sending one entry went.
pub(super) enum Sent {
    /// Answered and recorded: go on with this agreement's next entry.
    Done,
    /// The answer asks to try again later (the peer's clock is behind ours).
    Later,
    /// The peer could not be reached: the whole worker backs off.
    Unreachable,
}

impl Agree {
    /// Wakes (or starts) the outbox worker of `peer`.
    pub(super) fn wake(&self, peer: AuthorKey) {
        let mut workers = self.inner.outbox.workers.lock().expect("outbox lock");
        if let Some(n) = workers.get(&peer) {
            n.notify_one();
            return;
        }
        let notify = Arc::new(Notify::new());
        workers.insert(peer, notify.clone());
        let agree = self.clone();
        self.inner
            .tasks
            .spawn(async move { agree.worker(peer, notify).await });
    }

    async fn worker(self, peer: AuthorKey, notify: Arc<Notify>) {
        let mut backoff = FIRST_RETRY;
        loop {
            let entries = match self.inner.store.outbox(&peer) {
                Ok(entries) => entries,
                Err(e) => {
                    warn!(error = %e, "could not read the outbox");
                    Vec::new()
                }
            };
            if entries.is_empty() {
                notify.notified().await;
                backoff = FIRST_RETRY;
                continue;
            }
            // The first entry of each agreement; agreements do not wait on each other.
            let mut firsts: BTreeMap<_, (OutboxKey, Vec<u8>)> = BTreeMap::new();
            for (key, item) in entries {
                firsts.entry(key.agreement).or_insert((key, item));
            }
            let mut progress = false;
            let mut unreachable = false;
            let outbox = &self.inner.outbox;
            outbox.note_attempt(peer, Some(self.inner.clock.now()), None);
            outbox.set_down(peer, false);
            for (_, (key, item)) in firsts {
                match self.send_entry(&key, &item).await {
                    Ok(Sent::Done) => progress = true,
                    Ok(Sent::Later) => {}
                    // The other agreements go on without dialling again: each
                    // may still go by mail, or take an answer that came by mail.
                    Ok(Sent::Unreachable) => {
                        unreachable = true;
                        outbox.set_down(peer, true);
                    }
                    Err(e) => warn!(error = %e, "an outbox entry failed"),
                }
            }
            if progress && !unreachable {
                backoff = FIRST_RETRY;
                continue;
            }
            let jitter = rand::thread_rng().gen_range(0.8..1.2);
            let wait = backoff.mul_f64(jitter);
            debug!(peer = %peer, ?wait, "outbox waits before retrying");
            let retry = self
                .inner
                .clock
                .now()
                .plus(wait.as_secs_f64().ceil() as u64);
            outbox.note_attempt(peer, None, Some(retry));
            if tokio::time::timeout(wait, notify.notified()).await.is_ok() {
                backoff = FIRST_RETRY;
            } else {
                backoff = (backoff * 2).min(LAST_RETRY);
            }
        }
    }

    /// Sends one entry and records its answer.
    async fn send_entry(&self, key: &OutboxKey, item: &[u8]) -> Result<Sent, AgreeError> {
        let Some(item) = Item::decode(item) else {
            warn!("dropping an outbox entry that does not decode");
            self.inner.store.outbox_remove(key)?;
            return Ok(Sent::Done);
        };
        match item {
            Item::Deliver { from } => self.send_chain(key, from as usize).await,
            Item::Pending { event } => self.send_pending(key, event).await,
            Item::Note(note) => match self.request(key, Request::Note(note)).await {
                Ok(_) => {
                    self.inner.store.outbox_remove(key)?;
                    Ok(Sent::Done)
                }
                Err(sent) => Ok(sent),
            },
            Item::ReceiptSig { sig } => self.send_receipt_sig(key, sig).await,
        }
    }

    /// The sequencer's chain from `from` on, resent from wherever the other node
    /// says it is.
    async fn send_chain(&self, key: &OutboxKey, mut from: usize) -> Result<Sent, AgreeError> {
        // Each answer moves `from` to just after the head the other node has;
        // a bounded number of rounds guards against a peer that never moves.
        for _ in 0..64 {
            let Some(stored) = self.inner.store.agreement(&key.agreement)? else {
                self.inner.store.outbox_remove(key)?;
                return Ok(Sent::Done);
            };
            let chain = self.inner.store.agreement_events(&key.agreement)?;
            let rest: Vec<SignedEvent> = chain.get(from..).unwrap_or_default().to_vec();
            // One frame at a time (at most 256 KiB); the answer says where to go on.
            let Some(events) = deliveries(&rest).into_iter().next() else {
                self.inner.store.outbox_remove(key)?;
                return Ok(Sent::Done);
            };
            let response = match self.request(key, Request::Deliver { events }).await {
                Ok(r) => r,
                Err(sent) => return Ok(sent),
            };
            match response {
                Response::Ack { head } | Response::Stale { head } => {
                    match stored.state.chain.iter().position(|e| *e == head) {
                        Some(at) if at + 1 == stored.state.chain.len() => {
                            self.delivered(key, head)?;
                            return Ok(Sent::Done);
                        }
                        // They have up to `head`: send what follows it.
                        Some(at) => from = at + 1,
                        // A head we never had: start again from the proposal.
                        None if from != 0 => from = 0,
                        None => return Ok(Sent::Later),
                    }
                }
                Response::Unknown => {
                    if from == 0 {
                        return Ok(Sent::Later);
                    }
                    from = 0;
                }
                Response::Refused { refusal, .. } if !refusal.proves_absence() => {
                    return Ok(Sent::Later);
                }
                Response::Refused { refusal, .. } => {
                    warn!(agreement = %key.agreement, refusal = refusal.code(), "the other party refused our events");
                    self.inner.store.outbox_remove(key)?;
                    return Ok(Sent::Done);
                }
                Response::Receipt { .. } | Response::Noted => {
                    self.inner.store.outbox_remove(key)?;
                    return Ok(Sent::Done);
                }
            }
        }
        Ok(Sent::Later)
    }

    fn delivered(&self, key: &OutboxKey, head: EventId) -> Result<(), AgreeError> {
        self.inner.store.outbox_remove(key)?;
        self.emit(crate::events::NodeEvent::AgreementDelivered {
            id: key.agreement,
            head,
        });
        Ok(())
    }

    /// Sends the request of outbox entry `key` to its agreement's other party
    /// and decodes the answer, or takes the answer that came by mail. When
    /// the party cannot be reached, the request may go by mail (`mail`).
    pub(super) async fn request(
        &self,
        key: &OutboxKey,
        request: Request,
    ) -> Result<Response, Sent> {
        let hash = super::mail::request_hash(&request);
        if let Some(response) = self.mailed_answer(key, &hash) {
            return Ok(response);
        }
        let sent = if self.inner.outbox.is_down(&key.peer) {
            Err(Sent::Unreachable)
        } else {
            self.request_directly(&key.peer, &request).await
        };
        match &sent {
            Ok(_) => {
                self.inner.outbox.reached(&key.peer);
                self.forget_mailed(key, &hash);
            }
            Err(Sent::Unreachable) => self.mail_request(key, &request, hash).await,
            Err(_) => {}
        }
        sent
    }

    /// Sends a request to an agreement's other party and decodes the answer.
    async fn request_directly(
        &self,
        peer: &AuthorKey,
        request: &Request,
    ) -> Result<Response, Sent> {
        let Some(peer_id) = peer_of(peer) else {
            return Err(Sent::Later);
        };
        let frame = AgreeRequest::V1(request.clone()).encode();
        let mut tried_lookup = false;
        loop {
            match self
                .inner
                .net
                .send_request(Protocol::Agree, peer_id, frame.clone())
                .await
            {
                Ok(bytes) => {
                    if self.inner.faults.agree_after_send() {
                        std::process::abort();
                    }
                    return AgreeResponse::decode(&bytes).map_err(|e| {
                        debug!(error = %e, "an agree response did not decode");
                        Sent::Later
                    });
                }
                Err(RequestError::DialFailure) if !tried_lookup => {
                    tried_lookup = true;
                    if !self
                        .inner
                        .address_book
                        .reach(&self.inner.net, peer_id)
                        .await
                    {
                        return Err(Sent::Unreachable);
                    }
                }
                Err(RequestError::Stopped) => return Err(Sent::Unreachable),
                Err(e) => {
                    debug!(peer = %peer_id, error = %e, "an agree request failed");
                    return Err(Sent::Unreachable);
                }
            }
        }
    }
}
