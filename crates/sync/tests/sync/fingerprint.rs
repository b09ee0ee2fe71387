//! Sum fingerprints: summaries add up over disjoint ranges, however they are kept.

use std::collections::BTreeMap;

use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;
use swapmesh_sync::{Bound, Item, MemoryStore, Range, ScanStore, Summary, SyncStore};

use crate::support::{BASE, random_items};

/// What the docs tell a sled store to keep: per-bucket sums keyed by
/// `created_at >> shift`, maintained on insert.
fn bucket_sums(items: &[Item], shift: u32) -> BTreeMap<u64, Summary> {
    let mut buckets = BTreeMap::new();
    for item in items {
        let entry = buckets
            .entry(item.created_at.0 >> shift)
            .or_insert(Summary::EMPTY);
        *entry = *entry + Summary::of(item);
    }
    buckets
}

/// A range's summary from whole buckets plus a scan of the partial edge buckets.
fn summary_from_buckets(
    items: &[Item],
    buckets: &BTreeMap<u64, Summary>,
    shift: u32,
    range: &Range,
) -> Summary {
    let bucket_of = |b: &Bound| match b {
        Bound::At(item) => item.created_at.0 >> shift,
        Bound::End => u64::MAX,
    };
    let (first, last) = (bucket_of(&range.lower), bucket_of(&range.upper));
    let mut total = Summary::EMPTY;
    // Whole buckets strictly between the edge buckets.
    if last > first + 1 {
        for (_, s) in buckets.range(first + 1..last) {
            total = total + *s;
        }
    }
    // The edge buckets, scanned.
    let edge = |b: u64| items.iter().filter(move |i| i.created_at.0 >> shift == b);
    let mut edges: Vec<u64> = vec![first];
    if last != first && last != u64::MAX {
        edges.push(last);
    }
    for b in edges {
        total = total + Summary::of_items(edge(b).filter(|i| range.contains(i)));
    }
    total
}

fn bound_at(items: &[Item], k: usize) -> Bound {
    items.get(k).map_or(Bound::End, |i| Bound::At(*i))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_fingerprint_of_a_union_of_disjoint_ranges_from_bucket_sums_equals_the_direct_one(
        seed in any::<u64>(),
        n in 0usize..=3_000,
        cuts in proptest::collection::vec(0usize..=3_000, 1..6),
        shift in 4u32..=14,
    ) {
        let mut items = random_items(&mut StdRng::seed_from_u64(seed), n, 86_400);
        items.sort_unstable();
        items.dedup();
        let buckets = bucket_sums(&items, shift);
        let memory = MemoryStore::from_items(items.clone());
        let scan = ScanStore::from_items(items.clone());
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(items.len())).collect();
        cuts.sort_unstable();
        cuts.dedup();
        // Consecutive disjoint ranges [cut_k, cut_k+1) from the first cut to the end.
        let mut union = Summary::EMPTY;
        let mut lower = bound_at(&items, cuts[0]);
        for &c in cuts[1..].iter().chain(std::iter::once(&usize::MAX)) {
            let upper = if c == usize::MAX { Bound::End } else { bound_at(&items, c) };
            if upper <= lower { continue; }
            let range = Range::new(lower, upper);
            let from_buckets = summary_from_buckets(&items, &buckets, shift, &range);
            prop_assert_eq!(from_buckets, memory.summary(&range).unwrap());
            prop_assert_eq!(from_buckets, scan.summary(&range).unwrap());
            union = union + from_buckets;
            lower = upper;
        }
        let whole = Range::new(bound_at(&items, cuts[0]), Bound::End);
        let direct = Summary::of_items(items.iter().filter(|i| whole.contains(i)));
        prop_assert_eq!(union.fingerprint(), direct.fingerprint());
        prop_assert_eq!(union, direct);
    }

    #[test]
    fn a_split_covers_its_range_and_its_parts_add_up(
        seed in any::<u64>(),
        n in 0usize..=3_000,
        parts in 2usize..=32,
    ) {
        let items = random_items(&mut StdRng::seed_from_u64(seed), n, 600);
        let store = MemoryStore::from_items(items);
        let whole = store.summary(&Range::FULL).unwrap();
        let split = store.split(&Range::FULL, parts).unwrap();
        prop_assert_eq!(split.last().unwrap().upper, Bound::End);
        let mut total = Summary::EMPTY;
        let mut lower = Bound::MIN;
        for part in &split {
            prop_assert!(part.upper > lower);
            prop_assert_eq!(store.summary(&Range::new(lower, part.upper)).unwrap(), part.summary);
            total = total + part.summary;
            lower = part.upper;
        }
        prop_assert_eq!(total, whole);
    }
}

#[test]
fn one_item_more_or_less_changes_the_fingerprint() {
    let items = random_items(&mut StdRng::seed_from_u64(1), 1_000, 600);
    let all = Summary::of_items(&items);
    let fewer = Summary::of_items(&items[1..]);
    assert_ne!(all.fingerprint(), fewer.fingerprint());
    assert_eq!(all - Summary::of(&items[0]), fewer);
    assert!(items.iter().all(|i| i.created_at.0 >= BASE));
}
