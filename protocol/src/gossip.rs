//! The gossip wire message: one signed record, in a versioned envelope.

use serde::{Deserialize, Serialize};

use crate::encoding::{self, DecodeError};
use crate::signed::{MAX_SIGNED_RECORD, SignedRecord};

/// Largest encoded gossip message; gossipsub's `max_transmit_size` must be at least
/// this.
pub const MAX_GOSSIP_MESSAGE: usize = MAX_SIGNED_RECORD + 8;

/// A gossip message. The enum tag is the wire version: a node that meets a tag it
/// does not know fails to decode and ignores the message.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[non_exhaustive]
pub enum GossipMessage {
    /// Version 1: a signed record.
    V1(SignedRecord),
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

    /// The record carried.
    pub fn into_record(self) -> SignedRecord {
        match self {
            Self::V1(record) => record,
        }
    }
}
