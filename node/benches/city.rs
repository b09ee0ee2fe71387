//! A city in one process (issue 27): N whole nodes (the real ingest, store and
//! network code) on the memory transport, each with its own sled store and a
//! 1 MiB cache, placed in the cells of a square block of five-character
//! geohash cells and found by the real discovery (bootstrap through a few
//! server-role nodes, then Kademlia topic providers) — the `city` test's
//! harness, `tests/city/harness.rs`. Then a seeded workload: listings
//! published from random nodes at a steady rate, some updated, some withdrawn.
//!
//! Printed as one table: delivery of each listing's last version to every node
//! that listens to its cell (goal 100 %), copies held by nodes that do not
//! (goal 0), arrival after publish in heartbeats, wire bytes each node received
//! against what the city published (the sharding ratio), resident memory and
//! CPU. CPU is set against the cost of checking the same records' bytes in
//! this process (decode, verify, validate), measured in the same run.
//!
//! Run with `cargo bench -p swapmesh-node --bench city`. The size:
//! `SWAPMESH_CITY_NODES` (default 1000), `SWAPMESH_CITY_CELLS` (100),
//! `SWAPMESH_CITY_SEED` (27); the workload: `SWAPMESH_CITY_LISTINGS` (400
//! operations), `SWAPMESH_CITY_RATE` (operations a second, 10);
//! `SWAPMESH_CITY_HEARTBEAT_MS` (1000, the node default); the quiet city's
//! background is measured over `SWAPMESH_CITY_IDLE` heartbeats (20). A city that does not
//! settle within `SWAPMESH_CITY_SETTLE` seconds (300) names its unsettled
//! nodes and exits 1 without a table.
//!
//! `SWAPMESH_CITY_SYBILS=K` (issue 28) adds K Sybils for every honest node
//! that is not a server (`tests/city/sybils.rs`: raw peers with fresh keys
//! forging honest listings, publishing garbage, replays and valid listings
//! of throwaway authors, sending and answering garbage sync, churning
//! subscriptions, one act a heartbeat each) once the quiet city was
//! measured; they attack through a second quiet window and the workload.
//! The table then adds what the honest nodes did about them (charges,
//! blocks and when, graylisting) and what the attack cost them; a run in
//! which an honest node charged or blocked another exits 1.

#[path = "../../tests/city/harness.rs"]
mod harness;
mod support;
#[path = "../../tests/city/sybils.rs"]
mod sybils;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use swapmesh_node::{Node, NodeEvent};
use swapmesh_protocol::gossip::GossipMessage;
use swapmesh_protocol::{ListingId, RecordId, SignedRecord, Timestamp, check_bytes, fixtures};

use harness::{City, Plan};
use support::{percentile, status_kib};
use sybils::{Attack, Sybils, Watch, honest_of};

/// When each node (by index) stored each record version.
type Arrivals = HashMap<RecordId, Vec<(usize, Instant)>>;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// CPU seconds this process has used, user and system (`/proc/self/stat`).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name (which may hold spaces) in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after ')'.
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    ticks as f64 / 100.0
}

/// The sum of a metric's samples whose labels contain `filter`.
fn metric_sum(text: &str, name: &str, filter: &str) -> u64 {
    text.lines()
        .filter_map(|l| l.strip_prefix(name)?.strip_prefix('{'))
        .filter(|l| l.contains(filter))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// Bytes received by each node: on the wire (every protocol), and in gossip
/// messages on any topic, duplicates included.
async fn received(nodes: &[Node]) -> (Vec<u64>, Vec<u64>) {
    let mut wire = Vec::with_capacity(nodes.len());
    let mut gossip = Vec::with_capacity(nodes.len());
    for node in nodes {
        let text = node.metrics_text().await.expect("metrics");
        wire.push(metric_sum(
            &text,
            "libp2p_bandwidth_bytes_total",
            "direction=\"Inbound\"",
        ));
        gossip.push(metric_sum(
            &text,
            "gossipsub_topic_msg_recv_bytes_unfiltered_total",
            "",
        ));
    }
    (wire, gossip)
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

/// One published version: which listing, by whom, when, how large.
struct Published {
    listing: ListingId,
    id: RecordId,
    at: Instant,
    from: usize,
    signed: SignedRecord,
}

/// Nanoseconds this process takes to check one of `records` from its bytes
/// (decode, verify, validate): the least work a node does per listing.
fn check_cost(records: &[SignedRecord]) -> f64 {
    let bytes: Vec<Vec<u8>> = records.iter().map(SignedRecord::encode).collect();
    let now = Timestamp::now();
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = Instant::now();
        for b in &bytes {
            std::hint::black_box(check_bytes(b, now).expect("a valid record"));
        }
        best = best.min(start.elapsed().as_nanos() as f64 / bytes.len().max(1) as f64);
    }
    best
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let nodes = env("SWAPMESH_CITY_NODES", 1000) as usize;
    let default = Plan {
        nodes,
        cells: 100,
        servers: nodes.div_ceil(100).max(3),
        seed: 27,
        heartbeat: Duration::from_millis(env("SWAPMESH_CITY_HEARTBEAT_MS", 1000)),
    };
    let plan = match Plan::from_env(default) {
        Ok(plan) => plan,
        Err(why) => {
            eprintln!("city: {why}");
            std::process::exit(2);
        }
    };
    let operations = env("SWAPMESH_CITY_LISTINGS", 400) as usize;
    let rate = env("SWAPMESH_CITY_RATE", 10).max(1) as f64;
    let settle_for = Duration::from_secs(env("SWAPMESH_CITY_SETTLE", 300));
    let heartbeat = plan.heartbeat;
    let heartbeats = |d: Duration| d.as_secs_f64() / heartbeat.as_secs_f64();
    eprintln!("city: {plan:?}, {operations} operations at {rate}/s");

    let rss_before = status_kib("VmRSS");
    let began = Instant::now();
    let city = City::start(plan).await;
    let started_in = began.elapsed();
    eprintln!("city: {} nodes started in {started_in:.1?}", plan.nodes);
    let settling = Instant::now();
    if let Err(unsettled) = city.settle(settle_for).await {
        eprintln!("{}", city.unsettled_report(&unsettled).await);
        let mut refused: BTreeMap<String, u64> = BTreeMap::new();
        for node in &city.nodes {
            let text = node.metrics_text().await.unwrap_or_default();
            for line in text
                .lines()
                .filter(|l| l.starts_with("swapmesh_connections_refused_total{"))
            {
                if let Some((labels, count)) = line.rsplit_once(' ') {
                    *refused.entry(labels.to_owned()).or_default() += count.parse().unwrap_or(0);
                }
            }
        }
        eprintln!("city: connections refused, all nodes: {refused:?}");
        eprintln!("city: not settled within {settle_for:?}; no table");
        std::process::exit(1);
    }
    let settled_in = settling.elapsed();
    eprintln!("city: settled in {settled_in:.1?}");
    let rss_settled = status_kib("VmRSS");

    // Arrival of each version at each node, and peers connected or
    // disconnected (a node's first connection to a peer, its last one closed).
    let arrivals: Arc<Mutex<Arrivals>> = Arc::default();
    let churn: Arc<AtomicU64> = Arc::default();
    for (index, node) in city.nodes.iter().enumerate() {
        let mut events = node.subscribe_events();
        let arrivals = arrivals.clone();
        let churn = churn.clone();
        tokio::spawn(async move {
            loop {
                let id = match events.recv().await {
                    Ok(
                        NodeEvent::RecordAdded { id, .. }
                        | NodeEvent::RecordChanged { id, .. }
                        | NodeEvent::RecordWithdrawn { id, .. },
                    ) => id,
                    Ok(NodeEvent::PeerUp { .. } | NodeEvent::PeerDown { .. }) => {
                        churn.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    Ok(_) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(k)) => {
                        eprintln!("city: node {index}'s events lagged by {k}");
                        continue;
                    }
                    Err(_) => return,
                };
                arrivals
                    .lock()
                    .expect("arrivals")
                    .entry(id)
                    .or_default()
                    .push((index, Instant::now()));
            }
        });
    }

    // The background: what a quiet city costs (Kademlia, identify, ping,
    // gossipsub heartbeats, sync rounds), over `SWAPMESH_CITY_IDLE` heartbeats.
    let idle_for = heartbeat * env("SWAPMESH_CITY_IDLE", 20) as u32;
    // Each node's counters are read in turn; in a busy city a pass takes
    // seconds, so rates are over the time from one pass's start to the next.
    let pass0 = Instant::now();
    let (wire0, _) = received(&city.nodes).await;
    let mut peers = 0usize;
    for node in &city.nodes {
        peers += node
            .network()
            .connected_peers()
            .await
            .map_or(0, |p| p.len());
    }
    let churn0 = churn.load(Ordering::Relaxed);
    let cpu0 = cpu_seconds();
    tokio::time::sleep(idle_for).await;
    let idle_churn = churn.load(Ordering::Relaxed) - churn0;
    let cpu1 = cpu_seconds();
    let pass1 = Instant::now();
    let (wire1, _) = received(&city.nodes).await;
    let quiet_secs = (pass1 - pass0).as_secs_f64();
    let idle_wire: Vec<f64> = (0..nodes)
        .map(|i| (wire1[i] - wire0[i]) as f64 / quiet_secs)
        .collect();
    let idle_cpu = (cpu1 - cpu0) / idle_for.as_secs_f64();

    // The Sybils, if any: they start now and attack until the end. A second
    // quiet window, with or without them (so that an honest run has the same
    // phases), measures what they cost a city where nobody honest publishes.
    let per_node = env("SWAPMESH_CITY_SYBILS", 0) as usize;
    let mut attacked = None;
    if per_node > 0 {
        let watch = Watch::start(&city, heartbeat * 5);
        let starting = Instant::now();
        let sybils = Sybils::start(
            &city,
            Attack {
                per_node,
                seed: plan.seed,
                holding_fire: Duration::ZERO,
                every: heartbeat,
                acts: u64::MAX,
                lasting: Duration::from_secs(24 * 3600),
            },
        )
        .await;
        let started = starting.elapsed();
        eprintln!(
            "city: {} Sybils started in {started:.1?}",
            sybils.peers.len()
        );
        attacked = Some(Attacked {
            watch,
            sybils,
            started,
        });
    }
    let pass_a = Instant::now();
    let (wire_a, _) = received(&city.nodes).await;
    // The honest nodes' CPU: the process's, less the Sybils' threads'.
    let sybil_cpu = |a: &Option<Attacked>| a.as_ref().map_or(0.0, |a| a.sybils.cpu_seconds());
    let sybil_cpu_a = sybil_cpu(&attacked);
    let cpu_a = cpu_seconds() - sybil_cpu_a;
    tokio::time::sleep(idle_for).await;
    let sybil_cpu_b = sybil_cpu(&attacked);
    let cpu_b = cpu_seconds() - sybil_cpu_b;
    let sybil_cores = (sybil_cpu_b - sybil_cpu_a) / idle_for.as_secs_f64();
    let pass_b = Instant::now();
    let (wire_b, gossip_b) = received(&city.nodes).await;
    let second_secs = (pass_b - pass_a).as_secs_f64();
    let second_wire = mean(
        &(0..nodes)
            .map(|i| (wire_b[i] - wire_a[i]) as f64 / second_secs)
            .collect::<Vec<_>>(),
    );
    let second_cpu = (cpu_b - cpu_a) / idle_for.as_secs_f64();

    // The workload: new listings from random nodes; now and then an update or
    // a withdrawal of a live one, by its author.
    let mut rng = StdRng::seed_from_u64(plan.seed ^ 0x5eed);
    let mut published: Vec<Published> = Vec::with_capacity(operations);
    let mut live: Vec<(usize, String)> = Vec::new();
    let (mut updates, mut withdrawals) = (0usize, 0usize);
    let cpu_start = cpu_seconds() - sybil_cpu(&attacked);
    let work_began = Instant::now();
    for op in 0..operations {
        let at = work_began + Duration::from_secs_f64(op as f64 / rate);
        tokio::time::sleep_until(at.into()).await;
        let roll: f64 = rng.r#gen();
        let (from, d, record) = if roll < 0.12 && !live.is_empty() {
            let (from, d) = live[rng.gen_range(0..live.len())].clone();
            updates += 1;
            let record = city.nodes[from]
                .update_listing(&d, |l| l.title = format!("{} (again)", l.title))
                .await
                .expect("update");
            (from, d, record)
        } else if roll < 0.20 && !live.is_empty() {
            let (from, d) = live.swap_remove(rng.gen_range(0..live.len()));
            withdrawals += 1;
            let record = city.nodes[from]
                .withdraw_listing(&d)
                .await
                .expect("withdraw");
            (from, d, record)
        } else {
            let from = rng.gen_range(0..nodes);
            let d = format!("item-{op}");
            let record = city.nodes[from]
                .publish_listing(fixtures::listing(&d))
                .await
                .expect("publish");
            live.push((from, d.clone()));
            (from, d, record)
        };
        published.push(Published {
            listing: ListingId {
                author: city.nodes[from].author(),
                d,
            },
            id: record.id(),
            at: Instant::now(),
            from,
            signed: record.signed().clone(),
        });
    }
    let publishing = work_began.elapsed();

    // The last version of each listing, and who should hold it.
    let mut last: HashMap<ListingId, (RecordId, usize)> = HashMap::new();
    for p in &published {
        last.insert(p.listing.clone(), (p.id, p.from));
    }
    let audiences: HashMap<ListingId, BTreeSet<usize>> = last
        .iter()
        .map(|(l, (_, from))| {
            (
                l.clone(),
                city.audience(&city.cell_of[*from]).into_iter().collect(),
            )
        })
        .collect();
    let expected: usize = audiences.values().map(BTreeSet::len).sum();
    let delivered_now = || -> usize {
        last.iter()
            .map(|(l, (id, _))| {
                audiences[l]
                    .iter()
                    .filter(|&&i| {
                        city.nodes[i]
                            .listing(l)
                            .ok()
                            .flatten()
                            .is_some_and(|r| r.id == *id)
                    })
                    .count()
            })
            .sum()
    };
    // Delivery: until complete, or 60 heartbeats after the last publish.
    let deadline = Instant::now() + heartbeat * 60;
    let mut delivered = delivered_now();
    while delivered < expected && Instant::now() < deadline {
        tokio::time::sleep(heartbeat).await;
        delivered = delivered_now();
    }
    let work = work_began.elapsed();
    let cpu_work = cpu_seconds() - sybil_cpu(&attacked) - cpu_start;
    let pass2 = Instant::now();
    let (wire2, gossip2) = received(&city.nodes).await;
    let wire_secs = (pass2 - pass_b).as_secs_f64();
    let rss_end = status_kib("VmRSS");

    // Copies outside: any version of a listing held by a node not listening to
    // its cell.
    let mut outside = 0usize;
    for l in last.keys() {
        for (i, node) in city.nodes.iter().enumerate() {
            if !audiences[l].contains(&i) && node.listing(l).ok().flatten().is_some() {
                outside += 1;
            }
        }
    }

    let mut latency: Vec<f64> = Vec::new();
    {
        let arrivals = arrivals.lock().expect("arrivals");
        for p in &published {
            let audience = &audiences[&p.listing];
            for (node, t) in arrivals.get(&p.id).into_iter().flatten() {
                if *node != p.from && audience.contains(node) {
                    latency.push(heartbeats(t.saturating_duration_since(p.at)));
                }
            }
        }
    }
    latency.sort_by(f64::total_cmp);

    // Bytes: what the city published (each version's gossip message once),
    // and what each node received while the workload ran.
    let city_bytes: usize = published
        .iter()
        .map(|p| GossipMessage::record(p.signed.clone()).encode().len())
        .sum();
    let work_secs = work.as_secs_f64();
    let wire_work: Vec<f64> = (0..nodes).map(|i| (wire2[i] - wire_b[i]) as f64).collect();
    let gossip_work: Vec<f64> = (0..nodes)
        .map(|i| (gossip2[i] - gossip_b[i]) as f64)
        .collect();
    let gossip_ratio = mean(&gossip_work) / city_bytes as f64;
    let listeners = mean(
        &audiences
            .values()
            .map(|a| a.len() as f64 / nodes as f64)
            .collect::<Vec<_>>(),
    );
    let check_ns = check_cost(
        &published
            .iter()
            .map(|p| p.signed.clone())
            .collect::<Vec<_>>(),
    );
    let cpu_per_delivered = cpu_work / delivered.max(1) as f64;
    let hour = |per_sec: f64| per_sec * 3600.0;
    let mib = |bytes: f64| bytes / (1024.0 * 1024.0);

    println!(
        "city: {} nodes ({} servers) over {} cells ({}×{}), seed {}, heartbeat {:?}, on {} cores",
        plan.nodes,
        plan.servers,
        plan.cells,
        plan.side(),
        plan.side(),
        plan.seed,
        heartbeat,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    println!(
        "  started in {:.1} s, settled {:.1} s later; workload: {} operations ({} new, {} updates, {} withdrawals) at {rate}/s in {:.1} s",
        started_in.as_secs_f64(),
        settled_in.as_secs_f64(),
        published.len(),
        published.len() - updates - withdrawals,
        updates,
        withdrawals,
        publishing.as_secs_f64(),
    );
    println!("  | measure | value |");
    println!("  |---|---|");
    println!(
        "  | delivery of each listing's last version to its cells' listeners | {delivered}/{expected} = {:.2} % |",
        100.0 * delivered as f64 / expected.max(1) as f64
    );
    println!("  | copies held outside the listeners | {outside} |");
    println!(
        "  | listeners per listing | {:.1} % of the nodes |",
        100.0 * listeners
    );
    println!(
        "  | arrival after publish, heartbeats p50 / p90 / p99 / max | {:.2} / {:.2} / {:.2} / {:.2} ({} arrivals) |",
        percentile(&latency, 0.5),
        percentile(&latency, 0.9),
        percentile(&latency, 0.99),
        latency.last().copied().unwrap_or(f64::NAN),
        latency.len(),
    );
    println!(
        "  | the city published | {} versions, {:.0} B each, {:.2} MiB/h at this rate |",
        published.len(),
        city_bytes as f64 / published.len() as f64,
        mib(hour(city_bytes as f64 / work_secs)),
    );
    println!(
        "  | gossip bytes a node received per city listing (duplicates included) | {:.0} B = {:.1} copies of each listing it listens to |",
        mean(&gossip_work) / published.len() as f64,
        gossip_ratio / listeners,
    );
    println!(
        "  | **sharding ratio**: gossip bytes a node received ÷ bytes the city published (under attack the first counts the Sybils' valid listings) | **{gossip_ratio:.3}** |"
    );
    println!(
        "  | wire bytes a node received, all protocols: quiet city / during the workload | {:.2} / {:.2} MiB/h |",
        mib(hour(mean(&idle_wire))),
        mib(hour(mean(&wire_work) / wire_secs)),
    );
    println!(
        "  | second quiet window ({}): wire a node received / the honest nodes' CPU / the Sybils' CPU | {:.2} MiB/h / {:.2} cores / {:.2} cores |",
        if attacked.is_some() {
            "Sybils attacking"
        } else {
            "no Sybils"
        },
        mib(hour(second_wire)),
        second_cpu,
        sybil_cores,
    );
    println!(
        "  | resident memory per node: settled / after the workload | {:.2} MiB / {:.2} MiB (process {:.0} MiB) |",
        (rss_settled.saturating_sub(rss_before)) as f64 / 1024.0 / nodes as f64,
        (rss_end.saturating_sub(rss_before)) as f64 / 1024.0 / nodes as f64,
        rss_end as f64 / 1024.0,
    );
    println!(
        "  | peers connected per node / peers connected or disconnected per node-minute, quiet | {:.1} / {:.2} |",
        peers as f64 / nodes as f64,
        idle_churn as f64 / nodes as f64 / (idle_for.as_secs_f64() / 60.0),
    );
    println!(
        "  | CPU of the honest nodes: quiet city / during the workload | {:.2} / {:.2} cores |",
        idle_cpu,
        cpu_work / work_secs,
    );
    println!(
        "  | CPU during the workload per delivered listing, background included | {:.0} µs = {:.0} × checking its bytes ({:.0} µs) |",
        cpu_per_delivered * 1e6,
        cpu_per_delivered * 1e9 / check_ns,
        check_ns / 1e3,
    );
    let mut honest_charged = false;
    if let Some(a) = attacked {
        honest_charged = a.report(&city, heartbeat);
        a.watch.stop();
        a.sybils.stop().await;
    }
    let incomplete = delivered < expected || outside > 0;
    if delivered < expected {
        // Who lacks what, and what they hold instead (at most 20 lines).
        let mut lines = 0;
        for (l, (id, from)) in &last {
            for &i in &audiences[l] {
                let held = city.nodes[i].listing(l).ok().flatten();
                if held.as_ref().is_some_and(|r| r.id == *id) || lines >= 20 {
                    continue;
                }
                lines += 1;
                let connected = city.nodes[i]
                    .network()
                    .connected_peers()
                    .await
                    .unwrap_or_default()
                    .contains(&city.nodes[*from].peer_id());
                eprintln!(
                    "city: node {i} (cell {}) lacks {l} of node {from} (cell {}): holds {}; connected to its publisher: {connected}",
                    city.cell_of[i].as_str(),
                    city.cell_of[*from].as_str(),
                    held.map_or("nothing".to_owned(), |r| format!(
                        "another version {}",
                        r.id
                    )),
                );
            }
        }
    }
    city.stop().await;
    if honest_charged {
        eprintln!("city: an honest node was charged, blocked or graylisted: see the table");
        std::process::exit(1);
    }
    if incomplete {
        eprintln!("city: delivery incomplete or copies outside: see the table");
        std::process::exit(1);
    }
}

/// A city under Sybils: who attacked, and what the honest nodes did.
struct Attacked {
    watch: Watch,
    sybils: Sybils,
    started: Duration,
}

impl Attacked {
    /// Prints the attack's rows; whether an honest node was charged, blocked
    /// or graylisted.
    fn report(&self, city: &City, heartbeat: Duration) -> bool {
        let sybils = &self.sybils;
        let count = sybils.peers.len();
        let sent = sybils.sent();
        let verdicts = self.watch.verdicts();
        let graylisted = self.watch.graylisted();
        let hb = |d: Duration| d.as_secs_f64() / heartbeat.as_secs_f64();
        let honest_charged = honest_of(city, verdicts.iter().map(|v| v.peer));
        let honest_graylisted = honest_of(city, graylisted.keys().map(|(_, p)| *p));
        let mut charges: BTreeMap<&'static str, u64> = BTreeMap::new();
        let mut charged: BTreeSet<swapmesh_net::PeerId> = BTreeSet::new();
        let mut first_block: HashMap<swapmesh_net::PeerId, Instant> = HashMap::new();
        let mut blocks = 0usize;
        for v in verdicts.iter().filter(|v| sybils.peers.contains(&v.peer)) {
            match v.charge {
                Some(what) => {
                    *charges.entry(what.name()).or_default() += 1;
                    charged.insert(v.peer);
                }
                None => {
                    blocks += 1;
                    let first = first_block.entry(v.peer).or_insert(v.at);
                    *first = (*first).min(v.at);
                }
            }
        }
        let mut blocked_after: Vec<f64> = first_block
            .values()
            .map(|at| hb(at.saturating_duration_since(sybils.began)))
            .collect();
        blocked_after.sort_by(f64::total_cmp);
        let graylisted_sybils = graylisted
            .keys()
            .filter(|(_, p)| sybils.peers.contains(p))
            .count();
        println!(
            "  | Sybils: per honest node / in all / started in | {} / {count} / {:.1} s |",
            count / (city.nodes.len() - city.plan.servers).max(1),
            self.started.as_secs_f64()
        );
        println!(
            "  | their acts: {} | {} acts, {:.1} MiB sent; {} found no peer left; {} honest sync requests answered with garbage |",
            sent.acts
                .iter()
                .map(|(a, n)| format!("{a:?} {n}"))
                .collect::<Vec<_>>()
                .join(", "),
            sent.acts.values().sum::<u64>(),
            sent.bytes as f64 / (1024.0 * 1024.0),
            sent.unheard,
            sent.garbage_answers,
        );
        println!(
            "  | Sybils connected to some honest node / to their victim / heard by some peer (an act in a gossip mesh or a request answered) | {} / {} / {} |",
            sent.connected, sent.reached_victim, sent.heard,
        );
        println!(
            "  | records forged (a higher version under the author's key) of the valid ones heard (honest listings and forwarded throwaway ones) | {} of {} |",
            sent.forged_of_seen, sent.seen
        );
        println!(
            "  | Sybils charged / blocked by some honest node | {} ({:.1} %) / {} ({:.1} %) |",
            charged.len(),
            100.0 * charged.len() as f64 / count.max(1) as f64,
            first_block.len(),
            100.0 * first_block.len() as f64 / count.max(1) as f64,
        );
        println!(
            "  | charges by misbehaviour; blocks | {} ; {blocks} |",
            charges
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!(
            "  | first block of a Sybil after the attack began, heartbeats p50 / p90 / max | {:.1} / {:.1} / {:.1} |",
            percentile(&blocked_after, 0.5),
            percentile(&blocked_after, 0.9),
            blocked_after.last().copied().unwrap_or(f64::NAN),
        );
        println!(
            "  | (node, peer) pairs graylisted by gossipsub's score: Sybils / honest | {graylisted_sybils} / {} |",
            graylisted.len() - graylisted_sybils
        );
        println!(
            "  | **honest nodes charged, blocked or graylisted by an honest node** | **{}** {:?} |",
            honest_charged.len() + honest_graylisted.len(),
            honest_charged.union(&honest_graylisted).collect::<Vec<_>>()
        );
        println!(
            "  | node events missed (a node's channel overflowed) | {} |",
            self.watch.lagged()
        );
        !honest_charged.is_empty() || !honest_graylisted.is_empty()
    }
}
