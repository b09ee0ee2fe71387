//! Blocked peers, as a person meets them: listed with why and until when,
//! unblocked by a start of their id through the API or the CLI, and then let
//! back in.

use std::time::{Duration, Instant};

use swapmesh_net::PublishError;
use swapmesh_protocol::{Geohash, GossipMessage, Signature, Timestamp, Topic, fixtures};

use crate::attack::raw_peer_at;
use crate::http::call;
use crate::kit::{Daemon, eventually, ok};

/// A forged listing's gossip: a real record with a broken signature.
fn forged(i: u64) -> Vec<u8> {
    let key = fixtures::key(500 + i);
    let now = Timestamp::now();
    let mut record = fixtures::verified_listing(&key, &format!("forged-{i}"), "u4pru", now)
        .signed()
        .clone();
    let mut sig = record.sig.to_bytes();
    sig[7] ^= 0x40;
    record.sig = Signature::from_bytes(&sig);
    GossipMessage::record(record).encode()
}

fn connected(d: &Daemon, peer: &str) -> bool {
    call(d, "GET", "/api/v1/peers", None).json()["peers"]
        .as_array()
        .is_some_and(|p| p.iter().any(|x| x == peer))
}

#[test]
fn blocked_peers_are_listed_and_unblocked() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    let d = Daemon::neighbour(&dir, None);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let topic = Topic::area(&Geohash::parse_cell("u4pru").unwrap());
    let address = d.bootstrap_address();
    let raw = runtime.block_on(raw_peer_at(&address));
    let id = raw.local_peer_id().to_string();
    eventually("the raw peer to connect", || connected(&d, &id));
    runtime.block_on(raw.subscribe(topic.as_str())).unwrap();

    // Forged records until the node blocks the forger.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut i = 0;
    while connected(&d, &id) {
        assert!(Instant::now() < deadline, "the forger was never blocked");
        match runtime.block_on(raw.publish(topic.as_str(), forged(i))) {
            Ok(_) | Err(PublishError::Duplicate) => i += 1,
            Err(_) => {}
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let listed = call(&d, "GET", "/api/v1/peers/blocked", None);
    assert_eq!(listed.status, 200, "{}", listed.body);
    let blocked = listed.json()["blocked"].as_array().unwrap().clone();
    assert_eq!(blocked.len(), 1, "{}", listed.body);
    assert_eq!(blocked[0]["peer"], id.as_str());
    assert_eq!(blocked[0]["reason"], "misbehaviour: invalid_record");
    assert!(blocked[0]["until"].as_str().is_some(), "{}", listed.body);

    // The CLI lists it too, and unblocks it by a start of its id.
    let text = ok(&dir, &["peers", "blocked"]);
    assert!(
        text.contains(&id) && text.contains("invalid_record"),
        "{text}"
    );
    let unblocked = ok(&dir, &["peers", "unblock", &id[..16]]);
    assert!(
        unblocked.contains(&format!("unblocked {id}")),
        "{unblocked}"
    );
    let listed = call(&d, "GET", "/api/v1/peers/blocked", None);
    assert_eq!(listed.json()["blocked"], serde_json::json!([]));

    // Let back in: its dial is taken again.
    eventually("the unblocked peer to reconnect", || {
        if !connected(&d, &id) {
            let _ = runtime.block_on(raw.dial(address.parse().unwrap()));
            std::thread::sleep(Duration::from_millis(200));
        }
        connected(&d, &id)
    });

    // Unblocking a peer that is not blocked says so.
    let again = call(&d, "DELETE", &format!("/api/v1/peers/blocked/{id}"), None);
    assert_eq!(again.status, 404, "{}", again.body);
    assert_eq!(again.json()["code"], "peer_not_blocked");
    runtime.block_on(raw.shutdown());
    assert!(d.terminate().success());
}
