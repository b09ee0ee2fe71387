//! The record body every public fact shares, its canonical bytes, replaceable
//! addressing and the `supersedes` rule.
//!
//! Body bytes: a [`Header`] (format version first, then the kind code, author,
//! sequence, times and place) followed by the kind's content. The version comes
//! first so a node can tell a newer format it cannot read from garbage, and the kind
//! is a plain code in the header so an unknown kind is recognised (and ignored)
//! rather than failing as malformed.

use serde::{Deserialize, Serialize};

use crate::encoding::{self, DecodeError};
use crate::geo::Geohash;
use crate::ids::{AuthorKey, RecordId};
use crate::listing::Listing;
use crate::social::{Profile, Receipt, Review, Vouch};
use crate::time::Timestamp;
use crate::topic::MeshId;

/// The newest record format this code writes and reads. Each kind has exactly one
/// format ([`RecordKind::format`]): receipts and reviews are format 2 (their
/// statement carries `on_time`), the other kinds format 1. An older node ignores a
/// format it does not read; a kind in a format not its own is rejected.
pub const FORMAT_VERSION: u16 = 2;

/// The d of a profile.
pub const PROFILE_D: &str = "profile";

/// The kind of a record, as coded on the wire.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[repr(u8)]
pub enum RecordKind {
    /// An offer or a want.
    Listing = 1,
    /// Who someone is.
    Profile = 2,
    /// I know this neighbour.
    Vouch = 3,
    /// An agreement ended.
    Receipt = 4,
    /// A party's review.
    Review = 5,
}

impl RecordKind {
    /// The wire code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The one record format this kind is written in.
    pub fn format(self) -> u16 {
        match self {
            Self::Receipt | Self::Review => 2,
            Self::Listing | Self::Profile | Self::Vouch => 1,
        }
    }

    /// The kind of a wire code, if known.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => Self::Listing,
            2 => Self::Profile,
            3 => Self::Vouch,
            4 => Self::Receipt,
            5 => Self::Review,
            _ => return None,
        })
    }
}

/// The kind-specific part of a record.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Content {
    /// An offer or a want.
    Listing(Listing),
    /// Who someone is.
    Profile(Profile),
    /// I know this neighbour.
    Vouch(Vouch),
    /// An agreement ended.
    Receipt(Receipt),
    /// A party's review.
    Review(Review),
}

impl Content {
    /// The kind of this content.
    pub fn kind(&self) -> RecordKind {
        match self {
            Content::Listing(_) => RecordKind::Listing,
            Content::Profile(_) => RecordKind::Profile,
            Content::Vouch(_) => RecordKind::Vouch,
            Content::Receipt(_) => RecordKind::Receipt,
            Content::Review(_) => RecordKind::Review,
        }
    }
}

/// What every record says, whatever its kind.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RecordBody {
    /// Who wrote and signed it.
    pub author: AuthorKey,
    /// Version of this record at its address; higher wins.
    pub seq: u64,
    /// When this version was made.
    pub created_at: Timestamp,
    /// When this version stops being valid (at most a year after `created_at`).
    pub expires_at: Timestamp,
    /// A geohash of 5–6 characters; the exact place is only ever in an agreement.
    pub area: Option<Geohash>,
    /// Up to 4 meshes. A record has an area, a mesh, or both.
    pub meshes: Vec<MeshId>,
    /// The kind-specific part.
    pub content: Content,
}

/// The encoded prefix of every body.
#[derive(Serialize, Deserialize)]
pub(crate) struct Header {
    pub(crate) version: u16,
    pub(crate) kind: u8,
    pub(crate) author: AuthorKey,
    pub(crate) seq: u64,
    pub(crate) created_at: Timestamp,
    pub(crate) expires_at: Timestamp,
    pub(crate) area: Option<Geohash>,
    pub(crate) meshes: Vec<MeshId>,
}

/// How far decoding a body got.
// Built once per record and matched at once; boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Decoded {
    /// A body of this format.
    Body(RecordBody),
    /// A kind this node does not know; the header decoded.
    UnknownKind(u8),
}

impl RecordBody {
    /// The canonical body bytes (what is signed and hashed).
    pub fn encode(&self) -> Vec<u8> {
        let header = Header {
            version: self.content.kind().format(),
            kind: self.content.kind().code(),
            author: self.author,
            seq: self.seq,
            created_at: self.created_at,
            expires_at: self.expires_at,
            area: self.area.clone(),
            meshes: self.meshes.clone(),
        };
        let mut bytes = encoding::encode(&header);
        let content = match &self.content {
            Content::Listing(c) => encoding::encode(c),
            Content::Profile(c) => encoding::encode(c),
            Content::Vouch(c) => encoding::encode(c),
            Content::Receipt(c) => encoding::encode(c),
            Content::Review(c) => encoding::encode(c),
        };
        bytes.extend_from_slice(&content);
        bytes
    }

    /// Decodes body bytes canonically without checking any signature: for bytes a
    /// node stored itself after verifying them. Anything received from a peer goes
    /// through [`crate::validate::check`] instead. A newer format version or an
    /// unknown kind is an error here, since a node never stores either.
    pub fn decode_trusted(bytes: &[u8]) -> Result<RecordBody, DecodeError> {
        encoding::check_len(bytes, crate::signed::MAX_BODY)?;
        let version = Self::peek_version(bytes)?;
        if !(1..=FORMAT_VERSION).contains(&version) {
            return Err(DecodeError::Malformed(format!("format version {version}")));
        }
        let (header, used) = Self::decode_header(bytes)?;
        if let Some(kind) = RecordKind::from_code(header.kind)
            && kind.format() != version
        {
            return Err(DecodeError::Malformed(format!(
                "{kind:?} in format version {version}"
            )));
        }
        match Self::decode_rest(header, used, bytes)? {
            Decoded::Body(body) => Ok(body),
            Decoded::UnknownKind(code) => {
                Err(DecodeError::Malformed(format!("unknown kind {code}")))
            }
        }
    }

    /// The format version a body declares, read from its first bytes.
    pub(crate) fn peek_version(bytes: &[u8]) -> Result<u16, DecodeError> {
        encoding::decode_prefix::<u16>(bytes).map(|(v, _)| v)
    }

    /// The header of a body of the current format version.
    pub(crate) fn decode_header(bytes: &[u8]) -> Result<(Header, usize), DecodeError> {
        encoding::decode_prefix::<Header>(bytes)
    }

    /// Decodes the rest of a body after its header, canonically: re-encoding the
    /// result must give back exactly `bytes`.
    pub(crate) fn decode_rest(
        header: Header,
        used: usize,
        bytes: &[u8],
    ) -> Result<Decoded, DecodeError> {
        fn content<T: serde::de::DeserializeOwned>(rest: &[u8]) -> Result<(T, usize), DecodeError> {
            encoding::decode_prefix(rest)
        }
        let rest = &bytes[used..];
        let Some(kind) = RecordKind::from_code(header.kind) else {
            return Ok(Decoded::UnknownKind(header.kind));
        };
        let (content, used_rest) = match kind {
            RecordKind::Listing => content(rest).map(|(c, n)| (Content::Listing(c), n))?,
            RecordKind::Profile => content(rest).map(|(c, n)| (Content::Profile(c), n))?,
            RecordKind::Vouch => content(rest).map(|(c, n)| (Content::Vouch(c), n))?,
            RecordKind::Receipt => content(rest).map(|(c, n)| (Content::Receipt(c), n))?,
            RecordKind::Review => content(rest).map(|(c, n)| (Content::Review(c), n))?,
        };
        if used_rest != rest.len() {
            return Err(DecodeError::TrailingBytes {
                extra: rest.len() - used_rest,
            });
        }
        let body = RecordBody {
            author: header.author,
            seq: header.seq,
            created_at: header.created_at,
            expires_at: header.expires_at,
            area: header.area,
            meshes: header.meshes,
            content,
        };
        if body.encode() != bytes {
            return Err(DecodeError::NonCanonical);
        }
        Ok(Decoded::Body(body))
    }

    /// The kind of this record.
    pub fn kind(&self) -> RecordKind {
        self.content.kind()
    }

    /// The replaceable address `(author, kind, d)`.
    pub fn address(&self) -> Address {
        let d = match &self.content {
            Content::Listing(l) => l.d.clone(),
            Content::Profile(_) => PROFILE_D.to_owned(),
            Content::Vouch(v) => v.subject.to_string(),
            Content::Receipt(r) => r.statement.agreement.to_string(),
            Content::Review(r) => r.receipt.statement.agreement.to_string(),
        };
        Address {
            author: self.author,
            kind: self.kind(),
            d,
        }
    }

    /// A withdrawn listing: the tombstone of its address.
    pub fn is_tombstone(&self) -> bool {
        matches!(&self.content, Content::Listing(l) if l.is_withdrawn())
    }

    /// The listing, if this is one.
    pub fn listing(&self) -> Option<&Listing> {
        match &self.content {
            Content::Listing(l) => Some(l),
            _ => None,
        }
    }
}

/// Where a replaceable record lives: one live version per address.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Address {
    /// The author.
    pub author: AuthorKey,
    /// The kind.
    pub kind: RecordKind,
    /// The author's name for it.
    pub d: String,
}

/// The version of a record at its address, for the [`supersedes`] rule.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Version {
    /// The sequence number.
    pub seq: u64,
    /// The record id.
    pub id: RecordId,
}

/// Does version `a` replace version `b` at the same address? A higher `seq` wins;
/// with equal `seq` the lower record id wins; equal ids are the same record (no).
/// Every node applies this one rule, so all converge whatever the arrival order.
pub fn supersedes(a: Version, b: Version) -> bool {
    a.seq > b.seq || (a.seq == b.seq && a.id < b.id)
}

/// How long a tombstone must be kept: at least as long as the version it replaced
/// could live, so a deleted item never comes back from a stale peer.
pub fn tombstone_expiry(tombstone: Timestamp, replaced: Timestamp) -> Timestamp {
    tombstone.max(replaced)
}
