//! Receipts and reviews by party: the `by_party` index lists each party's own,
//! newest first, through replacement, expiry and the migration from schema 3.

mod common;

use common::{NOW, Rec, Social, block_on, raw_sled, receipt};
use swapmesh_protocol::signed::author_of;
use swapmesh_protocol::{AuthorKey, Content, RecordId, RecordKind, Timestamp, Verified, fixtures};
use swapmesh_store::{Cursor, InsertOutcome, Store, StoreOptions};

const DAY: u64 = 86_400;

/// Fixture keys of the people in these tests; key 5 is party to nothing.
const PEOPLE: [u64; 5] = [1, 2, 3, 4, 5];

fn person(key: u64) -> AuthorKey {
    author_of(&fixtures::key(key))
}

/// The parties a receipt or review is about (a review's author and subject).
fn parties(record: &Verified) -> Vec<AuthorKey> {
    let s = match &record.body().content {
        Content::Receipt(r) => &r.statement,
        Content::Review(r) => &r.receipt.statement,
        _ => return vec![],
    };
    vec![s.provider, s.receiver]
}

/// What `by_party` must list for `party`: its receipts and reviews among `live`,
/// of the given kinds, newest first.
fn expected(live: &[Verified], party: &AuthorKey, kinds: &[RecordKind]) -> Vec<RecordId> {
    let mut want: Vec<&Verified> = live
        .iter()
        .filter(|r| parties(r).contains(party))
        .filter(|r| kinds.is_empty() || kinds.contains(&r.body().kind()))
        .collect();
    want.sort_by_key(|r| std::cmp::Reverse((r.body().created_at, r.id())));
    want.iter().map(|r| r.id()).collect()
}

/// Every page of `party`'s records, `limit` at a time, each cursor passed back
/// through its text form; checks that only the last page is short.
fn pages(store: &Store, party: &AuthorKey, kinds: &[RecordKind], limit: usize) -> Vec<RecordId> {
    let mut out = Vec::new();
    let mut cursor: Option<Cursor> = None;
    loop {
        let page = store.by_party(party, kinds, cursor, limit).unwrap();
        out.extend(page.records.iter().map(|r| r.id));
        match page.next {
            None => return out,
            Some(next) => {
                assert_eq!(page.records.len(), limit, "a page with a next one is full");
                cursor = Some(next.to_string().parse().unwrap());
            }
        }
    }
}

/// Every person sees exactly their own receipts and reviews, newest first, in one
/// page or many, for every kind filter.
fn assert_lists(store: &Store, live: &[Verified]) {
    use RecordKind::{Listing, Receipt, Review};
    for key in PEOPLE {
        let party = person(key);
        for kinds in [
            &[][..],
            &[Receipt],
            &[Review],
            &[Review, Receipt],
            &[Listing],
        ] {
            let want = expected(live, &party, kinds);
            let page = store.by_party(&party, kinds, None, 100).unwrap();
            let got: Vec<RecordId> = page.records.iter().map(|r| r.id).collect();
            assert_eq!(got, want, "party {key}, kinds {kinds:?}");
            assert_eq!(page.next, None);
            for limit in [1, 2, 3] {
                assert_eq!(
                    pages(store, &party, kinds, limit),
                    want,
                    "party {key}, kinds {kinds:?}, {limit} a page"
                );
            }
        }
    }
    let c = store.check_consistency().unwrap();
    assert!(c.is_ok(), "{:?}", c.problems);
}

/// Four agreements between keys 1–4, their receipts and most parties' reviews,
/// and a listing (which `by_party` never lists). The review of agreement 3 by key
/// 2 lives one day; a receipt and a review of agreement 2 share a creation time.
fn history() -> Vec<Verified> {
    let t = |s: u64| NOW.0 + s;
    let a1 = receipt(1, 2, 1, Timestamp(t(90)));
    let a2 = receipt(1, 3, 2, Timestamp(t(140)));
    let a3 = receipt(2, 3, 3, Timestamp(t(390)));
    let a4 = receipt(4, 1, 4, Timestamp(t(40)));
    vec![
        Social::receipt(a1.clone(), 1, t(100)).sign(),
        Social::review(a1.clone(), 2, 4, t(200)).sign(),
        Social::review(a1, 1, 5, t(300)).sign(),
        Social::receipt(a2.clone(), 1, t(150)).sign(),
        Social::review(a2, 3, 3, t(150)).sign(),
        Social::receipt(a3.clone(), 2, t(400)).sign(),
        Social {
            expires_at: t(500) + DAY,
            ..Social::review(a3, 2, 2, t(500))
        }
        .sign(),
        Social::receipt(a4.clone(), 4, t(50)).sign(),
        Social::review(a4, 4, 5, t(600)).sign(),
        Rec::new("drill", "u4pru").sign(),
    ]
}

#[test]
fn by_party_lists_a_partys_receipts_and_reviews_newest_first() {
    let store = Store::temporary().unwrap();
    let mut live = history();
    for r in &live {
        assert_eq!(store.insert(r, NOW).unwrap(), InsertOutcome::Inserted);
    }
    assert_lists(&store, &live);
    assert_eq!(expected(&live, &person(1), &[]).len(), 7);
    assert!(expected(&live, &person(5), &[]).is_empty());

    // Key 1 rewrites its review of agreement 1: only the new version is listed,
    // under both parties, and the old one cannot come back.
    let old = live.remove(2);
    let newer = Social {
        seq: 2,
        ..Social::review(receipt(1, 2, 1, Timestamp(NOW.0 + 90)), 1, 2, NOW.0 + 700)
    }
    .sign();
    assert_eq!(store.insert(&newer, NOW).unwrap(), InsertOutcome::Replaced);
    assert_eq!(store.insert(&old, NOW).unwrap(), InsertOutcome::Stale);
    live.push(newer.clone());
    assert_lists(&store, &live);
    for key in [1, 2] {
        let listed = pages(&store, &person(key), &[], 2);
        assert_eq!(listed.iter().filter(|id| **id == newer.id()).count(), 1);
        assert!(!listed.contains(&old.id()));
    }

    // The short-lived review expires: the sweep takes it off both parties' lists.
    // (Receipts and reviews have no withdrawal; expiry is how they leave.)
    let gone = live.remove(5);
    assert_eq!(gone.body().expires_at, Timestamp(NOW.0 + 500 + DAY));
    assert_eq!(store.sweep_expired(gone.body().expires_at).unwrap(), 1);
    assert_lists(&store, &live);
    for key in [2, 3] {
        assert!(!pages(&store, &person(key), &[], 1).contains(&gone.id()));
    }

    // Everything else expires too: nobody has anything left.
    assert_eq!(
        store.sweep_expired(Timestamp(NOW.0 + 31 * DAY)).unwrap(),
        live.len()
    );
    for key in PEOPLE {
        assert!(
            store
                .by_party(&person(key), &[], None, 10)
                .unwrap()
                .records
                .is_empty()
        );
    }
    assert!(store.check_consistency().unwrap().is_ok());
}

#[test]
fn schema_3_database_gains_the_by_party_index() {
    let dir = tempfile::tempdir().unwrap();
    let plain = StoreOptions {
        compression: false,
        ..StoreOptions::default()
    };
    let records = history();
    {
        let store = Store::open(dir.path(), plain.clone()).unwrap();
        store.insert_batch(&records, NOW).unwrap();
        store.set_schema_version(3).unwrap();
        block_on(store.close()).unwrap();
    }
    {
        // Schema 3 had no `by_party`.
        let db = raw_sled(dir.path());
        assert!(db.drop_tree("by_party").unwrap());
        db.flush().unwrap();
    }
    let store = Store::open(dir.path(), plain.clone()).unwrap();
    assert_eq!(store.schema_version().unwrap(), Some(5));
    assert_eq!(swapmesh_store::SCHEMA_VERSION, 5);
    for r in &records {
        assert_eq!(store.get(&r.id()).unwrap().unwrap().signed, *r.signed());
    }
    assert_lists(&store, &records);
    // And the index is kept from now on.
    let late = Social::receipt(receipt(3, 4, 5, Timestamp(NOW.0 + 800)), 3, NOW.0 + 900).sign();
    store.insert(&late, NOW).unwrap();
    let mut live = records.clone();
    live.push(late);
    assert_lists(&store, &live);
    block_on(store.close()).unwrap();

    // A migration stopped halfway (schema still 3, `by_party` part built and
    // holding a stray key) is run again on the next open.
    {
        let store = Store::open(dir.path(), plain.clone()).unwrap();
        store.set_schema_version(3).unwrap();
        block_on(store.close()).unwrap();
        let db = raw_sled(dir.path());
        let tree = db.open_tree("by_party").unwrap();
        let first = tree.first().unwrap().unwrap().0;
        tree.remove(first).unwrap();
        let mut stray = person(5).0.to_vec();
        stray.extend_from_slice(&NOW.0.to_be_bytes());
        stray.extend_from_slice(&[7; 32]);
        tree.insert(stray, &[][..]).unwrap();
        db.flush().unwrap();
    }
    let store = Store::open(dir.path(), plain).unwrap();
    assert_eq!(store.schema_version().unwrap(), Some(5));
    assert_lists(&store, &live);
}
