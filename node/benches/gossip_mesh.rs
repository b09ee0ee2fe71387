//! Gossip in a 50-node neighbourhood (DESIGN §9): 50 whole nodes on the memory
//! transport, each with its own sled store, connected as a seeded random graph,
//! all in one area cell; 1,000 listings published from random nodes. Reports the
//! delivery ratio, the records each node stored per listing (must be exactly 1),
//! the copies each node received on the wire per listing (gossipsub's unfiltered
//! receive counter) next to the mesh degree D, and how arrival spreads over
//! heartbeats.
//!
//! Run with `cargo bench -p swapmesh-node --bench gossip_mesh`
//! (`SWAPMESH_BENCH_NODES`, `SWAPMESH_BENCH_LISTINGS` change the sizes).

use std::collections::HashMap;
use std::ops::Bound::Unbounded;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use swapmesh_node::{Node, NodeConfig, NodeEvent};
use swapmesh_protocol::{Geohash, RecordId, Topic, fixtures};

mod support;
use support::percentile;

const CELL: &str = "u4pru";

/// When each node (by index) stored each record.
type Arrivals = HashMap<RecordId, Vec<(usize, Instant)>>;
const HEARTBEAT: Duration = Duration::from_millis(500);
/// Listings published per second, all nodes together (under the receivers' flood
/// limit of 50 a second per forwarding peer).
const RATE: f64 = 40.0;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config(dir: &std::path::Path) -> NodeConfig {
    let mut config = NodeConfig::new(dir);
    config.area = Geohash::parse_area(CELL);
    config.mdns = false;
    config.gossip.heartbeat_interval = HEARTBEAT;
    // Gossip alone: no catch-up sync, no DHT dialling beyond the graph.
    config.sync_on_connect = false;
    config.sync_interval = Duration::ZERO;
    config.discovery.kademlia = false;
    config.store.cache_capacity = 2 * 1024 * 1024;
    config
}

fn unfiltered_received(metrics: &str, topic: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("gossipsub_topic_msg_recv_counts_unfiltered_total{"))
        .filter(|l| l.contains(topic))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n = env("SWAPMESH_BENCH_NODES", 50);
    let listings = env("SWAPMESH_BENCH_LISTINGS", 1000);
    let mut rng = StdRng::seed_from_u64(20_261_127);
    let dirs: Vec<_> = (0..n)
        .map(|_| tempfile::tempdir().expect("temp dir"))
        .collect();
    let mut nodes = Vec::with_capacity(n);
    for dir in &dirs {
        nodes.push(Node::start(config(dir.path())).await.expect("node starts"));
    }
    let mut addresses = Vec::with_capacity(n);
    for node in &nodes {
        loop {
            let a = node.listen_addresses().await.expect("addresses");
            if let Some(a) = a.first() {
                addresses.push(a.clone());
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    // A random spanning tree plus 2n random edges: average degree about 6.
    let mut edges = Vec::new();
    for i in 1..n {
        edges.push((rng.gen_range(0..i), i));
    }
    while edges.len() < 3 * n {
        let (a, b) = (rng.gen_range(0..n), rng.gen_range(0..n));
        if a != b && !edges.contains(&(a.min(b), a.max(b))) {
            edges.push((a.min(b), a.max(b)));
        }
    }
    for &(a, b) in &edges {
        nodes[a].dial(addresses[b].clone()).await.expect("dial");
    }
    // Let the meshes form.
    tokio::time::sleep(HEARTBEAT * 6).await;

    // Arrival times per (node, record).
    let arrivals: Arc<Mutex<Arrivals>> = Arc::default();
    for (index, node) in nodes.iter().enumerate() {
        let mut events = node.subscribe_events();
        let arrivals = arrivals.clone();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(NodeEvent::RecordAdded { id, .. }) => {
                        arrivals
                            .lock()
                            .unwrap()
                            .entry(id)
                            .or_default()
                            .push((index, Instant::now()));
                    }
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(k)) => {
                        eprintln!("event receiver lagged by {k}");
                    }
                    Err(_) => return,
                }
            }
        });
    }

    let started = Instant::now();
    let mut published = Vec::with_capacity(listings);
    for i in 0..listings {
        let at = started + Duration::from_secs_f64(i as f64 / RATE);
        tokio::time::sleep_until(at.into()).await;
        let from = rng.gen_range(0..n);
        let v = nodes[from]
            .publish_listing(fixtures::listing(&format!("l-{i}")))
            .await
            .expect("publish");
        published.push((v.id(), Instant::now(), from));
    }
    // Wait for delivery (at most 30 s after the last publish).
    let topic = Topic::area(&Geohash::parse_cell(CELL).unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    let held = |node: &Node| {
        node.store()
            .topic_items(&topic, Unbounded, Unbounded)
            .filter_map(Result::ok)
            .count()
    };
    while Instant::now() < deadline && !nodes.iter().all(|x| held(x) == listings) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let mut delivered = 0usize;
    let mut stored = 0usize;
    for node in &nodes {
        let ids: std::collections::BTreeSet<RecordId> = node
            .store()
            .topic_items(&topic, Unbounded, Unbounded)
            .filter_map(Result::ok)
            .map(|(_, id)| id)
            .collect();
        stored += held(node);
        delivered += published
            .iter()
            .filter(|(id, _, _)| ids.contains(id))
            .count();
    }
    let mut wire = Vec::with_capacity(n);
    for node in &nodes {
        let text = node.metrics_text().await.expect("metrics");
        wire.push(unfiltered_received(&text, topic.as_str()) as f64 / listings as f64);
    }
    wire.sort_by(f64::total_cmp);
    let mut latency: Vec<f64> = Vec::new();
    {
        let arrivals = arrivals.lock().unwrap();
        for (id, at, from) in &published {
            // The publisher's own event is not an arrival.
            let others = arrivals.get(id).into_iter().flatten();
            for (_, t) in others.filter(|(node, _)| node != from) {
                latency
                    .push(t.saturating_duration_since(*at).as_secs_f64() / HEARTBEAT.as_secs_f64());
            }
        }
    }
    latency.sort_by(f64::total_cmp);

    let expected = listings * n;
    println!(
        "gossip mesh: {n} nodes, {} edges, {listings} listings at {RATE}/s, heartbeat {HEARTBEAT:?}",
        edges.len()
    );
    println!(
        "  delivery                         {delivered}/{expected} = {:.2} %",
        100.0 * delivered as f64 / expected as f64
    );
    println!(
        "  records stored per node per listing  {:.3} (must be 1)",
        stored as f64 / expected as f64
    );
    println!(
        "  wire copies per node per listing  mean {:.2}, min {:.2}, max {:.2} (mesh degree D = {})",
        wire.iter().sum::<f64>() / wire.len() as f64,
        wire.first().copied().unwrap_or(f64::NAN),
        wire.last().copied().unwrap_or(f64::NAN),
        swapmesh_net::GossipConfig::default().mesh_n,
    );
    println!(
        "  arrival after publish, in heartbeats: p50 {:.2}, p90 {:.2}, p99 {:.2}, max {:.2} ({} arrivals)",
        percentile(&latency, 0.5),
        percentile(&latency, 0.9),
        percentile(&latency, 0.99),
        latency.last().copied().unwrap_or(f64::NAN),
        latency.len()
    );
    for node in &nodes {
        let _ = node.shutdown().await;
    }
}
