//! What sync needs from a node's store: [`SyncStore`], the sorted items of one
//! topic that reconciliation reads, and [`SyncSource`], the topics a node serves
//! and the records behind their items, which the session machines read.
//!
//! # Implementing it over sled (`crates/store`)
//! The per-topic index `by_topic` is keyed `topic ‖ created_at BE ‖ id`, exactly the
//! item order: a [`Bound::At`] is the key `topic ‖ created_at BE ‖ id` (the range
//! scan's start or end), [`Bound::End`] is the end of the topic's prefix.
//!
//! - The minimum is to scan: [`SyncStore::summary`] adds up the ids of the keys in
//!   the range ([`Summary::of_items`]), [`SyncStore::items`] collects them, and the
//!   default [`SyncStore::split`] scans too. That is correct, but every level of the
//!   reconciliation then reads every item of every range it compares: about
//!   `n × (levels)` key reads per session for `n` items (BENCHMARKS.md, "Set reconciliation" measures
//!   what that costs against an indexed store, [`ScanStore`](crate::ScanStore)
//!   against [`MemoryStore`](crate::MemoryStore)).
//! - To make a summary cheap on large sets, keep per-bucket sums: a tree
//!   `sync_sums` keyed `topic ‖ bucket BE` with the value `count u64 ‖ sum 32 bytes`
//!   ([`IdSum::to_bytes`](crate::IdSum::to_bytes)), where `bucket = created_at >>
//!   k` (for example `k = 12`, about an hour). Every insert into `by_topic` adds the
//!   item's summary to its bucket and every removal subtracts it
//!   (`Summary` implements `+` and `-`), in the same transaction as the index
//!   write: a single value read-modify-write, which sled transactions allow. A range
//!   summary is then the sum of the whole buckets inside it plus a scan of the two
//!   partial buckets at its edges; a split can cut at bucket edges (parts need only
//!   be roughly equal) and scan only the bucket a cut falls in.

use swapmesh_protocol::{RecordId, Topic};

use crate::fingerprint::Summary;
use crate::item::{Bound, Item, Range};

/// One part of a split range: where it ends and what it holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Part {
    /// The end (excluded) of this part; the next part starts here.
    pub upper: Bound,
    /// Count and id sum of the items in the part.
    pub summary: Summary,
}

/// A sorted set of items that reconciliation reads. The state machine never writes:
/// the node stores fetched records through its own path.
///
/// Every method sees one range `[lower, upper)`; the store may change between calls
/// (records arrive during a session), which only makes the result less exact, never
/// wrong enough to error.
pub trait SyncStore {
    /// The store's own failure (I/O, corruption).
    type Error: std::error::Error + Send + Sync + 'static;

    /// Count and id sum of the items in `range`.
    fn summary(&self, range: &Range) -> Result<Summary, Self::Error>;

    /// The first `limit` items of `range`, in order.
    fn items(&self, range: &Range, limit: usize) -> Result<Vec<Item>, Self::Error>;

    /// Splits `range` into at most `parts` consecutive parts of roughly equal count
    /// that together cover it: the last part's `upper` is `range.upper`, and no part
    /// is empty unless the range is (then one empty part). The default scans the
    /// range.
    fn split(&self, range: &Range, parts: usize) -> Result<Vec<Part>, Self::Error> {
        let items = self.items(range, usize::MAX)?;
        Ok(split_sorted(range, &items, parts))
    }
}

impl<S: SyncStore + ?Sized> SyncStore for &S {
    type Error = S::Error;

    fn summary(&self, range: &Range) -> Result<Summary, Self::Error> {
        (**self).summary(range)
    }

    fn items(&self, range: &Range, limit: usize) -> Result<Vec<Item>, Self::Error> {
        (**self).items(range, limit)
    }

    fn split(&self, range: &Range, parts: usize) -> Result<Vec<Part>, Self::Error> {
        (**self).split(range, parts)
    }
}

/// What the session machines read from a node: which topics it serves, the items
/// of each, and the signed bytes of its records. Read-only: records that arrive go
/// to the node's ingest path, by the driver.
///
/// The node implements it over its store and the topics it has joined, for
/// example `items(topic)` = `joined(topic).then(|| store.sync_view(topic))`.
pub trait SyncSource {
    /// The items of one topic.
    type Items<'a>: SyncStore
    where
        Self: 'a;
    /// The store's own failure (I/O, corruption).
    type Error: std::error::Error + Send + Sync + 'static;

    /// The items of `topic`, or `None` when this node does not serve it.
    fn items(&self, topic: &Topic) -> Option<Self::Items<'_>>;

    /// Whether this node serves `topic`. The default asks for its items.
    fn serves(&self, topic: &Topic) -> bool {
        self.items(topic).is_some()
    }

    /// The signed bytes (`SignedRecord::encode`) of the record `id`, if this node
    /// holds it and it travels on `topic`. Must be that record: the peer checks the
    /// id.
    fn record(&self, topic: &Topic, id: &RecordId) -> Result<Option<Vec<u8>>, Self::Error>;
}

/// Splits the sorted `items` of `range` into at most `parts` parts of equal count
/// (± 1), with the shortest bounds between them: the building block of
/// [`SyncStore::split`] for stores that can list a range.
pub fn split_sorted(range: &Range, items: &[Item], parts: usize) -> Vec<Part> {
    split_by_index(
        range,
        items.len(),
        parts,
        |i| items[i],
        |a, b| Summary::of_items(&items[a..b]),
    )
}

/// Cuts `len` items (found by `item(i)`) into at most `parts` parts of equal count,
/// summarising `[a, b)` with `summary(a, b)`.
pub(crate) fn split_by_index(
    range: &Range,
    len: usize,
    parts: usize,
    item: impl Fn(usize) -> Item,
    summary: impl Fn(usize, usize) -> Summary,
) -> Vec<Part> {
    let parts = parts.clamp(1, len.max(1));
    let mut out = Vec::with_capacity(parts);
    let mut start = 0;
    for k in 1..=parts {
        let end = len * k / parts;
        let upper = if k == parts {
            range.upper
        } else {
            Bound::between(&item(end - 1), &item(end))
        };
        out.push(Part {
            upper,
            summary: summary(start, end),
        });
        start = end;
    }
    out
}
