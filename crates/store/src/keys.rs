//! Key and value layouts of every tree (schema 4). Keys are plain big-endian byte
//! strings so that sled's byte order is the order we scan in; no bincode in keys
//! (its varints do not sort).
//!
//! | tree | key | value |
//! |---|---|---|
//! | `records` | id (32) | `SignedRecord::encode()` |
//! | `addresses` | author (32) ‖ kind (1) ‖ d | [`AddressEntry`]: id (32) ‖ seq (8) ‖ fence (8) |
//! | `by_topic` | topic ‖ 0x00 ‖ created_at (8) ‖ id (32) | [`Summary`] (28) |
//! | `by_author` | author (32) ‖ created_at ‖ id | [`Summary`] |
//! | `by_party` | party (32) ‖ created_at (8) ‖ id (32) | empty |
//! | `expiry` | sweep time (8) ‖ id (32) | empty, or an address key for a fence |
//! | `sync_sums` | topic ‖ 0x00 ‖ bucket (8) | [`BucketSum`]: count (8) ‖ id sum (32) |
//! | `agreements` | agreement id (32) | [`StoredAgreement`], canonical encoding |
//! | `agreement_events` | agreement id (32) ‖ index (4) | `SignedEvent::encode()` |
//! | `calendars` | listing author (32) ‖ d | [`Calendar`], canonical encoding |
//! | `outbox` | peer (32) ‖ agreement id (32) ‖ seq (8) | the payload, opaque |
//! | `blobs` | blob hash (32) | [`BlobEntry`], canonical encoding |
//! | `quotas` | author (32) ‖ topic | members in quota order: (created_at ‖ id) × ≤ 200 |
//!
//! Schema 5 added `quotas` ([`crate::quota`]): a record is indexed in `by_topic`
//! only under the topics whose quota keeps it, and stored only if one does.
//!
//! `by_topic` holds every stored record, tombstones included (the sync set, and the
//! search set of places); `by_author` holds live listings only. A record writes
//! `records`, `addresses`, `expiry`, one `by_topic` key per topic (usually one) and,
//! if it is a live listing, one `by_author` key: 5 keys (a receipt or review: two
//! `by_party` keys instead, 6), where schema 1 wrote 12.6 (it also had `by_area`,
//! a copy of the area topics of `by_topic`; `by_kind`, one key per deal kind; and
//! `words`, one key per word). Kinds, purpose, the first
//! bytes of the author and a bloom filter of the words now live in the 28-byte
//! [`Summary`] value that every scan reads anyway. `sync_sums` holds, per topic
//! and bucket of `created_at >> bits`, the count and id sum of the bucket's
//! `by_topic` items (see [`crate::sync`]); it is rewritten in the same transaction
//! as `by_topic`. Integers are big-endian; `created_at ‖ id` is the sync order.
//!
//! Schema 4 added `by_party`: every stored receipt and review under each party
//! of its agreement — a receipt under its provider and its receiver, a review
//! under the two parties of the receipt it embeds, its author and its subject
//! (validation makes the author one of them). Receipts and reviews have no
//! tombstones, so every stored one is live; its two keys are written and removed
//! with the record like the other index entries (insert, replacement by a newer
//! version, the expiry sweep). The value is empty: a party's page reads each
//! record anyway, and the kind filter reads it there.
//!
//! Schema 3 added the agreement trees (DESIGN §5). `agreements` holds one value
//! per agreement: its state as derived from its chain (which lists the chain's
//! event ids and so its head) and the one event of ours waiting for the other
//! party's sequencer, so a transaction reads everything it checks in one value.
//! `agreement_events` holds the chain, the index being the event's position in
//! `state.chain`, so a prefix scan reads it in order. `calendars` holds one
//! [`Calendar`] per item (a listing's author and name), so checking for an
//! overlap and taking a hold are one read and one write in the commit's
//! transaction. `outbox` holds what we owe a peer, keyed by the agreement and a
//! sequence number from `sled::Db::generate_id` (monotonic, also across
//! restarts): per agreement in the order queued, each agreement's queue apart
//! from the others' so none waits on another.
//!
//! `blobs` (within schema 4, see [`SCHEMA_VERSION`]) is the index of the blob
//! files in `DATA_DIR/blobs/` (photos, named by their blake3 hash): per blob its
//! size, its last use (a number from `sled::Db::generate_id`, so uses are
//! ordered without ties, also across restarts), whether it is pinned (never
//! evicted) and since when no stored record names it (garbage collection
//! removes it a grace period later). Thumbnails are files `<hash>.thumb`
//! beside their blob, with no entry of their own. The files are the data; the tree is kept in step with them, an
//! entry written after its file and removed before it, and repaired against
//! the directory at open (see [`crate::blobs`]). Nothing else refers to it.
//!
//! [`StoredAgreement`]: crate::StoredAgreement
//! [`BlobEntry`]: crate::BlobEntry
//! [`SCHEMA_VERSION`]: crate::SCHEMA_VERSION
//! [`Calendar`]: swapmesh_protocol::agreement::Calendar

use swapmesh_protocol::listing::{DealKind, Purpose};
use swapmesh_protocol::{
    Address, AgreementId, AuthorKey, Content, ListingId, RecordBody, RecordId, RecordKind,
    Timestamp, Topic, topics,
};

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

/// A record's key in `by_topic` under `topic`: `topic ‖ 0x00 ‖ created_at ‖ id`.
pub(crate) fn topic_key(topic: &Topic, created_at: Timestamp, id: &RecordId) -> Vec<u8> {
    let mut k = topic_prefix(topic);
    k.extend_from_slice(&stamp(created_at, id));
    k
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

/// Bytes of the author kept in a [`Summary`]: enough to skip other authors' entries
/// without reading the record (the record decides).
const AUTHOR_PREFIX: usize = 8;

/// Bits of the word bloom filter in a [`Summary`].
const BLOOM_BYTES: usize = 16;

/// Bit positions set per word. With 128 bits and the 3–10 words of a typical title,
/// tags and category, a word that is absent passes the filter about 0.5–5 % of the
/// time; such candidates are then read and rejected by the exact check.
const BLOOM_HASHES: u64 = 3;

/// A 128-bit bloom filter of a listing's words (title, tags, category).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub(crate) struct WordBloom(pub(crate) [u8; BLOOM_BYTES]);

impl WordBloom {
    /// The positions of a word: FNV-1a 64, split into two halves for double hashing.
    /// Written out (not `std`'s hasher, whose algorithm may change between Rust
    /// releases) because the filter is stored on disk.
    fn positions(word: &str) -> impl Iterator<Item = usize> {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in word.as_bytes() {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        let (h1, h2) = (h & 0xffff_ffff, (h >> 32) | 1);
        (0..BLOOM_HASHES).map(move |i| (h1.wrapping_add(i.wrapping_mul(h2)) % 128) as usize)
    }

    pub(crate) fn of<'a>(words: impl IntoIterator<Item = &'a String>) -> Self {
        let mut bloom = Self::default();
        for w in words {
            for p in Self::positions(w) {
                bloom.0[p / 8] |= 1 << (p % 8);
            }
        }
        bloom
    }

    /// May the set contain `word`? (`false`: certainly not.)
    pub(crate) fn may_contain(&self, word: &str) -> bool {
        Self::positions(word).all(|p| self.0[p / 8] & (1 << (p % 8)) != 0)
    }
}

/// What a query filter needs to know of a record without reading it: the value of
/// `by_topic` and `by_author` entries.
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
    /// The first bytes of the author.
    pub(crate) author: [u8; AUTHOR_PREFIX],
    /// The listing's words (empty for other kinds).
    pub(crate) words: WordBloom,
}

const TOMBSTONE: u8 = 1;

/// Encoded length of a [`Summary`].
pub(crate) const SUMMARY_LEN: usize = 4 + AUTHOR_PREFIX + BLOOM_BYTES;

impl Summary {
    pub(crate) fn of(body: &RecordBody) -> Self {
        let mut author = [0u8; AUTHOR_PREFIX];
        author.copy_from_slice(&body.author.0[..AUTHOR_PREFIX]);
        match body.listing() {
            Some(l) => Summary {
                kind: RecordKind::Listing.code(),
                flags: if l.is_withdrawn() { TOMBSTONE } else { 0 },
                purpose: purpose_code(l.purpose),
                deal_kinds: l.kinds.iter().fold(0, |m, k| m | deal_kind_bit(*k)),
                author,
                words: WordBloom::of(&listing_words(l)),
            },
            None => Summary {
                kind: body.kind().code(),
                flags: 0,
                purpose: 0xff,
                deal_kinds: 0,
                author,
                words: WordBloom::default(),
            },
        }
    }

    pub(crate) fn encode(self) -> [u8; SUMMARY_LEN] {
        let mut out = [0u8; SUMMARY_LEN];
        out[..4].copy_from_slice(&[self.kind, self.flags, self.purpose, self.deal_kinds]);
        out[4..4 + AUTHOR_PREFIX].copy_from_slice(&self.author);
        out[4 + AUTHOR_PREFIX..].copy_from_slice(&self.words.0);
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        let b: &[u8; SUMMARY_LEN] = bytes.try_into().ok()?;
        Some(Summary {
            kind: b[0],
            flags: b[1],
            purpose: b[2],
            deal_kinds: b[3],
            author: b[4..4 + AUTHOR_PREFIX].try_into().ok()?,
            words: WordBloom(b[4 + AUTHOR_PREFIX..].try_into().ok()?),
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

    /// Could it be by this author?
    pub(crate) fn may_be_by(self, author: &AuthorKey) -> bool {
        author.0[..AUTHOR_PREFIX] == self.author
    }
}

/// The index trees that hold per-record entries.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) enum Index {
    Topic,
    Author,
    Party,
}

impl Index {
    pub(crate) const ALL: [Index; 3] = [Index::Topic, Index::Author, Index::Party];
}

/// One index entry of a record.
pub(crate) struct Entry {
    pub(crate) index: Index,
    pub(crate) key: Vec<u8>,
    pub(crate) value: Vec<u8>,
}

/// Every index entry of a stored record (not `records`, `addresses`, `expiry` or
/// `sync_sums`).
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
            key: topic_key(t, body.created_at, id),
            value: summary.clone(),
        })
        .collect();
    if body.listing().is_some_and(|l| !l.is_withdrawn()) {
        out.push(Entry {
            index: Index::Author,
            key: with_stamp(body.author.0.to_vec()),
            value: summary,
        });
    }
    out.extend(parties(body).into_iter().map(|party| Entry {
        index: Index::Party,
        key: with_stamp(party_prefix(&party)),
        value: Vec::new(),
    }));
    out
}

/// The parties a record is listed under in `by_party`: a receipt's provider and
/// receiver; a review's, those of the receipt it embeds (its author and its
/// subject); nobody for other kinds. Each party once.
pub(crate) fn parties(body: &RecordBody) -> Vec<AuthorKey> {
    let statement = match &body.content {
        Content::Receipt(r) => &r.statement,
        Content::Review(r) => &r.receipt.statement,
        _ => return Vec::new(),
    };
    let mut out = vec![statement.provider];
    if statement.receiver != statement.provider {
        out.push(statement.receiver);
    }
    out
}

/// Prefix of a party's entries in `by_party`.
pub(crate) fn party_prefix(party: &AuthorKey) -> Vec<u8> {
    party.0.to_vec()
}

/// The `sync_sums` key of the bucket a `by_topic` key falls in (`None`: not a
/// `by_topic` key).
pub(crate) fn bucket_key_of(topic_key: &[u8], bits: u32) -> Option<Vec<u8>> {
    let prefix_len = topic_key.len().checked_sub(STAMP_LEN)?;
    let (at, _) = parse_stamp(topic_key)?;
    Some(bucket_key(&topic_key[..prefix_len], at.0 >> bits))
}

/// `prefix ‖ bucket`: a key of `sync_sums`, `prefix` being a topic's `by_topic`
/// prefix.
pub(crate) fn bucket_key(prefix: &[u8], bucket: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + 8);
    k.extend_from_slice(prefix);
    k.extend_from_slice(&bucket.to_be_bytes());
    k
}

/// The value of a `sync_sums` entry: how many items a bucket holds and the sum of
/// their ids.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub(crate) struct BucketSum(pub(crate) swapmesh_sync::Summary);

impl BucketSum {
    pub(crate) fn encode(&self) -> [u8; 40] {
        let mut out = [0u8; 40];
        out[..8].copy_from_slice(&self.0.count.to_be_bytes());
        out[8..].copy_from_slice(&self.0.sum.to_bytes());
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        let b: &[u8; 40] = bytes.try_into().ok()?;
        Some(Self(swapmesh_sync::Summary {
            count: u64::from_be_bytes(b[..8].try_into().ok()?),
            sum: swapmesh_sync::IdSum::from_bytes(b[8..].try_into().ok()?),
        }))
    }
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

/// Length of an `agreement_events` key.
pub(crate) const EVENT_KEY_LEN: usize = 32 + 4;

/// The key of the event at `index` of an agreement's chain in `agreement_events`.
pub(crate) fn event_key(agreement: &AgreementId, index: u32) -> [u8; EVENT_KEY_LEN] {
    let mut out = [0u8; EVENT_KEY_LEN];
    out[..32].copy_from_slice(&agreement.0);
    out[32..].copy_from_slice(&index.to_be_bytes());
    out
}

/// The chain index of an `agreement_events` key of `agreement` (`None`: another
/// agreement's key, or not a key of that tree).
pub(crate) fn event_index(agreement: &AgreementId, key: &[u8]) -> Option<u32> {
    let key: &[u8; EVENT_KEY_LEN] = key.try_into().ok()?;
    (key[..32] == agreement.0).then(|| u32::from_be_bytes([key[32], key[33], key[34], key[35]]))
}

/// The key of an item's calendar in `calendars`.
pub(crate) fn calendar_key(item: &ListingId) -> Vec<u8> {
    let mut k = Vec::with_capacity(32 + item.d.len());
    k.extend_from_slice(&item.author.0);
    k.extend_from_slice(item.d.as_bytes());
    k
}
