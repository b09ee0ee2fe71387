//! Sealed mail: agreement messages left with a neighbour's home server for a
//! recipient who is offline (DESIGN §5, issue 26).
//!
//! No new key and no record change: the mail key is the author's ed25519 key
//! in X25519 form (the public key's Montgomery form, and the secret's scalar
//! bytes, as SSB's private-box does; eprint 2021/509 on using one key for
//! both). A sender needs only the recipient's author key, and a node restored
//! from its mnemonic opens the mail waiting for it.
//!
//! An [`Envelope`] is signed by its sender ([`SignedEnvelope`], over
//! [`MAIL_DOMAIN`] ‖ body, `verify_strict`) and names sender, recipient and
//! its lifetime in the clear: what the host must know to keep it. The letter
//! inside is sealed to the recipient:
//!
//! - a fresh X25519 secret `e`, its public `E` travels as `ephemeral`;
//! - `shared` = X25519(`e`, recipient); an all-zero result (a low-order
//!   recipient key) is refused;
//! - key = `blake3::derive_key("swapmesh mail v1", E ‖ recipient_x25519 ‖ shared)`;
//! - XChaCha20-Poly1305 with a zero nonce (each key seals one letter) and the
//!   associated data `sender ‖ recipient`, so a letter cannot be re-addressed.
//!
//! The host learns who writes to whom, when and how much; never what.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use curve25519_dalek::montgomery::MontgomeryPoint;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::agreement::wire::{Request, Response};
use crate::encoding::{DecodeError, decode_canonical, decode_prefix, encode};
use crate::signed::author_of;
use crate::time::DAY;
use crate::{AuthorKey, Timestamp};

/// Domain tag of envelope signatures.
pub const MAIL_DOMAIN: &[u8] = b"swapmesh/mail/v1\0";
/// The envelope format this build writes and reads.
pub const MAIL_VERSION: u16 = 1;
/// The longest an envelope may live.
pub const MAX_MAIL_LIFETIME: u64 = 30 * DAY;
/// The most sealed bytes an envelope carries.
pub const MAX_SEALED: usize = 260 * 1024;
/// The most bytes of an encoded envelope body (sealed part and header).
pub const MAX_ENVELOPE_BODY: usize = MAX_SEALED + 1024;
/// The most keys a letter names to reply to.
pub const MAX_REPLY_TO: usize = 4;
/// The key derivation context.
const KDF_CONTEXT: &str = "swapmesh mail v1";

/// An envelope: who to whom, for how long, and the sealed letter.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Envelope {
    /// [`MAIL_VERSION`].
    pub version: u16,
    /// Who sealed and signed it.
    pub sender: AuthorKey,
    /// Who can open it.
    pub recipient: AuthorKey,
    /// When it was sealed (the sender's clock).
    pub created_at: Timestamp,
    /// When the host drops it: at most [`MAX_MAIL_LIFETIME`] after `created_at`.
    pub expires_at: Timestamp,
    /// The sender's one-time X25519 public key.
    pub ephemeral: [u8; 32],
    /// The letter, sealed (at most [`MAX_SEALED`] bytes).
    #[serde(with = "serde_bytes")]
    pub sealed: Vec<u8>,
}

/// An envelope's canonical body and its sender's signature.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SignedEnvelope {
    /// The canonical encoding of an [`Envelope`].
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
    /// The sender's signature over [`MAIL_DOMAIN`] ‖ `body`.
    pub sig: Signature,
}

/// An envelope's id: blake3 of its body.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub struct EnvelopeId(pub [u8; 32]);

/// What a letter carries: an agreement request, or the answer to one.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum MailItem {
    /// A request of agreements part 2, as if sent directly.
    Request(Request),
    /// The response to a request that came by mail.
    Answer {
        /// blake3 of the request's encoding.
        request: [u8; 32],
        /// The response.
        response: Response,
    },
}

/// The plaintext inside an envelope.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Letter {
    /// Version 1.
    V1 {
        /// Where to answer by mail (the sender's mail peers), at most 4.
        reply_to: Vec<AuthorKey>,
        /// What it carries.
        item: MailItem,
    },
}

/// Why an envelope is refused or does not open.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MailError {
    /// Not a canonical envelope.
    #[error("malformed envelope: {0}")]
    Malformed(#[from] DecodeError),
    /// A format this build does not know.
    #[error("envelope version {0} is not supported")]
    Unsupported(u16),
    /// The signature is not the sender's.
    #[error("the envelope's signature is not its sender's")]
    BadSignature,
    /// A key that is not a valid ed25519 point.
    #[error("not a valid key")]
    BadKey,
    /// A lifetime over 30 days, or one that ends before it starts.
    #[error("an envelope lives at most 30 days")]
    BadLifetime,
    /// Already expired.
    #[error("the envelope expired")]
    Expired,
    /// The sealed part is over [`MAX_SEALED`].
    #[error("the sealed letter is over {MAX_SEALED} bytes")]
    TooLarge,
    /// More than [`MAX_REPLY_TO`] keys to reply to.
    #[error("a letter names at most {MAX_REPLY_TO} keys to reply to")]
    TooManyReplyTo,
    /// The recipient's key gives an all-zero shared secret.
    #[error("the recipient's key cannot receive mail")]
    LowOrderKey,
    /// It does not open with this key (not ours, or altered).
    #[error("the letter does not open")]
    DoesNotOpen,
    /// It opened, but the letter inside is malformed.
    #[error("the letter inside is malformed")]
    BadLetter,
}

impl SignedEnvelope {
    /// The envelope's id.
    pub fn id(&self) -> EnvelopeId {
        EnvelopeId(*blake3::hash(&self.body).as_bytes())
    }

    /// The wire form.
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    /// Decodes the wire form (canonical, bounded).
    pub fn decode(bytes: &[u8]) -> Result<Self, MailError> {
        Ok(decode_canonical(bytes, MAX_ENVELOPE_BODY + 128)?)
    }

    /// Checks everything a host checks before keeping it, at `now`: the
    /// format, the sender's signature, the lifetime and the size.
    pub fn verify(&self, now: Timestamp) -> Result<Envelope, MailError> {
        if self.body.len() > MAX_ENVELOPE_BODY {
            return Err(MailError::TooLarge);
        }
        let version = peek_version(&self.body)?;
        if version != MAIL_VERSION {
            return Err(MailError::Unsupported(version));
        }
        let envelope: Envelope = decode_canonical(&self.body, MAX_ENVELOPE_BODY)?;
        let sender = VerifyingKey::from_bytes(&envelope.sender.0).map_err(|_| MailError::BadKey)?;
        sender
            .verify_strict(&signing_bytes(&self.body), &self.sig)
            .map_err(|_| MailError::BadSignature)?;
        if envelope.sealed.len() > MAX_SEALED {
            return Err(MailError::TooLarge);
        }
        let lifetime = envelope.expires_at.0.checked_sub(envelope.created_at.0);
        if lifetime.is_none_or(|l| l > MAX_MAIL_LIFETIME) {
            return Err(MailError::BadLifetime);
        }
        if envelope.expires_at <= now {
            return Err(MailError::Expired);
        }
        Ok(envelope)
    }
}

/// The version at the start of an envelope body.
fn peek_version(body: &[u8]) -> Result<u16, MailError> {
    let (version, _) = decode_prefix::<u16>(body)?;
    Ok(version)
}

fn signing_bytes(body: &[u8]) -> Vec<u8> {
    let mut msg = MAIL_DOMAIN.to_vec();
    msg.extend_from_slice(body);
    msg
}

/// The X25519 form of an author key.
fn x25519_public(author: &AuthorKey) -> Result<MontgomeryPoint, MailError> {
    Ok(VerifyingKey::from_bytes(&author.0)
        .map_err(|_| MailError::BadKey)?
        .to_montgomery())
}

/// The sealing key of one envelope.
fn letter_key(ephemeral: &[u8; 32], recipient: &MontgomeryPoint, shared: &[u8; 32]) -> [u8; 32] {
    let mut material = Vec::with_capacity(96);
    material.extend_from_slice(ephemeral);
    material.extend_from_slice(recipient.as_bytes());
    material.extend_from_slice(shared);
    blake3::derive_key(KDF_CONTEXT, &material)
}

fn associated(sender: &AuthorKey, recipient: &AuthorKey) -> Vec<u8> {
    let mut aad = Vec::with_capacity(64);
    aad.extend_from_slice(&sender.0);
    aad.extend_from_slice(&recipient.0);
    aad
}

/// Seals `letter` from `sender` to `recipient`, living `lifetime` seconds
/// from `now`, and signs the envelope.
pub fn seal(
    sender: &SigningKey,
    recipient: AuthorKey,
    letter: &Letter,
    now: Timestamp,
    lifetime: u64,
    rng: &mut impl RngCore,
) -> Result<SignedEnvelope, MailError> {
    if lifetime == 0 || lifetime > MAX_MAIL_LIFETIME {
        return Err(MailError::BadLifetime);
    }
    let Letter::V1 { reply_to, .. } = letter;
    if reply_to.len() > MAX_REPLY_TO {
        return Err(MailError::TooManyReplyTo);
    }
    let recipient_x = x25519_public(&recipient)?;
    let mut secret = [0u8; 32];
    rng.fill_bytes(&mut secret);
    let ephemeral = MontgomeryPoint::mul_base_clamped(secret).to_bytes();
    let shared = recipient_x.mul_clamped(secret).to_bytes();
    if shared == [0u8; 32] {
        return Err(MailError::LowOrderKey);
    }
    let key = letter_key(&ephemeral, &recipient_x, &shared);
    let sender_key = author_of(sender);
    let sealed = XChaCha20Poly1305::new(&key.into())
        .encrypt(
            &XNonce::default(),
            Payload {
                msg: &encode(letter),
                aad: &associated(&sender_key, &recipient),
            },
        )
        .map_err(|_| MailError::TooLarge)?;
    if sealed.len() > MAX_SEALED {
        return Err(MailError::TooLarge);
    }
    let envelope = Envelope {
        version: MAIL_VERSION,
        sender: sender_key,
        recipient,
        created_at: now,
        expires_at: now.plus(lifetime),
        ephemeral,
        sealed,
    };
    let body = encode(&envelope);
    let sig = sender.sign(&signing_bytes(&body));
    Ok(SignedEnvelope { body, sig })
}

/// Opens an envelope (already [verified](SignedEnvelope::verify)) with the
/// recipient's key.
pub fn open(envelope: &Envelope, recipient: &SigningKey) -> Result<Letter, MailError> {
    if author_of(recipient) != envelope.recipient {
        return Err(MailError::DoesNotOpen);
    }
    let recipient_x = x25519_public(&envelope.recipient)?;
    let shared = MontgomeryPoint(envelope.ephemeral)
        .mul_clamped(recipient.to_scalar_bytes())
        .to_bytes();
    if shared == [0u8; 32] {
        return Err(MailError::DoesNotOpen);
    }
    let key = letter_key(&envelope.ephemeral, &recipient_x, &shared);
    let plain = XChaCha20Poly1305::new(&key.into())
        .decrypt(
            &XNonce::default(),
            Payload {
                msg: &envelope.sealed,
                aad: &associated(&envelope.sender, &envelope.recipient),
            },
        )
        .map_err(|_| MailError::DoesNotOpen)?;
    let letter: Letter = decode_canonical(&plain, MAX_SEALED).map_err(|_| MailError::BadLetter)?;
    let Letter::V1 { reply_to, .. } = &letter;
    if reply_to.len() > MAX_REPLY_TO {
        return Err(MailError::TooManyReplyTo);
    }
    Ok(letter)
}

/// Most bytes of one `/swapmesh/mail/1` frame.
pub const MAX_MAIL_FRAME: usize = 1024 * 1024;
/// Most envelope ids one `Delete` names.
pub const MAX_DELETE_IDS: usize = 256;

/// A request of `/swapmesh/mail/1`, by protocol version.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum MailRequest {
    /// Version 1.
    V1(MailRequestV1),
}

/// What a peer asks of a mail host.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum MailRequestV1 {
    /// Keep this envelope for its recipient.
    Put {
        /// The envelope (its sender must be the requester's author).
        envelope: SignedEnvelope,
    },
    /// The requester's mail stored after position `after`, oldest first.
    Fetch {
        /// The last position already seen (0: from the start).
        after: u64,
        /// The requester's newest profile, signed, when the host may not
        /// hold it (it names the host as a mail peer).
        profile: Option<crate::SignedRecord>,
    },
    /// Drop these envelopes of the requester's.
    Delete {
        /// At most [`MAX_DELETE_IDS`].
        ids: Vec<EnvelopeId>,
    },
}

/// Why a host does not keep an envelope.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum PutRefusal {
    /// It keeps no mail for this recipient: not admitted by its operator, or
    /// not named in the recipient's newest profile.
    NotMyMailbox,
    /// The recipient's or the sender's quota is full.
    Quota,
    /// Expired on arrival.
    Expired,
    /// It breaks a rule: a bad signature, a sender other than the
    /// requester, a lifetime over 30 days, a malformed body. The requester
    /// is charged.
    Invalid,
}

/// A response of `/swapmesh/mail/1`, by protocol version.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum MailResponse {
    /// Version 1.
    V1(MailResponseV1),
    /// The request's version is unknown here (no blame).
    Unsupported,
}

/// A host's answer.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum MailResponseV1 {
    /// The envelope is kept.
    Stored,
    /// The envelope is not kept.
    Refused(PutRefusal),
    /// Mail for the requester: `(position, stored_at, envelope)`, oldest first.
    Mail {
        /// At most [`MAX_MAIL_FRAME`] bytes of them.
        items: Vec<(u64, Timestamp, SignedEnvelope)>,
        /// More are waiting after the last position.
        more: bool,
    },
    /// The requester's envelopes named are gone (others' never are).
    Deleted,
}

impl MailRequest {
    /// The wire form.
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    /// Decodes the wire form (canonical, at most [`MAX_MAIL_FRAME`]). The
    /// version and request tag are read first, so a newer peer's frame is
    /// [`MailError::Unsupported`], not malformed.
    pub fn decode(bytes: &[u8]) -> Result<MailRequestV1, MailError> {
        crate::encoding::check_len(bytes, MAX_MAIL_FRAME)?;
        let (version, used) = decode_prefix::<u32>(bytes)?;
        if version != 0 {
            return Err(MailError::Unsupported(
                u16::try_from(version + 1).unwrap_or(u16::MAX),
            ));
        }
        let (tag, _) = decode_prefix::<u32>(&bytes[used..])?;
        if tag > 2 {
            return Err(MailError::Unsupported(MAIL_VERSION));
        }
        let MailRequest::V1(request) = decode_canonical(bytes, MAX_MAIL_FRAME)?;
        Ok(request)
    }
}

impl MailResponse {
    /// The wire form.
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    /// Decodes the wire form (canonical, at most [`MAX_MAIL_FRAME`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, MailError> {
        Ok(decode_canonical(bytes, MAX_MAIL_FRAME)?)
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;
    use crate::agreement::wire::Note;
    use crate::fixtures;

    const NOW: Timestamp = Timestamp(1_800_000_000);

    fn letter(text: &str) -> Letter {
        let key = fixtures::key(9);
        let note = Note::sign(crate::AgreementId([4; 32]), NOW, text.to_owned(), &key);
        Letter::V1 {
            reply_to: vec![author_of(&fixtures::key(3))],
            item: MailItem::Request(Request::Note(note)),
        }
    }

    fn rng() -> StdRng {
        StdRng::seed_from_u64(26)
    }

    #[test]
    fn a_letter_opens_for_its_recipient_only() {
        let (ana, ben, host) = (fixtures::key(1), fixtures::key(2), fixtures::key(3));
        let sealed = seal(
            &ana,
            author_of(&ben),
            &letter("by the blue gate"),
            NOW,
            DAY,
            &mut rng(),
        )
        .unwrap();
        let envelope = sealed.verify(NOW).unwrap();
        assert_eq!(envelope.sender, author_of(&ana));
        assert_eq!(open(&envelope, &ben).unwrap(), letter("by the blue gate"));
        assert_eq!(open(&envelope, &host), Err(MailError::DoesNotOpen));
        // Re-addressed to the host, the seal no longer opens for anyone.
        let mut moved = envelope.clone();
        moved.recipient = author_of(&host);
        assert_eq!(open(&moved, &host), Err(MailError::DoesNotOpen));
        // Nothing of the note is readable in the envelope's bytes.
        let wire = sealed.encode();
        assert!(!wire.windows(9).any(|w| w == b"blue gate"));
    }

    #[test]
    fn a_key_restored_from_its_mnemonic_opens_waiting_mail() {
        let ben = crate::keys::generate();
        let words = crate::keys::to_mnemonic(&ben);
        let sealed = seal(
            &fixtures::key(1),
            author_of(&ben),
            &letter("x"),
            NOW,
            DAY,
            &mut rng(),
        )
        .unwrap();
        let restored = crate::keys::from_mnemonic(&words).unwrap();
        let envelope = sealed.verify(NOW).unwrap();
        assert_eq!(open(&envelope, &restored).unwrap(), letter("x"));
    }

    #[test]
    fn mail_requests_and_responses_round_trip_canonically() {
        let (ana, ben) = (fixtures::key(1), fixtures::key(2));
        let envelope = seal(&ana, author_of(&ben), &letter("x"), NOW, DAY, &mut rng()).unwrap();
        let requests = [
            MailRequest::V1(MailRequestV1::Put {
                envelope: envelope.clone(),
            }),
            MailRequest::V1(MailRequestV1::Fetch {
                after: 7,
                profile: None,
            }),
            MailRequest::V1(MailRequestV1::Delete {
                ids: vec![envelope.id()],
            }),
        ];
        for request in requests {
            let MailRequest::V1(inner) = &request;
            assert_eq!(&MailRequest::decode(&request.encode()).unwrap(), inner);
        }
        // A newer version or request: unsupported, not malformed.
        assert!(matches!(
            MailRequest::decode(&[1, 0]),
            Err(MailError::Unsupported(_))
        ));
        assert!(matches!(
            MailRequest::decode(&[0, 3]),
            Err(MailError::Unsupported(_))
        ));
        assert!(matches!(
            MailRequest::decode(&[0, 0, 0xff]),
            Err(MailError::Malformed(_))
        ));
        let responses = [
            MailResponse::V1(MailResponseV1::Stored),
            MailResponse::V1(MailResponseV1::Refused(PutRefusal::Quota)),
            MailResponse::V1(MailResponseV1::Mail {
                items: vec![(1, NOW, envelope)],
                more: false,
            }),
            MailResponse::Unsupported,
        ];
        for response in responses {
            let bytes = response.encode();
            assert_eq!(MailResponse::decode(&bytes).unwrap(), response);
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(MailResponse::decode(&longer).is_err(), "trailing bytes");
        }
        assert!(MailRequest::decode(&vec![0u8; MAX_MAIL_FRAME + 1]).is_err());
    }

    #[test]
    fn one_letter_sealed_twice_differs() {
        let (ana, ben) = (fixtures::key(1), fixtures::key(2));
        let mut r = rng();
        let a = seal(&ana, author_of(&ben), &letter("x"), NOW, DAY, &mut r).unwrap();
        let b = seal(&ana, author_of(&ben), &letter("x"), NOW, DAY, &mut r).unwrap();
        assert_ne!(a.id(), b.id());
        let (ea, eb) = (a.verify(NOW).unwrap(), b.verify(NOW).unwrap());
        assert_ne!(ea.sealed, eb.sealed);
        assert_ne!(ea.ephemeral, eb.ephemeral);
    }

    #[test]
    fn forged_or_altered_envelopes_are_refused() {
        let (ana, ben) = (fixtures::key(1), fixtures::key(2));
        let sealed = seal(&ana, author_of(&ben), &letter("x"), NOW, DAY, &mut rng()).unwrap();

        let mut forged = sealed.clone();
        let mut sig = forged.sig.to_bytes();
        sig[5] ^= 1;
        forged.sig = Signature::from_bytes(&sig);
        assert_eq!(forged.verify(NOW), Err(MailError::BadSignature));

        // A sealed byte changed and signed again by the sender: the signature
        // holds, the seal does not.
        let mut envelope = sealed.verify(NOW).unwrap();
        envelope.sealed[0] ^= 1;
        let body = encode(&envelope);
        let resigned = SignedEnvelope {
            sig: ana.sign(&signing_bytes(&body)),
            body,
        };
        let envelope = resigned.verify(NOW).unwrap();
        assert_eq!(open(&envelope, &ben), Err(MailError::DoesNotOpen));

        assert_eq!(sealed.verify(NOW.plus(2 * DAY)), Err(MailError::Expired));
        assert_eq!(
            seal(
                &ana,
                author_of(&ben),
                &letter("x"),
                NOW,
                31 * DAY,
                &mut rng()
            ),
            Err(MailError::BadLifetime)
        );
    }

    #[test]
    fn a_lifetime_over_30_days_is_refused_even_when_signed() {
        let (ana, ben) = (fixtures::key(1), fixtures::key(2));
        let sealed = seal(&ana, author_of(&ben), &letter("x"), NOW, DAY, &mut rng()).unwrap();
        let mut envelope = sealed.verify(NOW).unwrap();
        envelope.expires_at = NOW.plus(31 * DAY);
        let body = encode(&envelope);
        let long = SignedEnvelope {
            sig: ana.sign(&signing_bytes(&body)),
            body,
        };
        assert_eq!(long.verify(NOW), Err(MailError::BadLifetime));
        let mut envelope = sealed.verify(NOW).unwrap();
        envelope.version = 2;
        let body = encode(&envelope);
        let newer = SignedEnvelope {
            sig: ana.sign(&signing_bytes(&body)),
            body,
        };
        assert_eq!(newer.verify(NOW), Err(MailError::Unsupported(2)));
    }

    #[test]
    fn a_low_order_recipient_key_cannot_receive_mail() {
        // The identity point: a valid encoding whose X25519 form is zero.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let ana = fixtures::key(1);
        assert_eq!(
            seal(
                &ana,
                AuthorKey(identity),
                &letter("x"),
                NOW,
                DAY,
                &mut rng()
            ),
            Err(MailError::LowOrderKey)
        );
    }
}
