//! Why a session failed: [`SyncError`] for reconciliation, [`WireError`] for the
//! frames of `/swapmesh/sync/1`, [`SessionError`] for a whole session (reconcile,
//! fetch, push), and the [`PeerFault`] a node charges for each.

use swapmesh_protocol::encoding::DecodeError;
use swapmesh_protocol::{RecordId, Topic};
use thiserror::Error;

use crate::wire::{Refusal, VERSION};

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

/// Bytes that are not a frame of `/swapmesh/sync/1` this node accepts. Always the
/// peer's fault.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireError {
    /// The frame is longer than the frame limit (refused before decoding).
    #[error("sync frame of {len} bytes is over the limit of {limit} bytes")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The frame has no bytes at all.
    #[error("empty sync frame")]
    Empty,
    /// The leading version byte names a version this node does not speak.
    #[error("sync frame of unknown version {version} (this node speaks version {VERSION})")]
    UnknownVersion {
        /// The version byte.
        version: u8,
    },
    /// The message tag names no request or response of this version.
    #[error("unknown sync message kind {kind}")]
    UnknownKind {
        /// The tag.
        kind: u32,
    },
    /// The bytes are not a canonical encoding of a message (truncated, trailing or
    /// non-minimal bytes, bad UTF-8, ...).
    #[error("undecodable sync frame: {0}")]
    Malformed(DecodeError),
    /// The topic is not a well-formed topic name, spelled canonically.
    #[error("sync frame names no valid topic")]
    BadTopic,
    /// A list is longer than the protocol allows.
    #[error("{what}: {count} is over the limit of {limit}")]
    TooMany {
        /// What was counted.
        what: &'static str,
        /// How many there were.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A fetch names the same record twice.
    #[error("fetch names record {0} twice")]
    DuplicateId(RecordId),
    /// A refusal's text is longer than the protocol allows.
    #[error("refusal text of {len} bytes is over the limit of {limit} bytes")]
    ReasonTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        limit: usize,
    },
}

/// What a peer did wrong, for the node to charge it (STYLE §9): the node maps each
/// to one of its misbehaviour kinds and cuts the peer off past its tolerance.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PeerFault {
    /// It broke the protocol: bytes that do not decode, a bound broken, a wrong
    /// answer, a reconciliation that does not end. Honest nodes of this version never
    /// do this (the node reports it like a malformed frame).
    Protocol,
    /// It kept sending requests after it was told to retry later (the node
    /// reports it as flooding).
    Flooding,
    /// It sent records that were not asked for (the node reports it like an invalid
    /// record).
    Records,
}

/// A sync session (or one request of it) failed. Any error ends the session;
/// [`SessionError::fault`] says whether, and how, the peer is to blame.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SessionError {
    /// Reconciliation failed (a bad or endless reconciliation message, or our store).
    #[error("reconciliation: {0}")]
    Reconcile(#[from] SyncError),
    /// Bytes from the peer are not a frame this node accepts.
    #[error("bad sync frame: {0}")]
    Wire(#[from] WireError),
    /// The peer answered with a response of the wrong kind.
    #[error("expected a {expected} response, got {got}")]
    WrongResponse {
        /// The kind the request calls for.
        expected: &'static str,
        /// The kind that came.
        got: &'static str,
    },
    /// The peer refused the request. Not a fault; [`Refusal::is_retry_later`] says
    /// whether to try again later.
    #[error("refused by peer: {0}")]
    Refused(Refusal),
    /// The peer answered a fetch with a record that was not asked for (or twice).
    #[error("peer sent record {id} that was not asked for")]
    NotAskedFor {
        /// The record's id.
        id: RecordId,
    },
    /// The peer answered a fetch with bytes that are not a signed record.
    #[error("peer sent a record that does not decode: {error}")]
    BadRecord {
        /// Why it does not decode.
        error: DecodeError,
    },
    /// The peer says it stored more records than were pushed to it.
    #[error("peer says it stored {stored} of {sent} pushed records")]
    StoredTooMany {
        /// The count it claims.
        stored: u32,
        /// Records pushed.
        sent: usize,
    },
    /// A push named no reconciliation session of this peer on its topic that
    /// is open or ended within [`SESSION_IDLE`](crate::SESSION_IDLE).
    #[error("a push must name a sync session of the last minute on its topic; {session} is none")]
    NoSession {
        /// The session id the push named.
        session: u64,
    },
    /// A reconciliation session changed topics half-way.
    #[error("sync session {session} changed topic")]
    TopicChanged {
        /// The session id.
        session: u64,
    },
    /// The peer already has as many sessions open as it may. Not a fault: the
    /// answer is "busy, retry later".
    #[error("at most {limit} sync sessions per peer at once; retry later")]
    Busy {
        /// Sessions allowed per peer.
        limit: usize,
    },
    /// The peer's requests cost more bytes than its budget
    /// ([`ResponderLimits`](crate::ResponderLimits)): "busy, retry later".
    /// A fault only when `flooding`: it kept asking deep in debt, which a
    /// peer that waits after "busy" never does.
    #[error("over the budget of bytes served; retry later")]
    OverBudget {
        /// Whether the peer is deep enough in debt to be flooding.
        flooding: bool,
    },
    /// This node does not serve the topic (any more). Not a fault.
    #[error("not serving topic {0}")]
    NotServing(Topic),
    /// Our record source failed.
    #[error("record source failed: {0}")]
    Source(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The session configuration leaves no room for progress.
    #[error("invalid sync session configuration: {0}")]
    InvalidConfig(&'static str),
    /// The driver called the machine out of turn (a bug of ours, not the peer's).
    #[error("sync session used out of order: {0}")]
    OutOfOrder(&'static str),
}

impl SessionError {
    /// How the peer is to blame, if it is.
    pub fn fault(&self) -> Option<PeerFault> {
        match self {
            Self::Reconcile(e) if e.is_peer_fault() => Some(PeerFault::Protocol),
            Self::Wire(_)
            | Self::WrongResponse { .. }
            | Self::StoredTooMany { .. }
            | Self::TopicChanged { .. }
            | Self::NoSession { .. } => Some(PeerFault::Protocol),
            Self::NotAskedFor { .. } | Self::BadRecord { .. } => Some(PeerFault::Records),
            Self::OverBudget { flooding: true } => Some(PeerFault::Flooding),
            Self::Reconcile(_)
            | Self::OverBudget { flooding: false }
            | Self::Refused(_)
            | Self::Busy { .. }
            | Self::NotServing(_)
            | Self::Source(_)
            | Self::InvalidConfig(_)
            | Self::OutOfOrder(_) => None,
        }
    }

    /// Whether the peer caused the failure (and should be reported).
    pub fn is_peer_fault(&self) -> bool {
        self.fault().is_some()
    }

    /// What a responder answers when a request fails with this error.
    pub fn refusal(&self) -> Refusal {
        match self {
            Self::Busy { .. } | Self::OverBudget { .. } => Refusal::Busy,
            Self::NotServing(_) => Refusal::NotServing,
            e if e.is_peer_fault() => Refusal::bad_request(&e.to_string()),
            _ => Refusal::Unavailable,
        }
    }

    pub(crate) fn source(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Source(Box::new(e))
    }
}
