//! Reconciliation of two in-memory stores of 100,000 items differing by d items
//! (half on each side): bytes each way, rounds and time, against the bytes of the
//! missing items themselves and a naive exchange of all ids. Prints Markdown tables
//! (BENCHMARKS.md, "Set reconciliation"). Then whole sessions (reconcile, fetch,
//! push) through the session machines and the frame encoders, against the bytes of
//! the records moved. `cargo bench -p swapmesh-sync --bench reconcile`.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use swapmesh_protocol::{RecordId, Signature, SignedRecord, Timestamp, Topic};
use swapmesh_sync::{
    Config, Handled, Initiator, Item, MemoryStore, MemoryTopics, Reconciler, Responders, ScanStore,
    Served, SessionConfig, SyncResponse, SyncStore,
};

const N: usize = 100_000;
const DS: [usize; 5] = [0, 1, 10, 100, 1_000];
/// Items spread over 30 days, as a busy topic's live records would be.
const SPREAD: u64 = 30 * 86_400;

fn items(rng: &mut StdRng, n: usize) -> Vec<Item> {
    (0..n)
        .map(|_| {
            Item::new(
                Timestamp(1_700_000_000 + rng.gen_range(0..SPREAD)),
                RecordId(rng.r#gen()),
            )
        })
        .collect()
}

/// Two sets with a symmetric difference of d: N items in the first, ceil(d/2) of
/// them its own; floor(d/2) items only in the second.
fn pair(d: usize) -> (Vec<Item>, Vec<Item>) {
    let mut rng = StdRng::seed_from_u64(d as u64 + 1);
    let a_only = d.div_ceil(2);
    let common = items(&mut rng, N - a_only);
    let mut a = common.clone();
    a.extend(items(&mut rng, a_only));
    let mut b = common;
    b.extend(items(&mut rng, d / 2));
    (a, b)
}

struct Run {
    out: usize,
    back: usize,
    rounds: u32,
    first: usize,
    found: usize,
    time: Duration,
}

fn session(a: &impl SyncStore, b: &impl SyncStore, config: Config) -> Run {
    let start = Instant::now();
    let mut initiator = Reconciler::initiator(config).unwrap();
    let mut responder = Reconciler::responder(config).unwrap();
    let mut request = initiator.initiate_bytes(a).unwrap();
    let first = request.len();
    let (mut out, mut back) = (0, 0);
    loop {
        out += request.len();
        let response = responder.handle_bytes(b, &request).unwrap().unwrap();
        back += response.len();
        match initiator.handle_bytes(a, &response).unwrap() {
            Some(next) => request = next,
            None => break,
        }
    }
    let time = start.elapsed();
    let rounds = initiator.rounds();
    let outcome = initiator.into_outcome();
    Run {
        out,
        back,
        rounds,
        first,
        found: outcome.need.len() + outcome.have.len(),
        time,
    }
}

/// The median time of `runs` sessions, with the bytes of the last.
fn measure(a: &impl SyncStore, b: &impl SyncStore, config: Config, runs: usize) -> Run {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let run = session(a, b, config);
        times.push(run.time);
        last = Some(run);
    }
    times.sort();
    let mut run = last.expect("at least one run");
    run.time = times[times.len() / 2];
    run
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

/// Records per node in the session benchmark, and their body size.
const SESSION_N: usize = 10_000;
const BODY: usize = 400;

/// A node's records: `(item, signed bytes)` with opaque bodies.
fn records(rng: &mut StdRng, n: usize) -> Vec<(Item, Vec<u8>)> {
    (0..n)
        .map(|_| {
            let mut body = vec![0u8; BODY];
            rng.fill(&mut body[..]);
            let record = SignedRecord {
                body,
                sig: Signature::from_bytes(&[0; 64]),
            };
            let t = Timestamp(1_700_000_000 + rng.gen_range(0..SPREAD));
            (Item::new(t, record.id()), record.encode())
        })
        .collect()
}

struct SessionRun {
    requests: usize,
    out: usize,
    back: usize,
    moved: usize,
    time: Duration,
}

/// One whole session between two fresh copies of the nodes.
fn whole_session(a: &MemoryTopics, b: &MemoryTopics, topic: &Topic) -> SessionRun {
    let (mut a, mut b) = (a.clone(), b.clone());
    let config = SessionConfig::new(1 << 20).unwrap();
    let mut responders = Responders::new(config);
    let mut session = Initiator::new(topic.clone(), 1, config).unwrap();
    let mut run = SessionRun {
        requests: 0,
        out: 0,
        back: 0,
        moved: 0,
        time: Duration::ZERO,
    };
    let start = Instant::now();
    let file = |node: &mut MemoryTopics, records: Vec<Vec<u8>>| -> usize {
        let n = records.len();
        node.extend(
            topic,
            records.into_iter().map(|bytes| {
                let id = SignedRecord::decode(&bytes).unwrap().id();
                // The time only orders items; nothing reconciles these copies again.
                (Item::new(Timestamp(0), id), bytes)
            }),
        );
        n
    };
    while let Some(request) = session.poll_request(&a).unwrap() {
        let bytes = request.encode();
        run.requests += 1;
        run.out += bytes.len();
        let answer = match responders.serve(&0u8, &bytes, Instant::now(), &b) {
            Served::Answer(answer) => answer,
            Served::Ingest { records, .. } => {
                run.moved += records.iter().map(Vec::len).sum::<usize>();
                SyncResponse::pushed(file(&mut b, records))
            }
            Served::Refused { error, .. } => panic!("refused: {error}"),
        };
        let bytes = answer.encode();
        run.back += bytes.len();
        if let Handled::Fetched(records) = session.handle_response_bytes(&a, &bytes).unwrap() {
            run.moved += records.iter().map(Vec::len).sum::<usize>();
            let stored = file(&mut a, records);
            session.stored(stored);
        }
    }
    run.time = start.elapsed();
    run
}

fn sessions() {
    let topic = Topic::parse("swapmesh/1/mesh/local").unwrap();
    println!(
        "\nWhole sessions (reconcile, fetch, push; 1 MiB frames) between nodes of {SESSION_N} records of {BODY} B bodies, differing by d (half each way):\n"
    );
    println!(
        "| d | requests | initiator→responder B | responder→initiator B | record bytes moved | beyond records B | time ms |"
    );
    println!("|---|---|---|---|---|---|---|");
    for d in [0usize, 10, 100, 1_000] {
        let mut rng = StdRng::seed_from_u64(d as u64 + 100);
        let common = records(&mut rng, SESSION_N - d.div_ceil(2));
        let (mut a, mut b) = (MemoryTopics::new(), MemoryTopics::new());
        a.extend(
            &topic,
            common
                .iter()
                .cloned()
                .chain(records(&mut rng, d.div_ceil(2))),
        );
        b.extend(&topic, common.into_iter().chain(records(&mut rng, d / 2)));
        let run = whole_session(&a, &b, &topic);
        let total = run.out + run.back;
        println!(
            "| {d} | {} | {} | {} | {} | {} | {} |",
            run.requests,
            run.out,
            run.back,
            run.moved,
            total - run.moved,
            ms(run.time)
        );
    }
}

fn main() {
    run_reconcile();
    sessions();
}

fn run_reconcile() {
    let config = Config::default();
    let naive = 32 * N;
    println!(
        "Defaults: split_parts {}, list_threshold {}, max_message_bytes {}.\n",
        config.split_parts, config.list_threshold, config.max_message_bytes
    );
    println!(
        "| d | rounds | first msg B | initiator→responder B | responder→initiator B | total B | 40×d B | beyond items B | allowed (1.5 KiB×d + 4 KiB) | % of naive ({naive} B) | time ms (median of 5) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut stores = Vec::new();
    for d in DS {
        let (a, b) = pair(d);
        let (a, b) = (MemoryStore::from_items(a), MemoryStore::from_items(b));
        let run = measure(&a, &b, config, 5);
        assert_eq!(run.found, d, "the session found every difference");
        let total = run.out + run.back;
        let beyond = total.saturating_sub(40 * d);
        let allowed = 1536 * d + 4096;
        println!(
            "| {d} | {} | {} | {} | {} | {total} | {} | {beyond} | {allowed} {} | {:.3}% | {} |",
            run.rounds,
            run.first,
            run.out,
            run.back,
            40 * d,
            if beyond <= allowed { "✓" } else { "✗" },
            100.0 * total as f64 / naive as f64,
            ms(run.time),
        );
        stores.push((d, a, b));
    }

    println!(
        "\nStore without sums (ScanStore: every summary walks its range) against MemoryStore (prefix sums), same sessions:\n"
    );
    println!("| d | MemoryStore ms | ScanStore ms | ratio |");
    println!("|---|---|---|---|");
    for (d, a, b) in &stores {
        let indexed = measure(a, b, config, 3);
        let (sa, sb) = (
            ScanStore::from_items(a.items().iter().copied()),
            ScanStore::from_items(b.items().iter().copied()),
        );
        let scanned = measure(&sa, &sb, config, 3);
        assert_eq!((scanned.out, scanned.back), (indexed.out, indexed.back));
        println!(
            "| {d} | {} | {} | {:.0}× |",
            ms(indexed.time),
            ms(scanned.time),
            scanned.time.as_secs_f64() / indexed.time.as_secs_f64().max(1e-9)
        );
    }

    println!("\nTuning (total bytes both ways / rounds) by split_parts × list_threshold:\n");
    println!("| split_parts | list_threshold | d = 1 | d = 10 | d = 100 | d = 1000 |");
    println!("|---|---|---|---|---|---|");
    for split_parts in [8, 16, 32] {
        for list_threshold in [4, 8, 16, 32] {
            let tuned = Config {
                split_parts,
                list_threshold,
                ..config
            };
            let cells: Vec<String> = stores
                .iter()
                .filter(|(d, _, _)| [1, 10, 100, 1_000].contains(d))
                .map(|(_, a, b)| {
                    let run = session(a, b, tuned);
                    format!("{} / {}", run.out + run.back, run.rounds)
                })
                .collect();
            println!(
                "| {split_parts} | {list_threshold} | {} |",
                cells.join(" | ")
            );
        }
    }
}
