//! Signed records: the body bytes exactly as signed, and the author's signature over
//! a domain tag plus those bytes.

use ed25519_dalek::{Signature, Signer, SigningKey};
use serde::{Deserialize, Serialize};

use crate::encoding::{self, DecodeError};
use crate::ids::{AuthorKey, RecordId};
use crate::record::RecordBody;

/// Domain tag of record signatures, so a record signature can never be replayed as
/// any other kind of signed statement.
pub const RECORD_DOMAIN: &[u8] = b"swapmesh/record/v1\0";

/// Largest record body accepted.
pub const MAX_BODY: usize = 32 * 1024;

/// Largest encoded [`SignedRecord`]: a body, its length prefix and a signature.
pub const MAX_SIGNED_RECORD: usize = MAX_BODY + 5 + 64;

/// A record as it travels and is stored: body bytes and signature.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SignedRecord {
    /// The canonical encoding of a [`RecordBody`].
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
    /// The author's ed25519 signature over `RECORD_DOMAIN || body`.
    pub sig: Signature,
}

impl SignedRecord {
    /// Signs a body with the author's key. The key must be the body's author for the
    /// record to verify; [`crate::validate::sign_own`] checks that and the rules.
    pub fn sign(body: &RecordBody, key: &SigningKey) -> Self {
        let body = body.encode();
        let sig = key.sign(&signing_bytes(&body));
        Self { body, sig }
    }

    /// The record id: blake3 of the body bytes.
    pub fn id(&self) -> RecordId {
        RecordId::of_body(&self.body)
    }

    /// Decodes the body without checking the signature: for records this node
    /// verified when it took them.
    pub fn decode_trusted(&self) -> Result<RecordBody, DecodeError> {
        RecordBody::decode_trusted(&self.body)
    }

    /// The canonical wire bytes.
    pub fn encode(&self) -> Vec<u8> {
        encoding::encode(self)
    }

    /// Decodes wire bytes (canonical, at most [`MAX_SIGNED_RECORD`]). The body is not
    /// checked here: see [`crate::validate::check`].
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        encoding::decode_canonical(bytes, MAX_SIGNED_RECORD)
    }
}

/// The message a record signature covers.
pub(crate) fn signing_bytes(body: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(RECORD_DOMAIN.len() + body.len());
    msg.extend_from_slice(RECORD_DOMAIN);
    msg.extend_from_slice(body);
    msg
}

/// The author key of a signing key.
pub fn author_of(key: &SigningKey) -> AuthorKey {
    AuthorKey(key.verifying_key().to_bytes())
}
