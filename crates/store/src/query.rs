//! Searching live listings and listing a party's receipts and reviews (newest
//! first, with a cursor), and scanning a topic's items in sync order.

use std::collections::{BTreeSet, BinaryHeap};
use std::fmt;
use std::ops::Bound;
use std::str::FromStr;

use swapmesh_protocol::listing::{DealKind, Purpose};
use swapmesh_protocol::{AuthorKey, Geohash, MeshId, RecordId, RecordKind, Timestamp, Topic};

use crate::body::StoredRecord;
use crate::error::{Result, StoreError};
use crate::keys::{
    STAMP_LEN, Summary, deal_kind_bit, parse_stamp, party_prefix, stamp, topic_prefix,
};
use crate::store::Store;
use crate::words::{listing_words, words};

/// Most results one page returns.
pub const MAX_LIMIT: usize = 500;

/// A search over live listings (tombstones and other record kinds are never
/// returned). Every given filter must match:
///
/// - places: the listing's area cell is one of `cells`, or one of its meshes is in
///   `meshes` (no cells and no meshes: anywhere);
/// - `kinds`: it offers at least one of these deal kinds (empty: any);
/// - `purpose`, `author`: equal when given;
/// - `words`: every word of every string (split and lower-cased like the index)
///   appears in its title, tags or category;
/// - `now`: it has not expired at `now` (a listing the expiry sweep has not
///   dropped yet is skipped inside the scan, so a page is never short while it
///   has a next one). The default, `Timestamp(0)`, keeps everything stored.
///
/// Results come newest first (`created_at`, then id, descending).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// 5-character area cells (longer geohashes are cut to their cell).
    pub cells: Vec<Geohash>,
    /// Meshes.
    pub meshes: Vec<MeshId>,
    /// Deal kinds, any of which must be offered.
    pub kinds: Vec<DealKind>,
    /// Offer or want.
    pub purpose: Option<Purpose>,
    /// Words that must all appear.
    pub words: Vec<String>,
    /// Only this author's listings.
    pub author: Option<AuthorKey>,
    /// Leave out listings expired at this time.
    pub now: Timestamp,
    /// Continue after the last result of a previous page.
    pub cursor: Option<Cursor>,
    /// Most results (clamped to 1..=[`MAX_LIMIT`]).
    pub limit: usize,
}

/// Where a page ended; pass it back in [`Query::cursor`] (or to
/// [`Store::by_party`]) for the next page. Its text form (hex) is opaque to
/// callers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Cursor([u8; STAMP_LEN]);

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl FromStr for Cursor {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self> {
        let mut out = [0u8; STAMP_LEN];
        hex::decode_to_slice(s, &mut out).map_err(|_| StoreError::BadCursor(s.to_owned()))?;
        Ok(Self(out))
    }
}

/// One page of results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    /// The records (listings, or a party's receipts and reviews), newest first.
    pub records: Vec<StoredRecord>,
    /// The cursor of the next page, if there are more results.
    pub next: Option<Cursor>,
}

/// An item of a topic in sync order: the creation time of the version and its id.
pub type TopicItem = (Timestamp, RecordId);

/// A reverse scan of one index prefix, below an optional cursor.
struct Stream {
    iter: std::iter::Rev<sled::Iter>,
    head: Option<(Timestamp, RecordId, Option<Summary>)>,
}

impl Stream {
    fn new(tree: &sled::Tree, prefix: Vec<u8>, below: Option<&Cursor>) -> Result<Self> {
        let start = prefix.clone();
        let iter = match below {
            Some(c) => {
                let mut end = prefix;
                end.extend_from_slice(&c.0);
                tree.range(start..end).rev()
            }
            None => tree.scan_prefix(prefix).rev(),
        };
        let mut s = Self { iter, head: None };
        s.advance()?;
        Ok(s)
    }

    fn advance(&mut self) -> Result<()> {
        self.head = match self.iter.next() {
            None => None,
            Some(kv) => {
                let (k, v) = kv?;
                let (at, id) = parse_stamp(&k)
                    .ok_or_else(|| StoreError::corrupt("index key shorter than its stamp"))?;
                Some((at, id, Summary::decode(&v)))
            }
        };
        Ok(())
    }
}

/// Merges reverse streams into one newest-first stream without duplicates (a record
/// on several topics appears in several streams, next to itself).
struct Merge {
    streams: Vec<Stream>,
    /// The head of every non-empty stream.
    heap: BinaryHeap<(Timestamp, RecordId, usize)>,
    last: Option<(Timestamp, RecordId)>,
}

impl Merge {
    fn new(streams: Vec<Stream>) -> Self {
        let heap = streams
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.head.map(|(at, id, _)| (at, id, i)))
            .collect();
        Self {
            streams,
            heap,
            last: None,
        }
    }

    fn next(&mut self) -> Result<Option<(Timestamp, RecordId, Option<Summary>)>> {
        while let Some((at, id, i)) = self.heap.pop() {
            let stream = &mut self.streams[i];
            let head = stream.head.expect("a stream in the heap has a head");
            stream.advance()?;
            if let Some((at, id, _)) = stream.head {
                self.heap.push((at, id, i));
            }
            if self.last == Some((at, id)) {
                continue;
            }
            self.last = Some((at, id));
            return Ok(Some(head));
        }
        Ok(None)
    }
}

impl Store {
    /// Runs a search (see [`Query`]).
    ///
    /// One index drives the scan: `by_author` when an author is given, else the
    /// `by_topic` entries of the asked cells and meshes, else those of every topic
    /// stored. Each entry's summary value filters by kind, purpose, author and
    /// a bloom filter of the words without reading the record; a candidate that
    /// passes is read and checked exactly. A search with places or an author reads
    /// only those entries; one with neither (words or kinds alone) walks every
    /// stored topic until the page is full.
    pub fn search(&self, query: &Query) -> Result<Page> {
        let limit = query.limit.clamp(1, MAX_LIMIT);
        let cells: BTreeSet<Geohash> = query.cells.iter().map(Geohash::cell).collect();
        let meshes: BTreeSet<&MeshId> = query.meshes.iter().collect();
        let words: BTreeSet<String> = query.words.iter().flat_map(|w| words(w)).collect();
        let kinds_mask = query.kinds.iter().fold(0u8, |m, k| m | deal_kind_bit(*k));
        let has_places = !cells.is_empty() || !meshes.is_empty();

        let open = self.o()?;
        let t = &open.trees;
        let below = query.cursor.as_ref();
        let mut streams = Vec::new();
        // Whether the driving entries already prove the place filter.
        let places_proven;
        if let Some(author) = &query.author {
            streams.push(Stream::new(&t.by_author, author.0.to_vec(), below)?);
            places_proven = !has_places;
        } else {
            let prefixes: Vec<Vec<u8>> = if has_places {
                cells
                    .iter()
                    .map(Topic::area)
                    .chain(meshes.iter().map(|m| Topic::mesh(m)))
                    .map(|t| topic_prefix(&t))
                    .collect()
            } else {
                self.topic_prefixes()?
            };
            for prefix in prefixes {
                streams.push(Stream::new(&t.by_topic, prefix, below)?);
            }
            places_proven = true;
        }
        let mut merge = Merge::new(streams);

        let mut records = Vec::new();
        let mut next = None;
        while let Some((_, id, summary)) = merge.next()? {
            let Some(s) = summary else {
                return Err(StoreError::corrupt(format!(
                    "undecodable index value of record {id}"
                )));
            };
            if !s.is_live_listing()
                || !s.has_purpose(query.purpose)
                || (kinds_mask != 0 && s.deal_kinds & kinds_mask == 0)
                || query.author.as_ref().is_some_and(|a| !s.may_be_by(a))
                || !words.iter().all(|w| s.words.may_contain(w))
            {
                continue;
            }
            let Some(record) = self.get(&id)? else {
                return Err(StoreError::corrupt(format!(
                    "index names missing record {id}"
                )));
            };
            let body = &record.body;
            let exact = body.expires_at > query.now
                && query.author.is_none_or(|a| a == body.author)
                && (places_proven
                    || body
                        .area
                        .as_ref()
                        .is_some_and(|a| cells.contains(&a.cell()))
                    || body.meshes.iter().any(|m| meshes.contains(m)))
                && (words.is_empty()
                    || body.listing().is_some_and(|l| {
                        let has = listing_words(l);
                        words.iter().all(|w| has.contains(w))
                    }));
            if !exact {
                continue;
            }
            next = fill(&mut records, record, limit);
            if next.is_some() {
                break;
            }
        }
        Ok(Page { records, next })
    }

    /// A party's receipts and reviews — those whose agreement it was a party to,
    /// whoever wrote them — of the given kinds (empty: both; other kinds never
    /// match), newest first (`created_at`, then id, descending), at most `limit`
    /// (clamped to 1..=[`MAX_LIMIT`]) after `cursor`.
    ///
    /// Scans the party's `by_party` entries and reads each record. A replaced
    /// review appears as its current version only; an expired one is gone once
    /// [`Store::sweep_expired`] has dropped it.
    pub fn by_party(
        &self,
        party: &AuthorKey,
        kinds: &[RecordKind],
        cursor: Option<Cursor>,
        limit: usize,
    ) -> Result<Page> {
        let limit = limit.clamp(1, MAX_LIMIT);
        let stream = Stream::new(
            &self.o()?.trees.by_party,
            party_prefix(party),
            cursor.as_ref(),
        )?;
        let mut merge = Merge::new(vec![stream]);
        let mut records = Vec::new();
        let mut next = None;
        while let Some((_, id, _)) = merge.next()? {
            let Some(record) = self.get(&id)? else {
                return Err(StoreError::corrupt(format!(
                    "by_party names missing record {id}"
                )));
            };
            if !kinds.is_empty() && !kinds.contains(&record.body.kind()) {
                continue;
            }
            next = fill(&mut records, record, limit);
            if next.is_some() {
                break;
            }
        }
        Ok(Page { records, next })
    }

    /// The `by_topic` prefixes of every topic that holds items, found by skipping
    /// from one topic to the next in `sync_sums` (one seek per topic).
    pub(crate) fn topic_prefixes(&self) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        let mut from = Vec::new();
        while let Some(kv) = self.o()?.trees.sync_sums.range(from.clone()..).next() {
            let (k, _) = kv?;
            let len = k
                .len()
                .checked_sub(8)
                .ok_or_else(|| StoreError::corrupt("sync_sums key shorter than a bucket"))?;
            let prefix = k[..len].to_vec();
            // After every key of this topic: its 0x00 separator raised to 0x01.
            from = prefix.clone();
            match from.last_mut() {
                Some(last) if *last == 0 => *last = 1,
                _ => return Err(StoreError::corrupt("sync_sums key without a topic")),
            }
            out.push(prefix);
        }
        Ok(out)
    }

    /// The items of a topic in sync order (`created_at`, then id, ascending), within
    /// the given bounds: every stored record of the topic, tombstones included.
    pub fn topic_items(
        &self,
        topic: &Topic,
        lower: Bound<TopicItem>,
        upper: Bound<TopicItem>,
    ) -> impl Iterator<Item = Result<TopicItem>> + use<> {
        let prefix = topic_prefix(topic);
        let key = |(at, id): TopicItem| {
            let mut k = prefix.clone();
            k.extend_from_slice(&stamp(at, &id));
            k
        };
        let start = match lower {
            Bound::Included(i) => Bound::Included(key(i)),
            Bound::Excluded(i) => Bound::Excluded(key(i)),
            Bound::Unbounded => Bound::Included(prefix.clone()),
        };
        let end = match upper {
            Bound::Included(i) => Bound::Included(key(i)),
            Bound::Excluded(i) => Bound::Excluded(key(i)),
            // The byte after the 0x00 separator ends the prefix.
            Bound::Unbounded => {
                let mut e = prefix.clone();
                *e.last_mut().expect("topic prefix ends in 0x00") = 1;
                Bound::Excluded(e)
            }
        };
        let (keys, unavailable) = match self.o() {
            Ok(open) => (
                Some(open.trees.by_topic.range::<Vec<u8>, _>((start, end)).keys()),
                None,
            ),
            Err(e) => (None, Some(Err(e))),
        };
        unavailable
            .into_iter()
            .chain(keys.into_iter().flatten().map(|k| {
                let k = k?;
                parse_stamp(&k)
                    .ok_or_else(|| StoreError::corrupt("topic key shorter than its stamp"))
            }))
    }
}

/// Adds `record` to a page of at most `limit`. A page already full takes
/// nothing: the answer is then the cursor of the next page, after its last
/// record, since one more result exists.
fn fill(records: &mut Vec<StoredRecord>, record: StoredRecord, limit: usize) -> Option<Cursor> {
    if records.len() == limit {
        return records
            .last()
            .map(|r| Cursor(stamp(r.body.created_at, &r.id)));
    }
    records.push(record);
    None
}
