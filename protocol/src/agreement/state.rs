//! The state of an agreement, derived from its chain by [`apply`] alone. Chain
//! rules read signed data only (the events' `at`s and the terms); the clock passed
//! in refuses nothing but an `at` beyond the skew bound, so both parties derive the
//! same state from the same chain whatever their clocks say.

use serde::{Deserialize, Serialize};

use crate::ids::{AgreementId, AuthorKey, ListingId};
use crate::listing::Purpose;
use crate::signed::SignedRecord;
use crate::social::{Outcome, ReceiptStatement};
use crate::time::Timestamp;
use crate::validate::{self, Checked, MAX_CLOCK_SKEW};

use super::calendar::Span;
use super::error::AgreementError;
use super::event::{
    Action, EVENT_VERSION, EventBody, EventId, Leg, Link, MAX_EVENT_NOTE, Resolution, VerifiedEvent,
};
use super::terms::{Deal, Terms, TermsHash, TermsRule};

/// Where an agreement stands.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Terms proposed or countered, waiting for the other party.
    Offered,
    /// Both signed the terms; nothing handed over and confirmed yet.
    Accepted,
    /// A handover was confirmed.
    Active,
    /// One party disputes; only a confirmed resolve ends it.
    Disputed,
    /// Carried out as agreed.
    Completed,
    /// The terms were declined.
    Declined,
    /// The terms were withdrawn by their signer.
    Withdrawn,
    /// Cancelled after acceptance, before any handover.
    Cancelled,
    /// A dispute ended by a confirmed resolve.
    Resolved,
}

impl Phase {
    /// Has the agreement ended?
    pub fn is_ended(self) -> bool {
        matches!(
            self,
            Phase::Completed
                | Phase::Declined
                | Phase::Withdrawn
                | Phase::Cancelled
                | Phase::Resolved
        )
    }

    /// Were the terms accepted (and the agreement not ended before that)?
    pub fn is_agreed(self) -> bool {
        !matches!(self, Phase::Offered | Phase::Declined | Phase::Withdrawn)
    }
}

/// An act waiting for the other party's confirm.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Act {
    /// A leg's item was handed over.
    Handover(Leg),
    /// A leg's item came back.
    Return(Leg),
    /// A new due date.
    Extend(Timestamp),
    /// How the dispute ends.
    Resolve(Resolution),
}

/// A party's open act: the event and what it does.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct OpenAct {
    /// The act's event.
    pub event: EventId,
    /// What it does.
    pub act: Act,
}

/// One leg's item on its way out and back.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct LegState {
    /// The signed handover, confirmed or not.
    pub handover: Option<EventId>,
    /// The other party confirmed the handover.
    pub handover_confirmed: bool,
    /// The signed return and when it was signed.
    pub returned: Option<(EventId, Timestamp)>,
    /// The owner confirmed the return.
    pub return_confirmed: bool,
}

/// The state of an agreement, derived from its chain.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Agreement {
    /// The id: the first proposal's event id.
    pub id: AgreementId,
    /// The current terms.
    pub terms: Terms,
    /// Their hash.
    pub terms_hash: TermsHash,
    /// Who signed the current terms (proposed or countered them).
    pub terms_by: AuthorKey,
    /// The proposal's copy of the listing version the terms name.
    pub listing: SignedRecord,
    /// In a swap, the copy of the receiver's listing given in exchange.
    pub theirs: Option<SignedRecord>,
    /// The items whose calendars the agreement holds, by leg: the provider's
    /// listing, and in a swap the receiver's `theirs`.
    pub items: [Option<ListingId>; 2],
    /// Where it stands.
    pub phase: Phase,
    /// Every event id, in chain order; the last is the head.
    pub chain: Vec<EventId>,
    /// When the head was signed.
    pub head_at: Timestamp,
    /// When the things are due back: the terms', extended or shortened by notice.
    pub due: Option<Timestamp>,
    /// The provider's item, and in a swap the receiver's.
    pub legs: [LegState; 2],
    /// Each party's open act: the provider's, then the receiver's.
    pub open: [Option<OpenAct>; 2],
    /// When the terms were accepted.
    pub accepted_at: Option<Timestamp>,
    /// The `at` of the event that ended it.
    pub ended_at: Option<Timestamp>,
    /// How a dispute was resolved.
    pub resolution: Option<Resolution>,
}

/// What applying an event did.
// The changed state moves straight into the store; boxing it buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Applied {
    /// The event extends the chain: the new state.
    Changed(Agreement),
    /// The event is already in the chain: acknowledged again, nothing changes.
    AlreadyInChain,
}

/// Applies one verified event to an agreement (`None` before its first proposal).
/// `now` only refuses an `at` beyond the clock-skew bound.
pub fn apply(
    state: Option<&Agreement>,
    event: &VerifiedEvent,
    now: Timestamp,
) -> Result<Applied, AgreementError> {
    let body = event.body();
    let Some(current) = state else {
        if let Some(link) = &body.link {
            return Err(AgreementError::UnknownAgreement(link.agreement));
        }
        check_note_and_clock(event, now)?;
        return propose(event).map(Applied::Changed);
    };
    if current.chain.contains(&event.id()) {
        return Ok(Applied::AlreadyInChain);
    }
    if !current.terms.is_party(&body.signer) {
        return Err(AgreementError::NotAParty {
            signer: body.signer,
        });
    }
    let Some(link) = &body.link else {
        return Err(AgreementError::BadLink);
    };
    if link.agreement != current.id {
        return Err(AgreementError::BadLink);
    }
    if link.prev != current.head() {
        return Err(AgreementError::Stale {
            head: current.head(),
        });
    }
    check_note_and_clock(event, now)?;
    if body.at < current.head_at {
        return Err(AgreementError::BeforeHead {
            at: body.at,
            head_at: current.head_at,
        });
    }
    if current.phase.is_ended() {
        return Err(AgreementError::Finished {
            phase: current.phase,
        });
    }
    let mut next = current.clone();
    next.step(event)?;
    next.chain.push(event.id());
    next.head_at = body.at;
    Ok(Applied::Changed(next))
}

/// The state of a whole chain, each event applied as of its own `at`.
pub fn replay<'a>(
    chain: impl IntoIterator<Item = &'a VerifiedEvent>,
) -> Result<Option<Agreement>, AgreementError> {
    let mut state: Option<Agreement> = None;
    for event in chain {
        match apply(state.as_ref(), event, event.body().at)? {
            Applied::Changed(next) => state = Some(next),
            // A chain names each event once.
            Applied::AlreadyInChain => return Err(AgreementError::BadLink),
        }
    }
    Ok(state)
}

fn check_note_and_clock(event: &VerifiedEvent, now: Timestamp) -> Result<(), AgreementError> {
    let body = event.body();
    if body.note.len() > MAX_EVENT_NOTE {
        return Err(AgreementError::NoteTooLong {
            len: body.note.len(),
        });
    }
    if body.at.secs() > now.secs().saturating_add(MAX_CLOCK_SKEW) {
        return Err(AgreementError::FromTheFuture { at: body.at, now });
    }
    Ok(())
}

/// The first event: a proposal whose copies match its terms.
fn propose(event: &VerifiedEvent) -> Result<Agreement, AgreementError> {
    let body = event.body();
    let Action::Propose {
        terms,
        listing,
        theirs,
    } = &body.action
    else {
        return Err(AgreementError::BadLink);
    };
    if !terms.is_party(&body.signer) {
        return Err(AgreementError::NotAParty {
            signer: body.signer,
        });
    }
    // A swap is proposed to the listing's author by the one giving `theirs`.
    if terms.deal.kind() == crate::listing::DealKind::Swap && body.signer != terms.receiver {
        return Err(AgreementError::NotYourTurn { action: "propose" });
    }
    terms.check(body.at).map_err(AgreementError::InvalidTerms)?;
    let offer = checked_offer(listing, &terms.provider, body.at)?;
    if listing.id() != terms.listing {
        return Err(AgreementError::ListingCopy(
            "not the version the terms name",
        ));
    }
    if !offer.kinds.contains(&terms.deal.kind()) {
        return Err(AgreementError::InvalidTerms(TermsRule::KindNotOffered));
    }
    let their_item = match (terms.deal.theirs(), theirs) {
        (None, None) => None,
        (Some(id), Some(copy)) if copy.id() == id => {
            let theirs = checked_offer(copy, &terms.receiver, body.at)
                .map_err(|_| AgreementError::InvalidTerms(TermsRule::Theirs))?;
            Some(ListingId {
                author: terms.receiver,
                d: theirs.d,
            })
        }
        _ => return Err(AgreementError::InvalidTerms(TermsRule::Theirs)),
    };
    Ok(Agreement {
        id: event.id().as_agreement(),
        terms_hash: terms.hash(),
        terms_by: body.signer,
        listing: listing.clone(),
        theirs: theirs.clone(),
        items: [
            Some(ListingId {
                author: terms.provider,
                d: offer.d,
            }),
            their_item,
        ],
        phase: Phase::Offered,
        chain: vec![event.id()],
        head_at: body.at,
        due: terms.deal.due(),
        legs: Default::default(),
        open: [None, None],
        accepted_at: None,
        ended_at: None,
        resolution: None,
        terms: terms.clone(),
    })
}

/// A copy of a listing that is a valid signed offer by `author` at `at`.
fn checked_offer(
    copy: &SignedRecord,
    author: &AuthorKey,
    at: Timestamp,
) -> Result<crate::listing::Listing, AgreementError> {
    let verified = match validate::check(copy.clone(), at) {
        Ok(Checked::Valid(v)) => v,
        Ok(Checked::Ignored(_)) => {
            return Err(AgreementError::ListingCopy("not live when proposed"));
        }
        Err(_) => return Err(AgreementError::ListingCopy("not a valid record")),
    };
    if verified.body().author != *author {
        return Err(AgreementError::ListingCopy("not by its party"));
    }
    match verified.body().listing() {
        Some(l) if l.purpose == Purpose::Offer => Ok(l.clone()),
        _ => Err(AgreementError::ListingCopy("not an offer")),
    }
}

impl Agreement {
    /// The head of the chain.
    pub fn head(&self) -> EventId {
        *self.chain.last().expect("a chain starts with its proposal")
    }

    /// The parties' keys, decompressed, to verify this chain's next events with.
    pub fn party_keys(&self) -> Option<super::event::PartyKeys> {
        super::event::PartyKeys::new(self.terms.provider, self.terms.receiver)
    }

    /// The time a signer puts on the next event: its clock, but never before the
    /// head (`at = max(clock, head.at)`), so order never depends on two clocks.
    pub fn sign_at(&self, clock: Timestamp) -> Timestamp {
        clock.max(self.head_at)
    }

    /// The body of the next event on this chain, signed at [`Agreement::sign_at`].
    pub fn next_event(
        &self,
        signer: AuthorKey,
        clock: Timestamp,
        action: Action,
        note: String,
    ) -> EventBody {
        EventBody {
            version: EVENT_VERSION,
            link: Some(Link {
                agreement: self.id,
                prev: self.head(),
            }),
            signer,
            at: self.sign_at(clock),
            action,
            note,
        }
    }

    /// The open act of party `who`, waiting for the other's confirm.
    pub fn open_act_of(&self, who: &AuthorKey) -> Option<OpenAct> {
        self.open[self.party(who)]
    }

    /// Would [`apply`] take `action` signed by `who` on this chain at `clock`?
    /// A dry run on a copy: nothing is signed.
    pub fn check_action(
        &self,
        who: AuthorKey,
        clock: Timestamp,
        action: Action,
    ) -> Result<(), AgreementError> {
        let event = VerifiedEvent::unsigned(self.next_event(who, clock, action, String::new()));
        apply(Some(self), &event, clock).map(|_| ())
    }

    /// The actions `who` may sign now, by name, in the order of [`Action`]:
    /// each one [`Agreement::check_action`] takes in its plainest form (the
    /// current terms countered, the other party's open act confirmed, the due
    /// date a day later). A name is listed if the action succeeds on some leg.
    pub fn next_actions(&self, who: AuthorKey, clock: Timestamp) -> Vec<&'static str> {
        let other = self.terms.other(&who);
        let confirm_of = self
            .open_act_of(&other)
            .map_or(self.head(), |open| open.event);
        let later = self
            .due
            .unwrap_or(self.sign_at(clock))
            .plus(crate::time::DAY);
        let mut candidates = vec![
            Action::Counter {
                terms: self.terms.clone(),
            },
            Action::Accept {
                terms: self.terms_hash,
            },
            Action::Decline,
            Action::Withdraw,
        ];
        for leg in self.legs() {
            candidates.push(Action::Handover { leg: *leg });
        }
        for leg in self.legs() {
            candidates.push(Action::Return { leg: *leg });
        }
        candidates.extend([
            Action::Confirm {
                of: confirm_of,
                deposit_returned: None,
            },
            Action::Extend { due: later },
            Action::Cancel,
            Action::Dispute,
            Action::Resolve {
                outcome: Resolution::Returned,
            },
        ]);
        let mut names: Vec<&'static str> = Vec::new();
        for action in candidates {
            let name = action.name();
            if !names.contains(&name) && self.check_action(who, clock, action).is_ok() {
                names.push(name);
            }
        }
        names
    }

    /// The leg whose handover (or, `returning`, whose return) is `who`'s to
    /// sign: the provider's outside a swap; in a swap each party hands over its
    /// own item and gives back the other's.
    pub fn leg_for(&self, who: AuthorKey, returning: bool) -> Leg {
        let provider = who == self.terms.provider;
        if !self.is_swap() || provider != returning {
            Leg::Provider
        } else {
            Leg::Receiver
        }
    }

    /// Index of a party in `open`: 0 the provider, 1 the receiver.
    pub(super) fn party(&self, who: &AuthorKey) -> usize {
        usize::from(*who != self.terms.provider)
    }

    /// The key of a leg's owner.
    pub fn owner(&self, leg: Leg) -> AuthorKey {
        match leg {
            Leg::Provider => self.terms.provider,
            Leg::Receiver => self.terms.receiver,
        }
    }

    /// The legs of this deal: two in a swap, else the provider's.
    pub fn legs(&self) -> &'static [Leg] {
        if self.is_swap() {
            &[Leg::Provider, Leg::Receiver]
        } else {
            &[Leg::Provider]
        }
    }

    /// The leg whose item is `item`, if the agreement holds it.
    pub fn leg_of(&self, item: &ListingId) -> Option<Leg> {
        self.legs()
            .iter()
            .copied()
            .find(|l| self.items[l.index()].as_ref() == Some(item))
    }

    pub(super) fn is_swap(&self) -> bool {
        matches!(self.terms.deal, Deal::Swap { .. })
    }

    pub(super) fn leg(&self, leg: Leg) -> Result<&LegState, AgreementError> {
        if leg == Leg::Receiver && !self.is_swap() {
            return Err(AgreementError::NoSuchLeg("receiver"));
        }
        Ok(&self.legs[leg.index()])
    }

    /// Has any leg been handed over (confirmed or not)?
    pub fn any_handover(&self) -> bool {
        self.legs()
            .iter()
            .any(|l| self.legs[l.index()].handover.is_some())
    }

    /// Has the offer expired unanswered at `now`? Derived, never signed.
    pub fn expired(&self, now: Timestamp) -> bool {
        self.phase == Phase::Offered && now >= self.terms.offer_expires
    }

    /// Is an item overdue at `now`: a signed handover (confirmed or not) without a
    /// return at `now ≥ due + grace`? Derived, never signed.
    pub fn overdue(&self, now: Timestamp, grace: u64) -> bool {
        let Some(due) = self.due else { return false };
        !self.phase.is_ended()
            && self.terms.deal.comes_back()
            && now >= due.plus(grace)
            && self.legs().iter().any(|l| {
                let leg = &self.legs[l.index()];
                leg.handover.is_some() && leg.returned.is_none()
            })
    }

    /// The window this agreement holds on its items' calendars; `None` once ended.
    pub fn hold(&self) -> Option<Span> {
        if self.phase.is_ended() {
            return None;
        }
        let mut span = self.terms.deal.span();
        if self.terms.deal.comes_back() {
            span.end = self.due;
        }
        Some(span)
    }

    /// What both parties sign once it ended after acceptance: completed,
    /// cancelled or resolved. The provider is the sequencer.
    pub fn receipt_statement(&self) -> Option<ReceiptStatement> {
        let outcome = match self.phase {
            Phase::Completed => Outcome::Completed,
            Phase::Cancelled => Outcome::Cancelled,
            Phase::Resolved => Outcome::Resolved,
            _ => return None,
        };
        let last_return = self
            .legs()
            .iter()
            .filter_map(|l| self.legs[l.index()].returned.map(|(_, at)| at))
            .max();
        Some(ReceiptStatement {
            agreement: self.id,
            deal: self.terms.deal.kind(),
            provider: self.terms.provider,
            receiver: self.terms.receiver,
            outcome,
            ended_at: self.ended_at?,
            on_time: last_return.map(|at| self.due.is_none_or(|due| at <= due)),
        })
    }
}
