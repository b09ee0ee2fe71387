//! Honest peers: both sides end able to hold the union, in few rounds and bytes.

use proptest::prelude::*;
use swapmesh_sync::{Config, MemoryStore, ScanStore};

use crate::support::{pair, run, truth};

/// The round bound asserted: `2 + ceil(log_b(n))` for split factor `b` and the
/// larger set size `n`, plus one round per full message of listed items that a
/// large difference needs (each message carries at most `max_message_bytes`; an
/// item costs at most 41 bytes).
fn round_bound(config: &Config, n: usize, d: usize) -> u32 {
    let levels = (n.max(1) as f64).log(config.split_parts as f64).ceil() as u32;
    let pages = (d * 41).div_ceil(config.max_message_bytes) as u32;
    2 + levels + pages
}

fn sizes() -> impl Strategy<Value = (usize, usize, usize)> {
    prop_oneof![
        // Anything from disjoint to equal sets of up to 10,000 items.
        (0usize..=10_000, 0usize..=10_000, 0usize..=100).prop_map(|(na, nb, overlap)| {
            let common = na.min(nb) * overlap / 100;
            (common, na - common, nb - common)
        }),
        // Large sets, few differences on both sides (the common case).
        (0usize..=10_000, 0usize..=20, 0usize..=20),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn both_sides_learn_exactly_the_difference_within_log_rounds(
        seed in any::<u64>(),
        (common, a_only, b_only) in sizes(),
        spread in prop_oneof![Just(1u64), Just(600), Just(30 * 86_400)],
    ) {
        let (a, b) = pair(seed, common, a_only, b_only, spread);
        let config = Config::default();
        let result = run(&MemoryStore::from_items(a.clone()), &MemoryStore::from_items(b.clone()), config).unwrap();
        let (need, have) = truth(&a, &b);
        prop_assert_eq!(&result.outcome.need, &need);
        prop_assert_eq!(&result.outcome.have, &have);
        let n = a.len().max(b.len());
        let bound = round_bound(&config, n, need.len() + have.len());
        prop_assert!(result.rounds <= bound, "{} rounds for n = {n}, d = {}, bound {bound}", result.rounds, need.len() + have.len());
    }

    #[test]
    fn small_splits_and_lists_still_converge(
        seed in any::<u64>(),
        (common, a_only, b_only) in (0usize..=2_000, 0usize..=200, 0usize..=200),
        split_parts in 2usize..=8,
        list_threshold in 1usize..=4,
    ) {
        let (a, b) = pair(seed, common, a_only, b_only, 3_600);
        let config = Config { split_parts, list_threshold, ..Config::default() };
        let result = run(&MemoryStore::from_items(a.clone()), &MemoryStore::from_items(b.clone()), config).unwrap();
        prop_assert_eq!((result.outcome.need, result.outcome.have), truth(&a, &b));
    }
}

#[test]
fn equal_sets_finish_in_one_round_with_a_first_message_under_1_kib() {
    for n in [0, 1, 16, 17, 10_000, 100_000] {
        let (a, _) = pair(7, n, 0, 0, 30 * 86_400);
        let store = MemoryStore::from_items(a);
        let result = run(&store, &store, Config::default()).unwrap();
        assert_eq!(result.rounds, 1, "n = {n}");
        assert!(
            result.first_len < 1024,
            "n = {n}: first message {} bytes",
            result.first_len
        );
        assert!(
            result.bytes_in < 16,
            "n = {n}: answer {} bytes",
            result.bytes_in
        );
        assert!(result.outcome.need.is_empty() && result.outcome.have.is_empty());
    }
}

#[test]
fn an_empty_node_learns_a_whole_set_larger_than_one_message() {
    // 20,000 items do not fit one 256 KiB message: the answer comes in pages.
    let (_, b) = pair(11, 0, 0, 20_000, 30 * 86_400);
    let config = Config::default();
    let empty = MemoryStore::new();
    let full = MemoryStore::from_items(b.clone());
    let result = run(&empty, &full, config).unwrap();
    let (need, have) = truth(&[], &b);
    assert_eq!(result.outcome.need, need);
    assert_eq!(result.outcome.have, have);
    // And the other way round: the initiator holds everything.
    let result = run(&full, &empty, config).unwrap();
    assert_eq!(result.outcome.have, need);
    assert!(result.outcome.need.is_empty());
}

#[test]
fn items_sharing_one_timestamp_are_told_apart_by_id_prefixes() {
    let (a, b) = pair(3, 5_000, 40, 40, 1);
    let result = run(
        &MemoryStore::from_items(a.clone()),
        &MemoryStore::from_items(b.clone()),
        Config::default(),
    )
    .unwrap();
    assert_eq!((result.outcome.need, result.outcome.have), truth(&a, &b));
}

#[test]
fn a_store_without_sums_gives_the_same_answer() {
    let (a, b) = pair(5, 3_000, 25, 30, 86_400);
    let indexed = run(
        &MemoryStore::from_items(a.clone()),
        &MemoryStore::from_items(b.clone()),
        Config::default(),
    )
    .unwrap();
    let scanned = run(
        &ScanStore::from_items(a),
        &ScanStore::from_items(b),
        Config::default(),
    )
    .unwrap();
    assert_eq!(indexed.outcome, scanned.outcome);
    assert_eq!(
        (indexed.bytes_out, indexed.bytes_in),
        (scanned.bytes_out, scanned.bytes_in)
    );
}
