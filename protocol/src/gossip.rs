//! The gossip wire message: one signed record in a versioned envelope, in the
//! clear on area and open mesh topics, sealed on a private mesh's topic
//! ([`crate::private`]).

use serde::{Deserialize, Serialize};

use crate::encoding::{self, DecodeError};
use crate::private::{NONCE_LEN, Sealed, TAG_LEN};
use crate::signed::{MAX_SIGNED_RECORD, SignedRecord};

/// Largest encoded gossip message (a sealed largest record: its tag, nonce,
/// AEAD tag and length prefixes, with room to spare); gossipsub's
/// `max_transmit_size` must be at least this.
pub const MAX_GOSSIP_MESSAGE: usize = MAX_SIGNED_RECORD + NONCE_LEN + TAG_LEN + 24;

/// A gossip message. The enum tag is the wire version: a node that meets a tag it
/// does not know fails to decode and ignores the message.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[non_exhaustive]
pub enum GossipMessage {
    /// Version 1: a signed record, in the clear (area and open mesh topics).
    V1(SignedRecord),
    /// A signed record's bytes sealed for a private mesh (its topics only).
    Sealed(Sealed),
}

impl GossipMessage {
    /// Wraps a record.
    pub fn record(record: SignedRecord) -> Self {
        Self::V1(record)
    }

    /// The canonical wire bytes.
    pub fn encode(&self) -> Vec<u8> {
        encoding::encode(self)
    }

    /// Decodes wire bytes (canonical, at most [`MAX_GOSSIP_MESSAGE`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        encoding::decode_canonical(bytes, MAX_GOSSIP_MESSAGE)
    }

    /// Wraps a sealed record.
    pub fn sealed(sealed: Sealed) -> Self {
        Self::Sealed(sealed)
    }
}
