//! Acknowledged agreement events per second between two in-process nodes,
//! against `Store::insert_durable` (one flush per write) in the same run.
//!
//! Each event is a counter-offer, the two parties taking turns, and counts once
//! the call answers "in the chain" — for the taker's counters that means its
//! pending event was appended by the provider's node (commit, flush, answer)
//! and applied on its own (commit, flush): two flushes per event, so 0.5x the
//! single-flush rate is the ceiling.
//!
//! Run with `cargo bench -p swapmesh-node --bench agreements`;
//! `SWAPMESH_BENCH_EVENTS` sets the events per round (default 200), 3 rounds.

use std::time::{Duration, Instant};

use swapmesh_node::{Acted, Node, NodeConfig, Proposal};
use swapmesh_protocol::agreement::Deal;
use swapmesh_protocol::listing::{Money, Period, Price};
use swapmesh_protocol::time::DAY;
use swapmesh_protocol::{Geohash, ListingId, Timestamp, fixtures};
use swapmesh_store::Store;

const CELL: &str = "u4pru";

fn config(dir: &std::path::Path) -> NodeConfig {
    let mut config = NodeConfig::new(dir);
    config.area = Geohash::parse_area(CELL);
    config.mdns = false;
    config.sync_interval = Duration::ZERO;
    config.agreement_ack_wait = Duration::from_secs(10);
    config
}

async fn connect(a: &Node, b: &Node) {
    let address = loop {
        if let Some(a) = b.listen_addresses().await.unwrap().first() {
            break a.clone();
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    a.dial(address).await.unwrap();
    while !a.peers().await.unwrap().contains(&b.peer_id()) {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Events per second of `events` alternating counters.
async fn agreement_rate(events: usize) -> f64 {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let ana = Node::start(config(a_dir.path())).await.unwrap();
    let ben = Node::start(config(b_dir.path())).await.unwrap();
    connect(&ben, &ana).await;
    ana.publish_listing(fixtures::listing("drill"))
        .await
        .unwrap();
    let listing = ListingId {
        author: ana.author(),
        d: "drill".into(),
    };
    while ben.listing(&listing).unwrap().is_none() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let now = Timestamp::now();
    let deal = Deal::Rent {
        start: now.plus(DAY),
        due: now.plus(3 * DAY),
        price: Price {
            money: Money {
                amount: 500,
                currency: *b"EUR",
            },
            per: Period::Day,
        },
        deposit: None,
        cancel_before: None,
    };
    let proposed = ben
        .propose(Proposal {
            listing,
            version: None,
            receiver: None,
            deal,
            theirs: None,
            pickup: None,
            offer_expires: None,
            note: String::new(),
        })
        .await
        .unwrap();
    let Acted::InChain { view, .. } = proposed else {
        panic!("the provider is right there");
    };
    let id = view.state.id;
    while ana.agreement(&id).is_err() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let started = Instant::now();
    for i in 0..events {
        let (who, other) = if i % 2 == 0 {
            (&ana, &ben)
        } else {
            (&ben, &ana)
        };
        let acted = who
            .counter(
                &id,
                |t| t.offer_expires = t.offer_expires.plus(1),
                String::new(),
            )
            .await
            .unwrap();
        let Acted::InChain { view, .. } = acted else {
            panic!("in the chain within the wait");
        };
        // The next counter is the other's: wait until it holds this one.
        let head = view.state.head();
        while other.agreement(&id).unwrap().state.head() != head {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }
    let rate = events as f64 / started.elapsed().as_secs_f64();
    ana.shutdown().await.unwrap();
    ben.shutdown().await.unwrap();
    rate
}

/// Durable single-record inserts per second into a fresh store.
async fn insert_durable_rate(writes: usize) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("db"), Default::default()).unwrap();
    let now = Timestamp::now();
    let records: Vec<_> = (0..writes as u64)
        .map(|i| fixtures::verified_listing(&fixtures::key(i % 64), &format!("w-{i}"), CELL, now))
        .collect();
    let started = Instant::now();
    for r in &records {
        store.insert_durable(r, now).await.unwrap();
    }
    writes as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let events: usize = std::env::var("SWAPMESH_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut ratios = Vec::new();
    for round in 0..3 {
        let durable = runtime.block_on(insert_durable_rate(events));
        let agreed = runtime.block_on(agreement_rate(events));
        let ratio = agreed / durable;
        println!(
            "round {round}: insert_durable {durable:>8.0}/s, acknowledged events {agreed:>8.0}/s = {ratio:.2}x"
        );
        ratios.push(ratio);
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "median ratio {:.2}x (ceiling 0.5x: two flushes per event)",
        ratios[1]
    );
}
