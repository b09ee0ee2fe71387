//! The store benchmark (DESIGN §9): 100,000 realistic listings over a few hundred
//! area cells. Reports the insert rate beside raw `sled::Tree::insert` of the same
//! bytes, keys written per record, a neighbourhood query's p50/p99, disk size ÷ raw
//! record bytes, and resident memory after reopening (measured in a fresh process,
//! so the generated records do not count).
//!
//! Run: `CARGO_TARGET_DIR=/work/target-store cargo bench -p swapmesh-store`
//! (add `--features compression` for sled's zstd pages). `STORE_BENCH_N` changes
//! the number of listings. `STORE_BENCH_PLACES=1` runs only the search without a
//! place: every topic against the 9 a node joins.
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
use swapmesh_protocol::{
    Content, Geohash, MeshId, RecordBody, Timestamp, Topic, Verified, sign_own,
};
use swapmesh_store::{Query, Store, StoreOptions};
use swapmesh_sync::{Config, Item, MemoryStore, Reconciler, SyncStore};

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
    listing_on(i, cells, false, rng)
}

/// A listing in one of `cells`, or (`mesh`) on the mesh `local` only, so that one
/// topic holds all of them (the sync benchmark).
fn listing_on(i: usize, cells: &[Geohash], mesh: bool, rng: &mut StdRng) -> (RecordBody, u64) {
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
        area: (!mesh).then_some(area),
        meshes: if mesh { vec![MeshId::local()] } else { vec![] },
        content: Content::Listing(listing),
    };
    (body, seed)
}

/// Builds and signs `n` listings on both cores.
fn listings(n: usize, cells: &[Geohash]) -> Vec<Verified> {
    let mut rng = StdRng::seed_from_u64(7);
    let bodies: Vec<(RecordBody, u64)> = (0..n).map(|i| listing_body(i, cells, &mut rng)).collect();
    sign_all(bodies)
}

/// Listings `first..first + n` on the mesh `local`.
fn mesh_listings(first: usize, n: usize, cells: &[Geohash]) -> Vec<Verified> {
    let mut rng = StdRng::seed_from_u64(first as u64 + 13);
    let bodies = (first..first + n)
        .map(|i| listing_on(i, cells, true, &mut rng))
        .collect();
    sign_all(bodies)
}

fn sign_all(bodies: Vec<(RecordBody, u64)>) -> Vec<Verified> {
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
    let timed = |q: Query| {
        let t = Instant::now();
        let n = store.search(&q).unwrap().records.len();
        (t.elapsed(), n)
    };
    let rare = timed(Query {
        words: vec!["telescope".into(), "vintage".into()],
        limit: 50,
        ..Query::default()
    });
    let anywhere = timed(Query {
        kinds: vec![DealKind::Give],
        limit: 50,
        ..Query::default()
    });
    let author = timed(Query {
        author: Some(swapmesh_protocol::signed::author_of(&fixtures::key(7))),
        limit: 50,
        ..Query::default()
    });
    println!(
        "anywhere: words 'vintage telescope' {:?} ({} results); kind give {:?} ({}); one author {:?} ({})",
        rare.0, rare.1, anywhere.0, anywhere.1, author.0, author.1
    );
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

/// `STORE_BENCH_PLACES`: a search with no place, over `n` listings in 50
/// cells, against the same search in the 9 cells a node joins (its cell and
/// the 8 around it): what `Node::search` now does when no place is given.
fn places_bench(n: usize) {
    let cells: Vec<Geohash> = cells().into_iter().take(50).collect();
    let joined = cells[0].with_neighbours();
    assert!(joined.iter().all(|c| cells.contains(c)));
    let records = listings(n, &cells);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), options(cfg!(feature = "compression"))).unwrap();
    for chunk in records.chunks(1_000) {
        store.insert_batch(chunk, NOW).unwrap();
    }
    store.flush_blocking().unwrap();
    for words in [vec!["vintage", "telescope"], vec!["unicorn"]] {
        let words: Vec<String> = words.into_iter().map(str::to_owned).collect();
        let timed = |cells: Vec<Geohash>| {
            let query = Query {
                words: words.clone(),
                cells,
                limit: 50,
                ..Query::default()
            };
            let mut times: Vec<Duration> = (0..11)
                .map(|_| {
                    let t = Instant::now();
                    std::hint::black_box(store.search(&query).unwrap());
                    t.elapsed()
                })
                .collect();
            times.sort();
            let found = store.search(&query).unwrap().records.len();
            (times[times.len() / 2], found)
        };
        // Interleaved, so that both see the same machine.
        let mut ratios = Vec::new();
        let (mut every, mut nine) = ((Duration::ZERO, 0), (Duration::ZERO, 0));
        for _ in 0..5 {
            every = timed(Vec::new());
            nine = timed(joined.clone());
            ratios.push(nine.0.as_secs_f64() / every.0.as_secs_f64());
        }
        ratios.sort_by(f64::total_cmp);
        println!(
            "search {words:?}, limit 50, {n} listings in 50 cells: every topic {:?} ({} results), \
             the 9 joined {:?} ({} results); joined / every, median of 5: {:.2}",
            every.0, every.1, nine.0, nine.1, ratios[2]
        );
    }
}

/// `STORE_BENCH_INSERT=n`: the bulk insert rate alone, on public calls only, so
/// that the same file builds against an older store (quotas before and after):
/// `n` typical listings (500 authors, 300 cells, 30 days), then a flood of
/// `n / 4` by one author in one cell within one day, each in transactions of
/// 256, into a fresh store; prints records/s of each.
fn insert_bench(n: usize) {
    let cells = cells();
    let typical = listings(n, &cells);
    let key = fixtures::key(AUTHORS + 7);
    let cell = Geohash::parse_area(&format!("{}k", cells[0])).unwrap();
    let flood: Vec<Verified> = (0..n / 4)
        .map(|i| {
            let mut body = fixtures::listing_body(
                swapmesh_protocol::signed::author_of(&key),
                cell.as_str(),
                fixtures::listing(&format!("flood-{i}")),
                Timestamp(NOW.0 - DAY / 2 + (i as u64 % 40_000)),
            );
            body.expires_at = Timestamp(NOW.0 + 30 * DAY);
            sign_own(&body, &key, NOW).expect("valid listing")
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), options(cfg!(feature = "compression"))).unwrap();
    for (what, records) in [("typical", &typical), ("flood", &flood)] {
        let t = Instant::now();
        for chunk in records.chunks(256) {
            store.insert_batch(chunk, NOW).unwrap();
        }
        store.flush_blocking().unwrap();
        let rate = records.len() as f64 / t.elapsed().as_secs_f64();
        println!(
            "insert_batch, {what} ({} records): {rate:.0} records/s",
            records.len()
        );
    }
}

fn main() {
    if let Some(n) = std::env::var("STORE_BENCH_INSERT")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        insert_bench(n);
        return;
    }
    if std::env::var("STORE_BENCH_PLACES").is_ok() {
        let n = std::env::var("STORE_BENCH_N")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(100_000);
        places_bench(n);
        return;
    }
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
    // STORE_BENCH_BUCKETS=8,10,12: only the sync sessions, once per bucket width.
    if let Ok(widths) = std::env::var("STORE_BENCH_BUCKETS") {
        for bits in widths.split(',').filter_map(|w| w.trim().parse().ok()) {
            sync_bench(n, &cells, bits, compression, false);
        }
        return;
    }
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
    drop(dir);
    if std::env::var("STORE_BENCH_SYNC").as_deref() != Ok("0") {
        sync_bench(
            n,
            &cells,
            swapmesh_store::SYNC_BUCKET_BITS,
            compression,
            true,
        );
    }
}

/// One session, initiator on `a` and responder on `b`, passing encoded bytes.
struct Session {
    time: Duration,
    bytes_out: usize,
    bytes_back: usize,
    rounds: u32,
    need: usize,
    have: usize,
}

fn session(a: &impl SyncStore, b: &impl SyncStore) -> Session {
    let t = Instant::now();
    let mut initiator = Reconciler::initiator(Config::default()).unwrap();
    let mut responder = Reconciler::responder(Config::default()).unwrap();
    let mut request = initiator.initiate_bytes(a).unwrap();
    let (mut out, mut back) = (request.len(), 0);
    loop {
        let response = responder.handle_bytes(b, &request).unwrap().unwrap();
        back += response.len();
        match initiator.handle_bytes(a, &response).unwrap() {
            Some(next) => {
                out += next.len();
                request = next;
            }
            None => break,
        }
    }
    let time = t.elapsed();
    let o = initiator.into_outcome();
    Session {
        time,
        bytes_out: out,
        bytes_back: back,
        rounds: o.rounds,
        need: o.need.len(),
        have: o.have.len(),
    }
}

/// The median time of 5 sessions (the bytes are the same every time).
fn median_session(a: &impl SyncStore, b: &impl SyncStore) -> Session {
    let mut runs: Vec<Session> = (0..5).map(|_| session(a, b)).collect();
    runs.sort_by_key(|s| s.time);
    runs.swap_remove(2)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.metadata().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

fn topic_items(store: &Store, topic: &Topic) -> Vec<Item> {
    store
        .topic_items(
            topic,
            std::ops::Bound::Unbounded,
            std::ops::Bound::Unbounded,
        )
        .map(|r| Item::from(r.unwrap()))
        .collect()
}

/// Two stores of `n` listings on one topic that differ by d ∈ {0, 1, 10, 100}
/// (half on each side), reconciled as sled stores and as `MemoryStore`s; with
/// `bits`, the sled stores use buckets of `created_at >> bits`.
fn sync_bench(n: usize, cells: &[Geohash], bits: u32, compression: bool, memory_too: bool) {
    let topic = Topic::mesh(&MeshId::local());
    let common = mesh_listings(0, n, cells);
    let extra = mesh_listings(n, 100, cells);
    let base = tempfile::tempdir().unwrap();
    let (dir_a, dir_b) = (base.path().join("a"), base.path().join("b"));
    let t = Instant::now();
    {
        let a = Store::open_with_bucket_bits(&dir_a, options(compression), bits).unwrap();
        for chunk in common.chunks(256) {
            a.insert_batch(chunk, NOW).unwrap();
        }
        a.flush_blocking().unwrap();
    }
    let insert = t.elapsed();
    drop(common);
    copy_dir(&dir_a, &dir_b);
    let a = Store::open(&dir_a, options(compression)).unwrap();
    let b = Store::open(&dir_b, options(compression)).unwrap();
    let buckets = a.check_consistency().unwrap().sync_buckets;
    println!(
        "sync, bucket bits {bits} ({} s): {n} listings on one topic inserted in {:.1?} ({:.0}/s), {buckets} buckets ({:.0} items each)",
        1u64 << bits,
        insert,
        n as f64 / insert.as_secs_f64(),
        n as f64 / buckets as f64
    );
    // Extras 0..50 go to a, 50..100 to b: d = 1 adds extra 0 to a; d = 10 adds
    // 1..5 to a and 50..55 to b; d = 100 the rest.
    let mut given = (0, 50);
    for d in [0usize, 1, 10, 100] {
        let (to_a, to_b) = (d.div_ceil(2), d / 2);
        a.insert_batch(&extra[given.0..to_a], NOW).unwrap();
        b.insert_batch(&extra[given.1..50 + to_b], NOW).unwrap();
        given = (to_a, 50 + to_b);
        let (va, vb) = (a.sync_view(&topic), b.sync_view(&topic));
        let s = median_session(&va, &vb);
        assert_eq!((s.need, s.have), (to_b, to_a), "d = {d}");
        print!(
            "  d = {d:>3}: sled {:>8.2?}, {} rounds, {} B out + {} B back",
            s.time, s.rounds, s.bytes_out, s.bytes_back
        );
        if memory_too {
            let (ma, mb) = (
                MemoryStore::from_items(topic_items(&a, &topic)),
                MemoryStore::from_items(topic_items(&b, &topic)),
            );
            let m = median_session(&ma, &mb);
            assert_eq!((m.bytes_out, m.bytes_back), (s.bytes_out, s.bytes_back));
            print!("; MemoryStore {:>8.2?} (same bytes)", m.time);
        }
        println!();
    }
}
