//! The store as a `SyncStore`: its summaries, items and splits equal those of
//! `swapmesh_sync::MemoryStore` on the same items, whatever inserts, replacements
//! and sweeps came before; and two sled stores reconcile to exactly their
//! difference.

mod common;

use std::ops::Bound as StdBound;
use std::sync::OnceLock;

use common::{NOW, Rec};
use proptest::prelude::*;
use swapmesh_protocol::{Geohash, MeshId, Timestamp, Topic, Verified};
use swapmesh_store::Store;
use swapmesh_sync::{Bound, Config, Item, MemoryStore, Range, Reconciler, SyncStore};

/// Narrow buckets (16 s) so that the small sets of a test case span many buckets
/// and ranges cut through them.
const TEST_BITS: u32 = 4;

fn area_topic() -> Topic {
    Topic::area(&Geohash::parse_cell("u4pru").unwrap())
}

fn mesh_topic() -> Topic {
    Topic::mesh(&MeshId::local())
}

/// Records over about 50 buckets: 3 authors × 4 addresses × 3 versions × (live,
/// withdrawn), some on a mesh too, living from 20 minutes to a day.
fn pool() -> &'static [Verified] {
    static POOL: OnceLock<Vec<Verified>> = OnceLock::new();
    POOL.get_or_init(|| {
        let mut out = Vec::new();
        let mut n = 0u64;
        for key in 1..=3u64 {
            for d in ["a", "b", "c", "d"] {
                for seq in 1..=3u64 {
                    for withdrawn in [false, true] {
                        n += 1;
                        // Spread over 800 s; a few share a second.
                        let created_at = NOW.0 + (n * 37) % 800;
                        let life = [1_200, 3_000, 86_400][(n % 3) as usize];
                        let mut rec = Rec {
                            key,
                            seq,
                            created_at,
                            expires_at: created_at + life,
                            withdrawn,
                            ..Rec::new(d, "u4pruc")
                        };
                        if d == "b" || d == "d" {
                            rec.meshes = vec!["local".into()];
                        }
                        out.push(rec.sign());
                    }
                }
            }
        }
        out
    })
}

/// The topic's items as the store lists them (the topic scan, itself checked
/// against a model in `model.rs`).
fn scanned(store: &Store, topic: &Topic) -> Vec<Item> {
    store
        .topic_items(topic, StdBound::Unbounded, StdBound::Unbounded)
        .map(|r| Item::from(r.unwrap()))
        .collect()
}

/// Points to cut ranges at: the ends, every item, points between items, and
/// bucket starts.
fn points(items: &[Item]) -> Vec<Bound> {
    let mut out = vec![Bound::MIN, Bound::End];
    out.extend(items.iter().map(|i| Bound::At(*i)));
    out.extend(
        items
            .windows(2)
            .filter(|w| w[0] < w[1])
            .map(|w| Bound::between(&w[0], &w[1])),
    );
    for t in (NOW.0..NOW.0 + 820).step_by(16) {
        out.push(Bound::At(Item::new(
            Timestamp(t),
            swapmesh_protocol::RecordId([0; 32]),
        )));
    }
    out
}

fn assert_same_view(store: &Store, topic: &Topic, picks: &[(usize, usize, usize)]) {
    let items = scanned(store, topic);
    let memory = MemoryStore::from_items(items.iter().copied());
    let view = store.sync_view(topic);
    let points = points(&items);
    let mut ranges = vec![Range::FULL];
    ranges.extend(
        picks
            .iter()
            .map(|(a, b, _)| Range::new(points[a % points.len()], points[b % points.len()])),
    );
    for (range, parts) in ranges.iter().zip(picks.iter().map(|p| p.2).chain([8])) {
        assert_eq!(
            view.summary(range).unwrap(),
            memory.summary(range).unwrap(),
            "summary of {range:?}"
        );
        for limit in [0, 1, 3, usize::MAX] {
            assert_eq!(
                view.items(range, limit).unwrap(),
                SyncStore::items(&memory, range, limit).unwrap(),
                "items of {range:?}, limit {limit}"
            );
        }
        let parts = parts % 9 + 1;
        assert_eq!(
            view.split(range, parts).unwrap(),
            memory.split(range, parts).unwrap(),
            "split of {range:?} into {parts}"
        );
    }
}

#[derive(Clone, Debug)]
enum Op {
    Insert(usize),
    Batch(Vec<usize>),
    Sweep,
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    let n = pool().len();
    prop_oneof![
        6 => (0..n).prop_map(Op::Insert),
        1 => proptest::collection::vec(0..n, 1..8).prop_map(Op::Batch),
        1 => Just(Op::Sweep),
        2 => (1..=600u64).prop_map(Op::Advance),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn summaries_items_and_splits_equal_the_memory_store_after_any_history(
        ops in proptest::collection::vec(op(), 1..50),
        picks in proptest::collection::vec((0..10_000usize, 0..10_000usize, 0..100usize), 12),
    ) {
        let store = Store::temporary_with_bucket_bits(TEST_BITS).unwrap();
        let mut now = Timestamp(NOW.0 + 800);
        for op in &ops {
            match op {
                Op::Insert(i) => drop(store.insert(&pool()[*i], now).unwrap()),
                Op::Batch(is) => {
                    let batch: Vec<Verified> = is.iter().map(|i| pool()[*i].clone()).collect();
                    store.insert_batch(&batch, now).unwrap();
                }
                Op::Sweep => drop(store.sweep_expired(now).unwrap()),
                Op::Advance(secs) => now = now.plus(*secs),
            }
        }
        let c = store.check_consistency().unwrap();
        prop_assert!(c.is_ok(), "{:?}", c.problems);
        assert_same_view(&store, &area_topic(), &picks);
        assert_same_view(&store, &mesh_topic(), &picks);
    }
}

/// Listings on the mesh `local`, `n` of them from `first`, one every 7 seconds.
fn mesh_listings(first: usize, n: usize) -> Vec<Verified> {
    (first..first + n)
        .map(|i| {
            let created_at = NOW.0 + 7 * i as u64;
            Rec {
                // 50 authors: each within its quota.
                key: 1 + (i % 50) as u64,
                created_at,
                expires_at: created_at + 30 * 86_400,
                area: None,
                meshes: vec!["local".into()],
                withdrawn: i % 11 == 0,
                ..Rec::new(&format!("item-{i}"), "u4pru")
            }
            .sign()
        })
        .collect()
}

/// Runs a session with the initiator on `a` and the responder on `b`, passing
/// encoded bytes; returns the outcome and the bytes sent both ways.
fn reconcile(a: &Store, b: &Store, topic: &Topic) -> (swapmesh_sync::Outcome, usize) {
    let (ours, theirs) = (a.sync_view(topic), b.sync_view(topic));
    let mut initiator = Reconciler::initiator(Config::default()).unwrap();
    let mut responder = Reconciler::responder(Config::default()).unwrap();
    let mut request = initiator.initiate_bytes(&ours).unwrap();
    let mut bytes = request.len();
    loop {
        let response = responder.handle_bytes(&theirs, &request).unwrap().unwrap();
        bytes += response.len();
        match initiator.handle_bytes(&ours, &response).unwrap() {
            Some(next) => {
                bytes += next.len();
                request = next;
            }
            None => break,
        }
    }
    (initiator.into_outcome(), bytes)
}

fn items_of(records: &[Verified]) -> Vec<Item> {
    let mut out: Vec<Item> = records
        .iter()
        .map(|r| Item::new(r.body().created_at, r.id()))
        .collect();
    out.sort();
    out
}

#[test]
fn two_sled_stores_reconcile_to_exactly_their_difference() {
    let now = Timestamp(NOW.0 + 86_400);
    let common = mesh_listings(0, 3_000);
    let only_a = mesh_listings(3_000, 12);
    let only_b = mesh_listings(3_012, 17);
    for bits in [TEST_BITS, swapmesh_store::SYNC_BUCKET_BITS] {
        let a = Store::temporary_with_bucket_bits(bits).unwrap();
        let b = Store::temporary_with_bucket_bits(bits).unwrap();
        for chunk in common.chunks(500) {
            a.insert_batch(chunk, now).unwrap();
            b.insert_batch(chunk, now).unwrap();
        }
        let topic = mesh_topic();

        let (same, bytes) = reconcile(&a, &b, &topic);
        assert!(same.need.is_empty() && same.have.is_empty(), "{same:?}");
        assert_eq!(same.rounds, 1);
        assert!(bytes < 1024, "{bytes} bytes when nothing differs");

        a.insert_batch(&only_a, now).unwrap();
        b.insert_batch(&only_b, now).unwrap();
        // The differences on both sides are scattered into the common set's buckets.
        let (outcome, _) = reconcile(&a, &b, &topic);
        assert_eq!(outcome.need, items_of(&only_b), "bits {bits}");
        assert_eq!(outcome.have, items_of(&only_a), "bits {bits}");
        // The same session over in-memory copies finds the same.
        let memory = |s: &Store| MemoryStore::from_items(scanned(s, &topic));
        let (ma, mb) = (memory(&a), memory(&b));
        let mut initiator = Reconciler::initiator(Config::default()).unwrap();
        let mut responder = Reconciler::responder(Config::default()).unwrap();
        let mut request = initiator.initiate_bytes(&ma).unwrap();
        loop {
            let response = responder.handle_bytes(&mb, &request).unwrap().unwrap();
            match initiator.handle_bytes(&ma, &response).unwrap() {
                Some(next) => request = next,
                None => break,
            }
        }
        assert_eq!(initiator.into_outcome(), outcome);
        assert!(a.check_consistency().unwrap().is_ok());
    }
}

#[test]
fn a_sweep_removes_expired_items_from_the_sync_set_and_its_sums() {
    let store = Store::temporary_with_bucket_bits(TEST_BITS).unwrap();
    let records = pool();
    store.insert_batch(records, Timestamp(NOW.0 + 800)).unwrap();
    let topic = area_topic();
    let before = store.sync_view(&topic).summary(&Range::FULL).unwrap();
    assert!(before.count > 0);
    // After a day and more, everything has expired (tombstones' fences included).
    store.sweep_expired(Timestamp(NOW.0 + 3 * 86_400)).unwrap();
    let after = store.sync_view(&topic).summary(&Range::FULL).unwrap();
    assert_eq!(after, swapmesh_sync::Summary::EMPTY);
    let c = store.check_consistency().unwrap();
    assert!(c.is_ok(), "{:?}", c.problems);
    assert_eq!(c.sync_buckets, 0);
}
