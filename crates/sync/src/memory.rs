//! In-memory stores for tests, benchmarks and small sets.
//!
//! - [`MemoryStore`]: a sorted `Vec` with prefix sums; every [`SyncStore`] call is
//!   two binary searches and a subtraction (O(log n)), an insert or removal is O(n).
//!   The right shape for sets that are built once and reconciled many times.
//! - [`ScanStore`]: a `BTreeSet` that computes every summary by walking the range:
//!   what a store that keeps no sums costs (the reference in tests and the baseline
//!   in the benchmark).

use std::collections::BTreeSet;
use std::convert::Infallible;

use crate::fingerprint::Summary;
use crate::item::{Bound, Item, Range};
use crate::store::{Part, SyncStore, split_by_index};

/// A sorted vector of items with prefix sums of their summaries.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    items: Vec<Item>,
    /// `prefix[i]` is the summary of `items[..i]`; `prefix.len() == items.len() + 1`.
    prefix: Vec<Summary>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use swapmesh_protocol::{RecordId, Timestamp};

    fn item(t: u64, b: u8) -> Item {
        Item::new(Timestamp(t), RecordId([b; 32]))
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
