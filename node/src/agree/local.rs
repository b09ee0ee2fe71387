//! Our own events. Each call checks our copy of the chain first (a typed error,
//! nothing signed or sent), then:
//! - as the sequencer: signs on the head, commits the event with its holds and an
//!   outbox entry for the other party, flushes, and answers once the other node
//!   has it or the wait is over (`delivered` says which);
//! - as the other party: signs on our head, stores the event as our one pending
//!   event and queues it, flushes, then waits for the sequencer to append it
//!   (in the chain) or not (pending: the API's 202).

use std::time::Duration;

use swapmesh_protocol::agreement::event::EVENT_VERSION;
use swapmesh_protocol::agreement::{
    Action, Agreement, Applied, Deal, EventBody, EventId, Terms, VerifiedEvent, apply, sign_event,
};
use swapmesh_protocol::{
    Address, AgreementId, AuthorKey, Content, ListingId, RecordId, RecordKind, SignedRecord,
    Timestamp,
};
use swapmesh_store::{AgreementCommit, CommitOutcome, Pending, StoredAgreement, StoredNote};
use tokio::sync::broadcast;

use super::outbox::Item;
use super::{Agree, AgreeError, AgreementView, DEFAULT_OFFER, holds};
use crate::events::NodeEvent;

/// A proposal on a listing, as the API and the CLI make it.
#[derive(Debug, Clone)]
pub struct Proposal {
    /// The listing agreed on: the provider's.
    pub listing: ListingId,
    /// Its version; the one this node holds unless given.
    pub version: Option<RecordId>,
    /// On one's own listing: whom it is proposed to.
    pub receiver: Option<AuthorKey>,
    /// The deal. In a swap, `theirs` is filled in from [`Proposal::theirs`].
    pub deal: Deal,
    /// In a swap, our own listing offered in exchange.
    pub theirs: Option<ListingId>,
    /// Where to meet; never leaves the two nodes.
    pub pickup: Option<String>,
    /// When the offer lapses (7 days from now unless given).
    pub offer_expires: Option<Timestamp>,
    /// A word to the other party.
    pub note: String,
}

/// What became of an event of ours.
#[derive(Debug, Clone)]
pub enum Acted {
    /// It is in the chain here. `delivered`: the other node has it too.
    InChain {
        /// The agreement after it.
        view: Box<AgreementView>,
        /// Whether the other node acknowledged it within the wait.
        delivered: bool,
    },
    /// It waits for the sequencer (the API's 202).
    Pending {
        /// The agreement, with the pending event.
        view: Box<AgreementView>,
        /// The pending event.
        event: EventId,
    },
}

impl Agree {
    /// Proposes terms on a listing: ours (to `receiver`) or another's.
    pub(crate) async fn propose(&self, p: Proposal) -> Result<Acted, AgreeError> {
        let me = self.inner.me;
        let now = self.inner.clock.now();
        let provider = p.listing.author;
        let other = if provider == me {
            p.receiver
        } else {
            Some(provider)
        };
        if let Some(other) = other
            && self.inner.blocks.contains(&other)
        {
            return Err(AgreeError::Blocked(other.to_string()));
        }
        let listing = self.listing_version(&p.listing, p.version)?;
        let receiver = if provider == me {
            p.receiver.ok_or_else(|| {
                AgreeError::invalid("receiver", "on your own listing, name the receiver")
            })?
        } else {
            if p.receiver.is_some_and(|r| r != me) {
                return Err(AgreeError::invalid(
                    "receiver",
                    "the receiver of a proposal on another's listing is you",
                ));
            }
            me
        };
        let mut deal = p.deal;
        let theirs = match (&mut deal, &p.theirs) {
            (Deal::Swap { theirs, .. }, Some(ours)) => {
                if ours.author != me {
                    return Err(AgreeError::invalid(
                        "theirs",
                        "theirs is a listing of your own",
                    ));
                }
                let copy = self.listing_version(ours, None)?;
                *theirs = Some(copy.id());
                Some(copy)
            }
            (Deal::Swap { theirs, .. }, None) => {
                *theirs = None;
                None
            }
            (_, Some(_)) => {
                return Err(AgreeError::invalid("theirs", "theirs is only for a swap"));
            }
            (_, None) => None,
        };
        let terms = Terms {
            listing: listing.id(),
            provider,
            receiver,
            deal,
            pickup: p.pickup,
            offer_expires: p.offer_expires.unwrap_or(now.plus(DEFAULT_OFFER)),
        };
        let body = EventBody {
            version: EVENT_VERSION,
            link: None,
            signer: me,
            at: now,
            action: Action::Propose {
                terms,
                listing,
                theirs,
            },
            note: p.note,
        };
        let event = sign_event(body, &self.inner.key)?;
        let guard = self.inner.commits.lock().await;
        let state = match apply(None, &event, now)? {
            Applied::Changed(state) => state,
            Applied::AlreadyInChain => unreachable!("nothing to be in"),
        };
        if let Some(stored) = self.inner.store.agreement(&state.id)? {
            // The same proposal twice in one second: it is the one we have.
            drop(guard);
            return self.answer(stored, event.id()).await;
        }
        self.commit_ours(None, event, state, guard).await
    }

    /// Signs `action` on agreement `id` as ours.
    pub(crate) async fn act(
        &self,
        id: &AgreementId,
        action: Action,
        note: String,
    ) -> Result<Acted, AgreeError> {
        let guard = self.inner.commits.lock().await;
        let stored = self.stored(id)?;
        if stored.refused.is_some() {
            return Err(AgreeError::Finished);
        }
        if !self.is_sequencer(&stored.state)
            && let Some(pending) = &stored.pending
        {
            let same = super::EventSummary::of(pending).is_some_and(|p| p.action == action);
            let id = pending.id();
            drop(guard);
            return if same {
                self.answer(stored, id).await
            } else {
                Err(AgreeError::Pending(id))
            };
        }
        let now = self.inner.clock.now();
        let body = stored.state.next_event(self.inner.me, now, action, note);
        let event = sign_event(body, &self.inner.key)?;
        let next = match apply(Some(&stored.state), &event, now)? {
            Applied::Changed(next) => next,
            Applied::AlreadyInChain => unreachable!("a fresh event on the head"),
        };
        self.commit_ours(Some(stored), event, next, guard).await
    }

    /// The current terms of `id` changed as `change` says, countered.
    pub(crate) async fn counter(
        &self,
        id: &AgreementId,
        change: impl FnOnce(&mut Terms),
        note: String,
    ) -> Result<Acted, AgreeError> {
        let stored = self.stored(id)?;
        let mut terms = stored.state.terms.clone();
        change(&mut terms);
        self.act(id, Action::Counter { terms }, note).await
    }

    /// Accepts the current terms of `id`.
    pub(crate) async fn accept(&self, id: &AgreementId, note: String) -> Result<Acted, AgreeError> {
        let hash = self.stored(id)?.state.terms_hash;
        self.act(id, Action::Accept { terms: hash }, note).await
    }

    /// Stops sending our pending event. One the sequencer already took still
    /// applies when its events arrive (and its hold stays until the offer expires).
    pub(crate) async fn cancel_pending(
        &self,
        id: &AgreementId,
    ) -> Result<AgreementView, AgreeError> {
        let _guard = self.inner.commits.lock().await;
        let stored = self.stored(id)?;
        let Some(pending) = &stored.pending else {
            return Err(AgreeError::OutOfOrder("nothing of yours is pending".into()));
        };
        let peer = self.other(&stored.state);
        let done: Vec<_> = self
            .inner
            .store
            .outbox(&peer)?
            .into_iter()
            .filter(|(key, item)| {
                key.agreement == *id
                    && matches!(Item::decode(item), Some(Item::Pending { event }) if event == pending.id())
            })
            .map(|(key, _)| key)
            .collect();
        let commit = AgreementCommit {
            pending: Pending::Clear,
            outbox_done: &done,
            ..AgreementCommit::new(&stored.state)
        };
        self.inner.store.commit_agreement_durable(&commit).await?;
        self.get(id)
    }

    pub(super) fn stored(&self, id: &AgreementId) -> Result<StoredAgreement, AgreeError> {
        self.inner
            .store
            .agreement(id)?
            .ok_or(AgreeError::UnknownAgreement(*id))
    }

    /// The signed listing version `version` of `listing`, or the current one.
    fn listing_version(
        &self,
        listing: &ListingId,
        version: Option<RecordId>,
    ) -> Result<SignedRecord, AgreeError> {
        let unknown = || AgreeError::UnknownListing(listing.to_string());
        let record = match version {
            Some(id) => self.inner.store.get(&id)?,
            None => self.inner.store.get_current(&Address {
                author: listing.author,
                kind: RecordKind::Listing,
                d: listing.d.clone(),
            })?,
        }
        .ok_or_else(unknown)?;
        match &record.body.content {
            Content::Listing(l) if record.body.author == listing.author && l.d == listing.d => {
                Ok(record.signed)
            }
            _ => Err(unknown()),
        }
    }

    /// Commits an event of ours that `apply` turned into `next`, queues it for
    /// the other party, and waits for it.
    async fn commit_ours(
        &self,
        stored: Option<StoredAgreement>,
        event: VerifiedEvent,
        next: Agreement,
        guard: tokio::sync::MutexGuard<'_, ()>,
    ) -> Result<Acted, AgreeError> {
        let me = self.inner.me;
        let signs_terms = matches!(
            event.body().action,
            Action::Propose { .. } | Action::Counter { .. } | Action::Accept { .. }
        );
        let sequencer = self.is_sequencer(&next);
        let peer = self.other(&next);
        let events = self.inner.events.subscribe();
        let outcome = if sequencer {
            let holds = holds::our_holds(&self.inner.store, &me, &next, signs_terms)?;
            let from = (next.chain.len() - 1) as u32;
            let queued = [(peer, Item::Deliver { from }.encode())];
            let commit = AgreementCommit {
                events: std::slice::from_ref(&event),
                holds: &holds,
                outbox_add: &queued,
                ..AgreementCommit::new(&next)
            };
            self.inner.store.commit_agreement_durable(&commit).await?
        } else {
            // The chain stays as acknowledged; a first proposal is kept as its own
            // one-event chain, unconfirmed while it is pending.
            let base = stored.as_ref().map_or(&next, |s| &s.state);
            let holds = holds::our_holds(&self.inner.store, &me, &next, signs_terms)?;
            let queued = [(peer, Item::Pending { event: event.id() }.encode())];
            let first = stored.is_none();
            let commit = AgreementCommit {
                events: if first {
                    std::slice::from_ref(&event)
                } else {
                    &[]
                },
                pending: Pending::Set(event.signed()),
                holds: &holds,
                outbox_add: &queued,
                ..AgreementCommit::new(base)
            };
            self.inner.store.commit_agreement_durable(&commit).await?
        };
        match outcome {
            CommitOutcome::Committed => {}
            CommitOutcome::Overlap { window, .. } => {
                return Err(AgreeError::Overlaps { period: window });
            }
            CommitOutcome::Stale { head } => {
                return Err(AgreeError::Stale {
                    head: head.unwrap_or(event.id()),
                });
            }
            CommitOutcome::AlreadyInChain => {}
        }
        drop(guard);
        if sequencer {
            self.after_commit(&next, &[super::Joined::of(&event, &next)])
                .await;
        } else {
            self.emit(NodeEvent::AgreementPending {
                id: next.id,
                event: event.id(),
                action: event.body().action.name(),
            });
        }
        self.wake(peer);
        let stored = self.stored(&next.id)?;
        self.answer_with(stored, event.id(), events).await
    }

    /// Waits (up to the ack wait) for `event` to reach the other node, then
    /// answers from the store.
    async fn answer(&self, stored: StoredAgreement, event: EventId) -> Result<Acted, AgreeError> {
        let events = self.inner.events.subscribe();
        self.answer_with(stored, event, events).await
    }

    async fn answer_with(
        &self,
        stored: StoredAgreement,
        mut event: EventId,
        mut events: broadcast::Receiver<NodeEvent>,
    ) -> Result<Acted, AgreeError> {
        let id = stored.state.id;
        let sequencer = self.is_sequencer(&stored.state);
        let deadline = tokio::time::Instant::now() + self.inner.ack_wait;
        loop {
            let stored = self.stored(&id)?;
            if let Some(refusal) = stored.refused {
                return Err(AgreeError::of_refusal(refusal));
            }
            // Our pending event signed again (after a stale or too-old answer):
            // follow the new one.
            if !sequencer
                && let Some(pending) = &stored.pending
                && pending.id() != event
            {
                event = pending.id();
            }
            let waiting = stored.pending.as_ref().map(|p| p.id()) == Some(event);
            // Not waiting and not in the chain: refused, and the refusal comes
            // as an event (below).
            if !sequencer && !waiting && stored.state.chain.contains(&event) {
                return Ok(Acted::InChain {
                    view: Box::new(self.view(stored)?),
                    delivered: true,
                });
            }
            let delivered = sequencer && self.reached_other(&stored, event)?;
            if delivered {
                return Ok(Acted::InChain {
                    view: Box::new(self.view(stored)?),
                    delivered,
                });
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let next =
                tokio::time::timeout(left.max(Duration::from_millis(1)), events.recv()).await;
            match next {
                Err(_elapsed) => {
                    let view = Box::new(self.view(stored)?);
                    return Ok(if sequencer {
                        Acted::InChain {
                            view,
                            delivered: false,
                        }
                    } else if waiting {
                        Acted::Pending { view, event }
                    } else {
                        Acted::InChain {
                            view,
                            delivered: false,
                        }
                    });
                }
                Ok(Ok(NodeEvent::AgreementRefused {
                    id: refused,
                    event: e,
                    refusal,
                })) if refused == id && e == event => {
                    return Err(AgreeError::of_refusal(refusal));
                }
                Ok(Err(broadcast::error::RecvError::Closed)) => return Err(AgreeError::Stopped),
                Ok(_) => {}
            }
        }
    }

    /// Has the other node acknowledged our chain up to `event`? Nothing of this
    /// agreement left in the outbox for it means yes.
    fn reached_other(&self, stored: &StoredAgreement, event: EventId) -> Result<bool, AgreeError> {
        if !stored.state.chain.contains(&event) {
            return Ok(false);
        }
        let peer = self.other(&stored.state);
        Ok(!self
            .inner
            .store
            .outbox(&peer)?
            .iter()
            .any(|(key, _)| key.agreement == stored.state.id))
    }
}

impl Agree {
    /// Writes a note beside the chain of `id`, keeps it, and queues it for the
    /// other party.
    pub(crate) async fn note(
        &self,
        id: &AgreementId,
        text: String,
    ) -> Result<AgreementView, AgreeError> {
        use swapmesh_protocol::agreement::wire::{MAX_NOTE_TEXT, Note};
        if text.len() > MAX_NOTE_TEXT {
            return Err(AgreeError::invalid(
                "note_too_long",
                format!("a note is at most {MAX_NOTE_TEXT} bytes"),
            ));
        }
        let guard = self.inner.commits.lock().await;
        let stored = self.stored(id)?;
        if stored.refused.is_some() {
            return Err(AgreeError::Finished);
        }
        let note = Note::sign(*id, self.inner.clock.now(), text, &self.inner.key);
        let peer = self.other(&stored.state);
        let kept = StoredNote {
            from: self.inner.me,
            note: note.clone(),
        };
        let queued = [(peer, Item::Note(note).encode())];
        let commit = AgreementCommit {
            note: Some(&kept),
            outbox_add: &queued,
            ..AgreementCommit::new(&stored.state)
        };
        self.inner.store.commit_agreement_durable(&commit).await?;
        drop(guard);
        self.wake(peer);
        self.get(id)
    }
}
