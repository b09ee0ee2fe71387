//! Quotas: per author and topic the same records kept on every node, whatever
//! order they arrived in (`swapmesh_store::quota`).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use common::{NOW, Rec, block_on};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use swapmesh_protocol::{
    AuthorKey, Geohash, MeshId, RecordId, Timestamp, Topic, Verified, Version, supersedes, topics,
};
use swapmesh_store::quota::{PER_DAY, PER_TOPIC};
use swapmesh_store::{InsertOutcome, Quota, Store, StoreOptions};

const DAY: u64 = 86_400;
/// A UTC midnight a few days before `NOW`.
const DAY0: u64 = (NOW.0 / DAY - 4) * DAY;
/// When the records are inserted: after all of them were created.
const LATER: Timestamp = Timestamp(NOW.0 + 2 * DAY);

fn area() -> Topic {
    Topic::area(&Geohash::parse_cell("u4pru").unwrap())
}

fn mesh() -> Topic {
    Topic::mesh(&MeshId::local())
}

/// What every node keeps of `records`, computed from scratch: per address the
/// version that supersedes the others; per author and topic, in the order later
/// day first and earlier `(created_at, id)` first within a day, each record
/// while fewer than `PER_TOPIC` of the topic and `PER_DAY` of its day were
/// kept before it. Returns the kept ids per topic.
fn model(records: &[Verified]) -> BTreeMap<Topic, BTreeSet<RecordId>> {
    let mut winners: BTreeMap<_, &Verified> = BTreeMap::new();
    for r in records {
        let address = r.body().address();
        let key = (address.author.0, address.kind.code(), address.d.clone());
        let version = |v: &Verified| Version {
            seq: v.body().seq,
            id: v.id(),
        };
        let better = winners
            .get(&key)
            .is_none_or(|w| supersedes(version(r), version(w)));
        if better {
            winners.insert(key, r);
        }
    }
    // Per author and topic: (inverted day, created_at, id) of each winner.
    type Ranked = Vec<(u64, u64, RecordId)>;
    let mut groups: BTreeMap<(AuthorKey, Topic), Ranked> = BTreeMap::new();
    for r in winners.values() {
        let at = r.body().created_at.0;
        for t in topics(r.body()) {
            groups
                .entry((r.body().author, t))
                .or_default()
                .push((u64::MAX - at / DAY, at, r.id()));
        }
    }
    let mut kept: BTreeMap<Topic, BTreeSet<RecordId>> = BTreeMap::new();
    for ((_, topic), mut group) in groups {
        group.sort();
        let (mut total, mut per_day) = (0, BTreeMap::new());
        for (day, _, id) in group {
            let today = per_day.entry(day).or_insert(0);
            if total < PER_TOPIC && *today < PER_DAY {
                total += 1;
                *today += 1;
                kept.entry(topic.clone()).or_default().insert(id);
            }
        }
    }
    kept
}

/// The ids a store indexes under `topic` (its sync set).
fn held(store: &Store, topic: &Topic) -> BTreeSet<RecordId> {
    store
        .topic_items(topic, Bound::Unbounded, Bound::Unbounded)
        .map(|item| item.unwrap().1)
        .collect()
}

/// Records of an author who floods: `n` distinct listings over four days,
/// in the area, the mesh or both.
fn flood(rng: &mut StdRng, key: u64, n: usize) -> Vec<Verified> {
    (0..n)
        .map(|i| {
            let created_at = DAY0 + rng.gen_range(0..4) * DAY + rng.gen_range(0..DAY);
            let (area, meshes) = match rng.gen_range(0..4) {
                0 => (None, vec!["local".to_owned()]),
                1 => (Some("u4pru".to_owned()), vec!["local".to_owned()]),
                _ => (Some("u4pru".to_owned()), vec![]),
            };
            Rec {
                key,
                created_at,
                expires_at: created_at + 60 * DAY,
                area,
                meshes,
                withdrawn: i % 13 == 0,
                ..Rec::new(&format!("flood-{key}-{i}"), "u4pru")
            }
            .sign()
        })
        .collect()
}

/// An author within the quotas who edits and withdraws: some of its listings
/// come in several versions, each later than the one before.
fn editor(rng: &mut StdRng, key: u64) -> Vec<Verified> {
    let mut out = Vec::new();
    for i in 0..30 {
        let mut created_at = DAY0 + rng.gen_range(0..3) * DAY + rng.gen_range(0..DAY);
        for seq in 1..=rng.gen_range(1..4u64) {
            out.push(
                Rec {
                    key,
                    seq,
                    created_at,
                    expires_at: created_at + 60 * DAY,
                    withdrawn: seq == 3,
                    title: format!("Thing {i}, version {seq}"),
                    meshes: vec!["local".to_owned()],
                    ..Rec::new(&format!("edited-{i}"), "u4pru")
                }
                .sign(),
            );
            created_at += rng.gen_range(1..DAY);
        }
    }
    out
}

/// Inserts `records` in batches of random sizes (and some one by one, as
/// gossip on a topic they name), in the order given.
fn insert_all(store: &Store, rng: &mut StdRng, records: &[Verified]) {
    let mut rest = records;
    while !rest.is_empty() {
        let n = rng.gen_range(1..=rest.len().min(64));
        let (batch, tail) = rest.split_at(n);
        if n == 1 && rng.gen_bool(0.5) {
            let topic = topics(batch[0].body())[0].clone();
            store.insert_gossip(&batch[0], &topic, LATER).unwrap();
        } else {
            store.insert_batch(batch, LATER).unwrap();
        }
        rest = tail;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, failure_persistence: None, ..ProptestConfig::default() })]

    /// Two floods over both caps and two editors within them, shuffled three
    /// ways: each store holds what the model keeps, under each topic, and
    /// nothing else.
    #[test]
    fn quotas_hold_the_same_set_in_any_arrival_order(seed in any::<u64>()) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut records = flood(&mut rng, 1, 700);
        records.extend(flood(&mut rng, 2, 260));
        records.extend(editor(&mut rng, 3));
        records.extend(editor(&mut rng, 4));
        let want = model(&records);
        let kept: BTreeSet<RecordId> = want.values().flatten().copied().collect();
        prop_assert!(want[&area()].len() > PER_TOPIC, "the floods fill both topics");
        for _ in 0..3 {
            records.shuffle(&mut rng);
            let store = Store::temporary().unwrap();
            insert_all(&store, &mut rng, &records);
            for topic in [area(), mesh()] {
                prop_assert_eq!(&held(&store, &topic), want.get(&topic).unwrap());
            }
            for r in &records {
                prop_assert_eq!(store.get(&r.id()).unwrap().is_some(), kept.contains(&r.id()));
            }
            let c = store.check_consistency().unwrap();
            prop_assert!(c.is_ok(), "{:?}", c.problems);
        }
    }
}

/// Listings of author 1 on `day` (0-based from `DAY0`), `n` of them, one
/// second apart from `first` seconds after midnight.
fn day_of(day: u64, first: u64, n: usize, tag: &str) -> Vec<Verified> {
    (0..n as u64)
        .map(|i| {
            let created_at = DAY0 + day * DAY + first + i;
            Rec {
                created_at,
                expires_at: created_at + 60 * DAY,
                ..Rec::new(&format!("{tag}-{day}-{i}"), "u4pru")
            }
            .sign()
        })
        .collect()
}

#[test]
fn a_day_keeps_its_first_records_and_a_topic_its_latest_days() {
    let store = Store::temporary().unwrap();
    let monday = day_of(0, 100, PER_DAY + 20, "mon");
    let outcomes = store.insert_batch(&monday, LATER).unwrap();
    assert!(
        outcomes[..PER_DAY]
            .iter()
            .all(|o| *o == InsertOutcome::Inserted)
    );
    assert!(
        outcomes[PER_DAY..]
            .iter()
            .all(|o| *o == InsertOutcome::OverQuota(Quota::Day)),
        "{outcomes:?}"
    );
    // An earlier one of the same day displaces the day's last.
    let early = day_of(0, 0, 1, "early");
    assert_eq!(
        store.insert(&early[0], LATER).unwrap(),
        InsertOutcome::Inserted
    );
    assert!(store.get(&monday[PER_DAY - 1].id()).unwrap().is_none());
    assert_eq!(store.dropped_by_quota(), 1);
    // Two later days fill the topic; each record of them pushes one of
    // Monday's out, from its last.
    for (day, tag) in [(1, "tue"), (2, "wed")] {
        let records = day_of(day, 0, PER_DAY, tag);
        assert!(
            store
                .insert_batch(&records, LATER)
                .unwrap()
                .iter()
                .all(|o| o.is_new())
        );
    }
    assert!(held(&store, &area()).len() == PER_TOPIC);
    assert!(
        monday
            .iter()
            .chain(&early)
            .all(|r| store.get(&r.id()).unwrap().is_none()),
        "Monday is the oldest day: all of it is gone"
    );
    // An older day has no place left.
    let sunday = day_of(0, 50, 1, "sun-late");
    assert_eq!(
        store.insert(&sunday[0], LATER).unwrap(),
        InsertOutcome::OverQuota(Quota::Topic)
    );
    assert!(store.check_consistency().unwrap().is_ok());
}

#[test]
fn a_refused_record_is_kept_once_its_place_is_free_and_it_comes_again() {
    let store = Store::temporary().unwrap();
    let records = day_of(0, 0, PER_DAY + 1, "thing");
    let (kept, late) = records.split_at(PER_DAY);
    store.insert_batch(kept, LATER).unwrap();
    assert_eq!(
        store.insert(&late[0], LATER).unwrap(),
        InsertOutcome::OverQuota(Quota::Day)
    );
    // A refused record's address remembers it.
    assert_eq!(
        store.insert(&late[0], LATER).unwrap(),
        InsertOutcome::OverQuota(Quota::Day)
    );
    // One of the day's records is withdrawn by a version of the next day:
    // the day has a place again, and the refused record comes again (as the
    // next sync session offers it).
    let withdrawn = Rec {
        seq: 2,
        created_at: DAY0 + DAY + 5,
        expires_at: DAY0 + 60 * DAY,
        withdrawn: true,
        ..Rec::new("thing-0-3", "u4pru")
    };
    assert_eq!(
        store.insert(&withdrawn.sign(), LATER).unwrap(),
        InsertOutcome::Tombstoned
    );
    assert_eq!(
        store.insert(&late[0], LATER).unwrap(),
        InsertOutcome::Inserted
    );
    assert!(store.get(&late[0].id()).unwrap().is_some());
    let c = store.check_consistency().unwrap();
    assert!(c.is_ok(), "{:?}", c.problems);
}

#[test]
fn a_record_is_indexed_only_under_the_topics_that_keep_it() {
    let store = Store::temporary().unwrap();
    // The mesh is full of Monday's records; the area is empty.
    let in_mesh: Vec<_> = (0..PER_DAY as u64)
        .map(|i| {
            Rec {
                created_at: DAY0 + i,
                expires_at: DAY0 + 60 * DAY,
                area: None,
                meshes: vec!["local".to_owned()],
                ..Rec::new(&format!("mesh-{i}"), "u4pru")
            }
            .sign()
        })
        .collect();
    store.insert_batch(&in_mesh, LATER).unwrap();
    let both = Rec {
        created_at: DAY0 + 1_000,
        expires_at: DAY0 + 60 * DAY,
        meshes: vec!["local".to_owned()],
        ..Rec::new("both", "u4pru")
    }
    .sign();
    // Gossip on the mesh: kept out of it (not forwarded there) ...
    assert_eq!(
        store.insert_gossip(&both, &mesh(), LATER).unwrap(),
        InsertOutcome::OverQuota(Quota::Day)
    );
    // ... but stored for the area, and indexed there only.
    assert!(store.get(&both.id()).unwrap().is_some());
    assert!(held(&store, &area()).contains(&both.id()));
    assert!(!held(&store, &mesh()).contains(&both.id()));
    assert_eq!(
        store.insert_gossip(&both, &area(), LATER).unwrap(),
        InsertOutcome::Duplicate
    );
    assert!(store.check_consistency().unwrap().is_ok());
}

#[test]
fn the_quota_check_changes_nothing_and_names_the_quota() {
    let store = Store::temporary().unwrap();
    let records = day_of(0, 0, PER_DAY + 1, "mine");
    store.insert_batch(&records[..PER_DAY], LATER).unwrap();
    assert_eq!(
        store.quota_check(&records[PER_DAY]).unwrap(),
        Err(Quota::Day)
    );
    // An earlier one would displace the day's last: refused too.
    let earlier = Rec {
        created_at: DAY0,
        expires_at: DAY0 + 60 * DAY,
        ..Rec::new("earlier", "u4pru")
    };
    assert_eq!(store.quota_check(&earlier.sign()).unwrap(), Err(Quota::Day));
    assert_eq!(store.quota_check(&records[0]).unwrap(), Ok(()));
    let next_day = day_of(1, 0, 1, "mine");
    assert_eq!(store.quota_check(&next_day[0]).unwrap(), Ok(()));
    assert_eq!(held(&store, &area()).len(), PER_DAY);
}

#[test]
fn a_schema_4_database_is_brought_within_the_quotas_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let records = day_of(0, 0, PER_DAY + 30, "old");
    // Without compression, which `raw_sled` opens with.
    let plain = StoreOptions {
        compression: false,
        ..StoreOptions::default()
    };
    // Schema 4 had no quotas: records over them, all indexed. Each chunk is
    // inserted into a store whose quotas were dropped.
    for chunk in records.chunks(PER_DAY) {
        let store = Store::open(dir.path(), plain.clone()).unwrap();
        store.insert_batch(chunk, LATER).unwrap();
        store.set_schema_version(4).unwrap();
        block_on(store.close()).unwrap();
        let db = common::raw_sled(dir.path());
        assert!(db.drop_tree("quotas").unwrap());
        db.flush().unwrap();
    }
    let store = Store::open(dir.path(), plain).unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        Some(swapmesh_store::SCHEMA_VERSION)
    );
    let want: BTreeSet<RecordId> = records[..PER_DAY].iter().map(|r| r.id()).collect();
    assert_eq!(held(&store, &area()), want);
    assert!(
        records[PER_DAY..]
            .iter()
            .all(|r| store.get(&r.id()).unwrap().is_none())
    );
    let c = store.check_consistency().unwrap();
    assert!(c.is_ok(), "{:?}", c.problems);
}
