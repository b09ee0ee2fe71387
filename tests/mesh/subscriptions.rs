//! What a peer may subscribe to here, and what its subscribing may start: a
//! junk topic or one over 64 is ignored and counted, the form private meshes
//! will use is admitted, and subscribe/unsubscribe churn starts at most one
//! sync session per topic per minute.

use std::time::Duration;

use crate::kit::{self, metric, wait_until};

/// A geohash cell of 5 characters, the `i`-th of a few thousand.
fn cell(i: usize) -> String {
    const BASE32: &[u8] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let mut s = String::from("u4p");
    s.push(BASE32[(i / 32) % 32] as char);
    s.push(BASE32[i % 32] as char);
    s
}

fn refused(reason: &str) -> String {
    format!("swapmesh_subscriptions_refused_total{{reason=\"{reason}\"}}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junk_topics_are_refused_by_the_filter() {
    let node = kit::node(Some("u4pru")).await;
    let raw = kit::raw_peer().await;
    kit::connect_raw(&raw, &node).await;

    // Admitted first: a private mesh's topic and the node's own area.
    let pmesh = format!("swapmesh/1/pmesh/p{}", "0123456789abcdef0123456789abcde");
    raw.subscribe(pmesh.clone()).await.unwrap();
    raw.subscribe("swapmesh/1/area/u4pru").await.unwrap();
    // Junk: another protocol's name, a bad cell, an upper-case pmesh.
    for junk in [
        "junk/topic",
        "swapmesh/1/area/!!!!!",
        "swapmesh/1/pmesh/p0123456789ABCDEF0123456789ABCDE",
    ] {
        raw.subscribe(junk).await.unwrap();
    }
    // 70 more areas: 62 fit under the limit of 64, 8 do not (gossipsub's
    // count filter ignores them).
    for i in 0..70 {
        raw.subscribe(format!("swapmesh/1/area/{}", cell(i + 40)))
            .await
            .unwrap();
    }
    // 64 topics: the private mesh's and 63 areas, the node's own among them.
    let peer = raw.local_peer_id();
    wait_until("the node to admit 64 topics of the peer", || async {
        node.topics_of(peer).len() == 64
    })
    .await;
    kit::settle().await;
    let joined = node.topics_of(peer);
    assert_eq!(joined.len(), 64, "{joined:?}");
    for admitted in ["swapmesh/1/area/u4pru", pmesh.as_str()] {
        assert!(
            joined.iter().any(|t| t.as_str() == admitted),
            "{admitted}: {joined:?}"
        );
    }
    // Junk counted: the three above, and not the private mesh's topic.
    assert_eq!(metric(&node, &refused("junk")).await, 3);
    assert!(
        kit::connected(&node, raw.local_peer_id()).await,
        "ignoring junk is no reason to drop the peer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_churn_starts_bounded_sync() {
    let node = kit::node(Some("u4pru")).await;
    let raw = kit::raw_peer().await;
    kit::connect_raw(&raw, &node).await;
    let started = "swapmesh_sync_sessions_started_total";
    let area = "swapmesh/1/area/u4pru";

    // The first join starts a session (the raw peer does not answer sync, so
    // it fails at once).
    raw.subscribe(area).await.unwrap();
    wait_until("the first join's session", || async {
        metric(&node, started).await == 1
    })
    .await;
    // Twenty more joins and leaves within seconds start none.
    for _ in 0..20 {
        raw.unsubscribe(area).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        raw.subscribe(area).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    kit::settle().await;
    assert_eq!(
        metric(&node, started).await,
        1,
        "churn started more sessions"
    );
}
