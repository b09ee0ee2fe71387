//! Forged and invalid records go nowhere and get their sender blocked; an honest
//! node with a skewed clock is ignored without blame, and a node whose own clock
//! is off is told so.

use std::time::Duration;

use swapmesh_net::NetworkHandle;
use swapmesh_protocol::signed::author_of;
use swapmesh_protocol::time::DAY;
use swapmesh_protocol::{GossipMessage, SignedRecord, Timestamp, Topic, fixtures};

use crate::kit::{self, TestNode, settle, wait_until};

const CELL: &str = "u4pru";

fn topic() -> String {
    Topic::area(&swapmesh_protocol::Geohash::parse_cell(CELL).unwrap())
        .as_str()
        .to_owned()
}

/// Publishes until it lands (the peer's subscription may not be known yet).
async fn publish(raw: &NetworkHandle, data: Vec<u8>) {
    wait_until("a publish to find a peer", || async {
        raw.publish(topic(), data.clone()).await.is_ok()
    })
    .await;
}

/// Publishes on the cell's topic while the sender is connected to `node`.
async fn publish_while_connected(raw: &NetworkHandle, node: &TestNode, data: Vec<u8>) -> bool {
    kit::publish_while_connected(raw, node, &topic(), data).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_records_are_not_stored_or_forwarded_and_the_forger_is_blocked() {
    let first = kit::node(Some(CELL)).await;
    let second = kit::node(Some(CELL)).await;
    kit::connect(&first, &second).await;
    let forger = kit::raw_peer().await;
    kit::connect_raw(&forger, &first).await;
    let mut events = first.subscribe_events();

    let now = Timestamp::now();
    for i in 0..6u64 {
        let key = fixtures::key(100 + i);
        let mut record = fixtures::verified_listing(&key, &format!("forged-{i}"), CELL, now)
            .signed()
            .clone();
        // Forge: the signature of a different body.
        let mut sig = record.sig.to_bytes();
        sig[7] ^= 0x40;
        record.sig = swapmesh_protocol::Signature::from_bytes(&sig);
        if !publish_while_connected(&forger, &first, GossipMessage::record(record).encode()).await {
            break; // blocked and disconnected already
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let forger_id = forger.local_peer_id();
    let blocked = tokio::time::timeout(kit::TIMEOUT, async {
        loop {
            if let Ok(swapmesh_node::NodeEvent::PeerBlocked { peer }) = events.recv().await
                && peer == forger_id
            {
                return;
            }
        }
    })
    .await;
    assert!(blocked.is_ok(), "the forger was not blocked");
    wait_until("the forger to be disconnected", || async {
        !first.peers().await.unwrap().contains(&forger_id)
    })
    .await;
    for node in [&first, &second] {
        let page = node.search(&Default::default()).unwrap();
        assert!(page.records.is_empty(), "a forged record was stored");
    }
    // Nothing was forwarded: the second node never charged the first.
    assert_eq!(
        kit::misbehaviour_of(&second, first.peer_id()).await,
        Some(0.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validly_signed_invalid_records_are_rejected_and_their_sender_blocked() {
    let node = kit::node(Some(CELL)).await;
    let sender = kit::raw_peer().await;
    kit::connect_raw(&sender, &node).await;
    let now = Timestamp::now();
    for i in 0..4u64 {
        let key = fixtures::key(200 + i);
        let mut listing = fixtures::listing(&format!("long-{i}"));
        listing.title = "x".repeat(500); // breaks the 140-character rule
        let body = fixtures::listing_body(author_of(&key), CELL, listing, now);
        let record = SignedRecord::sign(&body, &key);
        if !publish_while_connected(&sender, &node, GossipMessage::record(record).encode()).await {
            break; // blocked and disconnected already
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let id = sender.local_peer_id();
    wait_until("the sender to be disconnected", || async {
        !node.peers().await.unwrap().contains(&id)
    })
    .await;
    assert!(node.search(&Default::default()).unwrap().records.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_created_an_hour_ahead_is_ignored_without_penalty() {
    let node = kit::node(Some(CELL)).await;
    let honest = kit::raw_peer().await;
    kit::connect_raw(&honest, &node).await;
    let key = fixtures::key(300);
    let ahead = Timestamp::now().plus(3600);
    let mut body =
        fixtures::listing_body(author_of(&key), CELL, fixtures::listing("skewed"), ahead);
    body.expires_at = ahead.plus(DAY);
    publish(
        &honest,
        GossipMessage::record(SignedRecord::sign(&body, &key)).encode(),
    )
    .await;
    settle().await;
    assert!(node.search(&Default::default()).unwrap().records.is_empty());
    let peer = honest.local_peer_id();
    assert!(
        node.peers().await.unwrap().contains(&peer),
        "still connected"
    );
    assert_eq!(kit::misbehaviour_of(&node, peer).await, Some(0.0));
}

/// Each of `peers` publishes a listing `<name><i>`, signed with its own key
/// (`fixtures::key(400 + i)`) and created now.
async fn publish_fresh(peers: &[NetworkHandle], name: &str) {
    for (i, peer) in peers.iter().enumerate() {
        let key = fixtures::key(400 + i as u64);
        let listing = fixtures::listing(&format!("{name}{i}"));
        let body = fixtures::listing_body(author_of(&key), CELL, listing, Timestamp::now());
        publish(
            peer,
            GossipMessage::record(SignedRecord::sign(&body, &key)).encode(),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_skew_is_reported() {
    use swapmesh_node::skew::ClockState;

    // This node's clock is an hour behind; its three peers' are right.
    let node = kit::node_with_clock(Some(CELL)).await;
    let real_now = Timestamp::now();
    node.clock().set(Timestamp(real_now.0 - 3600));
    let mut peers = Vec::new();
    for _ in 0..3 {
        let peer = kit::raw_peer().await;
        kit::connect_raw(&peer, &node).await;
        peers.push(peer);
    }
    assert_eq!(node.clock_skew().state, ClockState::Unknown);

    // Each publishes a fresh listing of its own: from this node's future.
    publish_fresh(&peers, "lamp").await;
    wait_until("the node to find its clock behind", || async {
        node.clock_skew().state == ClockState::Behind
    })
    .await;
    let skew = node.clock_skew();
    assert_eq!(skew.authors, 3, "{skew:?}");
    let offset = skew.offset_secs.unwrap();
    assert!((-3700..=-3500).contains(&offset), "{skew:?}");
    // Their records were ignored, and nobody was blamed for it.
    assert!(node.search(&Default::default()).unwrap().records.is_empty());
    for peer in &peers {
        let id = peer.local_peer_id();
        assert_eq!(kit::misbehaviour_of(&node, id).await, Some(0.0));
    }

    // Set right, the node finds it agrees with them again.
    node.clock().set(Timestamp::now());
    publish_fresh(&peers, "lamp-again").await;
    wait_until("the node to agree with its peers", || async {
        node.clock_skew().state == ClockState::Ok
    })
    .await;
}
