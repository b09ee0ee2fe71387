//! Our pending event, as the other party: delivered to the sequencer until it is
//! appended (an ack) or refused in a way that proves it is not in the chain. After
//! a stale or too-old answer it is signed again on the new head, if still legal.

use swapmesh_protocol::agreement::wire::{Refusal, Request, Response};
use swapmesh_protocol::agreement::{
    Agreement, Applied, EventId, SignedEvent, apply, sign_event, verify_event,
};
use swapmesh_store::{AgreementCommit, OutboxKey, Pending, StoredAgreement};
use tracing::debug;

use super::outbox::{Item, Sent};
use super::{Agree, AgreeError, holds};
use crate::events::NodeEvent;

impl Agree {
    /// Delivers our pending event `event` and records the answer.
    pub(super) async fn send_pending(
        &self,
        key: &OutboxKey,
        event: EventId,
    ) -> Result<Sent, AgreeError> {
        let Some(stored) = self.inner.store.agreement(&key.agreement)? else {
            self.inner.store.outbox_remove(key)?;
            return Ok(Sent::Done);
        };
        let Some(pending) = stored.pending.clone().filter(|p| p.id() == event) else {
            // Taken meanwhile, replaced or cancelled.
            self.inner.store.outbox_remove(key)?;
            return Ok(Sent::Done);
        };
        let mut events = vec![pending.clone()];
        let mut resent_chain = false;
        loop {
            let response = match self.deliver_in_frames(key, &events).await {
                Ok(r) => r,
                Err(sent) => return Ok(sent),
            };
            match response {
                Response::Ack { head } => {
                    self.pending_acked(key, &pending, head).await?;
                    return Ok(Sent::Done);
                }
                Response::Stale { head } => {
                    let chain = &stored.state.chain;
                    match chain.iter().position(|e| *e == head) {
                        // The sequencer lost events we have: send them first.
                        Some(at) if at + 1 < chain.len() && !resent_chain => {
                            resent_chain = true;
                            let all = self.inner.store.agreement_events(&key.agreement)?;
                            events = all[at + 1..].to_vec();
                            events.push(pending.clone());
                        }
                        // The sequencer is ahead: its events reach us through its
                        // outbox, and our event is signed again on them.
                        _ => return Ok(Sent::Later),
                    }
                }
                Response::Unknown if !resent_chain => {
                    resent_chain = true;
                    events = self.inner.store.agreement_events(&key.agreement)?;
                    if events.last().map(|e| e.id()) != Some(pending.id()) {
                        events.push(pending.clone());
                    }
                }
                Response::Refused {
                    refusal: Refusal::TooOld,
                    ..
                } => {
                    self.sign_pending_again(&key.agreement).await?;
                    return Ok(Sent::Done);
                }
                Response::Refused { refusal, .. } if refusal.proves_absence() => {
                    self.pending_refused(key, &pending, refusal).await?;
                    return Ok(Sent::Done);
                }
                _ => return Ok(Sent::Later),
            }
        }
    }

    /// Delivers `events` in frames of at most 256 KiB, in order; the answer to
    /// the last frame, or the first answer that is not an ack.
    async fn deliver_in_frames(
        &self,
        key: &OutboxKey,
        events: &[SignedEvent],
    ) -> Result<Response, Sent> {
        let frames = swapmesh_protocol::agreement::wire::deliveries(events);
        let count = frames.len();
        for (i, events) in frames.into_iter().enumerate() {
            let response = self.request(key, Request::Deliver { events }).await?;
            if i + 1 == count || !matches!(response, Response::Ack { .. }) {
                return Ok(response);
            }
        }
        Err(Sent::Later)
    }

    /// The sequencer appended our pending event: it joins our chain if it extends
    /// our head (else the sequencer's delivery brings it with what came before).
    async fn pending_acked(
        &self,
        key: &OutboxKey,
        pending: &SignedEvent,
        head: EventId,
    ) -> Result<(), AgreeError> {
        let guard = self.inner.commits.lock().await;
        let Some(stored) = self.inner.store.agreement(&key.agreement)? else {
            return Ok(());
        };
        if stored.pending.as_ref() != Some(pending) {
            self.inner.store.outbox_remove(key)?;
            return Ok(());
        }
        let done = [*key];
        let state = &stored.state;
        let mut first = None;
        let next = match verify_event(pending.clone()) {
            Ok(event) if head == event.id() => {
                match apply(Some(state), &event, event.body().at) {
                    Ok(Applied::Changed(next)) => Some((event, next)),
                    // A first proposal is its own chain already: it joins now.
                    Ok(Applied::AlreadyInChain) if is_first_proposal(state, pending) => {
                        first = Some(super::Joined::of(&event, state));
                        None
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        match &next {
            Some((event, next)) => {
                let holds = holds::our_holds(&self.inner.store, &self.inner.me, next, false)?;
                let receipt_sig: Vec<_> = self.receipt_sig_entry(next).into_iter().collect();
                let commit = AgreementCommit {
                    events: std::slice::from_ref(event),
                    outbox_add: &receipt_sig,
                    pending: Pending::Clear,
                    holds: &holds,
                    outbox_done: &done,
                    ..AgreementCommit::new(next)
                };
                self.inner.store.commit_agreement_durable(&commit).await?;
            }
            None => {
                let commit = AgreementCommit {
                    pending: Pending::Clear,
                    outbox_done: &done,
                    ..AgreementCommit::new(state)
                };
                self.inner.store.commit_agreement_durable(&commit).await?;
            }
        }
        drop(guard);
        match next {
            Some((event, next)) => {
                self.after_commit(&next, &[super::Joined::of(&event, &next)])
                    .await;
            }
            None => {
                let joined: Vec<_> = first.into_iter().collect();
                self.after_commit(&stored.state, &joined).await;
            }
        }
        Ok(())
    }

    /// The sequencer refused our pending event: it leaves, its hold is freed and
    /// the refusal reaches the caller. A refused first proposal voids the
    /// agreement.
    pub(super) async fn pending_refused(
        &self,
        key: &OutboxKey,
        pending: &SignedEvent,
        refusal: Refusal,
    ) -> Result<(), AgreeError> {
        let _guard = self.inner.commits.lock().await;
        let Some(stored) = self.inner.store.agreement(&key.agreement)? else {
            return Ok(());
        };
        if stored.pending.as_ref() != Some(pending) {
            self.inner.store.outbox_remove(key)?;
            return Ok(());
        }
        self.drop_pending(&stored, Some(*key), refusal).await
    }

    /// Clears our pending event because of `refusal`: a first proposal voids the
    /// agreement and frees its holds; a later event frees a hold only its terms
    /// justified.
    pub(super) async fn drop_pending(
        &self,
        stored: &StoredAgreement,
        key: Option<OutboxKey>,
        refusal: Refusal,
    ) -> Result<(), AgreeError> {
        let Some(pending) = &stored.pending else {
            return Ok(());
        };
        let state = &stored.state;
        let first = is_first_proposal(state, pending);
        let holds = if first || !justified(state, &self.inner.me) {
            holds::release_all(&self.inner.store, &self.inner.me, state)?
        } else {
            Vec::new()
        };
        let done: Vec<OutboxKey> = key.into_iter().collect();
        let commit = AgreementCommit {
            pending: Pending::Clear,
            holds: &holds,
            outbox_done: &done,
            refused: first.then_some(refusal),
            ..AgreementCommit::new(state)
        };
        self.inner.store.commit_agreement_durable(&commit).await?;
        debug!(agreement = %state.id, refusal = refusal.code(), "our pending event was refused");
        self.inner
            .metrics
            .agreement_refusal("received", refusal.code());
        self.emit(NodeEvent::AgreementRefused {
            id: state.id,
            event: pending.id(),
            refusal,
        });
        Ok(())
    }

    /// Signs our pending action again on the head we hold now, with a fresh time
    /// (after a stale or too-old answer), if it is still legal; else it leaves
    /// with the chain rule it now breaks.
    pub(super) async fn sign_pending_again(
        &self,
        id: &swapmesh_protocol::AgreementId,
    ) -> Result<(), AgreeError> {
        let guard = self.inner.commits.lock().await;
        let Some(stored) = self.inner.store.agreement(id)? else {
            return Ok(());
        };
        let Some(pending) = &stored.pending else {
            return Ok(());
        };
        if is_first_proposal(&stored.state, pending) {
            // A first proposal has no head to move to; a too-old one is refused.
            return self
                .drop_pending(&stored, self.pending_entry(&stored)?, Refusal::TooOld)
                .await;
        }
        let Ok(old) = verify_event(pending.clone()) else {
            return self
                .drop_pending(&stored, self.pending_entry(&stored)?, Refusal::Malformed)
                .await;
        };
        let now = self.inner.clock.now();
        let body = stored.state.next_event(
            self.inner.me,
            now,
            old.body().action.clone(),
            old.body().note.clone(),
        );
        let event = sign_event(body, &self.inner.key)?;
        let refusal = match apply(Some(&stored.state), &event, now) {
            Ok(Applied::Changed(_)) => None,
            Ok(Applied::AlreadyInChain) => None,
            Err(e) => Some(Refusal::from(&e)),
        };
        let old_entry = self.pending_entry(&stored)?;
        if let Some(refusal) = refusal {
            return self.drop_pending(&stored, old_entry, refusal).await;
        }
        let peer = self.other(&stored.state);
        let queued = [(peer, Item::Pending { event: event.id() }.encode())];
        let done: Vec<OutboxKey> = old_entry.into_iter().collect();
        let commit = AgreementCommit {
            pending: Pending::Set(event.signed()),
            outbox_add: &queued,
            outbox_done: &done,
            ..AgreementCommit::new(&stored.state)
        };
        self.inner.store.commit_agreement_durable(&commit).await?;
        drop(guard);
        self.wake(peer);
        Ok(())
    }

    /// The outbox entry that carries our pending event, if any.
    pub(super) fn pending_entry(
        &self,
        stored: &StoredAgreement,
    ) -> Result<Option<OutboxKey>, AgreeError> {
        let Some(pending) = &stored.pending else {
            return Ok(None);
        };
        let peer = self.other(&stored.state);
        Ok(self
            .inner
            .store
            .outbox(&peer)?
            .into_iter()
            .find(|(key, item)| {
                key.agreement == stored.state.id
                    && Item::decode(item)
                        == Some(Item::Pending {
                            event: pending.id(),
                        })
            })
            .map(|(key, _)| key))
    }
}

/// Is `pending` the agreement's first proposal, not yet taken by the sequencer?
pub(super) fn is_first_proposal(state: &Agreement, pending: &SignedEvent) -> bool {
    state.chain.len() == 1 && state.chain[0] == pending.id()
}

/// Does the acknowledged chain alone justify our holds: terms we signed, or an
/// accepted agreement?
fn justified(state: &Agreement, me: &swapmesh_protocol::AuthorKey) -> bool {
    state.terms_by == *me || state.phase.is_agreed()
}
