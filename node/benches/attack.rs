//! A node under the worst attack of hardening 1: raw peers over TCP drive
//! endless sync sessions (three peers, four sessions each, a fresh list of
//! 4,000 items every round, a new session whenever one is refused, a wait of
//! 250 ms after "busy" so as not to be blocked) against a real `swapmesh run`
//! process holding 3,000 listings of its cell.
//!
//! Measured in one run, so that only ratios matter on a noisy machine:
//! - the node's CPU time (from `/proc/<pid>/stat`) per byte of sync frames
//!   the attackers sent, set against the CPU this process spends checking
//!   the same listings' bytes (`check_bytes`: decode, verify, validate), the
//!   work one byte of valid gossip costs a node;
//! - the API's latency (`GET /api/v1/node` and a search) under attack ÷ idle.
//!
//! Run with `cargo bench -p swapmesh-node --bench attack`;
//! `SWAPMESH_BENCH_SECONDS` sets the length of each phase (default 10).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use swapmesh_net::{Keypair, NetworkConfig, NetworkHandle, PeerId, Protocol, Transport};
use swapmesh_node::DataDir;
use swapmesh_protocol::{
    Geohash, RecordId, SignedRecord, Timestamp, Topic, Verified, check_bytes, fixtures,
};
use swapmesh_store::{Store, StoreOptions};
use swapmesh_sync::wire::{Refusal, SyncResponse};
use swapmesh_sync::{Item, Message, SyncRequest};

const CELL: &str = "u4pru";
const HELD: u64 = 3_000;
const LISTED: usize = 4_000;
const PEERS: u64 = 3;
const SESSIONS: u64 = 4;

struct Daemon {
    child: Child,
    peer: String,
    api: String,
    listening: String,
    token: String,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn seed(dir: &std::path::Path) -> Vec<Verified> {
    let store = Store::open(DataDir::new(dir).database(), StoreOptions::default()).unwrap();
    let now = Timestamp::now();
    let records: Vec<_> = (0..HELD)
        .map(|i| {
            fixtures::verified_listing(&fixtures::key(i % 40), &format!("held-{i}"), CELL, now)
        })
        .collect();
    store.insert_batch(&records, now).unwrap();
    store.flush_blocking().unwrap();
    records
}

fn start(dir: &std::path::Path) -> Daemon {
    let mut child = Command::new(env!("CARGO_BIN_EXE_swapmesh"))
        .arg("--data-dir")
        .arg(dir)
        .args(["run", "--no-mdns", "--api", "127.0.0.1:0"])
        .args(["--listen", "/ip4/127.0.0.1/tcp/0", "--area", CELL])
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let words: Vec<&str> = line
        .strip_prefix("swapmesh ready: peer ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .split_whitespace()
        .collect();
    let token = std::fs::read_to_string(dir.join("api-token")).unwrap();
    Daemon {
        child,
        peer: words[0].to_owned(),
        api: words[2].trim_start_matches("http://").to_owned(),
        listening: words[4].to_owned(),
        token: token.trim().to_owned(),
    }
}

/// The node's CPU time so far (user + system).
fn cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command's closing parenthesis; utime and stime are the
    // 14th and 15th of the whole line.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|f| f.parse().unwrap())
        .collect();
    // Clock ticks of 1/100 s (USER_HZ on Linux).
    Duration::from_millis((fields[0] + fields[1]) * 10)
}

/// One authenticated GET: its latency and body.
fn fetch(d: &Daemon, path: &str) -> (Duration, String) {
    let start = Instant::now();
    let mut stream = TcpStream::connect(&d.api).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        d.api, d.token
    )
    .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{path}");
    (
        start.elapsed(),
        String::from_utf8_lossy(&answer).into_owned(),
    )
}

fn get(d: &Daemon, path: &str) -> Duration {
    fetch(d, path).0
}

/// API calls for `phase`, two a round every 50 ms: their latencies.
fn api_calls(d: &Daemon, phase: Duration) -> Vec<Duration> {
    let until = Instant::now() + phase;
    let mut took = Vec::new();
    while Instant::now() < until {
        took.push(get(d, "/api/v1/node"));
        took.push(get(d, "/api/v1/listings?q=drill&area=u4pru"));
        std::thread::sleep(Duration::from_millis(50));
    }
    took
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

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

#[derive(Default)]
struct Tally {
    /// Bytes of the requests that reached the node (it answered).
    sent: AtomicU64,
    answered: AtomicU64,
    busy: AtomicU64,
    /// Other refusals (a session over its rounds), and requests that failed.
    other: AtomicU64,
}

/// One attacker's loop. It waits after "busy" as an honest initiator does:
/// the most work a peer can ask for without being blocked.
async fn endless(
    raw: NetworkHandle,
    node: PeerId,
    seed: u64,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut session = rng.r#gen();
    while !stop.load(Ordering::Relaxed) {
        let request = round(&mut rng, session);
        let len = request.len() as u64;
        let Ok(answer) = raw.send_request(Protocol::Sync, node, request).await else {
            tally.other.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        tally.sent.fetch_add(len, Ordering::Relaxed);
        match SyncResponse::decode(&answer, answer.len()) {
            Ok(SyncResponse::Reconcile { .. }) => {
                tally.answered.fetch_add(1, Ordering::Relaxed);
            }
            Ok(SyncResponse::Refused {
                reason: Refusal::Busy,
            }) => {
                tally.busy.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            _ => {
                tally.other.fetch_add(1, Ordering::Relaxed);
                session = rng.r#gen();
            }
        }
    }
}

async fn raw_peer(address: &str) -> NetworkHandle {
    let mut config = NetworkConfig::new(Keypair::generate_ed25519());
    config.transport = Transport::Tcp;
    config.listen_addresses = vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()];
    let (handle, mut events, event_loop) = swapmesh_net::new(config).expect("network");
    tokio::spawn(event_loop.run());
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    handle.dial(address.parse().unwrap()).await.expect("dial");
    handle
}

/// CPU this process spends per byte checking the listings (one core).
fn check_cost(records: &[Verified]) -> f64 {
    let bytes: Vec<Vec<u8>> = records
        .iter()
        .map(|v| SignedRecord::encode(v.signed()))
        .collect();
    let total: usize = bytes.iter().map(Vec::len).sum();
    let now = Timestamp::now();
    let mut best = f64::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        for b in &bytes {
            std::hint::black_box(check_bytes(b, now).unwrap());
        }
        best = best.min(start.elapsed().as_nanos() as f64 / total as f64);
    }
    best
}

fn main() {
    let phase = Duration::from_secs(
        std::env::var("SWAPMESH_BENCH_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(10),
    );
    let dir = tempfile::tempdir().unwrap();
    let records = seed(dir.path());
    let d = start(dir.path());
    let pid = d.child.id();
    let node: PeerId = d.peer.parse().unwrap();
    let address = format!("{}/p2p/{}", d.listening, d.peer);

    std::thread::sleep(Duration::from_secs(1));
    let cpu_idle_start = cpu(pid);
    let mut idle = api_calls(&d, phase);
    let cpu_idle = cpu(pid) - cpu_idle_start;

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let attack = {
        let (stop, tally) = (stop.clone(), tally.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            runtime.block_on(async {
                let mut loops = Vec::new();
                for p in 0..PEERS {
                    let raw = raw_peer(&address).await;
                    for s in 0..SESSIONS {
                        loops.push(tokio::spawn(endless(
                            raw.clone(),
                            node,
                            p * 10 + s,
                            stop.clone(),
                            tally.clone(),
                        )));
                    }
                }
                for l in loops {
                    l.await.unwrap();
                }
            });
        })
    };
    std::thread::sleep(Duration::from_secs(1));
    let sent_start = tally.sent.load(Ordering::Relaxed);
    let cpu_attack_start = cpu(pid);
    let mut attacked = api_calls(&d, phase);
    let cpu_attack = cpu(pid) - cpu_attack_start;
    let sent = tally.sent.load(Ordering::Relaxed) - sent_start;
    let (_, metrics) = fetch(&d, "/metrics");
    stop.store(true, Ordering::Relaxed);
    attack.join().unwrap();

    idle.sort();
    attacked.sort();
    let check = check_cost(&records);
    // The node's idle CPU over the same time is not the attack's.
    let spent = cpu_attack.saturating_sub(cpu_idle);
    let per_byte = spent.as_nanos() as f64 / sent.max(1) as f64;
    println!(
        "attack: {PEERS} peers x {SESSIONS} sessions, lists of {LISTED} fresh items against {HELD} held, {} s",
        phase.as_secs()
    );
    println!(
        "  rounds answered {}, busy {}, other refusals or failures {}, attacker bytes {:.1} MiB ({:.1} MiB/s)",
        tally.answered.load(Ordering::Relaxed),
        tally.busy.load(Ordering::Relaxed),
        tally.other.load(Ordering::Relaxed),
        sent as f64 / (1 << 20) as f64,
        sent as f64 / (1 << 20) as f64 / phase.as_secs_f64()
    );
    println!(
        "  node CPU: idle {:.2} s, under attack {:.2} s of {:.0} s ({:.0}% of one core beyond idle)",
        cpu_idle.as_secs_f64(),
        cpu_attack.as_secs_f64(),
        phase.as_secs_f64(),
        100.0 * spent.as_secs_f64() / phase.as_secs_f64()
    );
    println!(
        "  CPU per attacker byte {per_byte:.1} ns; checking a listing's bytes {check:.1} ns/byte; ratio {:.2}",
        per_byte / check
    );
    for line in metrics.lines().filter(|l| {
        l.starts_with("swapmesh_sync_refused_total") || l.starts_with("swapmesh_sync_responder_")
    }) {
        println!("  {line}");
    }
    for (name, q) in [("median", 0.5), ("p95", 0.95), ("max", 1.0)] {
        let (i, a) = (quantile(&idle, q), quantile(&attacked, q));
        println!(
            "  API {name}: idle {:.2} ms, under attack {:.2} ms, ratio {:.2}",
            i.as_secs_f64() * 1e3,
            a.as_secs_f64() * 1e3,
            a.as_secs_f64() / i.as_secs_f64()
        );
    }
}
