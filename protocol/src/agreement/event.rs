//! Events: one signer, one action, linked to the previous event by its hash. The
//! first proposal has no link; its id is the agreement's id.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::encoding::{self, DecodeError};
use crate::ids::{AgreementId, AuthorKey};
use crate::listing::Money;
use crate::signed::{SignedRecord, author_of};
use crate::time::Timestamp;

use super::error::AgreementError;
use super::terms::{Terms, TermsHash};

/// Domain tag of event signatures.
pub const EVENT_DOMAIN: &[u8] = b"swapmesh/agreement/v1\0";
/// The event format this code writes and reads.
pub const EVENT_VERSION: u16 = 1;
/// Largest event body: a proposal carries up to two signed listings.
pub const MAX_EVENT_BODY: usize = 96 * 1024;
/// Largest encoded [`SignedEvent`].
pub const MAX_SIGNED_EVENT: usize = MAX_EVENT_BODY + 5 + 64;
/// Most bytes of an event's note.
pub const MAX_EVENT_NOTE: usize = 1024;

/// The id of an event: blake3 of its body bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EventId(pub [u8; 32]);

impl EventId {
    /// The id of event body bytes.
    pub fn of_body(body: &[u8]) -> Self {
        Self(*blake3::hash(body).as_bytes())
    }

    /// The agreement a first proposal with this id starts.
    pub fn as_agreement(self) -> AgreementId {
        AgreementId(self.0)
    }
}

impl std::fmt::Debug for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EventId({})", &hex::encode(self.0)[..12])
    }
}

impl std::fmt::Display for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl std::str::FromStr for EventId {
    type Err = crate::ids::ParseIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<crate::ids::RecordId>().map(|id| Self(id.0))
    }
}

/// Where an event sits in its chain.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Link {
    /// The agreement.
    pub agreement: AgreementId,
    /// The event before this one (the head it extends).
    pub prev: EventId,
}

/// What an event does. The variant index is the wire code: append only.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Action {
    /// The first terms, with a copy of the listing version they name and, in a
    /// swap, of the receiver's listing given in exchange.
    Propose {
        /// The terms proposed.
        terms: Terms,
        /// The signed listing version `terms.listing`.
        listing: SignedRecord,
        /// The signed listing version `terms.deal.theirs`, in a swap.
        theirs: Option<SignedRecord>,
    },
    /// New terms in answer to the current ones.
    Counter {
        /// The terms countered with.
        terms: Terms,
    },
    /// The current terms, by their hash.
    Accept {
        /// The hash of the current terms.
        terms: TermsHash,
    },
    /// No to the current terms, or to the other party's open extend or resolve.
    Decline,
    /// The signer of the current terms takes them back.
    Withdraw,
    /// The owner of a leg's item hands it over.
    Handover {
        /// Whose item.
        leg: Leg,
    },
    /// The item of a leg comes back to its owner.
    Return {
        /// Whose item.
        leg: Leg,
    },
    /// The other party's open act happened.
    Confirm {
        /// The event confirmed.
        of: super::event::EventId,
        /// On the confirm of a return: the deposit given back.
        deposit_returned: Option<Money>,
    },
    /// A new due date, for the other party to confirm.
    Extend {
        /// The new due date.
        due: Timestamp,
    },
    /// Ends before any handover; on an active lease, gives notice.
    Cancel,
    /// Something went wrong: only a confirmed resolve ends the agreement now.
    Dispute,
    /// How a dispute ends, for the other party to confirm.
    Resolve {
        /// The outcome.
        outcome: Resolution,
    },
}

impl Action {
    /// A short stable name.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Propose { .. } => "propose",
            Action::Counter { .. } => "counter",
            Action::Accept { .. } => "accept",
            Action::Decline => "decline",
            Action::Withdraw => "withdraw",
            Action::Handover { .. } => "handover",
            Action::Return { .. } => "return",
            Action::Confirm { .. } => "confirm",
            Action::Extend { .. } => "extend",
            Action::Cancel => "cancel",
            Action::Dispute => "dispute",
            Action::Resolve { .. } => "resolve",
        }
    }

    /// An act stays open until the other party confirms it.
    pub fn is_act(&self) -> bool {
        matches!(
            self,
            Action::Handover { .. }
                | Action::Return { .. }
                | Action::Extend { .. }
                | Action::Resolve { .. }
        )
    }
}

/// Whose item moves: the provider's (every kind) or, in a swap, the receiver's.
/// Its owner signs the handover, the other party the return.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Leg {
    /// The provider's item (the listing).
    Provider,
    /// The receiver's item, in a swap.
    Receiver,
}

impl Leg {
    /// Index into per-leg arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// How a dispute ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Resolution {
    /// The items came back.
    Returned,
    /// The receiver keeps what it has (the listing is gone).
    Kept,
    /// Something else, said in the notes.
    Other,
}

/// The signed part of an event.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct EventBody {
    /// [`EVENT_VERSION`].
    pub version: u16,
    /// `None` only on the first proposal.
    pub link: Option<Link>,
    /// The one party who signs it.
    pub signer: AuthorKey,
    /// When it was signed: `max(clock, head.at)`.
    pub at: Timestamp,
    /// What it does.
    pub action: Action,
    /// A word to the other party (at most 1 KiB).
    pub note: String,
}

/// An event as it travels and is stored: body bytes and the signer's signature
/// over [`EVENT_DOMAIN`] ‖ body.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SignedEvent {
    /// The canonical encoding of an [`EventBody`].
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
    /// The signer's ed25519 signature.
    pub sig: Signature,
}

impl SignedEvent {
    /// Signs a body. The key should be the body's signer for it to verify.
    pub fn sign(body: &EventBody, key: &SigningKey) -> Self {
        let body = encoding::encode(body);
        let sig = key.sign(&signing_bytes(&body));
        Self { body, sig }
    }

    /// The event id.
    pub fn id(&self) -> EventId {
        EventId::of_body(&self.body)
    }

    /// The canonical wire bytes.
    pub fn encode(&self) -> Vec<u8> {
        encoding::encode(self)
    }

    /// Decodes the body without checking the signature: for events a node stored
    /// itself after verifying them. Anything received goes through
    /// [`verify_event`].
    pub fn decode_body_trusted(&self) -> Result<EventBody, DecodeError> {
        encoding::decode_canonical(&self.body, MAX_EVENT_BODY)
    }

    /// Decodes wire bytes (canonical, at most [`MAX_SIGNED_EVENT`]); the body is
    /// checked by [`verify_event`].
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        encoding::decode_canonical(bytes, MAX_SIGNED_EVENT)
    }
}

fn signing_bytes(body: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(EVENT_DOMAIN.len() + body.len());
    msg.extend_from_slice(EVENT_DOMAIN);
    msg.extend_from_slice(body);
    msg
}

/// An event whose body decoded canonically and whose signature verified for its
/// signer. Only [`verify_event`] and [`sign_event`] make one.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VerifiedEvent {
    signed: SignedEvent,
    body: EventBody,
    id: EventId,
}

impl VerifiedEvent {
    /// The signed event.
    pub fn signed(&self) -> &SignedEvent {
        &self.signed
    }
    /// The decoded body.
    pub fn body(&self) -> &EventBody {
        &self.body
    }
    /// The event id.
    pub fn id(&self) -> EventId {
        self.id
    }
    /// The agreement this event belongs to.
    pub fn agreement(&self) -> AgreementId {
        match &self.body.link {
            Some(link) => link.agreement,
            None => self.id.as_agreement(),
        }
    }
}

impl VerifiedEvent {
    /// An event that was never signed, for dry runs of [`super::apply`] only:
    /// it never leaves this crate.
    pub(super) fn unsigned(body: EventBody) -> Self {
        let signed = SignedEvent {
            body: encoding::encode(&body),
            sig: Signature::from_bytes(&[0; 64]),
        };
        let id = signed.id();
        Self { signed, body, id }
    }
}

/// Decodes an event body canonically and checks its signature (`verify_strict`).
pub fn verify_event(signed: SignedEvent) -> Result<VerifiedEvent, AgreementError> {
    encoding::check_len(&signed.body, MAX_EVENT_BODY)?;
    let version = encoding::decode_prefix::<u16>(&signed.body)?.0;
    if version != EVENT_VERSION {
        return Err(AgreementError::UnsupportedVersion { version });
    }
    let body: EventBody = encoding::decode_canonical(&signed.body, MAX_EVENT_BODY)?;
    let key = VerifyingKey::from_bytes(&body.signer.0).map_err(|_| AgreementError::BadSignature)?;
    key.verify_strict(&signing_bytes(&signed.body), &signed.sig)
        .map_err(|_| AgreementError::BadSignature)?;
    let id = signed.id();
    Ok(VerifiedEvent { signed, body, id })
}

/// The two parties' keys, decompressed once: verifying the events of one
/// agreement with them skips the signer's point decompression per event.
#[derive(Clone, Debug)]
pub struct PartyKeys {
    keys: [(AuthorKey, VerifyingKey); 2],
}

impl PartyKeys {
    /// The keys of `a` and `b`; `None` if either is not a valid ed25519 key.
    pub fn new(a: AuthorKey, b: AuthorKey) -> Option<Self> {
        let key = |k: AuthorKey| VerifyingKey::from_bytes(&k.0).ok().map(|v| (k, v));
        Some(Self {
            keys: [key(a)?, key(b)?],
        })
    }

    fn get(&self, who: &AuthorKey) -> Option<&VerifyingKey> {
        self.keys.iter().find(|(k, _)| k == who).map(|(_, v)| v)
    }
}

/// [`verify_event`] with the parties' keys at hand: the same checks and result
/// (a signer who is not a party is verified with its own key, and refused later
/// by `apply` as not a party).
pub fn verify_event_with(
    signed: SignedEvent,
    parties: &PartyKeys,
) -> Result<VerifiedEvent, AgreementError> {
    encoding::check_len(&signed.body, MAX_EVENT_BODY)?;
    let version = encoding::decode_prefix::<u16>(&signed.body)?.0;
    if version != EVENT_VERSION {
        return Err(AgreementError::UnsupportedVersion { version });
    }
    let body: EventBody = encoding::decode_canonical(&signed.body, MAX_EVENT_BODY)?;
    let decompressed;
    let key = match parties.get(&body.signer) {
        Some(key) => key,
        None => {
            decompressed = VerifyingKey::from_bytes(&body.signer.0)
                .map_err(|_| AgreementError::BadSignature)?;
            &decompressed
        }
    };
    key.verify_strict(&signing_bytes(&signed.body), &signed.sig)
        .map_err(|_| AgreementError::BadSignature)?;
    let id = signed.id();
    Ok(VerifiedEvent { signed, body, id })
}

/// Decodes and verifies wire bytes of a [`SignedEvent`].
pub fn verify_event_bytes(bytes: &[u8]) -> Result<VerifiedEvent, AgreementError> {
    verify_event(SignedEvent::decode(bytes)?)
}

/// Signs an event of our own. The body's signer must be our key.
pub fn sign_event(body: EventBody, key: &SigningKey) -> Result<VerifiedEvent, AgreementError> {
    if body.signer != author_of(key) {
        return Err(AgreementError::NotAParty {
            signer: body.signer,
        });
    }
    let signed = SignedEvent::sign(&body, key);
    if signed.body.len() > MAX_EVENT_BODY {
        return Err(DecodeError::TooLarge {
            len: signed.body.len(),
            limit: MAX_EVENT_BODY,
        }
        .into());
    }
    let id = signed.id();
    Ok(VerifiedEvent { signed, body, id })
}
