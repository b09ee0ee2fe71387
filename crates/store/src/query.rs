//! Searching live listings (newest first, with a cursor) and scanning a topic's
//! items in sync order.

use std::collections::BTreeSet;
use std::fmt;
use std::ops::Bound;
use std::str::FromStr;

use swapmesh_protocol::listing::{DealKind, Purpose};
use swapmesh_protocol::{AuthorKey, Geohash, MeshId, RecordId, Timestamp, Topic};

use crate::body::StoredRecord;
use crate::error::{Result, StoreError};
use crate::keys::{
    ALL_DEAL_KINDS, ALL_PURPOSES, STAMP_LEN, Summary, deal_kind_bit, kind_prefix, parse_stamp,
    stamp, topic_prefix, word_prefix,
};
use crate::store::Store;
use crate::words::words;

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
///   appears in its title, tags or category.
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
    /// Continue after the last result of a previous page.
    pub cursor: Option<Cursor>,
    /// Most results (clamped to 1..=[`MAX_LIMIT`]).
    pub limit: usize,
}

/// Where a page ended; pass it back in [`Query::cursor`] for the next page. Its text
/// form (hex) is opaque to callers.
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
    /// The listings, newest first.
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

/// Merges reverse streams into one newest-first stream without duplicates.
struct Merge {
    streams: Vec<Stream>,
    last: Option<(Timestamp, RecordId)>,
}

impl Merge {
    fn next(&mut self) -> Result<Option<(Timestamp, RecordId, Option<Summary>)>> {
        loop {
            let best = self
                .streams
                .iter()
                .enumerate()
                .filter_map(|(i, s)| s.head.map(|h| (i, h)))
                .max_by_key(|(_, (at, id, _))| (*at, *id));
            let Some((i, head)) = best else {
                return Ok(None);
            };
            self.streams[i].advance()?;
            if self.last == Some((head.0, head.1)) {
                continue;
            }
            self.last = Some((head.0, head.1));
            return Ok(Some(head));
        }
    }
}

/// Which index drives a search; the other filters are point look-ups.
enum Driver {
    Author,
    Places,
    Word,
    Kinds,
}

impl Store {
    /// Runs a search (see [`Query`]).
    pub fn search(&self, query: &Query) -> Result<Page> {
        let limit = query.limit.clamp(1, MAX_LIMIT);
        let cells: BTreeSet<Geohash> = query.cells.iter().map(Geohash::cell).collect();
        let mesh_topics: Vec<Vec<u8>> = query
            .meshes
            .iter()
            .map(|m| topic_prefix(&Topic::mesh(m)))
            .collect();
        let words: BTreeSet<String> = query.words.iter().flat_map(|w| words(w)).collect();
        let kinds_mask = query.kinds.iter().fold(0u8, |m, k| m | deal_kind_bit(*k));
        let has_places = !cells.is_empty() || !mesh_topics.is_empty();
        let purposes: Vec<Purpose> = match query.purpose {
            Some(p) => vec![p],
            None => ALL_PURPOSES.to_vec(),
        };
        let kinds: Vec<DealKind> = if query.kinds.is_empty() {
            ALL_DEAL_KINDS.to_vec()
        } else {
            query.kinds.clone()
        };

        let driver = if query.author.is_some() {
            Driver::Author
        } else if has_places {
            Driver::Places
        } else if !words.is_empty() {
            Driver::Word
        } else {
            Driver::Kinds
        };
        let t = &self.trees;
        let below = query.cursor.as_ref();
        let mut streams = Vec::new();
        match driver {
            Driver::Author => {
                let author = query.author.expect("driver chosen because author is set");
                streams.push(Stream::new(&t.by_author, author.0.to_vec(), below)?);
            }
            Driver::Places => {
                for cell in &cells {
                    let prefix = cell.as_str().as_bytes().to_vec();
                    streams.push(Stream::new(&t.by_area, prefix, below)?);
                }
                for prefix in &mesh_topics {
                    streams.push(Stream::new(&t.by_topic, prefix.clone(), below)?);
                }
            }
            Driver::Word => {
                let word = words
                    .iter()
                    .next()
                    .expect("driver chosen because words is set");
                streams.push(Stream::new(&t.words, word_prefix(word), below)?);
            }
            Driver::Kinds => {
                for kind in &kinds {
                    for purpose in &purposes {
                        let prefix = kind_prefix(*kind, *purpose).to_vec();
                        streams.push(Stream::new(&t.by_kind, prefix, below)?);
                    }
                }
            }
        }
        let mut merge = Merge {
            streams,
            last: None,
        };

        let mut records = Vec::new();
        let mut next = None;
        while let Some((at, id, summary)) = merge.next()? {
            let st = stamp(at, &id);
            let has = |tree: &sled::Tree, mut key: Vec<u8>| -> Result<bool> {
                key.extend_from_slice(&st);
                Ok(tree.contains_key(key)?)
            };
            // Kinds and purpose: from the entry's summary where the driving index
            // has one, else from `by_kind`.
            match summary {
                Some(s) => {
                    if !s.is_live_listing()
                        || !s.has_purpose(query.purpose)
                        || (kinds_mask != 0 && s.deal_kinds & kinds_mask == 0)
                    {
                        continue;
                    }
                }
                None => {
                    // A `by_kind` driver already scans only the asked kinds.
                    let asked = query.purpose.is_some() || !query.kinds.is_empty();
                    if asked && !matches!(driver, Driver::Kinds) {
                        let mut any = false;
                        'k: for kind in &kinds {
                            for purpose in &purposes {
                                if has(&t.by_kind, kind_prefix(*kind, *purpose).to_vec())? {
                                    any = true;
                                    break 'k;
                                }
                            }
                        }
                        if !any {
                            continue;
                        }
                    }
                }
            }
            if has_places && !matches!(driver, Driver::Places) {
                let mut any = false;
                for cell in &cells {
                    if has(&t.by_area, cell.as_str().as_bytes().to_vec())? {
                        any = true;
                        break;
                    }
                }
                if !any {
                    for prefix in &mesh_topics {
                        // by_topic holds tombstones too; the author or word entry
                        // that drove us here already proved a live listing.
                        if has(&t.by_topic, prefix.clone())? {
                            any = true;
                            break;
                        }
                    }
                }
                if !any {
                    continue;
                }
            }
            if let (Some(author), false) = (&query.author, matches!(driver, Driver::Author))
                && !has(&t.by_author, author.0.to_vec())?
            {
                continue;
            }
            let mut all_words = true;
            for word in &words {
                if !has(&t.words, word_prefix(word))? {
                    all_words = false;
                    break;
                }
            }
            if !all_words {
                continue;
            }
            if records.len() == limit {
                next = records
                    .last()
                    .map(|r: &StoredRecord| Cursor(stamp(r.body.created_at, &r.id)));
                break;
            }
            match self.get(&id)? {
                Some(r) => records.push(r),
                None => {
                    return Err(StoreError::corrupt(format!(
                        "index names missing record {id}"
                    )));
                }
            }
        }
        Ok(Page { records, next })
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
        self.trees
            .by_topic
            .range::<Vec<u8>, _>((start, end))
            .keys()
            .map(|k| {
                let k = k?;
                parse_stamp(&k)
                    .ok_or_else(|| StoreError::corrupt("topic key shorter than its stamp"))
            })
    }
}
