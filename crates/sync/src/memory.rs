//! In-memory stores for tests, benchmarks and small sets.
//!
//! - [`MemoryStore`]: a sorted `Vec` with prefix sums; every [`SyncStore`] call is
//!   two binary searches and a subtraction (O(log n)), an insert or removal is O(n).
//!   The right shape for sets that are built once and reconciled many times.
//! - [`ScanStore`]: a `BTreeSet` that computes every summary by walking the range:
//!   what a store that keeps no sums costs (the reference in tests and the baseline
//!   in the benchmark).
//! - [`MemoryTopics`]: topics of records, each a [`MemoryStore`] of items and the
//!   records' bytes: a [`SyncSource`] for driving the session machines in tests.

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;

use swapmesh_protocol::{RecordId, Timestamp, Topic};

use crate::fingerprint::Summary;
use crate::item::{Bound, Item, Range};
use crate::store::{Part, SyncSource, SyncStore, split_by_index};

/// A sorted vector of items with prefix sums of their summaries.
#[derive(Clone, Debug)]
pub struct MemoryStore {
    items: Vec<Item>,
    /// `prefix[i]` is the summary of `items[..i]`; `prefix.len() == items.len() + 1`.
    prefix: Vec<Summary>,
}

impl Default for MemoryStore {
    // Not derived: an empty store still holds the one prefix sum of nothing.
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self {
            items: Vec::new(),
            prefix: vec![Summary::EMPTY],
        }
    }

    /// A store holding these items (duplicates are dropped).
    pub fn from_items(items: impl IntoIterator<Item = Item>) -> Self {
        let mut items: Vec<Item> = items.into_iter().collect();
        items.sort_unstable();
        items.dedup();
        let mut store = Self {
            items,
            prefix: Vec::new(),
        };
        store.rebuild_from(0);
        store
    }

    /// Adds an item; returns whether it was new. O(n).
    pub fn insert(&mut self, item: Item) -> bool {
        match self.items.binary_search(&item) {
            Ok(_) => false,
            Err(at) => {
                self.items.insert(at, item);
                self.rebuild_from(at);
                true
            }
        }
    }

    /// Removes an item; returns whether it was there. O(n).
    pub fn remove(&mut self, item: &Item) -> bool {
        match self.items.binary_search(item) {
            Ok(at) => {
                self.items.remove(at);
                self.rebuild_from(at);
                true
            }
            Err(_) => false,
        }
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The items in order.
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    fn rebuild_from(&mut self, at: usize) {
        self.prefix.truncate(at + 1);
        if self.prefix.is_empty() {
            self.prefix.push(Summary::EMPTY);
        }
        let mut acc = self.prefix[at];
        for item in &self.items[at..] {
            acc = acc + Summary::of(item);
            self.prefix.push(acc);
        }
    }

    /// Index of the first item at or after `bound`.
    fn index(&self, bound: &Bound) -> usize {
        match bound {
            Bound::At(b) => self.items.partition_point(|x| x < b),
            Bound::End => self.items.len(),
        }
    }

    fn indices(&self, range: &Range) -> (usize, usize) {
        let a = self.index(&range.lower);
        let b = self.index(&range.upper).max(a);
        (a, b)
    }
}

impl SyncStore for MemoryStore {
    type Error = Infallible;

    fn summary(&self, range: &Range) -> Result<Summary, Infallible> {
        let (a, b) = self.indices(range);
        Ok(self.prefix[b] - self.prefix[a])
    }

    fn items(&self, range: &Range, limit: usize) -> Result<Vec<Item>, Infallible> {
        let (a, b) = self.indices(range);
        Ok(self.items[a..b.min(a.saturating_add(limit))].to_vec())
    }

    fn split(&self, range: &Range, parts: usize) -> Result<Vec<Part>, Infallible> {
        let (a, b) = self.indices(range);
        Ok(split_by_index(
            range,
            b - a,
            parts,
            |i| self.items[a + i],
            |x, y| self.prefix[a + y] - self.prefix[a + x],
        ))
    }
}

/// A `BTreeSet` of items that keeps no sums: every summary walks its range.
#[derive(Clone, Debug, Default)]
pub struct ScanStore {
    items: BTreeSet<Item>,
}

impl ScanStore {
    /// A store holding these items.
    pub fn from_items(items: impl IntoIterator<Item = Item>) -> Self {
        Self {
            items: items.into_iter().collect(),
        }
    }

    /// Adds an item; returns whether it was new. O(log n).
    pub fn insert(&mut self, item: Item) -> bool {
        self.items.insert(item)
    }

    /// The items of `range`, in order.
    fn walk(&self, range: &Range) -> impl Iterator<Item = &Item> {
        let lower = match range.lower {
            Bound::At(b) => std::ops::Bound::Included(b),
            Bound::End => std::ops::Bound::Excluded(Item::new(
                swapmesh_protocol::Timestamp(u64::MAX),
                swapmesh_protocol::RecordId([0xff; 32]),
            )),
        };
        let upper = range.upper;
        self.items
            .range((lower, std::ops::Bound::Unbounded))
            .take_while(move |item| !upper.is_at_or_before(item))
    }
}

impl SyncStore for ScanStore {
    type Error = Infallible;

    fn summary(&self, range: &Range) -> Result<Summary, Infallible> {
        Ok(Summary::of_items(self.walk(range)))
    }

    fn items(&self, range: &Range, limit: usize) -> Result<Vec<Item>, Infallible> {
        Ok(self.walk(range).take(limit).copied().collect())
    }
}

/// The topics a node serves, each with its items and the records' signed bytes.
#[derive(Clone, Debug, Default)]
pub struct MemoryTopics {
    topics: BTreeMap<Topic, MemoryTopic>,
}

#[derive(Clone, Debug, Default)]
struct MemoryTopic {
    items: MemoryStore,
    records: BTreeMap<RecordId, Vec<u8>>,
}

impl MemoryTopics {
    /// Serves no topic.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves `topic` (empty until records are inserted).
    pub fn serve(&mut self, topic: &Topic) {
        self.topics.entry(topic.clone()).or_default();
    }

    /// Stops serving `topic` and forgets its records.
    pub fn leave(&mut self, topic: &Topic) {
        self.topics.remove(topic);
    }

    /// Stores the record `bytes` with id `id`, created at `created_at`, on `topic`
    /// (serving it); returns whether it was new. O(n) in the topic's items.
    pub fn insert(
        &mut self,
        topic: &Topic,
        created_at: Timestamp,
        id: RecordId,
        bytes: Vec<u8>,
    ) -> bool {
        let t = self.topics.entry(topic.clone()).or_default();
        if !t.items.insert(Item::new(created_at, id)) {
            return false;
        }
        t.records.insert(id, bytes);
        true
    }

    /// Stores many records on `topic` (serving it) at once: one rebuild of its
    /// items, O(n log n), for building large sets.
    pub fn extend(&mut self, topic: &Topic, records: impl IntoIterator<Item = (Item, Vec<u8>)>) {
        let t = self.topics.entry(topic.clone()).or_default();
        let mut items = t.items.items().to_vec();
        for (item, bytes) in records {
            items.push(item);
            t.records.insert(item.id, bytes);
        }
        t.items = MemoryStore::from_items(items);
    }

    /// The items of `topic`, in order (empty when not served).
    pub fn items_of(&self, topic: &Topic) -> &[Item] {
        self.topics.get(topic).map_or(&[], |t| t.items.items())
    }

    /// Whether `topic` holds record `id`.
    pub fn contains(&self, topic: &Topic, id: &RecordId) -> bool {
        self.topics
            .get(topic)
            .is_some_and(|t| t.records.contains_key(id))
    }
}

impl SyncSource for MemoryTopics {
    type Items<'a> = &'a MemoryStore;
    type Error = Infallible;

    fn items(&self, topic: &Topic) -> Option<&MemoryStore> {
        self.topics.get(topic).map(|t| &t.items)
    }

    fn record(&self, topic: &Topic, id: &RecordId) -> Result<Option<Vec<u8>>, Infallible> {
        Ok(self
            .topics
            .get(topic)
            .and_then(|t| t.records.get(id))
            .cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use swapmesh_protocol::{RecordId, Timestamp};

    fn item(t: u64, b: u8) -> Item {
        Item::new(Timestamp(t), RecordId([b; 32]))
    }

    #[test]
    fn a_default_store_is_an_empty_store() {
        let store = MemoryStore::default();
        assert_eq!(store.summary(&Range::FULL).unwrap(), Summary::EMPTY);
        assert_eq!(store.split(&Range::FULL, 4).unwrap().len(), 1);
    }

    #[test]
    fn insert_and_remove_keep_prefix_sums_right() {
        let mut store = MemoryStore::from_items([item(5, 1), item(1, 2), item(3, 3)]);
        assert!(store.insert(item(2, 9)));
        assert!(!store.insert(item(2, 9)));
        assert!(store.remove(&item(3, 3)));
        assert!(!store.remove(&item(3, 3)));
        let direct = Summary::of_items(store.items());
        assert_eq!(store.summary(&Range::FULL).unwrap(), direct);
        assert_eq!(store.items(), &[item(1, 2), item(2, 9), item(5, 1)]);
    }

    #[test]
    fn split_parts_cover_the_range_with_equal_counts() {
        let store = MemoryStore::from_items((0..100).map(|i| item(i / 3, i as u8)));
        let parts = store.split(&Range::FULL, 16).unwrap();
        assert_eq!(parts.len(), 16);
        assert_eq!(parts.last().unwrap().upper, Bound::End);
        let mut lower = Bound::MIN;
        let mut total = Summary::EMPTY;
        for part in &parts {
            let range = Range::new(lower, part.upper);
            assert_eq!(store.summary(&range).unwrap(), part.summary);
            assert!((6..=7).contains(&part.summary.count));
            total = total + part.summary;
            lower = part.upper;
        }
        assert_eq!(total, store.summary(&Range::FULL).unwrap());
        let scan = ScanStore::from_items(store.items().iter().copied());
        assert_eq!(scan.split(&Range::FULL, 16).unwrap(), parts);
    }
}
