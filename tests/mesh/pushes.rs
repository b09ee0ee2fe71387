//! A push is paid for by its pusher: it must name a sync session of the last
//! minute, the records it holds already cost the node no signature check, and
//! only a push mostly of those is charged (gossip races honest pushes).

use swapmesh_net::{NetworkHandle, Protocol};
use swapmesh_node::Node;
use swapmesh_protocol::{Geohash, SignedRecord, Timestamp, Topic, Verified, fixtures};
use swapmesh_sync::wire::{Refusal, SyncRequest, SyncResponse};

use crate::kit::{self, metric, misbehaviour_of, wait_until};

const CELL: &str = "u4pru";

fn cell_topic() -> Topic {
    Topic::area(&Geohash::parse_cell(CELL).unwrap())
}

/// `n` valid listings by a few authors, named by `prefix`.
fn listings(prefix: &str, n: u64) -> Vec<Verified> {
    let now = Timestamp::now();
    (0..n)
        .map(|i| {
            fixtures::verified_listing(&fixtures::key(i % 5), &format!("{prefix}-{i}"), CELL, now)
        })
        .collect()
}

fn bytes(records: &[Verified]) -> Vec<Vec<u8>> {
    records
        .iter()
        .map(|v| SignedRecord::encode(v.signed()))
        .collect()
}

/// A node that syncs only when a test says so, holding `held`.
async fn node_holding(held: &[Verified]) -> kit::TestNode {
    let node = kit::node_with(Some(CELL), |c| {
        c.sync_on_connect = false;
        c.sync_interval = std::time::Duration::ZERO;
    })
    .await;
    node.store().insert_batch(held, Timestamp::now()).unwrap();
    node
}

async fn push(
    raw: &NetworkHandle,
    node: &Node,
    session: u64,
    records: Vec<Vec<u8>>,
) -> SyncResponse {
    let request = SyncRequest::Push {
        topic: cell_topic(),
        session,
        records,
    };
    let answer = raw
        .send_request(Protocol::Sync, node.peer_id(), request.encode())
        .await
        .expect("an answer");
    SyncResponse::decode(&answer, answer.len()).expect("a response")
}

/// Records judged on the sync path, every verdict: each one a signature check.
async fn judged(node: &Node) -> u64 {
    let text = node.metrics_text().await.unwrap();
    text.lines()
        .filter(|l| l.starts_with("swapmesh_sync_records_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_outside_a_session_is_refused() {
    let node = node_holding(&[]).await;
    let raw = kit::raw_peer().await;
    kit::connect_raw(&raw, &node).await;
    let outside = listings("outside", 3);
    let records = bytes(&outside);

    // No session at all.
    let answer = push(&raw, &node, 99, records.clone()).await;
    assert!(
        matches!(
            answer,
            SyncResponse::Refused {
                reason: Refusal::BadRequest(_)
            }
        ),
        "{answer:?}"
    );
    let charged = misbehaviour_of(&node, raw.local_peer_id())
        .await
        .unwrap_or(0.0);
    assert!(charged > 0.0, "the pusher is charged");
    // A session of this peer, but not the one named.
    kit::open_session(&raw, &node, &cell_topic(), 5).await;
    let answer = push(&raw, &node, 6, records.clone()).await;
    assert!(
        matches!(
            answer,
            SyncResponse::Refused {
                reason: Refusal::BadRequest(_)
            }
        ),
        "{answer:?}"
    );
    // Another peer's session is not this one's.
    let other = kit::raw_peer().await;
    kit::connect_raw(&other, &node).await;
    let answer = push(&other, &node, 5, records.clone()).await;
    assert!(matches!(answer, SyncResponse::Refused { .. }), "{answer:?}");
    assert_eq!(judged(&node).await, 0, "nothing was checked");
    for v in listings("outside", 3) {
        assert!(
            node.record(&v.id()).unwrap().is_none(),
            "nothing was stored"
        );
    }
    // The session named: taken. (One older than SESSION_IDLE is refused too:
    // crates/sync's a_push_outside_a_session_of_the_last_minute_is_refused_as_a_fault.)
    let answer = push(&raw, &node, 5, records).await;
    assert_eq!(answer, SyncResponse::pushed(3));
    for v in &outside {
        assert!(node.record(&v.id()).unwrap().is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_duplicates_cost_no_signature_checks() {
    let held = listings("held", 8);
    let node = node_holding(&held).await;
    let raw = kit::raw_peer().await;
    kit::connect_raw(&raw, &node).await;
    kit::open_session(&raw, &node, &cell_topic(), 1).await;

    let answer = push(&raw, &node, 1, bytes(&held)).await;
    assert_eq!(answer, SyncResponse::pushed(0));
    assert_eq!(judged(&node).await, 0, "a held record was checked");
    assert_eq!(metric(&node, "swapmesh_sync_pushed_held_total").await, 8);
    // All of it held: work asked for nothing, charged.
    let charged = misbehaviour_of(&node, raw.local_peer_id())
        .await
        .unwrap_or(0.0);
    assert!(charged > 0.0, "the pusher of held records is charged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_honest_push_racing_gossip_is_not_charged() {
    let held = listings("raced", 2);
    let node = node_holding(&held).await;
    let raw = kit::raw_peer().await;
    kit::connect_raw(&raw, &node).await;
    kit::open_session(&raw, &node, &cell_topic(), 1).await;

    // 2 of 8 held (25 %): gossip got there first, no fault.
    let mut batch = bytes(&held);
    batch.extend(bytes(&listings("new", 6)));
    let answer = push(&raw, &node, 1, batch).await;
    assert_eq!(answer, SyncResponse::pushed(6));
    assert_eq!(judged(&node).await, 6, "only the new ones were checked");
    assert_eq!(metric(&node, "swapmesh_sync_pushed_held_total").await, 2);
    assert_eq!(
        misbehaviour_of(&node, raw.local_peer_id()).await,
        Some(0.0),
        "an honest pusher is not charged"
    );
}

/// A push all of records gossip brought the node a moment ago is the race of
/// a busy cell (a flood of new listings arriving by gossip while an honest
/// session pushes them), not work asked for nothing: the city's Sybil test
/// found honest nodes charging each other for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_of_records_gossip_just_brought_is_not_charged() {
    let node = node_holding(&[]).await;
    let raw = kit::raw_peer().await;
    kit::connect_raw(&raw, &node).await;
    raw.subscribe(cell_topic().as_str()).await.unwrap();
    let raced = listings("raced", 4);
    for v in &raced {
        let message = swapmesh_protocol::GossipMessage::record(v.signed().clone()).encode();
        wait_until("the raw peer's publish to find the node", || async {
            raw.publish(cell_topic().as_str(), message.clone())
                .await
                .is_ok()
        })
        .await;
    }
    for v in &raced {
        wait_until("the node to store the gossip", || async {
            node.record(&v.id()).unwrap().is_some()
        })
        .await;
    }
    kit::open_session(&raw, &node, &cell_topic(), 1).await;
    let answer = push(&raw, &node, 1, bytes(&raced)).await;
    assert_eq!(answer, SyncResponse::pushed(0));
    assert_eq!(metric(&node, "swapmesh_sync_pushed_held_total").await, 4);
    assert_eq!(
        misbehaviour_of(&node, raw.local_peer_id()).await,
        Some(0.0),
        "a push racing gossip is charged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_records_count_against_the_peer_rate() {
    let node = kit::node_with(Some(CELL), |c| {
        c.sync_on_connect = false;
        c.sync_interval = std::time::Duration::ZERO;
        c.misbehaviour.flood.gossip_per_second = 0.01;
        c.misbehaviour.flood.gossip_burst = 5.0;
    })
    .await;
    let raw = kit::raw_peer().await;
    kit::connect_raw(&raw, &node).await;
    kit::open_session(&raw, &node, &cell_topic(), 1).await;

    // More new records than the pusher's rate holds: busy, nothing judged,
    // nothing stored, nobody charged.
    let many = listings("many", 8);
    let answer = push(&raw, &node, 1, bytes(&many)).await;
    assert_eq!(
        answer,
        SyncResponse::Refused {
            reason: Refusal::Busy
        }
    );
    assert_eq!(judged(&node).await, 0);
    assert!(many.iter().all(|v| node.record(&v.id()).unwrap().is_none()));
    assert_eq!(
        metric(&node, "swapmesh_sync_refused_total{reason=\"push_rate\"}").await,
        1
    );
    // What fits is taken.
    let few = listings("few", 4);
    assert_eq!(
        push(&raw, &node, 1, bytes(&few)).await,
        SyncResponse::pushed(4)
    );
    assert_eq!(
        misbehaviour_of(&node, raw.local_peer_id()).await,
        Some(0.0),
        "a pusher over its rate is not charged"
    );
}
