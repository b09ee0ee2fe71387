//! Ingest against the raw limit: bare `verify_strict` of a 300-byte message, next to
//! the whole ingest path (decode + canonical re-encode check + verify_strict +
//! validate) of a typical listing on one core, and the same over a batch spread
//! across both cores. The ratios, measured in the same run, are printed at the end.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use ed25519_dalek::Signer;
use swapmesh_protocol::{Timestamp, check_bytes, fixtures};

const NOW: Timestamp = Timestamp(1_800_000_000);
const BATCH: usize = 1024;

struct Inputs {
    key: ed25519_dalek::VerifyingKey,
    msg: Vec<u8>,
    sig: ed25519_dalek::Signature,
    /// Wire bytes of listings by many authors.
    records: Vec<Vec<u8>>,
}

fn inputs() -> Inputs {
    let signer = fixtures::key(1);
    let msg = vec![0x42u8; 300];
    let sig = signer.sign(&msg);
    let records = (0..BATCH as u64)
        .map(|i| {
            fixtures::verified_listing(&fixtures::key(i), &format!("item-{i}"), "u4pru", NOW)
                .signed()
                .encode()
        })
        .collect();
    Inputs {
        key: signer.verifying_key(),
        msg,
        sig,
        records,
    }
}

fn raw_verify(i: &Inputs) {
    i.key.verify_strict(black_box(&i.msg), &i.sig).unwrap();
}

fn ingest_one_core(i: &Inputs) {
    for r in &i.records {
        black_box(check_bytes(black_box(r), NOW).unwrap());
    }
}

fn ingest_two_cores(i: &Inputs) {
    let (a, b) = i.records.split_at(i.records.len() / 2);
    std::thread::scope(|s| {
        for half in [a, b] {
            s.spawn(move || {
                for r in half {
                    black_box(check_bytes(black_box(r), NOW).unwrap());
                }
            });
        }
    });
}

fn bench(c: &mut Criterion) {
    let i = inputs();
    let mut g = c.benchmark_group("ingest");
    g.throughput(Throughput::Elements(1));
    g.bench_function("raw_verify_strict_300B", |b| b.iter(|| raw_verify(&i)));
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("ingest_listing_one_core", |b| {
        b.iter(|| ingest_one_core(&i))
    });
    g.bench_function("ingest_listing_two_cores", |b| {
        b.iter(|| ingest_two_cores(&i))
    });
    g.finish();
}

/// Records per second of `f` over `per_call` records, best of several rounds.
fn rate(per_call: usize, mut f: impl FnMut()) -> f64 {
    let mut best = 0f64;
    for _ in 0..5 {
        let start = Instant::now();
        let mut calls = 0usize;
        while start.elapsed() < Duration::from_millis(400) {
            f();
            calls += 1;
        }
        best = best.max((calls * per_call) as f64 / start.elapsed().as_secs_f64());
    }
    best
}

fn ratios() {
    let i = inputs();
    let raw = rate(64, || {
        for _ in 0..64 {
            raw_verify(&i)
        }
    });
    let one = rate(BATCH, || ingest_one_core(&i));
    let two = rate(BATCH, || ingest_two_cores(&i));
    println!("\nratios (same run, best of 5 x 0.4 s):");
    println!("  raw verify_strict      {raw:>10.0} /s");
    println!(
        "  ingest, one core       {one:>10.0} /s  = {:.2}x raw",
        one / raw
    );
    println!(
        "  ingest, two cores      {two:>10.0} /s  = {:.2}x raw",
        two / raw
    );
}

// criterion_group! defines an undocumented public function.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::bench);
}
use group::benches;

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    ratios();
}
