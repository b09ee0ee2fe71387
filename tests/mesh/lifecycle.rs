//! Versions, withdrawals, late joiners and restarts.

use std::time::Duration;

use swapmesh_net::NetworkHandle;
use swapmesh_node::{Node, NodeEvent};
use swapmesh_protocol::{Geohash, GossipMessage, Topic, Verified, fixtures};

use crate::kit::{self, held, listing_id, settle, wait_until};

const CELL: &str = "u4pru";

fn topic() -> String {
    Topic::area(&Geohash::parse_cell(CELL).unwrap())
        .as_str()
        .to_owned()
}

fn wire(v: &Verified) -> Vec<u8> {
    GossipMessage::record(v.signed().clone()).encode()
}

async fn feed(feeder: &NetworkHandle, node: &Node, versions: &[&Verified]) {
    feeder.dial(kit::address(node).await).await.unwrap();
    for v in versions {
        let data = wire(v);
        wait_until("a publish to land", || async {
            feeder.publish(topic(), data.clone()).await.is_ok()
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawal_replaces_the_listing_on_every_node_and_a_stale_copy_is_ignored() {
    // A short duplicate cache, so the stale copy below is judged by the store's
    // supersedes rule and not just dropped by gossipsub as a duplicate.
    let nodes = {
        let mut out = Vec::new();
        for _ in 0..4 {
            out.push(
                kit::node_with(Some(CELL), |c| {
                    c.gossip.duplicate_cache_time = Duration::from_millis(500)
                })
                .await,
            );
        }
        out
    };
    kit::line(&nodes).await;
    let id = listing_id(&nodes[0], "ladder");
    let v1 = nodes[0]
        .publish_listing(fixtures::listing("ladder"))
        .await
        .unwrap();
    let v2 = nodes[0]
        .update_listing("ladder", |l| l.title = "Aluminium ladder, 4 m".into())
        .await
        .unwrap();
    let v3 = nodes[0].withdraw_listing("ladder").await.unwrap();
    assert!(v3.body().is_tombstone());
    for node in &nodes {
        wait_until("the tombstone everywhere", || async {
            held(node, &id) == Some(v3.id())
        })
        .await;
    }
    // A stale peer at the far end publishes the first version again.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stale = kit::raw_peer().await;
    feed(&stale, &nodes[3], &[&v1, &v2]).await;
    settle().await;
    for node in &nodes {
        assert_eq!(held(node, &id), Some(v3.id()), "an old version came back");
        let live = node.search(&Default::default()).unwrap();
        assert!(
            live.records
                .iter()
                .all(|r| r.id != v1.id() && r.id != v2.id())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_state_is_the_same_whatever_the_arrival_order() {
    let author = kit::node(Some(CELL)).await;
    let v1 = author
        .publish_listing(fixtures::listing("kayak"))
        .await
        .unwrap();
    let v2 = author
        .update_listing("kayak", |l| l.description = "Two seats.".into())
        .await
        .unwrap();
    let v3 = author.withdraw_listing("kayak").await.unwrap();
    let marker = author
        .publish_listing(fixtures::listing("marker"))
        .await
        .unwrap();

    let forwards = kit::node(Some(CELL)).await;
    let backwards = kit::node(Some(CELL)).await;
    let shuffled = kit::node(Some(CELL)).await;
    let orders: [(&Node, [&Verified; 3]); 3] = [
        (&forwards, [&v1, &v2, &v3]),
        (&backwards, [&v3, &v2, &v1]),
        (&shuffled, [&v2, &v3, &v1]),
    ];
    for (node, order) in orders {
        let f = kit::raw_peer().await;
        let mut all: Vec<&Verified> = order.to_vec();
        all.push(&marker);
        feed(&f, node, &all).await;
        let marker_id = listing_id(&author, "marker");
        wait_until("the marker (sent last)", || async {
            held(node, &marker_id).is_some()
        })
        .await;
    }
    let id = listing_id(&author, "kayak");
    for node in [&forwards, &backwards, &shuffled] {
        assert_eq!(held(node, &id), Some(v3.id()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_published_before_any_peer_reaches_a_peer_that_connects_later() {
    let early = kit::node(Some(CELL)).await;
    let published = early
        .publish_listing(fixtures::listing("sofa"))
        .await
        .unwrap();
    let late = kit::node(Some(CELL)).await;
    kit::connect(&late, &early).await;
    let id = listing_id(&early, "sofa");
    wait_until("the late peer to store the listing", || async {
        held(&late, &id) == Some(published.id())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_restarted_on_its_data_directory_keeps_key_records_and_meshes() {
    let street = kit::mesh("street7");
    let mut node = kit::node(None).await;
    node.join_mesh(street.clone()).await.unwrap();
    let published = node
        .publish_listing(fixtures::listing("bbq"))
        .await
        .unwrap();
    let (peer, author) = (node.peer_id(), node.author());
    node.restart().await;
    assert_eq!(node.peer_id(), peer);
    assert_eq!(node.author(), author);
    assert_eq!(node.meshes(), vec![street.clone()]);
    assert!(
        node.listening_topics()
            .iter()
            .any(|t| t.as_str() == Topic::mesh(&street).as_str())
    );
    let id = listing_id(&node, "bbq");
    assert_eq!(held(&node, &id), Some(published.id()));
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_coming_and_going_are_node_events() {
    let a = kit::node(Some(CELL)).await;
    let mut events = a.subscribe_events();
    let b = kit::node(Some(CELL)).await;
    kit::connect(&a, &b).await;
    let peer = b.peer_id();
    let up = tokio::time::timeout(kit::TIMEOUT, async {
        loop {
            if let Ok(NodeEvent::PeerUp { peer: p }) = events.recv().await
                && p == peer
            {
                return;
            }
        }
    })
    .await;
    assert!(up.is_ok(), "no PeerUp event");
    b.shutdown().await.unwrap();
    let down = tokio::time::timeout(kit::TIMEOUT, async {
        loop {
            if let Ok(NodeEvent::PeerDown { peer: p }) = events.recv().await
                && p == peer
            {
                return;
            }
        }
    })
    .await;
    assert!(down.is_ok(), "no PeerDown event");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_listing_leaves_search_and_is_swept_from_the_store() {
    let node = kit::node_with(Some(CELL), |c| {
        c.sweep_interval = Duration::from_millis(200)
    })
    .await;
    let key = fixtures::key(77);
    let now = swapmesh_protocol::Timestamp::now();
    let mut body = fixtures::listing_body(
        swapmesh_protocol::signed::author_of(&key),
        CELL,
        fixtures::listing("brief"),
        now,
    );
    body.expires_at = now.plus(2);
    let short = swapmesh_protocol::sign_own(&body, &key, now).unwrap();
    node.store().insert(&short, now).unwrap();
    let all = swapmesh_store::Query {
        limit: 10,
        ..Default::default()
    };
    assert_eq!(node.search(&all).unwrap().records.len(), 1);
    wait_until("the expired listing to leave search", || async {
        node.search(&all).unwrap().records.is_empty()
    })
    .await;
    wait_until("the sweep to drop it from the store", || async {
        node.store().get(&short.id()).unwrap().is_none()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_with_a_moved_clock() {
    let node = kit::node_with_clock(Some(CELL)).await;
    let listing = node
        .publish_listing(fixtures::listing("lamp"))
        .await
        .unwrap();
    let all = swapmesh_store::Query {
        limit: 10,
        ..Default::default()
    };
    assert_eq!(node.search(&all).unwrap().records.len(), 1);
    // Past the listing's expiry, with no wait in real time.
    node.clock().set(listing.body().expires_at.plus(1));
    assert!(node.search(&all).unwrap().records.is_empty());
    assert_eq!(node.sweep_now().unwrap(), 1);
    assert!(node.record(&listing.id()).unwrap().is_none());
}
