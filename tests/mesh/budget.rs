//! The store budget: over it a node stops listening to its farthest cell, one
//! whole topic at a time, and forgets what it held for that cell alone; its
//! own records stay, and its status names the cell.

use std::collections::BTreeMap;

use swapmesh_node::DataDir;
use swapmesh_protocol::signed::author_of;
use swapmesh_protocol::{Geohash, SigningKey, Timestamp, Topic, Verified, fixtures, sign_own};
use swapmesh_store::{Store, StoreOptions};

use crate::kit::{self, TestNode};

/// The node's area: a sixth of its cell, off centre, so that one neighbour
/// cell lies farthest from it.
const AREA: &str = "u4prub";

fn listing(key: &SigningKey, d: &str, cell: &Geohash, now: Timestamp) -> Verified {
    let body = fixtures::listing_body(author_of(key), cell.as_str(), fixtures::listing(d), now);
    sign_own(&body, key, now).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_budget_drops_the_farthest_cell_first() {
    let area = Geohash::parse_area(AREA).unwrap();
    let cells = area.cell().with_neighbours();
    let farthest = cells[1..]
        .iter()
        .max_by(|a, b| area.distance_km(a).total_cmp(&area.distance_km(b)))
        .unwrap()
        .clone();
    assert!(
        cells[1..]
            .iter()
            .filter(|c| **c != farthest)
            .all(|c| area.distance_km(c) + 0.1 < area.distance_km(&farthest)),
        "one cell is farthest"
    );
    let now = Timestamp::now();
    // Others' listings in each of the nine cells, 30 by 30 authors each.
    let mut theirs: BTreeMap<Geohash, Vec<Verified>> = BTreeMap::new();
    for (c, cell) in cells.iter().enumerate() {
        let records = (0..30u64)
            .map(|i| listing(&fixtures::key(100 + i), &format!("c{c}-{i}"), cell, now))
            .collect();
        theirs.insert(cell.clone(), records);
    }
    let bytes = |records: &[Verified]| -> u64 {
        records
            .iter()
            .map(|r| r.signed().encode().len() as u64)
            .sum()
    };
    let all: Vec<Verified> = theirs.values().flatten().cloned().collect();
    let node = TestNode::start(|dir| {
        let data = DataDir::new(dir);
        let key = swapmesh_node::identity::load_or_create_key(&data).unwrap();
        // Ours, in the farthest cell: it stays whatever the budget.
        let mine = listing(&key, "mine-far", &farthest, now);
        let store = Store::open(data.database(), StoreOptions::default()).unwrap();
        store.insert_batch(&all, now).unwrap();
        store.insert(&mine, now).unwrap();
        store.flush_blocking().unwrap();
        let held = store.record_bytes();
        drop(store);
        let mut config = kit::config(dir, Some(AREA));
        // Room for all but the farthest cell's records of others.
        config.store_budget = held - bytes(&theirs[&farthest]);
        config
    })
    .await;

    // At start, over the budget: the farthest cell went, and only it.
    assert_eq!(node.dropped_cells(), vec![farthest.clone()]);
    let topics = node.listening_topics();
    assert!(!topics.contains(&Topic::area(&farthest)));
    assert_eq!(topics.len(), 8, "{topics:?}");
    for r in &theirs[&farthest] {
        assert!(
            node.store().get(&r.id()).unwrap().is_none(),
            "held for the dropped cell alone"
        );
    }
    for (cell, records) in &theirs {
        if *cell != farthest {
            assert!(
                records
                    .iter()
                    .all(|r| node.store().get(&r.id()).unwrap().is_some())
            );
        }
    }
    let own = node.store().get_current(&swapmesh_protocol::Address {
        author: node.author(),
        kind: swapmesh_protocol::RecordKind::Listing,
        d: "mine-far".into(),
    });
    assert!(own.unwrap().is_some(), "our own record stays");
    assert!(node.store().record_bytes() <= node.config().store_budget);
    // Within the budget now: nothing more goes.
    assert!(node.keep_store_budget().await.unwrap().is_empty());
    assert!(node.store().check_consistency().unwrap().is_ok());

    // A restart with the same budget keeps the cell dropped.
    let mut node = node;
    node.restart().await;
    assert_eq!(node.dropped_cells(), vec![farthest]);
    assert_eq!(node.listening_topics().len(), 8);
}
