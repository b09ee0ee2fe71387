//! The store as a [`SyncStore`]: one topic's `by_topic` items `(created_at, id)`,
//! tombstones included and expired records excluded (the sweep removes them), in
//! the order reconciliation compares.
//!
//! # Bucket sums
//! `sync_sums` keeps, per topic and bucket `created_at >> bits`, the count and the
//! id sum (modulo 2^256) of the bucket's items, updated in the same transaction as
//! every `by_topic` write (insert, replace, sweep). So:
//!
//! - [`SyncStore::summary`] of `[lower, upper)` scans the items from `lower` to the
//!   end of its bucket and from the start of `upper`'s bucket to `upper`, and adds
//!   the sums of the whole buckets between: two short scans plus one read per
//!   non-empty bucket, instead of one read per item;
//! - [`SyncStore::split`] does the same and then scans only the buckets in which a
//!   cut falls, so its parts are exactly those of a scan (and of
//!   [`swapmesh_sync::MemoryStore`]);
//! - [`SyncStore::items`] is a range scan.
//!
//! sled has no snapshots, so a record stored between reading a bucket's sum and
//! scanning its items can make the two disagree: [`SyncStore::split`] then falls
//! back to scanning the whole range, and [`SyncStore::summary`] is as exact as the
//! store was during the call (which the trait allows).

use swapmesh_protocol::{Timestamp, Topic};
use swapmesh_sync::{Bound, Item, Part, Range, Summary, SyncStore, split_sorted};

use crate::error::{Result, StoreError};
use crate::keys::{BucketSum, bucket_key, parse_stamp, stamp, topic_prefix};
use crate::store::Store;

/// One topic of the store, as reconciliation sees it. Cheap: holds the store and
/// the topic's key prefix.
#[derive(Clone, Debug)]
pub struct TopicSync<'a> {
    store: &'a Store,
    /// `topic ‖ 0x00`: the prefix of the topic's keys in `by_topic` and `sync_sums`.
    prefix: Vec<u8>,
    bits: u32,
}

impl Store {
    /// The items of `topic` for reconciliation: implements
    /// [`swapmesh_sync::SyncStore`] for a `Reconciler` session on that topic.
    pub fn sync_view(&self, topic: &Topic) -> TopicSync<'_> {
        TopicSync {
            store: self,
            prefix: topic_prefix(topic),
            bits: self.sync_bucket_bits(),
        }
    }
}

/// A run of consecutive items of a range: scanned, or known only by its bucket sum.
#[derive(Debug)]
enum Segment {
    Items(Vec<Item>),
    Bucket { bucket: u64, summary: Summary },
}

impl Segment {
    fn count(&self) -> u64 {
        match self {
            Segment::Items(items) => items.len() as u64,
            Segment::Bucket { summary, .. } => summary.count,
        }
    }

    fn summary(&self) -> Summary {
        match self {
            Segment::Items(items) => Summary::of_items(items),
            Segment::Bucket { summary, .. } => *summary,
        }
    }
}

impl TopicSync<'_> {
    /// The `by_topic` key of a point of the item order.
    fn key(&self, bound: &Bound) -> Vec<u8> {
        let mut k = self.prefix.clone();
        match bound {
            Bound::At(item) => k.extend_from_slice(&stamp(item.created_at, &item.id)),
            // The byte after the 0x00 separator: after every key of the topic.
            Bound::End => *k.last_mut().expect("topic prefix ends in 0x00") = 1,
        }
        k
    }

    /// The first point of a bucket.
    fn bucket_start(&self, bucket: u64) -> Bound {
        match bucket.checked_mul(1 << self.bits) {
            Some(at) => Bound::At(Item::new(
                Timestamp(at),
                swapmesh_protocol::RecordId([0; 32]),
            )),
            None => Bound::End,
        }
    }

    fn bucket_of(&self, bound: &Bound) -> Option<u64> {
        bound.item().map(|i| i.created_at.0 >> self.bits)
    }

    /// Items of `[lower, upper)` by scanning `by_topic`, at most `limit`.
    fn scan(&self, lower: &Bound, upper: &Bound, limit: usize) -> Result<Vec<Item>> {
        if lower >= upper || limit == 0 {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for k in self
            .store
            .o()?
            .trees
            .by_topic
            .range(self.key(lower)..self.key(upper))
            .keys()
        {
            let k = k?;
            let (at, id) = parse_stamp(&k)
                .ok_or_else(|| StoreError::corrupt("by_topic key shorter than its stamp"))?;
            out.push(Item::new(at, id));
            if out.len() == limit {
                break;
            }
        }
        Ok(out)
    }

    /// The bucket sums of the whole buckets `[from, to)` (`to = None`: to the end).
    fn buckets(&self, from: u64, to: Option<u64>, out: &mut Vec<Segment>) -> Result<()> {
        if to.is_some_and(|to| to <= from) {
            return Ok(());
        }
        let start = bucket_key(&self.prefix, from);
        let end = match to {
            Some(to) => bucket_key(&self.prefix, to),
            None => self.key(&Bound::End),
        };
        for kv in self.store.o()?.trees.sync_sums.range(start..end) {
            let (k, v) = kv?;
            let bucket = k
                .len()
                .checked_sub(8)
                .and_then(|at| k[at..].try_into().ok())
                .map(u64::from_be_bytes)
                .ok_or_else(|| StoreError::corrupt("sync_sums key shorter than a bucket"))?;
            let summary = BucketSum::decode(&v)
                .ok_or_else(|| StoreError::corrupt("undecodable sync_sums entry"))?
                .0;
            out.push(Segment::Bucket { bucket, summary });
        }
        Ok(())
    }

    /// The range as consecutive segments: the scanned items of the partial bucket
    /// at each edge and the sums of the whole buckets between them.
    fn segments(&self, range: &Range) -> Result<Vec<Segment>> {
        let (lower, upper) = (range.lower, range.upper);
        let mut out = Vec::new();
        if lower >= upper {
            return Ok(out);
        }
        let Some(first) = self.bucket_of(&lower) else {
            return Ok(out);
        };
        let last = self.bucket_of(&upper);
        if last == Some(first) {
            out.push(Segment::Items(self.scan(&lower, &upper, usize::MAX)?));
            return Ok(out);
        }
        // The lower edge: whole if it starts its bucket, else scanned.
        let whole_from = if lower == self.bucket_start(first) {
            first
        } else {
            let end = self.bucket_start(first + 1);
            out.push(Segment::Items(self.scan(&lower, &end, usize::MAX)?));
            first + 1
        };
        if self.bucket_start(whole_from) == Bound::End {
            return Ok(out);
        }
        self.buckets(whole_from, last, &mut out)?;
        if let Some(last) = last {
            out.push(Segment::Items(self.scan(
                &self.bucket_start(last),
                &upper,
                usize::MAX,
            )?));
        }
        Ok(out)
    }

    /// Replaces a bucket segment by its items; `false` if the scan disagrees with
    /// the bucket's sum (a concurrent write).
    fn expand(&self, segment: &mut Segment) -> Result<bool> {
        let Segment::Bucket { bucket, summary } = *segment else {
            return Ok(true);
        };
        let items = self.scan(
            &self.bucket_start(bucket),
            &self.bucket_start(bucket + 1),
            usize::MAX,
        )?;
        if Summary::of_items(&items) != summary {
            return Ok(false);
        }
        *segment = Segment::Items(items);
        Ok(true)
    }
}

/// Positions of the segments: `starts[s]` items and `sums[s]` come before segment `s`.
struct Prefix {
    starts: Vec<u64>,
    sums: Vec<Summary>,
}

impl Prefix {
    fn of(segments: &[Segment]) -> Self {
        let mut starts = vec![0];
        let mut sums = vec![Summary::EMPTY];
        for s in segments {
            starts.push(starts[starts.len() - 1] + s.count());
            sums.push(sums[sums.len() - 1] + s.summary());
        }
        Self { starts, sums }
    }

    /// The segment holding item `i` (`i` < the total count).
    fn segment_of(&self, i: u64) -> usize {
        self.starts.partition_point(|&s| s <= i) - 1
    }
}

impl SyncStore for TopicSync<'_> {
    type Error = StoreError;

    fn summary(&self, range: &Range) -> Result<Summary> {
        Ok(self
            .segments(range)?
            .iter()
            .fold(Summary::EMPTY, |acc, s| acc + s.summary()))
    }

    fn items(&self, range: &Range, limit: usize) -> Result<Vec<Item>> {
        self.scan(&range.lower, &range.upper, limit)
    }

    fn split(&self, range: &Range, parts: usize) -> Result<Vec<Part>> {
        let mut segments = self.segments(range)?;
        let prefix = Prefix::of(&segments);
        let n = *prefix.starts.last().expect("one start at least");
        let parts = (parts as u64).clamp(1, n.max(1));
        // Scan the buckets in which a cut falls: the items on both sides of it.
        let cuts: Vec<u64> = (1..parts).map(|k| n * k / parts).collect();
        for &cut in &cuts {
            for i in [cut - 1, cut] {
                let s = prefix.segment_of(i);
                if !self.expand(&mut segments[s])? {
                    let items = self.scan(&range.lower, &range.upper, usize::MAX)?;
                    return Ok(split_sorted(range, &items, parts as usize));
                }
            }
        }
        let item = |i: u64| -> Item {
            let s = prefix.segment_of(i);
            match &segments[s] {
                Segment::Items(items) => items[(i - prefix.starts[s]) as usize],
                Segment::Bucket { .. } => unreachable!("cut buckets are expanded"),
            }
        };
        // The summary of the first `i` items of the range.
        let before = |i: u64| -> Summary {
            if i == n {
                return prefix.sums[segments.len()];
            }
            let s = prefix.segment_of(i);
            let within = (i - prefix.starts[s]) as usize;
            match &segments[s] {
                Segment::Items(items) => prefix.sums[s] + Summary::of_items(&items[..within]),
                Segment::Bucket { .. } => prefix.sums[s],
            }
        };
        let mut out = Vec::with_capacity(parts as usize);
        let mut start = 0;
        for k in 1..=parts {
            let end = n * k / parts;
            let upper = if k == parts {
                range.upper
            } else {
                Bound::between(&item(end - 1), &item(end))
            };
            out.push(Part {
                upper,
                summary: before(end) - before(start),
            });
            start = end;
        }
        Ok(out)
    }
}
