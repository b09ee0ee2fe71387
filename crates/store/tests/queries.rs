//! Search and the sync scan return exactly what they promise.

mod common;

use std::collections::BTreeSet;
use std::ops::Bound;

use common::{NOW, Rec};
use swapmesh_protocol::listing::{DealKind, Purpose};
use swapmesh_protocol::{Geohash, MeshId, RecordId, Timestamp, Topic, Verified};
use swapmesh_store::{Query, Store};

fn ids(records: &[swapmesh_store::StoredRecord]) -> BTreeSet<RecordId> {
    records.iter().map(|r| r.id).collect()
}

fn insert_all(store: &Store, records: &[Verified]) {
    for r in records {
        assert!(store.insert(r, NOW).unwrap().is_new());
    }
}

fn cell(s: &str) -> Geohash {
    Geohash::parse_area(s).unwrap()
}

#[test]
fn area_cell_scans_return_exactly_the_records_of_those_cells() {
    let store = Store::temporary().unwrap();
    let areas = ["u4pru", "u4pruy", "u4prv", "u4prvb", "u4r2h", "gcpvj"];
    let records: Vec<(String, Verified)> = (0..24)
        .map(|i| {
            let area = areas[i % areas.len()];
            let rec = Rec {
                created_at: NOW.0 - i as u64,
                ..Rec::new(&format!("item{i}"), area)
            };
            (area[..5].to_owned(), rec.sign())
        })
        .collect();
    insert_all(
        &store,
        &records.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>(),
    );
    for asked in [
        vec!["u4pru"],
        vec!["u4pru", "u4prv"],
        vec!["u4r2h", "gcpvj", "u4prg"],
    ] {
        let want: BTreeSet<RecordId> = records
            .iter()
            .filter(|(c, _)| asked.contains(&c.as_str()))
            .map(|(_, r)| r.id())
            .collect();
        let query = Query {
            cells: asked.iter().map(|c| cell(c)).collect(),
            limit: 100,
            ..Query::default()
        };
        let page = store.search(&query).unwrap();
        assert_eq!(ids(&page.records), want, "cells {asked:?}");
        assert_eq!(page.records.len(), want.len(), "no duplicates");
        assert!(page.next.is_none());
    }
}

#[test]
fn text_search_finds_by_word_in_title_tags_and_category() {
    let store = Store::temporary().unwrap();
    let title = Rec {
        title: "Red Cargo-Bike".into(),
        tags: vec![],
        category: "bikes".into(),
        ..Rec::new("a", "u4pru")
    }
    .sign();
    let tag = Rec {
        title: "Trailer".into(),
        tags: vec!["cargo".into(), "DIY".into()],
        category: "misc".into(),
        ..Rec::new("b", "u4pru")
    }
    .sign();
    let category = Rec {
        title: "Hammer".into(),
        tags: vec![],
        category: "Garden_Tools".into(),
        ..Rec::new("c", "u4pru")
    }
    .sign();
    insert_all(&store, &[title.clone(), tag.clone(), category.clone()]);
    let find = |words: &[&str]| {
        let q = Query {
            words: words.iter().map(|w| w.to_string()).collect(),
            limit: 10,
            ..Query::default()
        };
        ids(&store.search(&q).unwrap().records)
    };
    assert_eq!(find(&["cargo"]), [title.id(), tag.id()].into());
    assert_eq!(find(&["BIKE"]), [title.id()].into());
    assert_eq!(find(&["diy"]), [tag.id()].into());
    assert_eq!(find(&["tools"]), [category.id()].into());
    assert_eq!(
        find(&["garden tools"]),
        [category.id()].into(),
        "all words must match"
    );
    assert_eq!(find(&["cargo", "red"]), [title.id()].into());
    assert_eq!(find(&["cargo", "hammer"]), BTreeSet::new());
    // Words combine with places through point look-ups.
    let q = Query {
        cells: vec![cell("u4pru")],
        words: vec!["cargo".into()],
        limit: 10,
        ..Query::default()
    };
    assert_eq!(
        ids(&store.search(&q).unwrap().records),
        [title.id(), tag.id()].into()
    );
}

#[test]
fn filters_on_kind_purpose_author_and_mesh_all_must_match() {
    let store = Store::temporary().unwrap();
    let give = Rec {
        kinds: vec![DealKind::Give],
        ..Rec::new("a", "u4pru")
    }
    .sign();
    let want = Rec {
        purpose: Purpose::Want,
        kinds: vec![DealKind::Share],
        ..Rec::new("b", "u4pru")
    }
    .sign();
    let other_author = Rec {
        key: 2,
        ..Rec::new("c", "u4pru")
    }
    .sign();
    let mesh_only = Rec {
        area: None,
        meshes: vec!["local".into()],
        ..Rec::new("d", "u4pru")
    }
    .sign();
    insert_all(
        &store,
        &[
            give.clone(),
            want.clone(),
            other_author.clone(),
            mesh_only.clone(),
        ],
    );
    let run = |q: Query| ids(&store.search(&Query { limit: 10, ..q }).unwrap().records);
    assert_eq!(
        run(Query {
            kinds: vec![DealKind::Give],
            ..Query::default()
        }),
        [give.id()].into()
    );
    assert_eq!(
        run(Query {
            kinds: vec![DealKind::Give, DealKind::Share],
            purpose: Some(Purpose::Want),
            ..Query::default()
        }),
        [want.id()].into()
    );
    assert_eq!(
        run(Query {
            author: Some(other_author.body().author),
            ..Query::default()
        }),
        [other_author.id()].into()
    );
    assert_eq!(
        run(Query {
            meshes: vec![MeshId::local()],
            ..Query::default()
        }),
        [mesh_only.id()].into()
    );
    assert_eq!(
        run(Query {
            cells: vec![cell("u4pru")],
            meshes: vec![MeshId::local()],
            kinds: vec![DealKind::Rent],
            ..Query::default()
        }),
        [other_author.id(), mesh_only.id()].into()
    );
    assert_eq!(
        run(Query {
            author: Some(give.body().author),
            meshes: vec![MeshId::local()],
            ..Query::default()
        }),
        [mesh_only.id()].into()
    );
    assert_eq!(run(Query::default()).len(), 4);
}

#[test]
fn paging_returns_every_record_once_newest_first() {
    let store = Store::temporary().unwrap();
    // Some records share a creation time, so the id orders them.
    let records: Vec<Verified> = (0..57)
        .map(|i| {
            Rec {
                created_at: NOW.0 - (i / 3) as u64,
                ..Rec::new(&format!("item{i}"), "u4pru")
            }
            .sign()
        })
        .collect();
    insert_all(&store, &records);
    for query in [
        Query {
            cells: vec![cell("u4pru")],
            ..Query::default()
        },
        Query {
            words: vec!["drill".into()],
            ..Query::default()
        },
        Query::default(),
    ] {
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = store
                .search(&Query {
                    cursor,
                    limit: 10,
                    ..query.clone()
                })
                .unwrap();
            assert!(page.records.len() <= 10);
            seen.extend(page.records.iter().map(|r| (r.body.created_at, r.id)));
            // The cursor survives its text form.
            cursor = page.next.map(|c| c.to_string().parse().unwrap());
            if cursor.is_none() {
                break;
            }
        }
        let mut want: Vec<(Timestamp, RecordId)> = records
            .iter()
            .map(|r| (r.body().created_at, r.id()))
            .collect();
        want.sort();
        want.reverse();
        assert_eq!(seen, want, "{query:?}");
    }
}

#[test]
fn the_topic_scan_is_ordered_and_complete_with_tombstones() {
    let store = Store::temporary().unwrap();
    let mut records: Vec<Verified> = (0..30)
        .map(|i| {
            Rec {
                created_at: NOW.0 - (i * 7 % 11) as u64,
                meshes: vec!["local".into()],
                ..Rec::new(&format!("item{i}"), "u4pru")
            }
            .sign()
        })
        .collect();
    records.push(
        Rec {
            withdrawn: true,
            meshes: vec!["local".into()],
            ..Rec::new("gone", "u4pru")
        }
        .sign(),
    );
    // Another cell and another mesh must not show up.
    let elsewhere = Rec {
        meshes: vec!["abc".into()],
        ..Rec::new("far", "u4prv")
    }
    .sign();
    insert_all(&store, &records);
    insert_all(&store, &[elsewhere]);
    let mut want: Vec<(Timestamp, RecordId)> = records
        .iter()
        .map(|r| (r.body().created_at, r.id()))
        .collect();
    want.sort();
    for topic in [Topic::area(&cell("u4pru")), Topic::mesh(&MeshId::local())] {
        let all: Vec<_> = store
            .topic_items(&topic, Bound::Unbounded, Bound::Unbounded)
            .map(Result::unwrap)
            .collect();
        assert_eq!(all, want, "{topic}");
        let (lo, hi) = (want[5], want[20]);
        let part: Vec<_> = store
            .topic_items(&topic, Bound::Excluded(lo), Bound::Included(hi))
            .map(Result::unwrap)
            .collect();
        assert_eq!(part, want[6..=20].to_vec());
    }
}

#[test]
fn a_page_with_next_is_never_short() {
    // Every other listing has expired by `later` but is still stored (no sweep):
    // a search at `later` skips them inside the scan, so each page holds `limit`
    // live listings while it names a next one, and the pages hold every live one.
    let store = Store::temporary().unwrap();
    let later = Timestamp(NOW.0 + 10 * 86_400);
    let records: Vec<Verified> = (0..40u64)
        .map(|i| {
            let rec = Rec {
                created_at: NOW.0 - i,
                expires_at: if i % 2 == 0 {
                    NOW.0 + 86_400
                } else {
                    NOW.0 + 30 * 86_400
                },
                ..Rec::new(&format!("item{i}"), "u4pru")
            };
            rec.sign()
        })
        .collect();
    insert_all(&store, &records);
    let live: BTreeSet<RecordId> = records
        .iter()
        .filter(|r| r.body().expires_at > later)
        .map(|r| r.id())
        .collect();
    assert_eq!(live.len(), 20);

    let mut query = Query {
        cells: vec![cell("u4pru")],
        limit: 6,
        now: later,
        ..Query::default()
    };
    let mut seen = BTreeSet::new();
    loop {
        let page = store.search(&query).unwrap();
        if page.next.is_some() {
            assert_eq!(page.records.len(), 6, "a page with a next one is short");
        }
        for r in &page.records {
            assert!(r.body.expires_at > later, "an expired listing was returned");
            assert!(seen.insert(r.id));
        }
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, live);
}
