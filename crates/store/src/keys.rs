//! Key and value layouts of every tree. Keys are plain big-endian byte strings so
//! that sled's byte order is the order we scan in; no bincode in keys (its varints
//! do not sort).
//!
//! | tree | key | value |
//! |---|---|---|
//! | `records` | id (32) | `SignedRecord::encode()` |
//! | `addresses` | author (32) ‖ kind (1) ‖ d | [`AddressEntry`]: id (32) ‖ seq (8) ‖ fence (8) |
//! | `by_topic` | topic ‖ 0x00 ‖ created_at (8) ‖ id (32) | [`Summary`] (4) |
//! | `by_area` | cell (5) ‖ created_at ‖ id | [`Summary`] |
//! | `by_author` | author (32) ‖ created_at ‖ id | [`Summary`] |
//! | `by_kind` | deal kind (1) ‖ purpose (1) ‖ created_at ‖ id | empty |
//! | `words` | word ‖ 0x00 ‖ created_at ‖ id | empty |
//! | `expiry` | sweep time (8) ‖ id (32) | empty, or an address key for a fence |
//!
//! `by_topic` holds every stored record, tombstones included (the sync set);
//! `by_area`, `by_author`, `by_kind` and `words` hold live listings only (the search
//! set). Integers are big-endian; `created_at ‖ id` is the sync order.

use swapmesh_protocol::listing::{DealKind, Purpose};
use swapmesh_protocol::{Address, RecordBody, RecordId, RecordKind, Timestamp, Topic, topics};

use crate::words::listing_words;

/// Length of `created_at ‖ id`.
pub(crate) const STAMP_LEN: usize = 8 + 32;

/// `created_at ‖ id`: the position of a record in every time-ordered index.
pub(crate) fn stamp(created_at: Timestamp, id: &RecordId) -> [u8; STAMP_LEN] {
    let mut out = [0u8; STAMP_LEN];
    out[..8].copy_from_slice(&created_at.0.to_be_bytes());
    out[8..].copy_from_slice(&id.0);
    out
}

/// Reads `created_at ‖ id` from the end of an index key.
pub(crate) fn parse_stamp(key: &[u8]) -> Option<(Timestamp, RecordId)> {
    let tail = key
        .len()
        .checked_sub(STAMP_LEN)
        .map(|start| &key[start..])?;
    let at = u64::from_be_bytes(tail[..8].try_into().ok()?);
    let id = RecordId(tail[8..].try_into().ok()?);
    Some((Timestamp(at), id))
}

/// Prefix of a topic's entries in `by_topic`.
pub(crate) fn topic_prefix(topic: &Topic) -> Vec<u8> {
    let mut k = topic.as_str().as_bytes().to_vec();
    k.push(0);
    k
}

/// Prefix of a word's entries in `words`.
pub(crate) fn word_prefix(word: &str) -> Vec<u8> {
    let mut k = word.as_bytes().to_vec();
    k.push(0);
    k
}

/// Prefix of a (deal kind, purpose) in `by_kind`.
pub(crate) fn kind_prefix(kind: DealKind, purpose: Purpose) -> [u8; 2] {
    [deal_kind_code(kind), purpose_code(purpose)]
}

fn deal_kind_code(kind: DealKind) -> u8 {
    match kind {
        DealKind::Swap => 0,
        DealKind::Rent => 1,
        DealKind::Lease => 2,
        DealKind::Share => 3,
        DealKind::Give => 4,
    }
}

/// The bit of a deal kind in a [`Summary`]'s kinds mask.
pub(crate) fn deal_kind_bit(kind: DealKind) -> u8 {
    1 << deal_kind_code(kind)
}

fn purpose_code(purpose: Purpose) -> u8 {
    match purpose {
        Purpose::Offer => 0,
        Purpose::Want => 1,
    }
}

/// Every deal kind, for queries that do not name any.
pub(crate) const ALL_DEAL_KINDS: [DealKind; 5] = [
    DealKind::Swap,
    DealKind::Rent,
    DealKind::Lease,
    DealKind::Share,
    DealKind::Give,
];

/// Both purposes.
pub(crate) const ALL_PURPOSES: [Purpose; 2] = [Purpose::Offer, Purpose::Want];

/// What a query filter needs to know of a record without reading it: the value of
/// `by_topic`, `by_area` and `by_author` entries.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Summary {
    /// The record kind code.
    pub(crate) kind: u8,
    /// Bit 0: a tombstone.
    pub(crate) flags: u8,
    /// The listing purpose code, or 0xff for other kinds.
    pub(crate) purpose: u8,
    /// The listing's deal kinds as bits.
    pub(crate) deal_kinds: u8,
}

const TOMBSTONE: u8 = 1;

impl Summary {
    pub(crate) fn of(body: &RecordBody) -> Self {
        match body.listing() {
            Some(l) => Summary {
                kind: RecordKind::Listing.code(),
                flags: if l.is_withdrawn() { TOMBSTONE } else { 0 },
                purpose: purpose_code(l.purpose),
                deal_kinds: l.kinds.iter().fold(0, |m, k| m | deal_kind_bit(*k)),
            },
            None => Summary {
                kind: body.kind().code(),
                flags: 0,
                purpose: 0xff,
                deal_kinds: 0,
            },
        }
    }

    pub(crate) fn encode(self) -> [u8; 4] {
        [self.kind, self.flags, self.purpose, self.deal_kinds]
    }

    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        let b: [u8; 4] = bytes.try_into().ok()?;
        Some(Summary {
            kind: b[0],
            flags: b[1],
            purpose: b[2],
            deal_kinds: b[3],
        })
    }

    /// A listing that is not withdrawn: what search returns.
    pub(crate) fn is_live_listing(self) -> bool {
        self.kind == RecordKind::Listing.code() && self.flags & TOMBSTONE == 0
    }

    /// Does it have the purpose (None: any)?
    pub(crate) fn has_purpose(self, purpose: Option<Purpose>) -> bool {
        purpose.is_none_or(|p| self.purpose == purpose_code(p))
    }
}

/// The index trees that hold per-record entries.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) enum Index {
    Topic,
    Area,
    Author,
    Kind,
    Words,
}

impl Index {
    pub(crate) const ALL: [Index; 5] = [
        Index::Topic,
        Index::Area,
        Index::Author,
        Index::Kind,
        Index::Words,
    ];
}

/// One index entry of a record.
pub(crate) struct Entry {
    pub(crate) index: Index,
    pub(crate) key: Vec<u8>,
    pub(crate) value: Vec<u8>,
}

/// Every index entry of a stored record (not `records`, `addresses` or `expiry`).
pub(crate) fn index_entries(body: &RecordBody, id: &RecordId) -> Vec<Entry> {
    let st = stamp(body.created_at, id);
    let summary = Summary::of(body).encode().to_vec();
    let with_stamp = |mut k: Vec<u8>| {
        k.extend_from_slice(&st);
        k
    };
    let mut out: Vec<Entry> = topics(body)
        .iter()
        .map(|t| Entry {
            index: Index::Topic,
            key: with_stamp(topic_prefix(t)),
            value: summary.clone(),
        })
        .collect();
    let Some(listing) = body.listing().filter(|l| !l.is_withdrawn()) else {
        return out;
    };
    if let Some(area) = &body.area {
        out.push(Entry {
            index: Index::Area,
            key: with_stamp(area.cell().as_str().as_bytes().to_vec()),
            value: summary.clone(),
        });
    }
    out.push(Entry {
        index: Index::Author,
        key: with_stamp(body.author.0.to_vec()),
        value: summary,
    });
    for kind in &listing.kinds {
        out.push(Entry {
            index: Index::Kind,
            key: with_stamp(kind_prefix(*kind, listing.purpose).to_vec()),
            value: Vec::new(),
        });
    }
    for word in listing_words(listing) {
        out.push(Entry {
            index: Index::Words,
            key: with_stamp(word_prefix(&word)),
            value: Vec::new(),
        });
    }
    out
}

/// The key of an address in `addresses`.
pub(crate) fn address_key(address: &Address) -> Vec<u8> {
    let mut k = Vec::with_capacity(33 + address.d.len());
    k.extend_from_slice(&address.author.0);
    k.push(address.kind.code());
    k.extend_from_slice(address.d.as_bytes());
    k
}

/// The state of an address: its current version and its fence.
///
/// The fence is the latest expiry of any version of this address the store has
/// seen. The address entry (and with it the [`supersedes`] check) lives until the
/// fence, even after the current record itself expired, so no version that was
/// ever replaced here can come back; a tombstone is kept until the fence.
///
/// [`supersedes`]: swapmesh_protocol::supersedes
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct AddressEntry {
    pub(crate) id: RecordId,
    pub(crate) seq: u64,
    pub(crate) fence: Timestamp,
}

impl AddressEntry {
    pub(crate) fn encode(&self) -> [u8; 48] {
        let mut out = [0u8; 48];
        out[..32].copy_from_slice(&self.id.0);
        out[32..40].copy_from_slice(&self.seq.to_be_bytes());
        out[40..].copy_from_slice(&self.fence.0.to_be_bytes());
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != 48 {
            return None;
        }
        Some(AddressEntry {
            id: RecordId(bytes[..32].try_into().ok()?),
            seq: u64::from_be_bytes(bytes[32..40].try_into().ok()?),
            fence: Timestamp(u64::from_be_bytes(bytes[40..].try_into().ok()?)),
        })
    }
}

/// The key of an `expiry` entry.
pub(crate) fn expiry_key(at: Timestamp, id: &RecordId) -> [u8; 40] {
    stamp(at, id)
}

/// When the sweep drops a stored record: a tombstone at its address's fence (so it
/// outlives every version it replaced), any other record at its own expiry.
pub(crate) fn sweep_time(body: &RecordBody, fence: Timestamp) -> Timestamp {
    if body.is_tombstone() {
        fence.max(body.expires_at)
    } else {
        body.expires_at
    }
}
