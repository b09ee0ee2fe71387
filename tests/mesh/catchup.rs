//! Catch-up sync: what gossip missed arrives by reconciliation, split
//! neighbourhoods converge, a stale peer cannot bring a withdrawn listing back, and
//! a hostile sync peer is cut off.

use std::collections::BTreeSet;
use std::ops::Bound::Unbounded;
use std::time::Duration;

use swapmesh_net::Protocol;
use swapmesh_node::{Node, NodeEvent};
use swapmesh_protocol::{Geohash, RecordId, Timestamp, Topic, fixtures};
use swapmesh_sync::wire::{SyncRequest, SyncResponse};
use swapmesh_sync::{Config, Item, MemoryStore, Reconciler};

use crate::kit::{self, TestNode, held, listing_id, wait_until};

const CELL: &str = "u4pru";

fn cell_topic() -> Topic {
    Topic::area(&Geohash::parse_cell(CELL).unwrap())
}

/// Every item (live records and tombstones) a node holds on the cell's topic.
fn items(node: &Node) -> BTreeSet<RecordId> {
    node.store()
        .topic_items(&cell_topic(), Unbounded, Unbounded)
        .map(|r| r.unwrap().1)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_off_while_2000_listings_were_published_catches_up_through_sync_alone() {
    // The source only answers (no session on connect, no timer: a session of
    // its own would push records the laptop lacks), so the laptop's own
    // sessions do all the catching up and report their progress.
    let source = kit::node_with(Some(CELL), |c| {
        c.sync_on_connect = false;
        c.sync_interval = Duration::ZERO;
    })
    .await;
    let mut laptop = kit::node(Some(CELL)).await;
    kit::connect(&laptop, &source).await;
    laptop.stop().await;
    // While the laptop is off, 2,000 listings by 20 neighbours reach the source
    // node directly (never gossiped: gossip history cannot help the laptop).
    let now = Timestamp::now();
    let batch: Vec<_> = (0..2000u64)
        .map(|i| {
            fixtures::verified_listing(&fixtures::key(i % 20), &format!("item-{i}"), CELL, now)
        })
        .collect();
    source.store().insert_batch(&batch, now).unwrap();
    let expected: BTreeSet<RecordId> = batch.iter().map(|v| v.id()).collect();

    laptop.resume(|c| c.reconnect_known_peers = 0).await;
    let mut events = laptop.subscribe_events();
    kit::connect(&laptop, &source).await;
    wait_until("the laptop to hold all 2,000 listings", || async {
        items(&laptop).is_superset(&expected)
    })
    .await;
    // A batch is in the store a moment before the progress counts it.
    wait_until("the progress to count the last batch", || async {
        laptop.sync_progress().fetched_total >= 2000
    })
    .await;
    let mut progress = 0;
    loop {
        use tokio::sync::broadcast::error::TryRecvError;
        match events.try_recv() {
            Ok(NodeEvent::SyncProgress {
                fetched, expected, ..
            }) => {
                assert!(fetched <= expected);
                progress += 1;
            }
            Ok(_) | Err(TryRecvError::Lagged(_)) => {} // 2,000 RecordAdded events
            Err(_) => break,
        }
    }
    assert!(progress > 0, "no progress events during a large catch-up");
    assert_eq!(laptop.sync_progress().fetched_total as usize, 2000);
    laptop.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_neighbourhood_heals_and_converges_withdrawals_included() {
    let mut nodes: Vec<TestNode> = Vec::new();
    for _ in 0..10 {
        nodes.push(
            kit::node_with(Some(CELL), |c| {
                c.sync_interval = Duration::from_millis(700);
                // The partition is made by cutting one link: no finding each
                // other around it through Kademlia.
                c.discovery.kademlia = false;
            })
            .await,
        );
    }
    kit::line(&nodes).await;
    let shared = nodes[0]
        .publish_listing(fixtures::listing("shared"))
        .await
        .unwrap();
    for node in &nodes {
        wait_until("the shared listing everywhere", || async {
            held(node, &listing_id(&nodes[0], "shared")) == Some(shared.id())
        })
        .await;
    }

    // Cut the link between 4 and 5: two halves of five.
    let (left, right) = (nodes[4].peer_id(), nodes[5].peer_id());
    nodes[4].network().block_peer(right).await.unwrap();
    nodes[5].network().block_peer(left).await.unwrap();
    wait_until("the halves to part", || async {
        !nodes[4].peers().await.unwrap().contains(&right)
    })
    .await;

    // Each half publishes, updates and withdraws on its own.
    nodes[0]
        .update_listing("shared", |l| l.title = "Shared, v2".into())
        .await
        .unwrap();
    nodes[1]
        .publish_listing(fixtures::listing("left-one"))
        .await
        .unwrap();
    nodes[2]
        .publish_listing(fixtures::listing("left-gone"))
        .await
        .unwrap();
    nodes[2].withdraw_listing("left-gone").await.unwrap();
    nodes[7]
        .publish_listing(fixtures::listing("right-one"))
        .await
        .unwrap();
    nodes[8]
        .publish_listing(fixtures::listing("right-two"))
        .await
        .unwrap();
    nodes[8]
        .update_listing("right-two", |l| l.description = "Updated.".into())
        .await
        .unwrap();
    nodes[9]
        .publish_listing(fixtures::listing("right-gone"))
        .await
        .unwrap();
    nodes[9].withdraw_listing("right-gone").await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_ne!(
        items(&nodes[0]),
        items(&nodes[9]),
        "the halves should differ"
    );

    // Heal.
    nodes[4].network().unblock_peer(right).await.unwrap();
    nodes[5].network().unblock_peer(left).await.unwrap();
    kit::connect(&nodes[4], &nodes[5]).await;
    wait_until("every node to hold the same set", || async {
        let first = items(&nodes[0]);
        nodes.iter().all(|n| items(n) == first)
    })
    .await;
    // The end state is the newest version of everything, tombstones included.
    let expect = [
        (0, "shared", false),
        (1, "left-one", false),
        (2, "left-gone", true),
        (7, "right-one", false),
        (8, "right-two", false),
        (9, "right-gone", true),
    ];
    for node in &nodes {
        for (author, d, withdrawn) in expect {
            let current = node
                .listing(&listing_id(&nodes[author], d))
                .unwrap()
                .unwrap();
            assert_eq!(current.body.is_tombstone(), withdrawn, "{d}");
        }
        let all = swapmesh_store::Query {
            limit: 100,
            ..Default::default()
        };
        let live = node.search(&all).unwrap().records.len();
        assert_eq!(live, 4, "live listings after healing");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_peer_cannot_resurrect_a_withdrawn_listing_through_sync() {
    let author = kit::node(Some(CELL)).await;
    let witness = kit::node(Some(CELL)).await;
    kit::connect(&author, &witness).await;
    let id = listing_id(&author, "bike");
    let mut stale = kit::node(Some(CELL)).await;
    kit::connect(&stale, &author).await;
    let v1 = author
        .publish_listing(fixtures::listing("bike"))
        .await
        .unwrap();
    wait_until("the stale node to hold v1", || async {
        held(&stale, &id) == Some(v1.id())
    })
    .await;
    stale.stop().await;
    let tombstone = author.withdraw_listing("bike").await.unwrap();
    wait_until("the witness to hold the tombstone", || async {
        held(&witness, &id) == Some(tombstone.id())
    })
    .await;

    // The stale node comes back knowing only v1, and meets the witness alone.
    stale.resume(|c| c.reconnect_known_peers = 0).await;
    kit::connect(&stale, &witness).await;
    wait_until("the stale node to learn the tombstone", || async {
        held(&stale, &id) == Some(tombstone.id())
    })
    .await;
    // Run one more session each way, explicitly, and check nothing came back.
    let topic = cell_topic();
    let _ = stale.sync_with(witness.peer_id(), &topic).await;
    let _ = witness.sync_with(stale.peer_id(), &topic).await;
    for node in [&witness, &stale, &author] {
        assert_eq!(held(node, &id), Some(tombstone.id()));
        assert!(
            node.store().get(&v1.id()).unwrap().is_none(),
            "v1 came back"
        );
        assert!(node.search(&Default::default()).unwrap().records.is_empty());
    }
    stale.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_sync_peers_are_cut_off_without_harming_the_node() {
    let node = kit::node(Some(CELL)).await;
    let now = Timestamp::now();
    let batch: Vec<_> = (0..300u64)
        .map(|i| fixtures::verified_listing(&fixtures::key(i % 7), &format!("x-{i}"), CELL, now))
        .collect();
    node.store().insert_batch(&batch, now).unwrap();

    // 1. Garbage requests.
    let garbage = kit::raw_peer().await;
    kit::connect_raw(&garbage, &node).await;
    for _ in 0..6 {
        let _ = garbage
            .send_request(Protocol::Sync, node.peer_id(), vec![0xff; 100])
            .await;
    }
    wait_until("the garbage peer to be cut off", || async {
        !node
            .peers()
            .await
            .unwrap()
            .contains(&garbage.local_peer_id())
    })
    .await;

    // 2. Endless reconciliation: the same first message again and again in one
    // session, far past the round limit.
    let endless = kit::raw_peer().await;
    kit::connect_raw(&endless, &node).await;
    let theirs = MemoryStore::from_items((0..500u32).map(|i| {
        let mut id = [0u8; 32];
        id[..4].copy_from_slice(&i.to_be_bytes());
        Item::new(now, RecordId(id))
    }));
    let first = Reconciler::initiator(Config::default())
        .unwrap()
        .initiate_bytes(&theirs)
        .unwrap();
    let request = SyncRequest::Reconcile {
        topic: cell_topic(),
        session: 7,
        message: first,
        proof: None,
    }
    .encode();
    let mut refused = false;
    for _ in 0..600 {
        match endless
            .send_request(Protocol::Sync, node.peer_id(), request.clone())
            .await
        {
            // A refusal is a response too.
            Ok(bytes) => {
                let response = SyncResponse::decode(&bytes, bytes.len())
                    .expect("the node answers in well-formed frames");
                refused |= matches!(response, SyncResponse::Refused { .. });
            }
            Err(_) => break, // cut off
        }
        if !node
            .peers()
            .await
            .unwrap()
            .contains(&endless.local_peer_id())
        {
            break;
        }
    }
    assert!(refused, "the endless session was never refused");
    let scores = node.network().peer_scores().await.unwrap();
    let charged = scores
        .iter()
        .find(|s| s.peer == endless.local_peer_id())
        .is_none_or(|s| s.misbehaviour > 0.0);
    assert!(charged, "the endless peer was not charged");

    // 3. The node is unharmed: an honest peer catches up from it.
    let honest = kit::node(Some(CELL)).await;
    kit::connect(&honest, &node).await;
    let expected: BTreeSet<RecordId> = batch.iter().map(|v| v.id()).collect();
    wait_until("an honest peer to catch up", || async {
        items(&honest).is_superset(&expected)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetched_records_do_not_count_against_the_peer_rate() {
    // The laptop allows its peers 5 pushed or gossiped records at once: the
    // 5,000 it fetches are its own asking, and charge nobody.
    let quiet = |c: &mut swapmesh_node::NodeConfig| {
        c.sync_on_connect = false;
        c.sync_interval = Duration::ZERO;
    };
    let source = kit::node_with(Some("u4pru"), quiet).await;
    let laptop = kit::node_with(Some("u4pru"), |c| {
        quiet(c);
        c.misbehaviour.flood.gossip_per_second = 0.01;
        c.misbehaviour.flood.gossip_burst = 5.0;
    })
    .await;
    let now = Timestamp::now();
    let held: Vec<_> = (0..5_000u64)
        .map(|i| {
            fixtures::verified_listing(
                &fixtures::key(i % 50),
                &format!("fetched-{i}"),
                "u4pru",
                now,
            )
        })
        .collect();
    source.store().insert_batch(&held, now).unwrap();
    kit::connect(&laptop, &source).await;
    let topic =
        swapmesh_protocol::Topic::area(&swapmesh_protocol::Geohash::parse_cell("u4pru").unwrap());
    let report = laptop.sync_with(source.peer_id(), &topic).await.unwrap();
    assert_eq!(report.fetched, 5_000, "{report:?}");
    for (node, other) in [(&laptop, &source), (&source, &laptop)] {
        assert_eq!(
            kit::misbehaviour_of(node, other.peer_id())
                .await
                .unwrap_or(0.0),
            0.0
        );
    }
}
