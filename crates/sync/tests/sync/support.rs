//! Seeded item sets and a loop that runs a session over bytes, as the node would.

use std::collections::BTreeSet;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use swapmesh_protocol::{RecordId, Timestamp};
use swapmesh_sync::{Config, Item, Outcome, Reconciler, SyncError, SyncStore};

/// A plausible creation time (November 2023).
pub(crate) const BASE: u64 = 1_700_000_000;

/// `n` random items with times in `BASE..BASE + spread`.
pub(crate) fn random_items(rng: &mut StdRng, n: usize, spread: u64) -> Vec<Item> {
    (0..n)
        .map(|_| {
            let t = BASE + rng.gen_range(0..spread.max(1));
            Item::new(Timestamp(t), RecordId(rng.r#gen()))
        })
        .collect()
}

/// Two sets sharing `common` items, with `a_only` and `b_only` of their own.
pub(crate) fn pair(
    seed: u64,
    common: usize,
    a_only: usize,
    b_only: usize,
    spread: u64,
) -> (Vec<Item>, Vec<Item>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let shared = random_items(&mut rng, common, spread);
    let mut a = shared.clone();
    a.extend(random_items(&mut rng, a_only, spread));
    let mut b = shared;
    b.extend(random_items(&mut rng, b_only, spread));
    (a, b)
}

/// What a session cost.
#[derive(Debug, Default)]
pub(crate) struct Run {
    pub(crate) outcome: Outcome,
    pub(crate) rounds: u32,
    pub(crate) first_len: usize,
    pub(crate) bytes_out: usize,
    pub(crate) bytes_in: usize,
}

/// Runs initiator (over `a`) against responder (over `b`) on wire bytes.
pub(crate) fn run(
    a: &impl SyncStore,
    b: &impl SyncStore,
    config: Config,
) -> Result<Run, SyncError> {
    let mut initiator = Reconciler::initiator(config)?;
    let mut responder = Reconciler::responder(config)?;
    let mut request = initiator.initiate_bytes(a)?;
    let mut run = Run {
        first_len: request.len(),
        ..Run::default()
    };
    loop {
        run.bytes_out += request.len();
        let response = responder
            .handle_bytes(b, &request)?
            .expect("a responder always answers");
        run.bytes_in += response.len();
        match initiator.handle_bytes(a, &response)? {
            Some(next) => request = next,
            None => break,
        }
    }
    assert!(initiator.is_done());
    run.rounds = initiator.rounds();
    run.outcome = initiator.into_outcome();
    Ok(run)
}

/// The true differences: (in `b` not `a`, in `a` not `b`), sorted.
pub(crate) fn truth(a: &[Item], b: &[Item]) -> (Vec<Item>, Vec<Item>) {
    let a: BTreeSet<Item> = a.iter().copied().collect();
    let b: BTreeSet<Item> = b.iter().copied().collect();
    (
        b.difference(&a).copied().collect(),
        a.difference(&b).copied().collect(),
    )
}
