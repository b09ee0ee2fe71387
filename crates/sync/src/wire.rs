//! The frames of `/swapmesh/sync/1`: what an initiator asks ([`SyncRequest`]), what
//! a responder answers ([`SyncResponse`]), their bounds and their encoding.
//!
//! # Format
//! A frame is one version byte ([`VERSION`], now 1) followed by the canonical
//! encoding (`protocol::encoding`) of that version's message, an enum whose tag is
//! the message kind: the whole frame is the canonical encoding of `(version,
//! message)`. Records travel as their signed bytes (`SignedRecord::encode`), opaque
//! here: the node's ingest path decodes, verifies and validates them. A later
//! version adds a version byte and its own message types beside these; this node
//! answers bytes it does not speak with a typed [`WireError`], never a guess.
//!
//! # Decoding
//! [`SyncRequest::decode`] and [`SyncResponse::decode`] check, in order: the frame
//! limit (before any work), the version byte, the message tag, the canonical
//! encoding, the topic's spelling, and the bounds below. Each failure is its own
//! [`WireError`] and always the peer's fault. No input panics.
//!
//! # Bounds
//! - a frame is at most the network's frame limit for the protocol (passed in);
//! - [`FETCH_IDS`] ids per fetch, distinct;
//! - [`MAX_RECORDS`] records per answer or push, and together at most the frame
//!   limit less [`FRAME_MARGIN`] ([`RecordBatch`](crate::RecordBatch) fills them);
//! - a reconciliation message within a frame (the reconciler's own bounds apply);
//! - [`MAX_REASON_BYTES`] of refusal text.

use std::collections::BTreeSet;
use std::fmt;

use serde::de::{DeserializeOwned, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use swapmesh_protocol::RecordId;
use swapmesh_protocol::Topic;
use swapmesh_protocol::encoding::{self, DecodeError, MAX_DECODE};
use swapmesh_protocol::private::Proof;
use swapmesh_protocol::signed::MAX_SIGNED_RECORD;

use crate::error::WireError;

/// The version byte that starts every frame this node sends and accepts.
pub const VERSION: u8 = 1;
/// Most ids asked for in one fetch.
pub const FETCH_IDS: usize = 256;
/// Most records in one [`SyncResponse::Records`] or [`SyncRequest::Push`]: every
/// pushed record costs the receiver a signature check, so a frame of tiny records
/// must not cost thousands.
pub const MAX_RECORDS: usize = FETCH_IDS;
/// Room kept in a frame for everything around its records or reconciliation
/// message: version, tags, topic, session id, length prefixes (under 100 bytes
/// today), with room to spare.
pub const FRAME_MARGIN: usize = 1024;
/// Most bytes of text in a [`Refusal::BadRequest`].
pub const MAX_REASON_BYTES: usize = 256;
/// The smallest frame limit sync works with: one record of the largest size, with
/// its length prefix, fits beside the margin.
pub const MIN_FRAME_LIMIT: usize = FRAME_MARGIN + MAX_SIGNED_RECORD + 9;

/// A request of `/swapmesh/sync/1`, sent by the initiator of a session.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum SyncRequest {
    /// One reconciliation message of session `session` on `topic`.
    Reconcile {
        /// The topic reconciled.
        topic: Topic,
        /// The initiator's random session id: with the peer, it keys the
        /// responder's session.
        session: u64,
        /// The reconciliation message ([`Message`](crate::Message) bytes).
        message: Vec<u8>,
        /// On a private mesh's topic, the initiator's proof that it is a
        /// member ([`swapmesh_protocol::private`]), in a hello (with an empty
        /// `message`, before any session) or a first message; sent as its own
        /// message kind, so open topics' frames are as they were.
        proof: Option<Proof>,
    },
    /// Records of `topic` by id (at most [`FETCH_IDS`], distinct).
    Fetch {
        /// The topic the records travel on.
        topic: Topic,
        /// Ids of the records wanted.
        ids: Vec<RecordId>,
    },
    /// Records of `topic` the initiator found the responder lacks, in the
    /// reconciliation session `session` (open, or ended within
    /// [`SESSION_IDLE`](crate::SESSION_IDLE)): a push names the session that
    /// found the difference, or it is refused.
    Push {
        /// The topic the records travel on.
        topic: Topic,
        /// The session that found what the responder lacks.
        session: u64,
        /// The records' signed bytes (at most [`MAX_RECORDS`], within the frame).
        records: Vec<Vec<u8>>,
    },
}

/// A response of `/swapmesh/sync/1`: the answer to one [`SyncRequest`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum SyncResponse {
    /// The responder's reconciliation message.
    Reconcile {
        /// The reconciliation message ([`Message`](crate::Message) bytes).
        message: Vec<u8>,
        /// On a private mesh's topic, the answer to a proven hello (with an
        /// empty `message`) or first message: the responder's proof of
        /// membership.
        proof: Option<Proof>,
    },
    /// Records found, in the order asked: possibly fewer than asked, to fit the
    /// frame; none when the responder holds none of them any more.
    Records {
        /// The records' signed bytes.
        records: Vec<Vec<u8>>,
    },
    /// How many pushed records were stored.
    Pushed {
        /// New or newer versions stored.
        stored: u32,
    },
    /// Not served, and why.
    Refused {
        /// Why.
        reason: Refusal,
    },
}

/// Why a responder did not serve a request.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Refusal {
    /// The asker has as many sessions open as it may: retry later. Not a fault.
    Busy,
    /// The responder does not serve this topic.
    NotServing,
    /// The request broke the protocol; the text (at most [`MAX_REASON_BYTES`]) says
    /// how.
    BadRequest(String),
    /// The responder cannot serve now (its store failed): retry later.
    Unavailable,
}

impl Refusal {
    /// A [`Refusal::BadRequest`] with `why`, cut to [`MAX_REASON_BYTES`].
    pub fn bad_request(why: &str) -> Self {
        let mut end = why.len().min(MAX_REASON_BYTES);
        while !why.is_char_boundary(end) {
            end -= 1;
        }
        Self::BadRequest(why[..end].to_owned())
    }

    /// Whether the same request may succeed later.
    pub fn is_retry_later(&self) -> bool {
        matches!(self, Self::Busy | Self::Unavailable)
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Busy => f.write_str("busy, retry later"),
            Self::NotServing => f.write_str("topic not served"),
            Self::BadRequest(why) => write!(f, "bad request: {why}"),
            Self::Unavailable => f.write_str("unavailable, retry later"),
        }
    }
}

impl SyncRequest {
    /// The topic a request frame names, read without decoding the rest: every
    /// request starts with the version byte, a one-byte kind and its topic (a
    /// length byte and at most 250 bytes). `None` for any frame that does not
    /// start so ([`SyncRequest::decode`] says why).
    pub fn peek_topic(bytes: &[u8]) -> Option<Topic> {
        let (&version, rest) = bytes.split_first()?;
        let (&kind, rest) = rest.split_first()?;
        let (&len, rest) = rest.split_first()?;
        if version != VERSION || u32::from(kind) >= REQUEST_KINDS || len > 250 {
            return None;
        }
        let name = std::str::from_utf8(rest.get(..usize::from(len))?).ok()?;
        parse_topic(name).ok()
    }

    /// The topic the request is about.
    pub fn topic(&self) -> &Topic {
        match self {
            Self::Reconcile { topic, .. }
            | Self::Fetch { topic, .. }
            | Self::Push { topic, .. } => topic,
        }
    }

    /// The kind, for logs and errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Reconcile { .. } => "reconcile",
            Self::Fetch { .. } => "fetch",
            Self::Push { .. } => "push",
        }
    }

    /// The frame: the version byte and the canonical message.
    pub fn encode(&self) -> Vec<u8> {
        let wire: RequestV1<&str, RawRef<'_>, &[RecordId], RawList<'_>> = match self {
            Self::Reconcile {
                topic,
                session,
                message,
                proof: None,
            } => RequestV1::Reconcile {
                topic: topic.as_str(),
                session: *session,
                message: RawRef(message),
            },
            Self::Reconcile {
                topic,
                session,
                message,
                proof: Some(proof),
            } => RequestV1::ProvenReconcile {
                topic: topic.as_str(),
                session: *session,
                message: RawRef(message),
                proof: *proof,
            },
            Self::Fetch { topic, ids } => RequestV1::Fetch {
                topic: topic.as_str(),
                ids,
            },
            Self::Push {
                topic,
                session,
                records,
            } => RequestV1::Push {
                topic: topic.as_str(),
                session: *session,
                records: RawList(records),
            },
        };
        encoding::encode(&(VERSION, wire))
    }

    /// Decodes a frame of at most `frame_limit` bytes and checks its bounds.
    pub fn decode(bytes: &[u8], frame_limit: usize) -> Result<Self, WireError> {
        let wire: RequestV1<String, Raw, Vec<RecordId>, Vec<Raw>> =
            open(bytes, frame_limit, REQUEST_KINDS)?;
        let request = match wire {
            RequestV1::Reconcile {
                topic,
                session,
                message,
            } => Self::Reconcile {
                topic: parse_topic(&topic)?,
                session,
                message: message.0,
                proof: None,
            },
            RequestV1::ProvenReconcile {
                topic,
                session,
                message,
                proof,
            } => Self::Reconcile {
                topic: parse_topic(&topic)?,
                session,
                message: message.0,
                proof: Some(proof),
            },
            RequestV1::Fetch { topic, ids } => Self::Fetch {
                topic: parse_topic(&topic)?,
                ids,
            },
            RequestV1::Push {
                topic,
                session,
                records,
            } => Self::Push {
                topic: parse_topic(&topic)?,
                session,
                records: records.into_iter().map(|r| r.0).collect(),
            },
        };
        request.validate()?;
        Ok(request)
    }

    /// Checks the bounds a decoded request meets (for requests built in code).
    pub fn validate(&self) -> Result<(), WireError> {
        match self {
            Self::Reconcile { .. } => Ok(()),
            Self::Fetch { ids, .. } => {
                at_most("ids in a fetch", ids.len(), FETCH_IDS)?;
                let mut seen = BTreeSet::new();
                match ids.iter().find(|id| !seen.insert(**id)) {
                    Some(id) => Err(WireError::DuplicateId(*id)),
                    None => Ok(()),
                }
            }
            Self::Push { records, .. } => at_most("records in a push", records.len(), MAX_RECORDS),
        }
    }
}

impl SyncResponse {
    /// The answer to a push of which `stored` records were stored.
    pub fn pushed(stored: usize) -> Self {
        Self::Pushed {
            stored: u32::try_from(stored).unwrap_or(u32::MAX),
        }
    }

    /// The kind, for logs and errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Reconcile { .. } => "reconcile",
            Self::Records { .. } => "records",
            Self::Pushed { .. } => "pushed",
            Self::Refused { .. } => "refused",
        }
    }

    /// The frame: the version byte and the canonical message.
    pub fn encode(&self) -> Vec<u8> {
        let wire: ResponseV1<RawRef<'_>, RawList<'_>, &Refusal> = match self {
            Self::Reconcile {
                message,
                proof: None,
            } => ResponseV1::Reconcile {
                message: RawRef(message),
            },
            Self::Reconcile {
                message,
                proof: Some(proof),
            } => ResponseV1::ProvenReconcile {
                message: RawRef(message),
                proof: *proof,
            },
            Self::Records { records } => ResponseV1::Records {
                records: RawList(records),
            },
            Self::Pushed { stored } => ResponseV1::Pushed { stored: *stored },
            Self::Refused { reason } => ResponseV1::Refused { reason },
        };
        encoding::encode(&(VERSION, wire))
    }

    /// Decodes a frame of at most `frame_limit` bytes and checks its bounds.
    pub fn decode(bytes: &[u8], frame_limit: usize) -> Result<Self, WireError> {
        let wire: ResponseV1<Raw, Vec<Raw>, Refusal> = open(bytes, frame_limit, RESPONSE_KINDS)?;
        let response = match wire {
            ResponseV1::Reconcile { message } => Self::Reconcile {
                message: message.0,
                proof: None,
            },
            ResponseV1::ProvenReconcile { message, proof } => Self::Reconcile {
                message: message.0,
                proof: Some(proof),
            },
            ResponseV1::Records { records } => Self::Records {
                records: records.into_iter().map(|r| r.0).collect(),
            },
            ResponseV1::Pushed { stored } => Self::Pushed { stored },
            ResponseV1::Refused { reason } => Self::Refused { reason },
        };
        response.validate()?;
        Ok(response)
    }

    /// Checks the bounds a decoded response meets (for responses built in code).
    pub fn validate(&self) -> Result<(), WireError> {
        match self {
            Self::Records { records } => {
                at_most("records in an answer", records.len(), MAX_RECORDS)
            }
            Self::Refused {
                reason: Refusal::BadRequest(why),
            } if why.len() > MAX_REASON_BYTES => Err(WireError::ReasonTooLong {
                len: why.len(),
                limit: MAX_REASON_BYTES,
            }),
            _ => Ok(()),
        }
    }
}

/// Version 1 requests. Generic over its field types so that the borrowed form
/// (encoding) and the owned form (decoding) are one declaration, hence one layout.
#[derive(Serialize, Deserialize)]
enum RequestV1<T, M, I, R> {
    Reconcile {
        topic: T,
        session: u64,
        message: M,
    },
    Fetch {
        topic: T,
        ids: I,
    },
    Push {
        topic: T,
        session: u64,
        records: R,
    },
    /// A reconciliation message with a private mesh's membership proof (added
    /// after the first three: older nodes refuse it as an unknown kind).
    ProvenReconcile {
        topic: T,
        session: u64,
        message: M,
        proof: Proof,
    },
}
const REQUEST_KINDS: u32 = 4;

/// Version 1 responses; generic for the same reason as [`RequestV1`].
#[derive(Serialize, Deserialize)]
enum ResponseV1<M, R, F> {
    Reconcile {
        message: M,
    },
    Records {
        records: R,
    },
    Pushed {
        stored: u32,
    },
    Refused {
        reason: F,
    },
    /// A reconciliation answer with the responder's membership proof.
    ProvenReconcile {
        message: M,
        proof: Proof,
    },
}
const RESPONSE_KINDS: u32 = 5;

/// Checks the limit, the version byte and the message tag, then decodes the rest
/// canonically.
fn open<T: Serialize + DeserializeOwned>(
    bytes: &[u8],
    frame_limit: usize,
    kinds: u32,
) -> Result<T, WireError> {
    let limit = frame_limit.min(MAX_DECODE);
    if bytes.len() > limit {
        return Err(WireError::TooLarge {
            len: bytes.len(),
            limit,
        });
    }
    let (&version, message) = bytes.split_first().ok_or(WireError::Empty)?;
    if version != VERSION {
        return Err(WireError::UnknownVersion { version });
    }
    let (kind, _) = encoding::decode_prefix::<u32>(message).map_err(WireError::Malformed)?;
    if kind >= kinds {
        return Err(WireError::UnknownKind { kind });
    }
    encoding::decode_canonical(message, limit).map_err(|e| match e {
        DecodeError::TooLarge { len, limit } => WireError::TooLarge { len, limit },
        e => WireError::Malformed(e),
    })
}

/// A topic spelled exactly as [`Topic`] spells it.
fn parse_topic(s: &str) -> Result<Topic, WireError> {
    Topic::parse(s)
        .filter(|t| t.as_str() == s)
        .ok_or(WireError::BadTopic)
}

/// Bytes encoded as one length and the bytes (serde's `bytes`), read in one go
/// rather than byte by byte.
struct Raw(Vec<u8>);
/// [`Raw`] borrowed, for encoding; the same bytes on the wire.
struct RawRef<'a>(&'a [u8]);
/// A list of [`Raw`] borrowed, for encoding.
struct RawList<'a>(&'a [Vec<u8>]);

impl Serialize for Raw {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl Serialize for RawRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

impl Serialize for RawList<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|r| RawRef(r)))
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RawVisitor;
        impl<'de> Visitor<'de> for RawVisitor {
            type Value = Raw;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Raw, E> {
                Ok(Raw(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Raw, E> {
                Ok(Raw(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
                // Only for formats without a bytes type; never preallocates.
                let mut out = Vec::new();
                while let Some(b) = seq.next_element()? {
                    out.push(b);
                }
                Ok(Raw(out))
            }
        }
        deserializer.deserialize_byte_buf(RawVisitor)
    }
}

fn at_most(what: &'static str, count: usize, limit: usize) -> Result<(), WireError> {
    if count > limit {
        return Err(WireError::TooMany { what, count, limit });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic() -> Topic {
        Topic::parse("swapmesh/1/mesh/local").unwrap()
    }

    fn record(b: u8) -> Vec<u8> {
        vec![b; 40 + usize::from(b)]
    }

    #[test]
    fn every_message_round_trips_behind_the_version_byte() {
        let requests = [
            SyncRequest::Reconcile {
                topic: topic(),
                session: u64::MAX,
                message: vec![0, 0, 0],
                proof: None,
            },
            SyncRequest::Fetch {
                topic: topic(),
                ids: vec![RecordId([1; 32]), RecordId([2; 32])],
            },
            SyncRequest::Push {
                topic: topic(),
                session: 7,
                records: vec![record(1), record(2)],
            },
            SyncRequest::Reconcile {
                topic: topic(),
                session: 3,
                message: vec![0, 0, 0],
                proof: Some([9; 32]),
            },
        ];
        for (kind, request) in requests.into_iter().enumerate() {
            let bytes = request.encode();
            assert_eq!(bytes[..2], [VERSION, kind as u8]);
            assert_eq!(SyncRequest::decode(&bytes, 1 << 20).unwrap(), request);
        }
        let responses = [
            SyncResponse::Reconcile {
                message: vec![0, 0, 0],
                proof: None,
            },
            SyncResponse::Records {
                records: vec![record(3)],
            },
            SyncResponse::pushed(7),
            SyncResponse::Refused {
                reason: Refusal::bad_request("no"),
            },
            SyncResponse::Reconcile {
                message: vec![0, 0, 0],
                proof: Some([8; 32]),
            },
        ];
        for (kind, response) in responses.into_iter().enumerate() {
            let bytes = response.encode();
            assert_eq!(bytes[..2], [VERSION, kind as u8]);
            assert_eq!(SyncResponse::decode(&bytes, 1 << 20).unwrap(), response);
        }
    }

    #[test]
    fn a_proof_of_the_wrong_length_is_refused() {
        let request = SyncRequest::Reconcile {
            topic: topic(),
            session: 1,
            message: vec![1],
            proof: Some([7; 32]),
        };
        let bytes = request.encode();
        // One byte of the proof cut, or one added: not a frame.
        let mut short = bytes.clone();
        short.pop();
        assert!(SyncRequest::decode(&short, 1 << 20).is_err());
        let mut long = bytes.clone();
        long.push(7);
        assert!(SyncRequest::decode(&long, 1 << 20).is_err());
        let answer = SyncResponse::Reconcile {
            message: vec![1],
            proof: Some([7; 32]),
        }
        .encode();
        assert!(SyncResponse::decode(&answer[..answer.len() - 1], 1 << 20).is_err());
    }

    #[test]
    fn every_request_kind_names_its_topic_up_front() {
        let private = Topic::parse("swapmesh/1/pmesh/p0123456789abcdef0123456789abcde").unwrap();
        for topic in [topic(), private] {
            let requests = [
                SyncRequest::Reconcile {
                    topic: topic.clone(),
                    session: 1,
                    message: vec![1],
                    proof: None,
                },
                SyncRequest::Fetch {
                    topic: topic.clone(),
                    ids: vec![RecordId([1; 32])],
                },
                SyncRequest::Push {
                    topic: topic.clone(),
                    session: 2,
                    records: vec![record(1)],
                },
                SyncRequest::Reconcile {
                    topic: topic.clone(),
                    session: 3,
                    message: vec![1],
                    proof: Some([1; 32]),
                },
            ];
            for request in requests {
                assert_eq!(
                    SyncRequest::peek_topic(&request.encode()),
                    Some(topic.clone())
                );
            }
        }
        assert_eq!(SyncRequest::peek_topic(&[]), None);
        assert_eq!(
            SyncRequest::peek_topic(&[VERSION, 9, 3, b'a', b'b', b'c']),
            None
        );
    }

    #[test]
    fn a_refusal_text_is_cut_at_a_character_boundary() {
        let Refusal::BadRequest(text) = Refusal::bad_request(&"é".repeat(200)) else {
            unreachable!()
        };
        assert!(text.len() <= MAX_REASON_BYTES && text.len() >= MAX_REASON_BYTES - 1);
    }

    #[test]
    fn a_topic_must_be_spelled_canonically() {
        let mut bytes = SyncRequest::Fetch {
            topic: topic(),
            ids: vec![],
        }
        .encode();
        // "local" → "LOCAL": same length, not a topic.
        let at = bytes.len() - 1 - 5;
        bytes[at..at + 5].copy_from_slice(b"LOCAL");
        assert_eq!(
            SyncRequest::decode(&bytes, 1 << 20),
            Err(WireError::BadTopic)
        );
    }

    #[test]
    fn bytes_encode_as_a_plain_byte_sequence() {
        // A length and the bytes, as bincode writes a Vec<u8>: nothing of our own.
        let response = SyncResponse::Records {
            records: vec![vec![7; 3]],
        };
        assert_eq!(response.encode(), [VERSION, 1, 1, 3, 7, 7, 7]);
        assert_eq!(
            encoding::encode(&(VERSION, 1u8, vec![vec![7u8; 3]])),
            response.encode()
        );
    }
}
