//! The store's promises about single records over time: replace, tombstone and
//! expiry rules, reopening, schema versions, the address book and node state.

mod common;

use common::{NOW, Rec, block_on};
use swapmesh_protocol::{Timestamp, Topic, supersedes};
use swapmesh_store::{InsertOutcome, PeerEntry, Query, Store, StoreError, StoreOptions};

const DAY: u64 = 86_400;

fn everything(store: &Store) -> Vec<swapmesh_protocol::RecordId> {
    let topic = Topic::area(&swapmesh_protocol::Geohash::parse_cell("u4pru").unwrap());
    everything_in(store, &topic)
}

fn everything_in(store: &Store, topic: &Topic) -> Vec<swapmesh_protocol::RecordId> {
    store
        .topic_items(
            topic,
            std::ops::Bound::Unbounded,
            std::ops::Bound::Unbounded,
        )
        .map(|i| i.unwrap().1)
        .collect()
}

#[test]
fn newer_version_replaces_and_older_is_stale() {
    let store = Store::temporary().unwrap();
    let v1 = Rec::new("drill", "u4pru").sign();
    let v2 = Rec {
        seq: 2,
        created_at: NOW.0 + 10,
        ..Rec::new("drill", "u4pru")
    }
    .sign();
    assert_eq!(store.insert(&v1, NOW).unwrap(), InsertOutcome::Inserted);
    assert_eq!(store.insert(&v1, NOW).unwrap(), InsertOutcome::Duplicate);
    assert_eq!(store.insert(&v2, NOW).unwrap(), InsertOutcome::Replaced);
    assert_eq!(store.insert(&v1, NOW).unwrap(), InsertOutcome::Stale);
    assert!(store.get(&v1.id()).unwrap().is_none());
    assert_eq!(everything(&store), vec![v2.id()]);
    let current = store.get_current(&v2.body().address()).unwrap().unwrap();
    assert_eq!(current.id, v2.id());
    assert!(store.check_consistency().unwrap().is_ok());
}

#[test]
fn equal_seq_rivals_keep_the_lower_id_in_either_order() {
    let a = Rec::new("drill", "u4pru").sign();
    let b = Rec {
        title: "Another drill".into(),
        ..Rec::new("drill", "u4pru")
    }
    .sign();
    let (low, high) = if a.id() < b.id() { (a, b) } else { (b, a) };
    assert!(supersedes(
        swapmesh_protocol::Version {
            seq: 1,
            id: low.id()
        },
        swapmesh_protocol::Version {
            seq: 1,
            id: high.id()
        }
    ));
    for order in [[&low, &high], [&high, &low]] {
        let store = Store::temporary().unwrap();
        store.insert(order[0], NOW).unwrap();
        store.insert(order[1], NOW).unwrap();
        assert_eq!(everything(&store), vec![low.id()]);
    }
}

#[test]
fn withdrawal_tombstones_and_blocks_older_versions_until_its_effective_expiry() {
    let store = Store::temporary().unwrap();
    // v1 lives 30 days; the withdrawal only 2, so it must be kept for 30.
    let v1 = Rec::new("drill", "u4pru").sign();
    let gone = Rec {
        seq: 2,
        withdrawn: true,
        expires_at: NOW.0 + 2 * DAY,
        ..Rec::new("drill", "u4pru")
    }
    .sign();
    store.insert(&v1, NOW).unwrap();
    assert_eq!(store.insert(&gone, NOW).unwrap(), InsertOutcome::Tombstoned);
    let query = Query {
        limit: 10,
        ..Query::default()
    };
    assert!(
        store.search(&query).unwrap().records.is_empty(),
        "tombstones are not searched"
    );
    assert_eq!(everything(&store), vec![gone.id()], "tombstones are synced");

    let day10 = Timestamp(NOW.0 + 10 * DAY);
    assert_eq!(
        store.sweep_expired(day10).unwrap(),
        0,
        "kept past its own expiry"
    );
    assert_eq!(store.insert(&v1, day10).unwrap(), InsertOutcome::Stale);
    assert!(store.get(&gone.id()).unwrap().is_some());

    let day31 = Timestamp(NOW.0 + 31 * DAY);
    assert_eq!(store.sweep_expired(day31).unwrap(), 1);
    assert!(store.get(&gone.id()).unwrap().is_none());
    assert_eq!(store.current_version(&v1.body().address()).unwrap(), None);
    assert_eq!(
        store.insert(&v1, day31).unwrap(),
        InsertOutcome::Expired,
        "v1 itself expired"
    );
    let c = store.check_consistency().unwrap();
    assert!(c.is_ok(), "{c:?}");
    assert_eq!((c.records, c.addresses, c.index_entries), (0, 0, 0));
}

#[test]
fn an_expired_current_version_still_fences_older_versions() {
    let store = Store::temporary().unwrap();
    let v1 = Rec::new("drill", "u4pru").sign(); // 30 days
    let v2 = Rec {
        seq: 2,
        expires_at: NOW.0 + DAY,
        ..Rec::new("drill", "u4pru")
    }
    .sign();
    store.insert(&v1, NOW).unwrap();
    store.insert(&v2, NOW).unwrap();
    let day2 = Timestamp(NOW.0 + 2 * DAY);
    assert_eq!(store.sweep_expired(day2).unwrap(), 1);
    assert!(store.get(&v2.id()).unwrap().is_none());
    assert_eq!(store.insert(&v1, day2).unwrap(), InsertOutcome::Stale);
    let c = store.check_consistency().unwrap();
    assert!(c.is_ok() && c.fences == 1, "{c:?}");
    let v3 = Rec {
        seq: 3,
        created_at: day2.0,
        expires_at: day2.0 + DAY,
        ..Rec::new("drill", "u4pru")
    }
    .sign();
    assert_eq!(store.insert(&v3, day2).unwrap(), InsertOutcome::Inserted);
    assert!(store.check_consistency().unwrap().is_ok());
}

#[test]
fn a_record_expired_at_now_is_never_stored() {
    let store = Store::temporary().unwrap();
    let v = Rec::new("drill", "u4pru").sign();
    let later = Timestamp(v.body().expires_at.0);
    assert_eq!(store.insert(&v, later).unwrap(), InsertOutcome::Expired);
    assert!(store.get(&v.id()).unwrap().is_none());
    assert_eq!(store.check_consistency().unwrap().addresses, 0);
}

#[test]
fn a_reopened_store_returns_the_same_records_tombstones_and_address_book() {
    let dir = tempfile::tempdir().unwrap();
    let live = Rec::new("drill", "u4pru").sign();
    let gone_v1 = Rec::new("ladder", "u4pru").sign();
    let gone = Rec {
        seq: 2,
        withdrawn: true,
        ..Rec::new("ladder", "u4pru")
    }
    .sign();
    let peer = PeerEntry {
        addresses: vec!["/ip4/127.0.0.1/tcp/4001".into()],
        last_seen: NOW,
        exchanged: None,
    };
    {
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        for r in [&live, &gone_v1, &gone] {
            store.insert(r, NOW).unwrap();
        }
        store.put_peer(b"peer-1", &peer).unwrap();
        block_on(store.put_state_durable("meshes", b"local")).unwrap();
        block_on(store.close()).unwrap();
    }
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    assert_eq!(
        store.get(&live.id()).unwrap().unwrap().signed,
        *live.signed()
    );
    assert!(store.get(&gone_v1.id()).unwrap().is_none());
    let tomb = store.get_current(&gone.body().address()).unwrap().unwrap();
    assert!(tomb.body.is_tombstone());
    assert_eq!(store.peer(b"peer-1").unwrap(), Some(peer.clone()));
    assert_eq!(store.peers().unwrap(), vec![(b"peer-1".to_vec(), peer)]);
    assert_eq!(
        store.get_state("meshes").unwrap().as_deref(),
        Some(&b"local"[..])
    );
    let mut items = everything(&store);
    items.sort();
    let mut want = vec![live.id(), gone.id()];
    want.sort();
    assert_eq!(items, want);
    assert!(store.check_consistency().unwrap().is_ok());
}

#[test]
fn a_database_of_a_newer_schema_is_refused_with_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        assert_eq!(
            store.schema_version().unwrap(),
            Some(swapmesh_store::SCHEMA_VERSION)
        );
        store
            .set_schema_version(swapmesh_store::SCHEMA_VERSION + 1)
            .unwrap();
        block_on(store.close()).unwrap();
    }
    match Store::open(dir.path(), StoreOptions::default()) {
        Err(StoreError::NewerSchema { found, supported }) => {
            assert_eq!(
                (found, supported),
                (
                    swapmesh_store::SCHEMA_VERSION + 1,
                    swapmesh_store::SCHEMA_VERSION
                )
            );
        }
        other => panic!("expected NewerSchema, got {other:?}"),
    }
}

#[test]
fn compression_without_the_feature_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let options = StoreOptions {
        compression: true,
        ..StoreOptions::default()
    };
    let result = Store::open(dir.path(), options);
    if cfg!(feature = "compression") {
        assert!(result.is_ok());
    } else {
        assert!(matches!(result, Err(StoreError::Database(_))), "{result:?}");
    }
}

#[test]
fn peers_and_state_can_be_replaced_and_removed() {
    let store = Store::temporary().unwrap();
    let a = PeerEntry {
        addresses: vec!["/ip4/10.0.0.1/tcp/1".into()],
        last_seen: NOW,
        exchanged: None,
    };
    let b = PeerEntry {
        addresses: vec![],
        last_seen: Timestamp(NOW.0 + 5),
        exchanged: Some(NOW),
    };
    store.put_peer(b"p", &a).unwrap();
    store.put_peer(b"p", &b).unwrap();
    assert_eq!(store.peer(b"p").unwrap(), Some(b));
    assert!(store.remove_peer(b"p").unwrap());
    assert_eq!(store.peer(b"p").unwrap(), None);
    store.put_state("k", b"v").unwrap();
    assert!(store.remove_state("k").unwrap());
    assert_eq!(store.get_state("k").unwrap(), None);
}

#[test]
fn an_existing_database_keeps_its_compression_setting() {
    let dir = tempfile::tempdir().unwrap();
    let drill = Rec::new("drill", "u4pru").sign();
    {
        let plain = StoreOptions {
            compression: false,
            ..StoreOptions::default()
        };
        let store = Store::open(dir.path(), plain).unwrap();
        store.insert(&drill, NOW).unwrap();
        block_on(store.close()).unwrap();
    }
    // The default (compressed when the feature is on) does not apply to it.
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    assert!(store.get(&drill.id()).unwrap().is_some());
}

#[test]
fn a_gossip_copy_is_accepted_once_per_topic_then_replayed() {
    let store = Store::temporary().unwrap();
    let v1 = Rec {
        meshes: vec!["elm".into()],
        ..Rec::new("drill", "u4pru")
    }
    .sign();
    let area = Topic::area(&swapmesh_protocol::Geohash::parse_cell("u4pru").unwrap());
    let mesh = Topic::mesh(&swapmesh_protocol::MeshId::parse("elm").unwrap());
    let elsewhere = Topic::mesh(&swapmesh_protocol::MeshId::parse("oak").unwrap());
    let on = |t: &Topic| store.insert_gossip(&v1, t, NOW).unwrap();
    assert_eq!(on(&area), InsertOutcome::Inserted);
    assert_eq!(
        on(&area),
        InsertOutcome::Replayed,
        "again on the same topic"
    );
    // First on its other topic: still travels there.
    assert_eq!(on(&mesh), InsertOutcome::Duplicate);
    assert_eq!(on(&mesh), InsertOutcome::Replayed);
    // A topic it does not name is never remembered (the node rejects it).
    assert_eq!(on(&elsewhere), InsertOutcome::Duplicate);
    assert_eq!(on(&elsewhere), InsertOutcome::Duplicate);
    // Stored by sync first: its first gossip copy on each topic is accepted.
    let other = Rec::new("ladder", "u4pru").sign();
    assert_eq!(store.insert(&other, NOW).unwrap(), InsertOutcome::Inserted);
    assert_eq!(
        store.insert_gossip(&other, &area, NOW).unwrap(),
        InsertOutcome::Duplicate
    );
    assert_eq!(
        store.insert_gossip(&other, &area, NOW).unwrap(),
        InsertOutcome::Replayed
    );
    // A newer version replaces it: the old one's topics are forgotten with it.
    let v2 = Rec {
        seq: 2,
        created_at: NOW.0 + 10,
        meshes: vec!["elm".into()],
        ..Rec::new("drill", "u4pru")
    }
    .sign();
    assert_eq!(
        store.insert_gossip(&v2, &mesh, NOW).unwrap(),
        InsertOutcome::Replaced
    );
    assert_eq!(
        store.insert_gossip(&v2, &area, NOW).unwrap(),
        InsertOutcome::Duplicate
    );
    assert_eq!(
        store.insert_gossip(&v1, &area, NOW).unwrap(),
        InsertOutcome::Stale
    );
}

#[test]
fn a_forgotten_topic_drops_only_what_was_held_for_it_alone() {
    let store = Store::temporary().unwrap();
    let oak = Topic::mesh(&swapmesh_protocol::MeshId::parse("oak").unwrap());
    let cell = Topic::area(&swapmesh_protocol::Geohash::parse_cell("u4pru").unwrap());
    let only_oak = |d: &str, key: u64| Rec {
        key,
        area: None,
        meshes: vec!["oak".into()],
        ..Rec::new(d, "u4pru")
    };
    let alone = only_oak("alone", 2).sign();
    let mine = only_oak("mine", 1).sign();
    let both = Rec {
        key: 3,
        meshes: vec!["oak".into()],
        ..Rec::new("both", "u4pru")
    }
    .sign();
    store
        .insert_batch(&[alone.clone(), mine.clone(), both.clone()], NOW)
        .unwrap();
    assert!(store.stored_topics().unwrap().contains(&oak));

    let me = mine.body().author;
    let dropped = store
        .forget_topic(&oak, |t| *t == cell, |r| r.body.author == me)
        .unwrap();
    assert_eq!(dropped, 1);
    assert!(store.get(&alone.id()).unwrap().is_none());
    assert!(store.get(&mine.id()).unwrap().is_some(), "our own is kept");
    assert!(
        store.get(&both.id()).unwrap().is_some(),
        "in a listened cell"
    );
    let c = store.check_consistency().unwrap();
    assert!(c.is_ok(), "{:?}", c.problems);
    assert!(!everything_in(&store, &oak).contains(&alone.id()));
    // Forgotten as if never seen: listening to the mesh again fetches it.
    assert_eq!(store.insert(&alone, NOW).unwrap(), InsertOutcome::Inserted);
    assert!(everything_in(&store, &oak).contains(&alone.id()));
}

#[test]
fn a_reopened_store_reads_from_disk_and_every_clone_follows() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let clone = store.clone();
    let blobs = store.blobs(dir.path().join("blobs")).unwrap();
    let flushed = Rec::new("flushed", "u4pru").sign();
    store.insert(&flushed, NOW).unwrap();
    store.flush_blocking().unwrap();
    store.reopen().unwrap();
    assert!(clone.get(&flushed.id()).unwrap().is_some());
    let after = Rec::new("after", "u4pru").sign();
    assert_eq!(clone.insert(&after, NOW).unwrap(), InsertOutcome::Inserted);
    assert!(store.get(&after.id()).unwrap().is_some());
    assert!(blobs.is_empty());
    assert!(store.check_consistency().unwrap().is_ok());
    // A temporary store is deleted when closed: it cannot be reopened.
    assert!(matches!(
        Store::temporary().unwrap().reopen(),
        Err(StoreError::Database(_))
    ));
}

#[test]
fn record_bytes_follow_every_write_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let counted = |store: &Store| -> u64 {
        let mut n = 0u64;
        for d in ["a", "b", "c"] {
            if let Some(r) = store
                .get_current(&Rec::new(d, "u4pru").body().address())
                .unwrap()
            {
                n += r.signed.encode().len() as u64;
            }
        }
        n
    };
    assert_eq!(store.record_bytes(), 0);
    let a = Rec::new("a", "u4pru").sign();
    let b = Rec::new("b", "u4pru").sign();
    store.insert_batch(&[a, b], NOW).unwrap();
    assert_eq!(store.record_bytes(), counted(&store));
    let longer = Rec {
        seq: 2,
        title: "Cordless drill, 18 V, with two batteries and a case".into(),
        ..Rec::new("a", "u4pru")
    };
    assert_eq!(
        store.insert(&longer.sign(), NOW).unwrap(),
        InsertOutcome::Replaced
    );
    assert_eq!(store.record_bytes(), counted(&store));
    let short = Rec {
        expires_at: NOW.0 + 10,
        ..Rec::new("c", "u4pru")
    };
    store.insert(&short.sign(), NOW).unwrap();
    store.sweep_expired(Timestamp(NOW.0 + 11)).unwrap();
    assert_eq!(store.record_bytes(), counted(&store));
    store.flush_blocking().unwrap();
    let before = store.record_bytes();
    drop(store);
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    assert_eq!(store.record_bytes(), before);
    assert!(before > 0);
}

/// sled 0.34's `flush_async` runs the flush on sled's own IO threadpool,
/// where it waits for buffer writes queued on that same pool: a few dozen
/// stores flushing at once (a city of nodes in one process stopping
/// together) can leave every pool thread waiting and the flushes never
/// returning (spacejam/sled#1241). `Store::flush` must not.
#[test]
fn many_stores_flushing_at_once_all_return() {
    const STORES: usize = 48;
    const ROUNDS: u64 = 10;
    let stores: Vec<Store> = (0..STORES).map(|_| Store::temporary().unwrap()).collect();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for round in 0..ROUNDS {
            for (i, store) in stores.iter().enumerate() {
                let rec = Rec {
                    seq: round + 1,
                    created_at: NOW.0 + round,
                    ..Rec::new(&format!("item-{i}"), "u4pru")
                };
                store.insert(&rec.sign(), NOW).unwrap();
            }
            let flushes = stores.iter().map(|s| s.flush());
            for flushed in block_on(futures::future::join_all(flushes)) {
                flushed.unwrap();
            }
        }
        done.send(()).unwrap();
    });
    // Not a timing assertion: the flushes take milliseconds; two minutes
    // without them is a hang, failed here instead of hanging the run.
    finished
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("some flushes never returned");
}
