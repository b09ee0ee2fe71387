//! Model-based property tests: the store against a plain in-memory model of the
//! replace, tombstone and expiry rules (BTreeMaps), step by step.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::OnceLock;

use common::{NOW, Rec};
use proptest::prelude::*;
use swapmesh_protocol::listing::{DealKind, Purpose};
use swapmesh_protocol::{
    Address, Geohash, MeshId, RecordId, Timestamp, Topic, Verified, Version, supersedes, topics,
};
use swapmesh_store::words::listing_words;
use swapmesh_store::{InsertOutcome, Query, Store};

const HOUR: u64 = 3_600;
const DAY: u64 = 24 * HOUR;
const DS: [&str; 3] = ["a", "b", "c"];

/// Every record a case may insert, signed once for all cases: 2 authors × 3
/// addresses × 3 sequence numbers × 2 equal-seq rivals × (live, withdrawn) × 3
/// lifetimes.
fn pool() -> &'static [Verified] {
    static POOL: OnceLock<Vec<Verified>> = OnceLock::new();
    POOL.get_or_init(|| {
        let mut out = Vec::new();
        for key in [1, 2] {
            for d in DS {
                for seq in 1..=3u64 {
                    for rival in 0..2 {
                        for withdrawn in [false, true] {
                            for life in [DAY, 4 * DAY, 20 * DAY] {
                                out.push(pool_record(key, d, seq, rival, withdrawn, life).sign());
                            }
                        }
                    }
                }
            }
        }
        out
    })
}

fn pool_record(key: u64, d: &str, seq: u64, rival: u8, withdrawn: bool, life: u64) -> Rec {
    let created_at = NOW.0 + seq * 10;
    let mut rec = Rec {
        key,
        seq,
        created_at,
        expires_at: created_at + life,
        withdrawn,
        title: if rival == 0 {
            "Blue drill".into()
        } else {
            "Red saw".into()
        },
        tags: vec![format!("tag{seq}")],
        ..Rec::new(d, "u4pru")
    };
    match d {
        "a" => rec.meshes = vec!["local".into()],
        "b" => {
            rec.area = Some("u4prvb".into());
            rec.kinds = vec![DealKind::Give];
        }
        _ => {
            rec.area = None;
            rec.meshes = vec!["local".into(), "abc".into()];
            rec.kinds = vec![DealKind::Swap];
            rec.purpose = Purpose::Want;
        }
    }
    rec
}

/// The plain model: per address its current version and fence, and the stored
/// records with the time the sweep drops them.
#[derive(Default, Clone)]
struct Model {
    addresses: BTreeMap<Address, (Version, Timestamp)>,
    records: BTreeMap<RecordId, (Verified, Timestamp)>,
}

impl Model {
    fn insert(&mut self, v: &Verified, now: Timestamp) -> InsertOutcome {
        let body = v.body();
        if body.expires_at <= now {
            return InsertOutcome::Expired;
        }
        let address = body.address();
        let new = Version {
            seq: body.seq,
            id: v.id(),
        };
        let tomb = body.is_tombstone();
        match self.addresses.get(&address).copied() {
            None => {
                self.put(v, body.expires_at);
                if tomb {
                    InsertOutcome::Tombstoned
                } else {
                    InsertOutcome::Inserted
                }
            }
            Some((cur, _)) if cur.id == new.id => InsertOutcome::Duplicate,
            Some((cur, fence)) if supersedes(new, cur) => {
                let replaced = self.records.remove(&cur.id).is_some();
                self.put(v, fence.max(body.expires_at));
                if tomb {
                    InsertOutcome::Tombstoned
                } else if replaced {
                    InsertOutcome::Replaced
                } else {
                    InsertOutcome::Inserted
                }
            }
            Some((cur, fence)) => {
                let fence = fence.max(body.expires_at);
                self.addresses.insert(address, (cur, fence));
                if let Some((r, sweep)) = self.records.get_mut(&cur.id)
                    && r.body().is_tombstone()
                {
                    *sweep = fence;
                }
                InsertOutcome::Stale
            }
        }
    }

    fn put(&mut self, v: &Verified, fence: Timestamp) {
        let body = v.body();
        let sweep = if body.is_tombstone() {
            fence
        } else {
            body.expires_at
        };
        self.records.insert(v.id(), (v.clone(), sweep));
        self.addresses.insert(
            body.address(),
            (
                Version {
                    seq: body.seq,
                    id: v.id(),
                },
                fence,
            ),
        );
    }

    fn sweep(&mut self, now: Timestamp) -> usize {
        let before = self.records.len();
        self.records.retain(|_, (_, sweep)| *sweep > now);
        self.addresses.retain(|_, (_, fence)| *fence > now);
        before - self.records.len()
    }

    fn search(&self, q: &Query) -> Vec<RecordId> {
        let words: BTreeSet<String> = q
            .words
            .iter()
            .flat_map(|w| swapmesh_store::words::words(w))
            .collect();
        let mut hits: Vec<(Timestamp, RecordId)> = self
            .records
            .values()
            .filter_map(|(v, _)| {
                let b = v.body();
                let l = b.listing().filter(|l| !l.is_withdrawn())?;
                let in_cell = b.area.as_ref().is_some_and(|a| q.cells.contains(&a.cell()));
                let in_mesh = b.meshes.iter().any(|m| q.meshes.contains(m));
                let places = (q.cells.is_empty() && q.meshes.is_empty()) || in_cell || in_mesh;
                let kinds = q.kinds.is_empty() || l.kinds.iter().any(|k| q.kinds.contains(k));
                let purpose = q.purpose.is_none_or(|p| p == l.purpose);
                let author = q.author.is_none_or(|a| a == b.author);
                let has = listing_words(l);
                let words_ok = words.iter().all(|w| has.contains(w));
                (places && kinds && purpose && author && words_ok).then_some((b.created_at, v.id()))
            })
            .collect();
        hits.sort();
        hits.reverse();
        hits.into_iter().map(|(_, id)| id).collect()
    }

    fn topic(&self, topic: &Topic) -> Vec<(Timestamp, RecordId)> {
        let mut items: Vec<_> = self
            .records
            .values()
            .filter(|(v, _)| topics(v.body()).contains(topic))
            .map(|(v, _)| (v.body().created_at, v.id()))
            .collect();
        items.sort();
        items
    }
}

fn queries() -> Vec<Query> {
    let cell = |s: &str| Geohash::parse_cell(s).unwrap();
    let author2 = Rec {
        key: 2,
        ..Rec::new("a", "u4pru")
    }
    .author();
    vec![
        Query::default(),
        Query {
            cells: vec![cell("u4pru")],
            ..Query::default()
        },
        Query {
            cells: vec![cell("u4pru"), cell("u4prv")],
            kinds: vec![DealKind::Give],
            ..Query::default()
        },
        Query {
            meshes: vec![MeshId::local()],
            purpose: Some(Purpose::Want),
            ..Query::default()
        },
        Query {
            words: vec!["blue".into()],
            ..Query::default()
        },
        Query {
            words: vec!["red tag2".into()],
            kinds: vec![DealKind::Swap, DealKind::Rent],
            ..Query::default()
        },
        Query {
            author: Some(author2),
            cells: vec![cell("u4prv")],
            meshes: vec![MeshId::parse("abc").unwrap()],
            ..Query::default()
        },
    ]
}

fn all_topics() -> Vec<Topic> {
    vec![
        Topic::area(&Geohash::parse_cell("u4pru").unwrap()),
        Topic::area(&Geohash::parse_cell("u4prv").unwrap()),
        Topic::mesh(&MeshId::local()),
        Topic::mesh(&MeshId::parse("abc").unwrap()),
    ]
}

/// Every page of a query, with a small limit so cursors are exercised.
fn search_all(store: &Store, q: &Query) -> Vec<RecordId> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .search(&Query {
                cursor,
                limit: 3,
                ..q.clone()
            })
            .unwrap();
        out.extend(page.records.iter().map(|r| r.id));
        match page.next {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

fn assert_same(store: &Store, model: &Model, step: usize) {
    for q in queries() {
        assert_eq!(
            search_all(store, &q),
            model.search(&q),
            "step {step}: {q:?}"
        );
    }
    for t in all_topics() {
        let got: Vec<_> = store
            .topic_items(&t, Bound::Unbounded, Bound::Unbounded)
            .map(Result::unwrap)
            .collect();
        assert_eq!(got, model.topic(&t), "step {step}: {t}");
    }
    for key in [1, 2] {
        for d in DS {
            let address = Rec {
                key,
                ..Rec::new(d, "u4pru")
            }
            .body()
            .address();
            let want = model.addresses.get(&address).map(|(v, _)| *v);
            assert_eq!(
                store.current_version(&address).unwrap(),
                want,
                "step {step}: {address:?}"
            );
        }
    }
    let c = store.check_consistency().unwrap();
    assert!(c.is_ok(), "step {step}: {c:?}");
    assert_eq!(c.records, model.records.len(), "step {step}");
    assert_eq!(c.addresses, model.addresses.len(), "step {step}");
}

#[derive(Clone, Debug)]
enum Op {
    Insert(usize),
    /// Several records in one `insert_batch` transaction.
    Batch(Vec<usize>),
    Sweep,
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    let n = pool().len();
    prop_oneof![
        6 => (0..n).prop_map(Op::Insert),
        1 => proptest::collection::vec(0..n, 1..6).prop_map(Op::Batch),
        1 => Just(Op::Sweep),
        2 => (1..=120u64).prop_map(|h| Op::Advance(h * HOUR)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn store_matches_the_model_after_every_step(ops in proptest::collection::vec(op(), 1..60)) {
        let store = Store::temporary().unwrap();
        let mut model = Model::default();
        let mut now = Timestamp(NOW.0 + 100);
        for (step, op) in ops.iter().enumerate() {
            match op {
                Op::Insert(i) => {
                    let v = &pool()[*i];
                    prop_assert_eq!(store.insert(v, now).unwrap(), model.insert(v, now), "step {} {:?}", step, op);
                }
                Op::Batch(is) => {
                    let batch: Vec<Verified> = is.iter().map(|i| pool()[*i].clone()).collect();
                    let want: Vec<InsertOutcome> = batch.iter().map(|v| model.insert(v, now)).collect();
                    prop_assert_eq!(store.insert_batch(&batch, now).unwrap(), want, "step {}", step);
                }
                Op::Sweep => {
                    prop_assert_eq!(store.sweep_expired(now).unwrap(), model.sweep(now), "step {}", step);
                }
                Op::Advance(secs) => now = now.plus(*secs),
            }
            assert_same(&store, &model, step);
        }
    }

    #[test]
    fn inserting_the_same_records_in_any_order_gives_the_same_state(
        (set, shuffled) in proptest::collection::vec(0..216usize, 1..30)
            .prop_flat_map(|v| (Just(v.clone()), Just(v).prop_shuffle()))
    ) {
        let now = Timestamp(NOW.0 + 100);
        let a = Store::temporary().unwrap();
        let b = Store::temporary().unwrap();
        let mut model = Model::default();
        for i in &set {
            a.insert(&pool()[*i], now).unwrap();
            model.insert(&pool()[*i], now);
        }
        for i in &shuffled {
            b.insert(&pool()[*i], now).unwrap();
        }
        assert_same(&a, &model, 0);
        assert_same(&b, &model, 0);
        // And they age the same way.
        let later = Timestamp(now.0 + 5 * DAY);
        prop_assert_eq!(a.sweep_expired(later).unwrap(), b.sweep_expired(later).unwrap());
        model.sweep(later);
        assert_same(&a, &model, 1);
        assert_same(&b, &model, 1);
    }
}

#[test]
fn the_pool_has_the_size_the_strategies_assume() {
    assert_eq!(pool().len(), 216);
}
