//! One ingest path for gossip and sync: a fetched batch is one store transaction,
//! every verdict of either path is counted under its reason, and a verify task
//! that panics is counted and fails its session instead of passing for an empty
//! batch.

use swapmesh_net::{NetworkHandle, Protocol};
use swapmesh_node::Node;
use swapmesh_protocol::signed::author_of;
use swapmesh_protocol::time::DAY;
use swapmesh_protocol::{
    Geohash, GossipMessage, SignedRecord, Timestamp, Topic, Verified, fixtures,
};
use swapmesh_sync::wire::{SyncRequest, SyncResponse};

use crate::kit::{self, metric, wait_until};

const CELL: &str = "u4pru";

fn cell_topic() -> Topic {
    Topic::area(&Geohash::parse_cell(CELL).unwrap())
}

/// `n` listings by a few authors, valid now.
fn listings(prefix: &str, n: u64, now: Timestamp) -> Vec<Verified> {
    (0..n)
        .map(|i| {
            fixtures::verified_listing(&fixtures::key(i % 5), &format!("{prefix}-{i}"), CELL, now)
        })
        .collect()
}

/// A node that syncs only when a test says so.
async fn quiet_node() -> kit::TestNode {
    kit::node_with(Some(CELL), |c| {
        c.sync_on_connect = false;
        c.sync_interval = std::time::Duration::ZERO;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catch_up_batch_is_stored_in_one_transaction() {
    let source = quiet_node().await;
    let laptop = quiet_node().await;
    let now = Timestamp::now();
    let batch = listings("batch", 200, now);
    source.store().insert_batch(&batch, now).unwrap();
    kit::connect(&laptop, &source).await;

    let report = laptop
        .sync_with(source.peer_id(), &cell_topic())
        .await
        .unwrap();
    assert_eq!(report.fetched, 200);
    for v in &batch {
        assert!(laptop.record(&v.id()).unwrap().is_some());
    }
    // 200 records fit one fetch of at most 256 ids and one frame: one fetch,
    // one transaction.
    assert_eq!(
        metric(&laptop, "swapmesh_store_batches_total{path=\"sync\"}").await,
        1
    );
    assert_eq!(
        metric(
            &laptop,
            "swapmesh_sync_records_total{verdict=\"accepted\",reason=\"inserted\"}"
        )
        .await,
        200
    );
}

// One thread, so the subscriber set for this test sees the node's tasks.
#[tokio::test(flavor = "current_thread")]
async fn a_panicking_verify_is_counted_not_lost() {
    let log = kit::Log::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::ERROR)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let source = quiet_node().await;
    let laptop = quiet_node().await;
    let now = Timestamp::now();
    let batch = listings("panic", 50, now);
    source.store().insert_batch(&batch, now).unwrap();
    kit::connect(&laptop, &source).await;

    laptop.config().faults.panic_next_verifies(1);
    let failed = laptop.sync_with(source.peer_id(), &cell_topic()).await;
    let error = failed.expect_err("a session whose verify panicked must fail");
    assert!(error.to_string().contains("panicked"), "{error}");
    assert_eq!(
        metric(&laptop, "swapmesh_verify_panics_total{path=\"sync\"}").await,
        1
    );
    let text = log.text();
    assert!(text.contains("verify task panicked"), "log: {text}");
    assert!(laptop.record(&batch[0].id()).unwrap().is_none());

    // Nothing was lost: the next session stores the whole batch.
    let report = laptop
        .sync_with(source.peer_id(), &cell_topic())
        .await
        .unwrap();
    assert_eq!(report.fetched, 50);
    for v in &batch {
        assert!(laptop.record(&v.id()).unwrap().is_some());
    }
}

/// A valid record, one whose signature is broken, and one that expired yesterday.
fn three_kinds(prefix: &str, now: Timestamp) -> [SignedRecord; 3] {
    let key = fixtures::key(31);
    let valid = fixtures::verified_listing(&key, &format!("{prefix}-ok"), CELL, now);
    let mut forged = fixtures::verified_listing(&key, &format!("{prefix}-forged"), CELL, now)
        .signed()
        .clone();
    let mut sig = forged.sig.to_bytes();
    sig[0] ^= 1;
    forged.sig = swapmesh_protocol::Signature::from_bytes(&sig);
    let mut body = fixtures::listing_body(
        author_of(&key),
        CELL,
        fixtures::listing(&format!("{prefix}-old")),
        Timestamp(now.0 - 3 * DAY),
    );
    body.expires_at = Timestamp(now.0 - DAY);
    let expired = SignedRecord::sign(&body, &key);
    [valid.signed().clone(), forged, expired]
}

/// A bare network peer connected to `node`.
async fn raw_peer_of(node: &Node) -> NetworkHandle {
    let raw = kit::raw_peer().await;
    kit::connect_raw(&raw, node).await;
    raw
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gossip_and_sync_verdicts_are_both_counted() {
    let node = kit::node(Some(CELL)).await;
    let now = Timestamp::now();

    // Gossip: three messages from a raw peer.
    let gossiper = raw_peer_of(&node).await;
    for record in three_kinds("gossip", now) {
        let data = GossipMessage::record(record).encode();
        wait_until("a publish to find the node", || async {
            gossiper
                .publish(cell_topic().as_str(), data.clone())
                .await
                .is_ok()
        })
        .await;
    }
    // Sync: the same three kinds pushed in one batch.
    let pusher = raw_peer_of(&node).await;
    kit::open_session(&pusher, &node, &cell_topic(), 3).await;
    let push = SyncRequest::Push {
        topic: cell_topic(),
        session: 3,
        records: three_kinds("sync", now)
            .iter()
            .map(SignedRecord::encode)
            .collect(),
    };
    let answer = pusher
        .send_request(Protocol::Sync, node.peer_id(), push.encode())
        .await
        .unwrap();
    assert_eq!(
        SyncResponse::decode(&answer, answer.len()).unwrap(),
        SyncResponse::pushed(1)
    );

    for path in ["gossip", "sync"] {
        for (verdict, reason) in [
            ("accepted", "inserted"),
            ("rejected", "bad_signature"),
            ("ignored", "expired"),
        ] {
            let sample = format!(
                "swapmesh_{path}_records_total{{verdict=\"{verdict}\",reason=\"{reason}\"}}"
            );
            wait_until(&sample, || async { metric(&node, &sample).await == 1 }).await;
        }
    }
}
