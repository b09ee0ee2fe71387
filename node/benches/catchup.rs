//! Catch-up of 2,000 listings between two in-process nodes: the time of one sync
//! session (reconcile, fetch in frames of up to 256 records, judge on both cores,
//! store) from a node that holds them to one that holds none.
//!
//! It uses only the node's public API, so the same file builds against an older
//! version of the node: BENCHMARKS.md compares two builds in one run (before and
//! after a change) by their ratio, since these machines are noisy.
//!
//! Run with `cargo bench -p swapmesh-node --bench catchup`; `SWAPMESH_BENCH_ROUNDS`
//! sets the rounds (default 5). Prints one line per round and the median.

use std::time::{Duration, Instant};

use swapmesh_node::{Node, NodeConfig};
use swapmesh_protocol::{Geohash, Timestamp, Topic, fixtures};

const CELL: &str = "u4pru";
const LISTINGS: u64 = 2_000;

fn config(dir: &std::path::Path) -> NodeConfig {
    let mut config = NodeConfig::new(dir);
    config.area = Geohash::parse_area(CELL);
    config.mdns = false;
    // Only the measured session runs.
    config.sync_on_connect = false;
    config.sync_interval = Duration::ZERO;
    config
}

async fn round() -> Duration {
    let (source_dir, laptop_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let source = Node::start(config(source_dir.path())).await.unwrap();
    let laptop = Node::start(config(laptop_dir.path())).await.unwrap();
    let now = Timestamp::now();
    let batch: Vec<_> = (0..LISTINGS)
        .map(|i| fixtures::verified_listing(&fixtures::key(i % 40), &format!("l-{i}"), CELL, now))
        .collect();
    source.store().insert_batch(&batch, now).unwrap();
    let address = loop {
        if let Some(a) = source.listen_addresses().await.unwrap().first() {
            break a.clone();
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    laptop.dial(address).await.unwrap();
    while !laptop.peers().await.unwrap().contains(&source.peer_id()) {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let topic = Topic::area(&Geohash::parse_cell(CELL).unwrap());
    let started = Instant::now();
    let report = laptop.sync_with(source.peer_id(), &topic).await.unwrap();
    let took = started.elapsed();
    assert_eq!(report.fetched as u64, LISTINGS);
    laptop.shutdown().await.unwrap();
    source.shutdown().await.unwrap();
    took
}

fn main() {
    let rounds: usize = std::env::var("SWAPMESH_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut times: Vec<Duration> = (0..rounds)
        .map(|n| {
            let took = runtime.block_on(round());
            println!(
                "round {n}: {LISTINGS} listings in {:.1} ms ({:.0} records/s)",
                took.as_secs_f64() * 1e3,
                LISTINGS as f64 / took.as_secs_f64()
            );
            took
        })
        .collect();
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "catch-up of {LISTINGS} listings: median {:.1} ms ({:.0} records/s)",
        median.as_secs_f64() * 1e3,
        LISTINGS as f64 / median.as_secs_f64()
    );
}
