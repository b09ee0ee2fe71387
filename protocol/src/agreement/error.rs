//! Why an event does not apply: a variant per rule and per flaw. Nothing changes
//! when one is returned.

use thiserror::Error;

use crate::encoding::DecodeError;
use crate::ids::{AgreementId, AuthorKey};
use crate::time::Timestamp;

use super::event::EventId;
use super::state::Phase;
use super::terms::{TermsHash, TermsRule};

/// Why an event is refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AgreementError {
    /// The bytes are not a canonical event (or are too large).
    #[error("malformed event: {0}")]
    Malformed(#[from] DecodeError),
    /// An event format this node does not read.
    #[error("event format {version} is not supported")]
    UnsupportedVersion {
        /// The version found.
        version: u16,
    },
    /// The signature does not verify (`verify_strict`) for the signer.
    #[error("the event's signature does not verify for its signer")]
    BadSignature,
    /// The signer is neither the provider nor the receiver.
    #[error("signer {signer} is not a party to the agreement")]
    NotAParty {
        /// Who signed.
        signer: AuthorKey,
    },
    /// The first event is not an unlinked proposal, a proposal is linked, or the
    /// link names another agreement.
    #[error("the event's link does not fit its agreement")]
    BadLink,
    /// A linked event for an agreement this node does not have.
    #[error("unknown agreement {0}")]
    UnknownAgreement(AgreementId),
    /// Neither in the chain nor on its head: the sender refreshes and retries.
    #[error("the event does not extend the head {head}")]
    Stale {
        /// The chain's head.
        head: EventId,
    },
    /// Signed more than the clock-skew bound after our clock.
    #[error("signed at {at:?}, beyond the clock-skew bound of now ({now:?})")]
    FromTheFuture {
        /// When it says it was signed.
        at: Timestamp,
        /// Our clock.
        now: Timestamp,
    },
    /// Signed before the event it follows.
    #[error("signed at {at:?}, before its head's {head_at:?}")]
    BeforeHead {
        /// When it says it was signed.
        at: Timestamp,
        /// When the head was signed.
        head_at: Timestamp,
    },
    /// An accept or counter signed at or after the offer's expiry.
    #[error("signed at {at:?}, at or after the offer expired ({offer_expires:?})")]
    OfferExpired {
        /// When it was signed.
        at: Timestamp,
        /// When the offer expired.
        offer_expires: Timestamp,
    },
    /// The action belongs to the other party.
    #[error("{action} is the other party's to sign")]
    NotYourTurn {
        /// The action.
        action: &'static str,
    },
    /// The action does not apply in this phase.
    #[error("{action} does not apply while {phase:?}")]
    OutOfOrder {
        /// The action.
        action: &'static str,
        /// The phase.
        phase: Phase,
    },
    /// The agreement has ended.
    #[error("the agreement has ended ({phase:?})")]
    Finished {
        /// Its end state.
        phase: Phase,
    },
    /// The terms break a rule.
    #[error("invalid terms: {0}")]
    InvalidTerms(TermsRule),
    /// An accept names other terms than the current ones.
    #[error("accept names terms {named}, the current ones are {current}")]
    TermsHash {
        /// The current terms' hash.
        current: TermsHash,
        /// The hash named.
        named: TermsHash,
    },
    /// The proposal's copy of a listing is not the signed offer the terms name.
    #[error("the proposal's listing copy does not match the terms: {0}")]
    ListingCopy(&'static str),
    /// A cancel after a handover: the item comes back by return or dispute.
    #[error("cancel after a handover: return the item, or dispute")]
    AfterHandover,
    /// A rent's receiver cancels at or after `cancel_before`.
    #[error("past the rent's cancel_before ({cancel_before:?}), only the provider may cancel")]
    PastCancelBefore {
        /// The rent's deadline.
        cancel_before: Timestamp,
    },
    /// The signer already has an open handover or return.
    #[error("the signer's {open} is still open")]
    OpenAct {
        /// The open act.
        open: EventId,
    },
    /// A confirm that names no open act of the other party.
    #[error("nothing to confirm: {of} is not the other party's open act")]
    NothingToConfirm {
        /// The event named.
        of: EventId,
    },
    /// `deposit_returned` on a confirm of anything but a return.
    #[error("deposit_returned belongs only on the confirm of a return")]
    DepositNotOnReturn,
    /// The leg does not exist in this kind of deal (only swaps have two).
    #[error("this deal has no {0} leg")]
    NoSuchLeg(&'static str),
    /// The leg's handover or return already happened, or its handover has not.
    #[error("the {leg} leg cannot {action} now")]
    LegState {
        /// The leg.
        leg: &'static str,
        /// The action.
        action: &'static str,
    },
    /// An extension that is not later than the current due date, or on a deal
    /// without one.
    #[error("an extension needs a deal with a due date and a later one")]
    BadExtension,
    /// A note over 1 KiB.
    #[error("note of {len} bytes is over 1 KiB")]
    NoteTooLong {
        /// Its length.
        len: usize,
    },
}

impl AgreementError {
    /// A short stable name of the rule or flaw, for refusals, metrics and logs.
    pub fn rule(&self) -> &'static str {
        match self {
            AgreementError::Malformed(_) => "malformed",
            AgreementError::UnsupportedVersion { .. } => "unsupported",
            AgreementError::BadSignature => "bad_signature",
            AgreementError::NotAParty { .. } => "not_a_party",
            AgreementError::BadLink => "bad_link",
            AgreementError::UnknownAgreement(_) => "unknown_agreement",
            AgreementError::Stale { .. } => "stale",
            AgreementError::FromTheFuture { .. } => "from_the_future",
            AgreementError::BeforeHead { .. } => "before_head",
            AgreementError::OfferExpired { .. } => "offer_expired",
            AgreementError::NotYourTurn { .. } => "not_your_turn",
            AgreementError::OutOfOrder { .. } => "out_of_order",
            AgreementError::Finished { .. } => "finished",
            AgreementError::InvalidTerms(_) => "invalid_terms",
            AgreementError::TermsHash { .. } => "terms_hash",
            AgreementError::ListingCopy(_) => "listing_copy",
            AgreementError::AfterHandover => "after_handover",
            AgreementError::PastCancelBefore { .. } => "past_cancel_before",
            AgreementError::OpenAct { .. } => "open_act",
            AgreementError::NothingToConfirm { .. } => "nothing_to_confirm",
            AgreementError::DepositNotOnReturn => "deposit_not_on_return",
            AgreementError::NoSuchLeg(_) => "no_such_leg",
            AgreementError::LegState { .. } => "leg_state",
            AgreementError::BadExtension => "bad_extension",
            AgreementError::NoteTooLong { .. } => "note_too_long",
        }
    }

    /// Is the sender to blame? Only for what no honest node sends: a malformed or
    /// forged event, a stranger's signature, broken terms, a wrong hash or copy.
    /// Races, clocks and turns (stale, late, not your turn, out of order) are not.
    pub fn blame(&self) -> bool {
        match self {
            AgreementError::Malformed(_)
            | AgreementError::BadSignature
            | AgreementError::NotAParty { .. }
            | AgreementError::BadLink
            | AgreementError::BeforeHead { .. }
            | AgreementError::InvalidTerms(_)
            | AgreementError::TermsHash { .. }
            | AgreementError::ListingCopy(_)
            | AgreementError::DepositNotOnReturn
            | AgreementError::NoSuchLeg(_)
            | AgreementError::NoteTooLong { .. } => true,
            AgreementError::UnsupportedVersion { .. }
            | AgreementError::UnknownAgreement(_)
            | AgreementError::Stale { .. }
            | AgreementError::FromTheFuture { .. }
            | AgreementError::OfferExpired { .. }
            | AgreementError::NotYourTurn { .. }
            | AgreementError::OutOfOrder { .. }
            | AgreementError::Finished { .. }
            | AgreementError::AfterHandover
            | AgreementError::PastCancelBefore { .. }
            | AgreementError::OpenAct { .. }
            | AgreementError::NothingToConfirm { .. }
            | AgreementError::LegState { .. }
            | AgreementError::BadExtension => false,
        }
    }
}
