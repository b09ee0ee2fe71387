//! The store benchmark (DESIGN §9): 100,000 realistic listings over a few hundred
//! area cells. Reports the insert rate beside raw `sled::Tree::insert` of the same
//! bytes, keys written per record, a neighbourhood query's p50/p99, disk size ÷ raw
//! record bytes, and resident memory after reopening (measured in a fresh process,
//! so the generated records do not count).
//!
//! Run: `CARGO_TARGET_DIR=/work/target-store cargo bench -p swapmesh-store`
//! (add `--features compression` for sled's zstd pages). `STORE_BENCH_N` changes
//! the number of listings.
#![allow(missing_docs)]

use std::collections::{BTreeSet, VecDeque};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use swapmesh_protocol::fixtures;
use swapmesh_protocol::listing::{
    Condition, DealKind, Listing, ListingStatus, Money, Period, Price, Purpose, Window,
};
use swapmesh_protocol::signed::author_of;
use swapmesh_protocol::{Content, Geohash, RecordBody, Timestamp, Verified, sign_own};
use swapmesh_store::{Query, Store, StoreOptions};

const NOW: Timestamp = Timestamp(1_750_000_000);
const DAY: u64 = 86_400;
const CELLS: usize = 300;
const AUTHORS: u64 = 500;
const QUERIES: usize = 2_000;

const THINGS: &[&str] = &[
    "drill",
    "ladder",
    "cargo bike",
    "tent",
    "kayak",
    "sewing machine",
    "lawn mower",
    "projector",
    "pressure washer",
    "camping stove",
    "stroller",
    "car seat",
    "tile cutter",
    "hedge trimmer",
    "snowboard",
    "guitar",
    "sleeping bag",
    "roof box",
    "trailer",
    "canoe",
    "circular saw",
    "wheelbarrow",
    "paddle board",
    "bread maker",
    "board games",
    "jigsaw",
    "carpet cleaner",
    "party tent",
    "folding table",
    "bike rack",
    "chainsaw",
    "telescope",
];
const ADJECTIVES: &[&str] = &[
    "cordless",
    "large",
    "small",
    "old but working",
    "almost new",
    "heavy duty",
    "compact",
    "electric",
    "vintage",
    "kids",
    "family size",
    "professional",
];
const CATEGORIES: &[&str] = &[
    "tools",
    "garden",
    "sports",
    "outdoor",
    "kids",
    "kitchen",
    "music",
    "vehicles",
    "party",
    "electronics",
];
const FILLER: &[&str] = &[
    "works",
    "well",
    "pick",
    "up",
    "in",
    "the",
    "evening",
    "please",
    "bring",
    "it",
    "back",
    "clean",
    "has",
    "a",
    "few",
    "scratches",
    "comes",
    "with",
    "case",
    "and",
    "manual",
    "ask",
    "me",
    "anything",
    "weekends",
    "are",
    "best",
    "near",
    "station",
    "battery",
    "included",
];

/// About 300 cells around Aarhus: a breadth-first walk over neighbours.
fn cells() -> Vec<Geohash> {
    let start = Geohash::parse_cell("u1zr2").expect("valid cell");
    let mut seen = BTreeSet::from([start.clone()]);
    let mut queue = VecDeque::from([start]);
    let mut out = Vec::new();
    while let Some(c) = queue.pop_front() {
        out.push(c.clone());
        if out.len() == CELLS {
            break;
        }
        for n in c.neighbours() {
            if seen.insert(n.clone()) {
                queue.push_back(n);
            }
        }
    }
    out
}

fn sentence(rng: &mut StdRng, words: usize) -> String {
    (0..words)
        .map(|_| *FILLER.choose(rng).unwrap())
        .collect::<Vec<_>>()
        .join(" ")
}

fn listing_body(i: usize, cells: &[Geohash], rng: &mut StdRng) -> (RecordBody, u64) {
    let seed = rng.gen_range(0..AUTHORS) + 1;
    let thing = *THINGS.choose(rng).unwrap();
    let adjective = *ADJECTIVES.choose(rng).unwrap();
    let mut kinds: Vec<DealKind> = [
        DealKind::Swap,
        DealKind::Rent,
        DealKind::Lease,
        DealKind::Share,
        DealKind::Give,
    ]
    .into_iter()
    .filter(|_| rng.gen_bool(0.3))
    .collect();
    if kinds.is_empty() {
        kinds.push(DealKind::Rent);
    }
    let purpose = if rng.gen_bool(0.8) {
        Purpose::Offer
    } else {
        Purpose::Want
    };
    let lends = kinds.contains(&DealKind::Rent) || kinds.contains(&DealKind::Lease);
    let price = (lends || rng.gen_bool(0.2)).then(|| Price {
        money: Money {
            amount: rng.gen_range(100..5_000),
            currency: *b"EUR",
        },
        per: [Period::Hour, Period::Day, Period::Week][rng.gen_range(0..3)],
    });
    let created = NOW.0 - rng.gen_range(0..30 * DAY);
    let cell = cells.choose(rng).unwrap();
    let sub = b"0123456789bcdefghjkmnpqrstuvwxyz"[rng.gen_range(0..32)] as char;
    let area = Geohash::parse_area(&format!("{cell}{sub}")).unwrap();
    let words = rng.gen_range(8..60);
    let description = sentence(rng, words);
    let extra_tags = rng.gen_range(0..3);
    let listing = Listing {
        d: format!("item-{i}"),
        purpose,
        kinds,
        title: format!("{adjective} {thing}"),
        description,
        category: CATEGORIES.choose(rng).unwrap().to_string(),
        tags: thing
            .split(' ')
            .map(str::to_owned)
            .chain((0..extra_tags).map(|_| FILLER.choose(rng).unwrap().to_string()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        condition: Some([Condition::New, Condition::Good, Condition::Fair][rng.gen_range(0..3)]),
        photos: vec![],
        price,
        deposit: rng.gen_bool(0.3).then_some(Money {
            amount: 5_000,
            currency: *b"EUR",
        }),
        availability: if rng.gen_bool(0.5) {
            vec![Window {
                start: Timestamp(created),
                end: Timestamp(created + 14 * DAY),
            }]
        } else {
            vec![]
        },
        status: ListingStatus::Active,
    };
    let body = RecordBody {
        author: author_of(&fixtures::key(seed)),
        seq: 1,
        created_at: Timestamp(created),
        expires_at: Timestamp(created + rng.gen_range(40..90) * DAY),
        area: Some(area),
        meshes: vec![],
        content: Content::Listing(listing),
    };
    (body, seed)
}

/// Builds and signs `n` listings on both cores.
fn listings(n: usize, cells: &[Geohash]) -> Vec<Verified> {
    let mut rng = StdRng::seed_from_u64(7);
    let bodies: Vec<(RecordBody, u64)> = (0..n).map(|i| listing_body(i, cells, &mut rng)).collect();
    let keys: Vec<_> = (0..=AUTHORS).map(fixtures::key).collect();
    let half = bodies.len() / 2;
    let (a, b) = bodies.split_at(half);
    let sign = |part: &[(RecordBody, u64)]| -> Vec<Verified> {
        part.iter()
            .map(|(body, seed)| sign_own(body, &keys[*seed as usize], NOW).expect("valid listing"))
            .collect()
    };
    std::thread::scope(|s| {
        let ha = s.spawn(|| sign(a));
        let hb = s.spawn(|| sign(b));
        let mut out = ha.join().unwrap();
        out.extend(hb.join().unwrap());
        out
    })
}

fn dir_bytes(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            if m.is_dir() {
                dir_bytes(&e.path())
            } else {
                m.len()
            }
        })
        .sum()
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn options(compression: bool) -> StoreOptions {
    let mut o = StoreOptions {
        compression,
        ..StoreOptions::default()
    };
    if let Some(mib) = std::env::var("STORE_BENCH_CACHE_MIB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        o.cache_capacity = mib << 20;
    }
    o
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// In a fresh process: reopen, measure RSS, run neighbourhood queries.
fn reopen_and_query(dir: &str, compression: bool) {
    let rss_before = rss_kib();
    let store = Store::open(dir, options(compression)).unwrap();
    let rss_open = rss_kib();
    let cells = cells();
    let mut rng = StdRng::seed_from_u64(11);
    let mut times = Vec::with_capacity(QUERIES);
    let mut results = 0;
    for _ in 0..QUERIES {
        let cell = cells.choose(&mut rng).unwrap();
        let query = Query {
            cells: cell.with_neighbours(),
            kinds: vec![DealKind::Rent],
            limit: 50,
            ..Query::default()
        };
        let t = Instant::now();
        let page = store.search(&query).unwrap();
        times.push(t.elapsed());
        results += page.records.len();
    }
    let rss_after = rss_kib();
    times.sort();
    let word_t = Instant::now();
    let words = store
        .search(&Query {
            words: vec!["drill".into()],
            cells: cells[0].with_neighbours(),
            limit: 50,
            ..Query::default()
        })
        .unwrap();
    let word_t = word_t.elapsed();
    println!(
        "reopen: RSS before open {} KiB, after open {} KiB, after {QUERIES} queries {} KiB",
        rss_before, rss_open, rss_after
    );
    println!(
        "neighbourhood query (9 cells, kind rent, limit 50): p50 {:?}, p99 {:?}, max {:?}, mean results {:.1}",
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times.last().unwrap(),
        results as f64 / QUERIES as f64
    );
    println!(
        "word + neighbourhood query ('drill', 9 cells): {:?}, {} results",
        word_t,
        words.records.len()
    );
}

fn main() {
    if let Ok(dir) = std::env::var("STORE_BENCH_REOPEN") {
        reopen_and_query(&dir, std::env::var("STORE_BENCH_COMPRESSION").is_ok());
        return;
    }
    let compression = cfg!(feature = "compression");
    let n: usize = std::env::var("STORE_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let cells = cells();
    let t = Instant::now();
    let records = listings(n, &cells);
    let encoded: Vec<(Vec<u8>, Vec<u8>)> = records
        .iter()
        .map(|r| (r.id().0.to_vec(), r.signed().encode()))
        .collect();
    let raw: u64 = encoded.iter().map(|(_, v)| v.len() as u64).sum();
    println!(
        "{n} listings over {} cells signed in {:?}; raw record bytes {} ({:.0} B/record); compression {}",
        cells.len(),
        t.elapsed(),
        raw,
        raw as f64 / n as f64,
        compression
    );

    // Raw sled: the same bytes into one tree, same cache, flushed once at the end.
    let raw_dir = tempfile::tempdir().unwrap();
    let raw_rate = {
        let db = sled::Config::new()
            .path(raw_dir.path())
            .cache_capacity(options(compression).cache_capacity)
            .use_compression(compression)
            .open()
            .unwrap();
        let tree = db.open_tree("records").unwrap();
        let t = Instant::now();
        for (k, v) in &encoded {
            tree.insert(&k[..], &v[..]).unwrap();
        }
        db.flush().unwrap();
        let secs = t.elapsed().as_secs_f64();
        drop(db);
        println!(
            "raw sled::Tree::insert: {:.0} records/s, disk {:.2}x raw",
            n as f64 / secs,
            dir_bytes(raw_dir.path()) as f64 / raw as f64
        );
        n as f64 / secs
    };

    // One transaction per record, on the first 10,000.
    {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), options(compression)).unwrap();
        let some = &records[..records.len().min(10_000)];
        let t = Instant::now();
        for r in some {
            store.insert(r, NOW).unwrap();
        }
        store.flush_blocking().unwrap();
        let rate = some.len() as f64 / t.elapsed().as_secs_f64();
        drop(store);
        let disk = dir_bytes(dir.path());
        let raw_some: u64 = encoded[..some.len()]
            .iter()
            .map(|(_, v)| v.len() as u64)
            .sum();
        println!(
            "Store::insert (one transaction per record, {} records): {rate:.0} records/s = {:.3}x raw sled; disk {:.2}x raw",
            some.len(),
            rate / raw_rate,
            disk as f64 / raw_some as f64
        );
    }

    let batch: usize = std::env::var("STORE_BENCH_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), options(compression)).unwrap();
    let t = Instant::now();
    for chunk in records.chunks(batch) {
        store.insert_batch(chunk, NOW).unwrap();
    }
    store.flush_blocking().unwrap();
    let secs = t.elapsed().as_secs_f64();
    let rate = n as f64 / secs;
    print!("Store::insert_batch ({batch} per transaction): ");
    let c = store.check_consistency().unwrap();
    assert!(c.is_ok(), "{:?}", &c.problems[..c.problems.len().min(5)]);
    let keys = c.records + c.addresses + c.index_entries;
    println!(
        "{rate:.0} records/s = {:.2}x raw sled; {:.1} keys written per record",
        rate / raw_rate,
        keys as f64 / c.records as f64
    );
    drop(records);
    drop(encoded);
    drop(store);
    let disk = dir_bytes(dir.path());
    println!(
        "disk after close: {} bytes = {:.2}x raw record bytes",
        disk,
        disk as f64 / raw as f64
    );

    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.env("STORE_BENCH_REOPEN", dir.path());
    if compression {
        cmd.env("STORE_BENCH_COMPRESSION", "1");
    }
    let status = cmd.status().unwrap();
    assert!(status.success());
    let disk = dir_bytes(dir.path());
    println!(
        "disk after reopen: {} bytes = {:.2}x raw record bytes",
        disk,
        disk as f64 / raw as f64
    );
}
