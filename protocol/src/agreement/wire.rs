//! The agree protocol's frames (`/swapmesh/agree/1`), canonical and at most
//! 256 KiB: the two parties deliver events to each other, and notes and receipt
//! signatures travel beside the chain. Versioned from the first byte, so a newer
//! peer's frame is refused `Unsupported` (no blame) rather than as garbage.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::encoding::{self, DecodeError};
use crate::ids::{AgreementId, AuthorKey};
use crate::signed::SignedRecord;
use crate::time::Timestamp;

use super::calendar::Span;
use super::error::AgreementError;
use super::event::{EventId, SignedEvent};

/// Largest agree frame, request or response.
pub const MAX_AGREE_FRAME: usize = 256 * 1024;
/// Most bytes of a note's text.
pub const MAX_NOTE_TEXT: usize = 1024;
/// Domain tag of note signatures.
pub const NOTE_DOMAIN: &[u8] = b"swapmesh/agreement-note/v1\0";

/// A request, by protocol version.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum AgreeRequest {
    /// Version 1.
    V1(Request),
}

/// What one party asks of the other.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Request {
    /// One agreement's events in chain order, to be applied in order.
    Deliver {
        /// The events.
        events: Vec<SignedEvent>,
    },
    /// The sender's signature over the receipt statement of an ended agreement.
    ReceiptSig {
        /// The agreement.
        agreement: AgreementId,
        /// The signature.
        sig: Signature,
    },
    /// A message beside the chain (a pickup detail), signed by the sender.
    Note(Note),
}

/// A response, by protocol version.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum AgreeResponse {
    /// Version 1.
    V1(Response),
}

/// The answer to a request.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Response {
    /// Every event delivered is in the chain; this is its head.
    Ack {
        /// The head after them.
        head: EventId,
    },
    /// The first event delivered that is not in the chain does not extend its
    /// head: resend from here.
    Stale {
        /// The receiver's head.
        head: EventId,
    },
    /// The events before the first refused one are in the chain (up to `head`);
    /// that one is refused.
    Refused {
        /// Why.
        refusal: Refusal,
        /// The receiver's head, if it has the agreement.
        head: Option<EventId>,
    },
    /// The receiver does not have the agreement (a lost store): deliver the whole
    /// chain from the proposal.
    Unknown,
    /// The receipt, published, answering a receipt signature.
    Receipt {
        /// The receipt record.
        record: SignedRecord,
    },
    /// The note was kept.
    Noted,
}

/// Why a request was refused. The index is the wire code: append only.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Refusal {
    /// A version or request this node does not speak (no blame).
    Unsupported,
    /// The frame does not decode.
    Malformed,
    /// A signature does not verify.
    BadSignature,
    /// Signed or sent by someone who is not the other party.
    NotAParty,
    /// The event's link does not fit the agreement.
    BadLink,
    /// The terms break a rule (the rule's name is in the log of the refuser).
    InvalidTerms,
    /// An accept of other terms than the current ones.
    TermsHash,
    /// The proposal's listing copy does not match.
    ListingCopy,
    /// The action belongs to the other party.
    NotYourTurn,
    /// The action does not apply in the agreement's phase.
    OutOfOrder,
    /// The agreement has ended.
    Finished,
    /// The offer has expired (signed too late, or our clock passed it).
    OfferExpired,
    /// Signed more than the skew bound before our clock: sign again on the head.
    TooOld,
    /// Signed more than the skew bound after our clock: retried later.
    FromTheFuture,
    /// Signed before the head.
    BeforeHead,
    /// The listing's terms (kinds, price, deposit, availability, title) changed
    /// since the version proposed on.
    ListingChanged,
    /// The listing is paused or withdrawn.
    Unavailable,
    /// The period overlaps a hold or booking of the item.
    Overlaps {
        /// The period held.
        period: Span,
    },
    /// Too many undecided proposals from this party.
    TooMany,
    /// A cancel after a handover.
    AfterHandover,
    /// A rent's receiver cancels past `cancel_before`.
    PastCancelBefore,
    /// The signer already has an open handover or return.
    OpenAct,
    /// A confirm of no open act of the other party.
    NothingToConfirm,
    /// A deposit on a confirm of anything but a return.
    DepositNotOnReturn,
    /// A leg the deal does not have.
    NoSuchLeg,
    /// The leg cannot do that now.
    LegState,
    /// An extension that is not later, or on a deal without a due date.
    BadExtension,
    /// A note or event note over 1 KiB.
    NoteTooLong,
    /// An event too large, or more than one agreement's events in a delivery.
    TooLarge,
    /// A receipt signature for a chain the sequencer has not ended (yet).
    NotEnded,
}

impl Refusal {
    /// A short stable name, as the API's error codes spell it.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::Unsupported => "unsupported",
            Refusal::Malformed => "malformed",
            Refusal::BadSignature => "bad_signature",
            Refusal::NotAParty => "not_a_party",
            Refusal::BadLink => "bad_link",
            Refusal::InvalidTerms => "invalid_terms",
            Refusal::TermsHash => "terms_hash",
            Refusal::ListingCopy => "listing_copy",
            Refusal::NotYourTurn => "not_your_turn",
            Refusal::OutOfOrder => "out_of_order",
            Refusal::Finished => "finished",
            Refusal::OfferExpired => "offer_expired",
            Refusal::TooOld => "too_old",
            Refusal::FromTheFuture => "from_the_future",
            Refusal::BeforeHead => "before_head",
            Refusal::ListingChanged => "listing_changed",
            Refusal::Unavailable => "unavailable",
            Refusal::Overlaps { .. } => "overlaps",
            Refusal::TooMany => "too_many",
            Refusal::AfterHandover => "after_handover",
            Refusal::PastCancelBefore => "past_cancel_before",
            Refusal::OpenAct => "open_act",
            Refusal::NothingToConfirm => "nothing_to_confirm",
            Refusal::DepositNotOnReturn => "deposit_not_on_return",
            Refusal::NoSuchLeg => "no_such_leg",
            Refusal::LegState => "leg_state",
            Refusal::BadExtension => "bad_extension",
            Refusal::NoteTooLong => "note_too_long",
            Refusal::TooLarge => "too_large",
            Refusal::NotEnded => "not_ended",
        }
    }

    /// Is the sender to blame (charged as an invalid record)? Only for what no
    /// honest node sends; races, clocks, turns and our own state are not.
    pub fn blame(self) -> bool {
        matches!(
            self,
            Refusal::Malformed
                | Refusal::BadSignature
                | Refusal::NotAParty
                | Refusal::BadLink
                | Refusal::InvalidTerms
                | Refusal::TermsHash
                | Refusal::ListingCopy
                | Refusal::BeforeHead
                | Refusal::DepositNotOnReturn
                | Refusal::NoSuchLeg
                | Refusal::NoteTooLong
                | Refusal::TooLarge
        )
    }

    /// Does the refusal prove the event is not in the refuser's chain, so a
    /// pending event may leave? Every refusal does except the retried ones
    /// (from the future) — those keep it pending.
    pub fn proves_absence(self) -> bool {
        !matches!(self, Refusal::FromTheFuture)
    }
}

impl From<&AgreementError> for Refusal {
    fn from(e: &AgreementError) -> Self {
        match e {
            AgreementError::Malformed(DecodeError::TooLarge { .. }) => Refusal::TooLarge,
            AgreementError::Malformed(_) => Refusal::Malformed,
            AgreementError::UnsupportedVersion { .. } => Refusal::Unsupported,
            AgreementError::BadSignature => Refusal::BadSignature,
            AgreementError::NotAParty { .. } => Refusal::NotAParty,
            AgreementError::BadLink | AgreementError::UnknownAgreement(_) => Refusal::BadLink,
            AgreementError::Stale { .. } => Refusal::OutOfOrder,
            AgreementError::FromTheFuture { .. } => Refusal::FromTheFuture,
            AgreementError::BeforeHead { .. } => Refusal::BeforeHead,
            AgreementError::OfferExpired { .. } => Refusal::OfferExpired,
            AgreementError::NotYourTurn { .. } => Refusal::NotYourTurn,
            AgreementError::OutOfOrder { .. } => Refusal::OutOfOrder,
            AgreementError::Finished { .. } => Refusal::Finished,
            AgreementError::InvalidTerms(_) => Refusal::InvalidTerms,
            AgreementError::TermsHash { .. } => Refusal::TermsHash,
            AgreementError::ListingCopy(_) => Refusal::ListingCopy,
            AgreementError::AfterHandover => Refusal::AfterHandover,
            AgreementError::PastCancelBefore { .. } => Refusal::PastCancelBefore,
            AgreementError::OpenAct { .. } => Refusal::OpenAct,
            AgreementError::NothingToConfirm { .. } => Refusal::NothingToConfirm,
            AgreementError::DepositNotOnReturn => Refusal::DepositNotOnReturn,
            AgreementError::NoSuchLeg(_) => Refusal::NoSuchLeg,
            AgreementError::LegState { .. } => Refusal::LegState,
            AgreementError::BadExtension => Refusal::BadExtension,
            AgreementError::NoteTooLong { .. } => Refusal::NoteTooLong,
        }
    }
}

/// A message beside the chain: never published, never logged.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Note {
    /// The agreement.
    pub agreement: AgreementId,
    /// When it was written.
    pub at: Timestamp,
    /// At most 1 KiB.
    pub text: String,
    /// The sender's signature over [`NOTE_DOMAIN`] ‖ (agreement, at, text).
    pub sig: Signature,
}

impl Note {
    fn signing_bytes(agreement: &AgreementId, at: Timestamp, text: &str) -> Vec<u8> {
        let mut msg = NOTE_DOMAIN.to_vec();
        msg.extend_from_slice(&encoding::encode(&(agreement, at, text)));
        msg
    }

    /// A note signed by `key`.
    pub fn sign(agreement: AgreementId, at: Timestamp, text: String, key: &SigningKey) -> Self {
        let sig = key.sign(&Self::signing_bytes(&agreement, at, &text));
        Self {
            agreement,
            at,
            text,
            sig,
        }
    }

    /// Checks the size and `author`'s signature (`verify_strict`).
    pub fn verify(&self, author: &AuthorKey) -> Result<(), Refusal> {
        if self.text.len() > MAX_NOTE_TEXT {
            return Err(Refusal::NoteTooLong);
        }
        let key = VerifyingKey::from_bytes(&author.0).map_err(|_| Refusal::BadSignature)?;
        key.verify_strict(
            &Self::signing_bytes(&self.agreement, self.at, &self.text),
            &self.sig,
        )
        .map_err(|_| Refusal::BadSignature)
    }
}

/// How a request frame failed to decode.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum FrameError {
    /// A version or request tag this node does not know: refused without blame.
    Unsupported,
    /// Not a frame at all: the sender is charged.
    Malformed(DecodeError),
}

impl AgreeRequest {
    /// The canonical bytes.
    pub fn encode(&self) -> Vec<u8> {
        encoding::encode(self)
    }

    /// Decodes a request frame. The version and request tag are read first, so a
    /// newer peer's frame is [`FrameError::Unsupported`], not malformed.
    pub fn decode(bytes: &[u8]) -> Result<Request, FrameError> {
        encoding::check_len(bytes, MAX_AGREE_FRAME).map_err(FrameError::Malformed)?;
        let (version, used) =
            encoding::decode_prefix::<u32>(bytes).map_err(FrameError::Malformed)?;
        if version != 0 {
            return Err(FrameError::Unsupported);
        }
        let (tag, _) =
            encoding::decode_prefix::<u32>(&bytes[used..]).map_err(FrameError::Malformed)?;
        if tag > 2 {
            return Err(FrameError::Unsupported);
        }
        match encoding::decode_canonical::<AgreeRequest>(bytes, MAX_AGREE_FRAME) {
            Ok(AgreeRequest::V1(request)) => Ok(request),
            Err(e) => Err(FrameError::Malformed(e)),
        }
    }
}

impl AgreeResponse {
    /// The canonical bytes.
    pub fn encode(&self) -> Vec<u8> {
        encoding::encode(self)
    }

    /// Decodes a response frame.
    pub fn decode(bytes: &[u8]) -> Result<Response, DecodeError> {
        encoding::decode_canonical::<AgreeResponse>(bytes, MAX_AGREE_FRAME)
            .map(|AgreeResponse::V1(r)| r)
    }
}

/// Splits one agreement's events into deliveries that each fit a frame, in order.
pub fn deliveries(events: &[SignedEvent]) -> Vec<Vec<SignedEvent>> {
    // Leave room for the enum tags and the list's length prefix.
    const ROOM: usize = MAX_AGREE_FRAME - 64;
    let mut out: Vec<Vec<SignedEvent>> = Vec::new();
    let mut size = 0;
    for event in events {
        let len = event.body.len() + 64 + 10;
        if out.is_empty() || size + len > ROOM {
            out.push(Vec::new());
            size = 0;
        }
        size += len;
        out.last_mut().expect("pushed above").push(event.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_version_or_request_is_unsupported_not_malformed() {
        let ok = AgreeRequest::V1(Request::Deliver { events: vec![] }).encode();
        assert_eq!(
            AgreeRequest::decode(&ok),
            Ok(Request::Deliver { events: vec![] })
        );
        let mut newer = ok.clone();
        newer[0] = 1;
        assert_eq!(AgreeRequest::decode(&newer), Err(FrameError::Unsupported));
        let mut unknown_tag = ok.clone();
        unknown_tag[1] = 3;
        assert_eq!(
            AgreeRequest::decode(&unknown_tag),
            Err(FrameError::Unsupported)
        );
        assert!(matches!(
            AgreeRequest::decode(&[0, 0, 5]),
            Err(FrameError::Malformed(_))
        ));
        assert!(matches!(
            AgreeRequest::decode(&[]),
            Err(FrameError::Malformed(_))
        ));
    }

    #[test]
    fn notes_verify_for_their_author_only() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let author = crate::signed::author_of(&key);
        let note = Note::sign(AgreementId([1; 32]), Timestamp(5), "gate".into(), &key);
        assert_eq!(note.verify(&author), Ok(()));
        assert_eq!(
            note.verify(&AuthorKey(
                SigningKey::from_bytes(&[4; 32]).verifying_key().to_bytes()
            )),
            Err(Refusal::BadSignature)
        );
        let mut changed = note.clone();
        changed.text.push('!');
        assert_eq!(changed.verify(&author), Err(Refusal::BadSignature));
    }
}
