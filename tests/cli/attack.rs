//! A daemon whose sync sessions are driven without end by raw peers over TCP
//! still answers its API: sync's store reads run on the blocking pool, at most
//! one core's worth, and never under a lock the API needs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use swapmesh_net::{Keypair, NetworkConfig, NetworkHandle, PeerId, Protocol, Transport};
use swapmesh_protocol::{Geohash, RecordId, Timestamp, Topic};
use swapmesh_sync::wire::{SyncRequest, SyncResponse};
use swapmesh_sync::{Item, Message};

use crate::http::{call, metrics, sample};
use crate::kit::{Daemon, seed_listings};

const CELL: &str = "u4pru";
/// Records the daemon holds: each attack round reads them all.
const HELD: u64 = 3_000;
/// Items in each attack round's list, new every round.
const LISTED: usize = 4_000;
/// The promise: every API call answers within this, under attack.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// A reconciliation round of `session` listing `LISTED` fresh items.
fn round(rng: &mut StdRng, session: u64) -> Vec<u8> {
    let items: Vec<Item> = (0..LISTED)
        .map(|_| {
            let t = Timestamp(1_700_000_000 + rng.gen_range(0..86_400 * 30));
            Item::new(t, RecordId(rng.r#gen()))
        })
        .collect();
    SyncRequest::Reconcile {
        topic: Topic::area(&Geohash::parse_cell(CELL).unwrap()),
        session,
        message: Message::list(items).encode(),
        proof: None,
    }
    .encode()
}

/// One attacker's loop: rounds of fresh lists, a new session whenever one is
/// refused, until `stop`; counts the rounds answered.
async fn endless(raw: NetworkHandle, node: PeerId, seed: u64, stop: Arc<AtomicBool>) -> u64 {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut session = rng.r#gen();
    let mut answered = 0;
    while !stop.load(Ordering::Relaxed) {
        let request = round(&mut rng, session);
        let answer = raw.send_request(Protocol::Sync, node, request).await;
        match answer.map(|a| SyncResponse::decode(&a, a.len())) {
            Ok(Ok(SyncResponse::Reconcile { .. })) => answered += 1,
            _ => {
                session = rng.r#gen();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    answered
}

#[test]
fn api_answers_while_sync_scans() {
    let dir = tempfile::tempdir().unwrap();
    seed_listings(dir.path(), HELD, 40, "held", CELL);
    let d = Daemon::start(
        dir.path(),
        &["--listen", "/ip4/127.0.0.1/tcp/0", "--area", CELL],
    );
    let node: PeerId = d.peer.parse().unwrap();

    // Three raw peers, four sessions each, on a runtime of their own.
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let attack = {
        let (stop, answered) = (stop.clone(), answered.clone());
        let d_address = d.bootstrap_address();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            runtime.block_on(async {
                let mut loops = Vec::new();
                for p in 0..3u64 {
                    let raw = raw_peer_at(&d_address).await;
                    for l in 0..4 {
                        loops.push(tokio::spawn(endless(
                            raw.clone(),
                            node,
                            p * 10 + l,
                            stop.clone(),
                        )));
                    }
                }
                for l in loops {
                    answered.fetch_add(l.await.unwrap(), Ordering::Relaxed);
                }
            });
        })
    };

    // Wait until the attack is on: the daemon answers the attackers'
    // sessions.
    let on = Instant::now() + Duration::from_secs(30);
    while sample(&metrics(&d), "swapmesh_sync_responder_sessions") == 0 {
        assert!(Instant::now() < on, "the attack never started");
        std::thread::sleep(Duration::from_millis(50));
    }

    let mut slowest = Duration::ZERO;
    for i in 0..10 {
        let listing = json!({"kinds": ["give"], "title": format!("Chair {i}")});
        let calls: [(&str, &str, Option<&serde_json::Value>); 5] = [
            ("GET", "/api/v1/node", None),
            ("GET", "/api/v1/listings?q=drill&area=u4pru", None),
            ("GET", "/api/v1/peers", None),
            ("POST", "/api/v1/listings", Some(&listing)),
            ("GET", "/metrics", None),
        ];
        for (method, path, body) in calls {
            let start = Instant::now();
            let reply = call(&d, method, path, body);
            let took = start.elapsed();
            assert!(
                (200..300).contains(&reply.status),
                "{method} {path}: {} {}",
                reply.status,
                reply.body
            );
            assert!(
                took < ANSWER_WITHIN,
                "{method} {path} took {took:?} under attack"
            );
            slowest = slowest.max(took);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let text = metrics(&d);
    stop.store(true, Ordering::Relaxed);
    attack.join().unwrap();
    let rounds = answered.load(Ordering::Relaxed);
    eprintln!("slowest API call under attack: {slowest:?}; {rounds} attack rounds answered");
    assert!(rounds > 0, "no attack round was answered");
    assert_eq!(sample(&text, "swapmesh_sync_responder_items"), 0);
    assert!(
        sample(&text, "swapmesh_sync_responder_memory_bytes")
            <= sample(&text, "swapmesh_sync_responder_memory_limit_bytes")
    );
    // What was published under attack is there.
    let mine = call(&d, "GET", "/api/v1/listings?q=chair", None);
    assert_eq!(
        mine.json()["listings"].as_array().map(Vec::len),
        Some(10),
        "{}",
        mine.body
    );
}

/// A bare libp2p peer on 127.0.0.1 over TCP, dialling `address` (a
/// daemon's, with its peer id).
pub(crate) async fn raw_peer_at(address: &str) -> NetworkHandle {
    let mut config = NetworkConfig::new(Keypair::generate_ed25519());
    config.transport = Transport::Tcp;
    config.listen_addresses = vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()];
    let (handle, mut events, event_loop) = swapmesh_net::new(config).expect("network");
    tokio::spawn(event_loop.run());
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    handle.dial(address.parse().unwrap()).await.expect("dial");
    handle
}
