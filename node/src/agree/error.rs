//! Why an agreement call did not happen: one variant per API code (DESIGN §7),
//! typed, with nothing sent and nothing changed.

use swapmesh_protocol::AgreementId;
use swapmesh_protocol::agreement::wire::Refusal;
use swapmesh_protocol::agreement::{AgreementError, EventId, Span};
use swapmesh_store::StoreError;
use thiserror::Error;

/// Why an agreement call was refused.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AgreeError {
    /// No agreement with this id here.
    #[error("no agreement {0}")]
    UnknownAgreement(AgreementId),
    /// The listing named is not in this node's store (or not an offer).
    #[error("no listing {0} here to agree on")]
    UnknownListing(String),
    /// The action is the other party's.
    #[error("it is the other party's turn: {0}")]
    NotYourTurn(String),
    /// The action does not apply now.
    #[error("that does not apply now: {0}")]
    OutOfOrder(String),
    /// The chain moved on meanwhile: read it again and retry.
    #[error("the agreement changed meanwhile (head {head}): read it again")]
    Stale {
        /// The head now.
        head: EventId,
    },
    /// The period overlaps a hold or booking of the item.
    #[error("the item is held or booked then")]
    Overlaps {
        /// The period held.
        period: Span,
    },
    /// The listing's terms changed since the version named.
    #[error("the listing changed since that version")]
    ListingChanged,
    /// The listing is paused or withdrawn.
    #[error("the listing is not available")]
    Unavailable,
    /// We blocked the other party.
    #[error("you blocked {0}: unblock them to deal with them")]
    Blocked(String),
    /// The offer has expired.
    #[error("the offer has expired")]
    OfferExpired,
    /// A cancel after a handover.
    #[error("cancel after a handover: return the item, or dispute")]
    AfterHandover,
    /// An act of ours is still open.
    #[error("an act of yours is still open: {0}")]
    OpenAct(EventId),
    /// A confirm of nothing open.
    #[error("nothing of the other party's is open to confirm")]
    NothingToConfirm,
    /// The agreement has ended.
    #[error("the agreement has ended")]
    Finished,
    /// Another event of ours still waits for the sequencer.
    #[error("another event of yours is still pending: {0}")]
    Pending(EventId),
    /// The terms break a rule: its stable name (`TermsRule::as_str` where the
    /// protocol named it, else `receiver`, `theirs`, `listing_copy`,
    /// `note_too_long`) and a sentence.
    #[error("invalid terms ({rule}): {why}")]
    InvalidTerms {
        /// The rule's name.
        rule: &'static str,
        /// What is wrong, in words.
        why: String,
    },
    /// Too many undecided proposals to this provider.
    #[error("too many undecided proposals to this provider")]
    TooMany,
    /// The other party refused for another reason.
    #[error("refused by the other party: {}", .0.code())]
    Refused(Refusal),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Publishing a record of ours (a receipt) failed.
    #[error("could not publish: {0}")]
    Publish(String),
    /// The node is stopping.
    #[error("the node is stopping")]
    Stopped,
}

impl AgreeError {
    /// The API's code for it.
    pub fn code(&self) -> &'static str {
        match self {
            AgreeError::UnknownAgreement(_) => "unknown_agreement",
            AgreeError::UnknownListing(_) => "unknown_listing",
            AgreeError::NotYourTurn(_) => "not_your_turn",
            AgreeError::OutOfOrder(_) => "out_of_order",
            AgreeError::Stale { .. } => "stale",
            AgreeError::Overlaps { .. } => "overlaps",
            AgreeError::ListingChanged => "listing_changed",
            AgreeError::Unavailable => "unavailable",
            AgreeError::Blocked(_) => "blocked",
            AgreeError::OfferExpired => "offer_expired",
            AgreeError::AfterHandover => "after_handover",
            AgreeError::OpenAct(_) => "open_act",
            AgreeError::NothingToConfirm => "nothing_to_confirm",
            AgreeError::Finished => "finished",
            AgreeError::Pending(_) => "pending",
            AgreeError::InvalidTerms { .. } => "invalid_terms",
            AgreeError::TooMany => "too_many",
            AgreeError::Refused(r) => r.code(),
            AgreeError::Store(_) => "store",
            AgreeError::Publish(_) => "publish",
            AgreeError::Stopped => "stopped",
        }
    }

    /// Terms that break `rule`, said in `why`.
    pub(crate) fn invalid(rule: &'static str, why: impl Into<String>) -> Self {
        AgreeError::InvalidTerms {
            rule,
            why: why.into(),
        }
    }

    /// The error of a refusal the other party sent.
    pub(crate) fn of_refusal(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Overlaps { period } => AgreeError::Overlaps { period },
            Refusal::ListingChanged => AgreeError::ListingChanged,
            Refusal::Unavailable => AgreeError::Unavailable,
            Refusal::OfferExpired => AgreeError::OfferExpired,
            Refusal::TooMany => AgreeError::TooMany,
            Refusal::Finished => AgreeError::Finished,
            Refusal::AfterHandover => AgreeError::AfterHandover,
            Refusal::NothingToConfirm => AgreeError::NothingToConfirm,
            Refusal::NotYourTurn => AgreeError::NotYourTurn("refused".into()),
            Refusal::OutOfOrder => AgreeError::OutOfOrder("refused".into()),
            other => AgreeError::Refused(other),
        }
    }
}

impl From<AgreementError> for AgreeError {
    fn from(e: AgreementError) -> Self {
        let text = e.to_string();
        match e {
            AgreementError::Stale { head } => AgreeError::Stale { head },
            AgreementError::NotYourTurn { .. } => AgreeError::NotYourTurn(text),
            AgreementError::OfferExpired { .. } => AgreeError::OfferExpired,
            AgreementError::Finished { .. } => AgreeError::Finished,
            AgreementError::AfterHandover => AgreeError::AfterHandover,
            AgreementError::OpenAct { open } => AgreeError::OpenAct(open),
            AgreementError::NothingToConfirm { .. } => AgreeError::NothingToConfirm,
            AgreementError::InvalidTerms(rule) => AgreeError::invalid(rule.as_str(), text),
            AgreementError::ListingCopy(_) => AgreeError::invalid("listing_copy", text),
            AgreementError::NoteTooLong { .. } => AgreeError::invalid("note_too_long", text),
            AgreementError::UnknownAgreement(id) => AgreeError::UnknownAgreement(id),
            _ => AgreeError::OutOfOrder(text),
        }
    }
}
