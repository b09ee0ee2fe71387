//! Quotas hold everywhere: one author's flood leaves the same records on every
//! node, whatever order gossip and sync brought them in, and the excess on
//! none (`swapmesh_store::quota`).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use swapmesh_net::{NetworkHandle, PublishError};
use swapmesh_protocol::signed::author_of;
use swapmesh_protocol::{
    Geohash, GossipMessage, MeshId, RecordId, Timestamp, Topic, Verified, fixtures, sign_own,
    topics,
};
use swapmesh_store::quota::{PER_DAY, PER_TOPIC, kept_of};

use crate::kit::{self, TestNode, wait_until};

const CELL: &str = "u4pru";
const DAY: u64 = 86_400;

/// One author's flood: `per_day` listings on each of the last three days, in
/// the cell, in the mesh, or in both.
fn flood(per_day: u64) -> Vec<Verified> {
    let key = fixtures::key(666);
    let now = Timestamp::now();
    let mut rng = StdRng::seed_from_u64(7);
    let mut out = Vec::new();
    for day in 0..3 {
        for i in 0..per_day {
            let created_at = Timestamp(now.0 - day * DAY - rng.gen_range(0..DAY / 2));
            let mut body = fixtures::listing_body(
                author_of(&key),
                CELL,
                fixtures::listing(&format!("spam-{day}-{i}")),
                created_at,
            );
            body.expires_at = Timestamp(now.0 + 20 * DAY);
            match i % 3 {
                0 => body.meshes = vec![MeshId::local()],
                1 => {
                    body.area = None;
                    body.meshes = vec![MeshId::local()];
                }
                _ => {}
            }
            out.push(sign_own(&body, &key, now).unwrap());
        }
    }
    out
}

/// What every node must keep of `records` under each topic.
fn expected(records: &[Verified]) -> BTreeMap<Topic, BTreeSet<RecordId>> {
    let mut by_topic: BTreeMap<Topic, Vec<(Timestamp, RecordId)>> = BTreeMap::new();
    for r in records {
        for t in topics(r.body()) {
            by_topic
                .entry(t)
                .or_default()
                .push((r.body().created_at, r.id()));
        }
    }
    by_topic
        .into_iter()
        .map(|(t, items)| (t, kept_of(&items).into_iter().map(|(_, id)| id).collect()))
        .collect()
}

fn held(node: &TestNode, topic: &Topic) -> BTreeSet<RecordId> {
    node.store()
        .topic_items(topic, Bound::Unbounded, Bound::Unbounded)
        .map(|item| item.unwrap().1)
        .collect()
}

/// Publishes every record from `raw` on each of its topics, in the order
/// given, a few at a time.
async fn gossip_all(raw: &NetworkHandle, records: &[Verified]) {
    for chunk in records.chunks(20) {
        for r in chunk {
            let data = GossipMessage::record(r.signed().clone()).encode();
            for topic in topics(r.body()) {
                wait_until("the raw peer's publish to find a subscriber", || async {
                    // A duplicate: the other raw peer's copy came first.
                    matches!(
                        raw.publish(topic.as_str(), data.clone()).await,
                        Ok(_) | Err(PublishError::Duplicate)
                    )
                })
                .await;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn quota_node() -> TestNode {
    kit::node_with(Some(CELL), |c| {
        c.meshes = vec![MeshId::local()];
        c.sync_interval = Duration::from_secs(1);
        // The flood is valid: a rate far above it keeps this test about
        // quotas, not about the per-peer rate.
        c.misbehaviour.flood.gossip_per_second = 100_000.0;
        c.misbehaviour.flood.gossip_burst = 100_000.0;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_author_cannot_exceed_its_quota_anywhere() {
    let records = flood(PER_DAY as u64 + 40);
    let want = expected(&records);
    let kept: BTreeSet<RecordId> = want.values().flatten().copied().collect();
    let cell = Topic::area(&Geohash::parse_cell(CELL).unwrap());
    let mesh = Topic::mesh(&MeshId::local());
    for topic in [&cell, &mesh] {
        assert_eq!(
            want[topic].len(),
            PER_TOPIC,
            "the flood is over the topic quota"
        );
    }
    assert!(kept.len() < records.len());

    let nodes = vec![quota_node().await, quota_node().await, quota_node().await];
    kit::line(&nodes).await;
    // Two raw peers at both ends of the line send the flood in two orders.
    let (first, second) = (kit::raw_peer().await, kit::raw_peer().await);
    kit::connect_raw(&first, &nodes[0]).await;
    kit::connect_raw(&second, &nodes[2]).await;
    for raw in [&first, &second] {
        for topic in [&cell, &mesh] {
            raw.subscribe(topic.as_str()).await.unwrap();
        }
    }
    let mut shuffled = records.clone();
    shuffled.shuffle(&mut StdRng::seed_from_u64(11));
    tokio::join!(gossip_all(&first, &records), gossip_all(&second, &shuffled));

    // A fourth node joins late: it has only sync to learn from.
    let late = quota_node().await;
    kit::connect(&late, &nodes[1]).await;
    let all: Vec<&TestNode> = nodes.iter().chain([&late]).collect();
    for (i, node) in all.iter().enumerate() {
        for topic in [&cell, &mesh] {
            wait_until(
                &format!("node {i} to hold the quota of {topic}"),
                || async { held(node, topic) == want[topic] },
            )
            .await;
        }
    }
    for (i, node) in all.iter().enumerate() {
        for r in &records {
            let stored = node.store().get(&r.id()).unwrap().is_some();
            assert_eq!(
                stored,
                kept.contains(&r.id()),
                "node {i}, record {}",
                r.id()
            );
        }
        let c = node.store().check_consistency().unwrap();
        assert!(c.is_ok(), "node {i}: {:?}", c.problems);
    }
    // The excess was refused as valid: counted by quota, nobody charged.
    let mut refused = 0;
    for path in ["gossip", "sync"] {
        for quota in ["quota_day", "quota_topic"] {
            let sample =
                format!("swapmesh_{path}_records_total{{verdict=\"ignored\",reason=\"{quota}\"}}");
            refused += kit::metric(&nodes[0], &sample).await;
        }
    }
    assert!(refused > 0, "node 0 counted no refusal by quota");
    for (raw, node) in [(&first, &nodes[0]), (&second, &nodes[2])] {
        let points = kit::misbehaviour_of(node, raw.local_peer_id()).await;
        assert!(points.is_none_or(|p| p == 0.0), "{points:?}");
    }
}
