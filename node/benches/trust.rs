//! Trust over a large graph: one full computation (personalised PageRank from
//! scratch, up to 20 iterations) over 100,000 edges among 10,000 keys, set
//! against one pass over the same edges in the same run (summing each key's
//! out-weight, the least any computation must read), and the memory the
//! computation takes at its peak (the rise of the resident size over one
//! run, with the kernel's peak reset first: `/proc/self/clear_refs`).
//!
//! Run with `cargo bench -p swapmesh-node --bench trust`; `TRUST_BENCH_KEYS`
//! and `TRUST_BENCH_EDGES` change the size.

use std::hint::black_box;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use swapmesh_node::trust::graph::Edges;
use swapmesh_node::trust::rank::{Teleport, distances, rank};
use swapmesh_protocol::AuthorKey;

mod support;
use support::status_kib;

/// Resets the peak resident size (`VmHWM`) to the current one.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let keys = env("TRUST_BENCH_KEYS", 10_000);
    let edge_count = env("TRUST_BENCH_EDGES", 100_000);
    let mut rng = StdRng::seed_from_u64(25);
    let all: Vec<AuthorKey> = (0..keys).map(|_| AuthorKey(rng.r#gen())).collect();
    let mut edges = Edges::new();
    for _ in 0..edge_count {
        let from = all[rng.gen_range(0..keys)];
        let to = all[rng.gen_range(0..keys)];
        if from != to {
            edges
                .entry(from)
                .or_default()
                .push((to, rng.gen_range(1..=6)));
        }
    }
    for out in edges.values_mut() {
        out.sort_by_key(|e| e.0);
        out.dedup_by_key(|e| e.0);
    }
    let edge_total: usize = edges.values().map(Vec::len).sum();
    let home = all[0];
    let vouches: std::collections::BTreeMap<AuthorKey, Vec<AuthorKey>> = edges
        .iter()
        .map(|(k, out)| (*k, out.iter().map(|e| e.0).collect()))
        .collect();

    // One pass over the edges: each key's total out-weight.
    let runs = 5;
    let started = Instant::now();
    for _ in 0..runs {
        let mut totals = 0u64;
        for out in edges.values() {
            totals += out.iter().map(|e| u64::from(e.1)).sum::<u64>();
        }
        black_box(totals);
    }
    let pass = started.elapsed() / runs;

    // The memory of one computation: the peak resident size over it.
    reset_peak();
    let before = status_kib("VmRSS");
    black_box((rank(&edges, Teleport::To(home)), distances(home, &vouches)));
    let peak_kib = status_kib("VmHWM").saturating_sub(before);

    // The full computation: scores and distances.
    let started = Instant::now();
    let mut iterations = 0;
    for _ in 0..runs {
        let scores = rank(black_box(&edges), Teleport::To(home));
        let hops = distances(home, &vouches);
        iterations = scores.iterations;
        black_box((scores, hops));
    }
    let full = started.elapsed() / runs;
    let peak = peak_kib * 1024;

    println!("trust over {keys} keys and {edge_total} edges, mean of {runs} runs:");
    println!("  one pass over the edges    {pass:>12.3?}");
    println!("  full computation           {full:>12.3?}  ({iterations} iterations)");
    println!(
        "  ratio                      {:>12.1}×  (per iteration: {:.1}×)",
        full.as_secs_f64() / pass.as_secs_f64(),
        full.as_secs_f64() / pass.as_secs_f64() / iterations.max(1) as f64
    );
    println!(
        "  peak memory of one run     {:>9.1} MiB  ({:.0} bytes an edge, resident)",
        peak as f64 / (1024.0 * 1024.0),
        peak as f64 / edge_total as f64
    );
}
