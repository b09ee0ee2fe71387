//! The other party's requests. A delivery is applied in order: each event
//! already in the chain is acknowledged again, the first that does not extend
//! the head is answered `Stale`, the first refused ends the delivery; the
//! accepted prefix is committed and flushed, and only then answered.
//!
//! The sequencer also applies its arrival rules to the other party's events
//! (after its own last event in the delivery, so a chain re-delivered to a node
//! that lost its store is taken whole). The other party applies the sequencer's
//! events as signed, refusing only a bad signature or a time in its future.

use swapmesh_net::{Misbehaviour, PeerId, ResponseHandle};
use swapmesh_protocol::agreement::wire::{
    AgreeRequest, AgreeResponse, FrameError, Note, Refusal, Request, Response,
};
use swapmesh_protocol::agreement::{
    Action, Agreement, AgreementError, Applied, EventId, SignedEvent, apply, verify_event,
};
use swapmesh_protocol::{AuthorKey, Timestamp};
use swapmesh_store::{AgreementCommit, CommitOutcome, Pending, StoredNote};
use tracing::debug;

use super::{Agree, AgreeError, arrival, author_of_peer, holds};

impl Agree {
    /// Answers one agree request from `peer`.
    pub(crate) async fn serve(&self, peer: PeerId, data: Vec<u8>, reply: ResponseHandle) {
        let response = match AgreeRequest::decode(&data) {
            Err(FrameError::Unsupported) => refused(Refusal::Unsupported, None),
            Err(FrameError::Malformed(e)) => {
                debug!(%peer, error = %e, "a malformed agree frame");
                self.charge(
                    Origin::peer(peer, Timestamp(0)),
                    Misbehaviour::MalformedFrame,
                )
                .await;
                refused(Refusal::Malformed, None)
            }
            Ok(request) => match author_of_peer(&peer) {
                None => refused(Refusal::NotAParty, None),
                Some(from) => match self
                    .handle(Origin::peer(peer, self.inner.clock.now()), from, request)
                    .await
                {
                    Ok(response) => response,
                    Err(e) => {
                        debug!(%peer, error = %e, "an agree request failed here");
                        refused(Refusal::Unsupported, None)
                    }
                },
            },
        };
        if let Response::Refused { refusal, .. } = &response {
            self.inner
                .metrics
                .agreement_refusal("given", refusal.code());
        }
        if self.inner.faults.agree_before_ack() && matches!(response, Response::Ack { .. }) {
            std::process::abort();
        }
        if let Err(e) = reply.respond(AgreeResponse::V1(response).encode()).await {
            debug!(%peer, error = %e, "could not answer an agree request");
        }
    }

    /// Answers one request from `from` (the other party), which came from
    /// `origin`: directly, or in a letter its mail host kept.
    pub(super) async fn handle(
        &self,
        peer: Origin,
        from: AuthorKey,
        request: Request,
    ) -> Result<Response, AgreeError> {
        match request {
            Request::Deliver { events } => self.deliver(peer, from, events).await,
            Request::ReceiptSig { agreement, sig } => {
                self.receipt_sig_in(peer, from, agreement, sig).await
            }
            Request::Note(note) => self.note_in(peer, from, note).await,
        }
    }

    /// Charges the peer a request came from; a letter's host is never
    /// charged for what its sender sealed.
    pub(super) async fn charge(&self, origin: Origin, what: Misbehaviour) {
        if let Some(peer) = origin.peer {
            let _ = self.inner.net.report_misbehaviour(peer, what).await;
        }
    }

    /// Applies a delivery of one agreement's events in order.
    async fn deliver(
        &self,
        peer: Origin,
        from: AuthorKey,
        events: Vec<SignedEvent>,
    ) -> Result<Response, AgreeError> {
        let me = self.inner.me;
        let Some(first) = events.first() else {
            return Ok(refused(Refusal::Malformed, None));
        };
        let first = match verify_event(first.clone()) {
            Ok(e) => e,
            Err(e) => return Ok(self.refuse(peer, &e, None).await),
        };
        let id = first.agreement();
        let guard = self.inner.commits.lock().await;
        let stored = self.inner.store.agreement(&id)?;
        if stored.as_ref().is_some_and(|s| s.refused.is_some()) {
            return Ok(refused(Refusal::Finished, None));
        }
        let mut pending = stored.as_ref().and_then(|s| s.pending.clone());
        let mut state: Option<Agreement> = stored.map(|s| s.state);
        if state.is_none() && first.body().link.is_some() {
            return Ok(Response::Unknown);
        }
        // Only a position: each event is verified below before anything is applied.
        let last_own = events
            .iter()
            .rposition(|e| e.decode_body_trusted().is_ok_and(|b| b.signer == me));
        // The arrival rules read when the event reached us: now, or when our
        // mail host took the letter that carried it.
        let now = peer.at;
        let mut answer = None;
        let mut joined = Vec::new();
        // The first event is verified already (it named the agreement).
        let mut first = Some(first);
        for (i, signed) in events.into_iter().enumerate() {
            let head = state.as_ref().map(Agreement::head);
            let verified = match first.take() {
                Some(first) => Ok(first),
                None => self.verify(state.as_ref(), signed),
            };
            let event = match verified {
                Ok(e) if e.agreement() == id => e,
                Ok(_) => {
                    answer = Some(self.refuse(peer, &AgreementError::BadLink, head).await);
                    break;
                }
                Err(e) => {
                    answer = Some(self.refuse(peer, &e, head).await);
                    break;
                }
            };
            let next = match apply(state.as_ref(), &event, now) {
                Ok(Applied::AlreadyInChain) => continue,
                Ok(Applied::Changed(next)) => next,
                Err(AgreementError::Stale { head }) => {
                    answer = Some(Response::Stale { head });
                    break;
                }
                Err(e) => {
                    answer = Some(self.refuse(peer, &e, head).await);
                    break;
                }
            };
            if !next.terms.is_party(&from) || from == me {
                answer = Some(
                    self.refuse(peer, &AgreementError::NotAParty { signer: from }, head)
                        .await,
                );
                break;
            }
            let sequencer = next.terms.provider == me;
            let arrival = event.body().signer != me && last_own.is_none_or(|own| i > own);
            // A proposal from someone we blocked: refused as if the listing were
            // not available, so they are not told.
            if sequencer
                && arrival
                && matches!(event.body().action, Action::Propose { .. })
                && self.inner.blocks.contains(&from)
            {
                answer = Some(refused(Refusal::Unavailable, head));
                break;
            }
            if sequencer
                && arrival
                && let Some(refusal) =
                    arrival::check(&self.inner.store, &me, state.as_ref(), &event, &next, now)?
            {
                answer = Some(refused(refusal, head));
                break;
            }
            let ours = event.body().signer == me;
            let signs_terms = ours
                && matches!(
                    event.body().action,
                    Action::Propose { .. } | Action::Counter { .. } | Action::Accept { .. }
                );
            let took_pending = pending.as_ref().is_some_and(|p| p.id() == event.id());
            let mut holds = holds::our_holds(&self.inner.store, &me, &next, signs_terms)?;
            let receipt_sig: Vec<_> = self.receipt_sig_entry(&next).into_iter().collect();
            let outcome = loop {
                let commit = AgreementCommit {
                    events: std::slice::from_ref(&event),
                    outbox_add: &receipt_sig,
                    pending: if took_pending {
                        Pending::Clear
                    } else {
                        Pending::Keep
                    },
                    holds: &holds,
                    ..AgreementCommit::new(&next)
                };
                match self.inner.store.commit_agreement(&commit)? {
                    // The other party never refuses the sequencer's event for its
                    // own calendar, lest the chains split: it goes without the hold.
                    CommitOutcome::Overlap { .. } if !sequencer && !holds.is_empty() => {
                        holds.clear();
                    }
                    outcome => break outcome,
                }
            };
            match outcome {
                CommitOutcome::Committed => {}
                CommitOutcome::AlreadyInChain => continue,
                CommitOutcome::Stale { head } => {
                    answer = head.map(|head| Response::Stale { head });
                    break;
                }
                CommitOutcome::Overlap { window, .. } => {
                    answer = Some(refused(Refusal::Overlaps { period: window }, head));
                    break;
                }
            }
            if took_pending {
                pending = None;
            }
            joined.push(super::Joined::of(&event, &next));
            state = Some(next);
        }
        let changed = !joined.is_empty();
        if changed {
            self.inner.store.flush().await?;
        }
        drop(guard);
        let Some(state) = state else {
            return Ok(answer.unwrap_or(Response::Unknown));
        };
        let head = state.head();
        if changed {
            self.after_commit(&state, &joined).await;
            // Our pending event, signed on a head that moved: sign it again there.
            if let Some(pending) = &pending
                && state.terms.provider != me
                && prev_of(pending) != Some(head)
            {
                self.sign_pending_again(&id).await?;
            }
        }
        Ok(answer.unwrap_or(Response::Ack { head }))
    }

    /// A refusal of an event, charging the sender for what no honest node sends.
    async fn refuse(&self, peer: Origin, e: &AgreementError, head: Option<EventId>) -> Response {
        if e.blame() {
            self.charge(peer, Misbehaviour::InvalidRecord).await;
        }
        debug!(%peer, rule = e.rule(), "refused an agreement event");
        refused(Refusal::from(e), head)
    }

    /// Keeps a note from the other party.
    async fn note_in(
        &self,
        peer: Origin,
        from: AuthorKey,
        note: Note,
    ) -> Result<Response, AgreeError> {
        if let Err(refusal) = note.verify(&from) {
            if refusal.blame() {
                self.charge(peer, Misbehaviour::InvalidRecord).await;
            }
            return Ok(refused(refusal, None));
        }
        let _guard = self.inner.commits.lock().await;
        let Some(stored) = self.inner.store.agreement(&note.agreement)? else {
            return Ok(Response::Unknown);
        };
        if !stored.state.terms.is_party(&from) || from == self.inner.me {
            self.charge(peer, Misbehaviour::InvalidRecord).await;
            return Ok(refused(Refusal::NotAParty, Some(stored.state.head())));
        }
        let kept = StoredNote { from, note };
        if !stored.notes.contains(&kept) {
            let commit = AgreementCommit {
                note: Some(&kept),
                ..AgreementCommit::new(&stored.state)
            };
            self.inner.store.commit_agreement_durable(&commit).await?;
            self.emit(crate::events::NodeEvent::AgreementNote {
                id: stored.state.id,
                from,
            });
        }
        Ok(Response::Noted)
    }
}

/// Where a request came from.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Origin {
    /// The peer that sent it; `None` for a letter (its host only kept it).
    pub(crate) peer: Option<PeerId>,
    /// When it arrived: now, or when the mail host stored the letter.
    pub(crate) at: Timestamp,
}

impl Origin {
    /// A request `peer` sent directly, arriving `at`.
    pub(crate) fn peer(peer: PeerId, at: Timestamp) -> Self {
        Self {
            peer: Some(peer),
            at,
        }
    }

    /// A request in a letter its host stored `at`.
    pub(crate) fn mail(at: Timestamp) -> Self {
        Self { peer: None, at }
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.peer {
            Some(peer) => write!(f, "{peer}"),
            None => f.write_str("mail"),
        }
    }
}

fn refused(refusal: Refusal, head: Option<EventId>) -> Response {
    Response::Refused { refusal, head }
}

/// The head an event of ours (stored, verified when signed) was signed on.
fn prev_of(event: &SignedEvent) -> Option<EventId> {
    event
        .decode_body_trusted()
        .ok()
        .and_then(|b| b.link.map(|l| l.prev))
}
