//! Why a session failed.

use swapmesh_protocol::encoding::DecodeError;
use thiserror::Error;

/// A session failed. Every variant but [`SyncError::Store`] and
/// [`SyncError::InvalidConfig`] is the peer's fault ([`SyncError::is_peer_fault`]):
/// the node ends the session, cuts the peer off and reports it as misbehaving.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SyncError {
    /// The message is larger than the protocol allows.
    #[error("sync message of {len} bytes is over the limit of {limit} bytes")]
    MessageTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The bytes are not a canonical encoding of a sync message (garbage, a version
    /// this node does not know, trailing or non-minimal bytes).
    #[error("undecodable sync message: {0}")]
    Decode(#[from] DecodeError),
    /// Too many ranges in one message.
    #[error("sync message has {count} ranges, over the limit of {limit}")]
    TooManyRanges {
        /// Ranges in the message.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// Too many items and indices in one message.
    #[error("sync message has {count} ids, over the limit of {limit}")]
    TooManyIds {
        /// Items and indices in the message.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// The session went on for more rounds than allowed (a peer that keeps
    /// splitting).
    #[error("sync session went over {limit} rounds")]
    TooManyRounds {
        /// The limit.
        limit: u32,
    },
    /// The message decodes but breaks a structural rule.
    #[error("malformed sync message: {0}")]
    Malformed(#[from] Malformed),
    /// A message arrived when none was expected: an answer to an id list this side
    /// did not send, a reply sent to the responder, or a message after the end.
    #[error("unexpected sync message: {0}")]
    Unexpected(&'static str),
    /// The local store failed.
    #[error("sync store failed: {0}")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The configuration leaves no room for progress.
    #[error("invalid sync configuration: {0}")]
    InvalidConfig(&'static str),
}

impl SyncError {
    /// Whether the peer caused the failure (and should be cut off and reported).
    pub fn is_peer_fault(&self) -> bool {
        !matches!(self, Self::Store(_) | Self::InvalidConfig(_))
    }

    pub(crate) fn store(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Store(Box::new(e))
    }
}

/// The structural rule a message breaks. `index` is the position of the offending
/// range in the message.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Malformed {
    /// A message has at least one range.
    #[error("no ranges")]
    NoRanges,
    /// Range bounds must strictly increase from the first point to the end.
    #[error("range {index}: bounds out of order")]
    BoundsOutOfOrder {
        /// Offending range.
        index: usize,
    },
    /// Only the last range, and always the last range, ends at the end.
    #[error("range {index}: the end bound may only close the last range")]
    MisplacedEnd {
        /// Offending range.
        index: usize,
    },
    /// A bound's id prefix is longer than an id or ends in a zero byte.
    #[error("range {index}: non-canonical bound")]
    BadBound {
        /// Offending range.
        index: usize,
    },
    /// Times in a message only go forward; a delta overflowed.
    #[error("range {index}: time overflow")]
    TimeOverflow {
        /// Offending range.
        index: usize,
    },
    /// Items of a list must strictly increase.
    #[error("range {index}: items out of order")]
    ItemsOutOfOrder {
        /// Offending range.
        index: usize,
    },
    /// An item lies outside the range that lists it.
    #[error("range {index}: item outside its range")]
    ItemOutsideRange {
        /// Offending range.
        index: usize,
    },
    /// Indices of a reply must strictly increase and point into the list answered.
    #[error("range {index}: bad index")]
    BadIndex {
        /// Offending range.
        index: usize,
    },
    /// A reply says we lack an item we listed ourselves.
    #[error("range {index}: reply names an item we sent")]
    ContradictsList {
        /// Offending range.
        index: usize,
    },
}
