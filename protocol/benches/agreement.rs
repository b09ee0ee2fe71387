//! Agreement events against the raw limit: `verify_event` + `apply` per event of a
//! 10-event rental (after the proposal, whose listing copy costs a second
//! signature check), next to bare `verify_strict` over the same signed bytes, in
//! the same run. The ratio is printed at the end; the target is ≥ 0.8×.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use ed25519_dalek::VerifyingKey;
use swapmesh_protocol::agreement::event::EVENT_DOMAIN;
use swapmesh_protocol::agreement::{
    Action, Agreement, Applied, Deal, Leg, SignedEvent, apply, verify_event_with,
};
use swapmesh_protocol::fixtures::chain::{Chain, LISTED, Side, eur};
use swapmesh_protocol::listing::DealKind;
use swapmesh_protocol::time::{DAY, Timestamp};

const T: Timestamp = Timestamp(LISTED.0 + 3600);

/// The ten events of a rental with two counters and an extension, signed; the
/// state after the proposal; and each event's key and signed message for the raw
/// check.
struct Inputs {
    after_proposal: Agreement,
    events: Vec<SignedEvent>,
    raw: Vec<(VerifyingKey, Vec<u8>, ed25519_dalek::Signature)>,
}

fn inputs() -> Inputs {
    let mut chain = Chain::new();
    let terms = chain.terms(DealKind::Rent, T);
    chain
        .act(Side::Receiver, chain.proposal(terms.clone()), T)
        .unwrap();
    let mut counter = terms;
    if let Deal::Rent { price, .. } = &mut counter.deal {
        price.money = eur(450);
    }
    chain
        .act(
            Side::Provider,
            Action::Counter {
                terms: counter.clone(),
            },
            T.plus(60),
        )
        .unwrap();
    if let Deal::Rent { price, .. } = &mut counter.deal {
        price.money = eur(475);
    }
    chain
        .act(
            Side::Receiver,
            Action::Counter {
                terms: counter.clone(),
            },
            T.plus(120),
        )
        .unwrap();
    chain
        .act(
            Side::Provider,
            Action::Accept {
                terms: counter.hash(),
            },
            T.plus(180),
        )
        .unwrap();
    let start = T.plus(DAY);
    let confirm = |of| Action::Confirm {
        of,
        deposit_returned: None,
    };
    let h = chain
        .act(
            Side::Provider,
            Action::Handover { leg: Leg::Provider },
            start,
        )
        .unwrap();
    chain.act(Side::Receiver, confirm(h.id()), start).unwrap();
    let due = chain.agreement().due.unwrap().plus(DAY);
    let e = chain
        .act(Side::Receiver, Action::Extend { due }, start.plus(3600))
        .unwrap();
    chain
        .act(Side::Provider, confirm(e.id()), start.plus(3600))
        .unwrap();
    let r = chain
        .act(Side::Receiver, Action::Return { leg: Leg::Provider }, due)
        .unwrap();
    chain
        .act(
            Side::Provider,
            Action::Confirm {
                of: r.id(),
                deposit_returned: Some(eur(5000)),
            },
            due,
        )
        .unwrap();
    assert_eq!(chain.events.len(), 10);
    let after_proposal = swapmesh_protocol::agreement::replay(&chain.events[..1])
        .unwrap()
        .unwrap();
    let raw = chain.events[1..]
        .iter()
        .map(|e| {
            let key = VerifyingKey::from_bytes(&e.body().signer.0).unwrap();
            let mut msg = EVENT_DOMAIN.to_vec();
            msg.extend_from_slice(&e.signed().body);
            (key, msg, e.signed().sig)
        })
        .collect();
    Inputs {
        after_proposal,
        events: chain.events.iter().map(|e| e.signed().clone()).collect(),
        raw,
    }
}

/// The nine events after the proposal: each verified (with the parties' keys
/// decompressed once) and applied in turn.
fn verify_and_apply(i: &Inputs) {
    let mut state = i.after_proposal.clone();
    // As the node does: the parties' keys decompressed once per agreement.
    let keys = state.party_keys().unwrap();
    for signed in &i.events[1..] {
        let event = verify_event_with(black_box(signed.clone()), &keys).unwrap();
        match apply(Some(&state), &event, event.body().at).unwrap() {
            Applied::Changed(next) => state = next,
            Applied::AlreadyInChain => unreachable!(),
        }
    }
    black_box(state);
}

/// Bare `verify_strict` of the same nine signed messages.
fn raw_verify(i: &Inputs) {
    for (key, msg, sig) in &i.raw {
        key.verify_strict(black_box(msg), sig).unwrap();
    }
}

fn bench(c: &mut Criterion) {
    let i = inputs();
    let mut g = c.benchmark_group("agreement");
    g.throughput(Throughput::Elements(9));
    g.bench_function("raw_verify_strict_9_events", |b| b.iter(|| raw_verify(&i)));
    g.bench_function("verify_event_and_apply_9_events", |b| {
        b.iter(|| verify_and_apply(&i))
    });
    g.finish();
}

/// Events per second of `f` over `per_call` events, best of several rounds.
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
    let raw = rate(9, || raw_verify(&i));
    let ours = rate(9, || verify_and_apply(&i));
    println!("\nratios (same run, best of 5 x 0.4 s):");
    println!("  raw verify_strict          {raw:>10.0} events/s");
    println!(
        "  verify_event + apply       {ours:>10.0} events/s  = {:.2}x raw",
        ours / raw
    );
}

// criterion_group! defines an undocumented public function.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::bench);
}

fn main() {
    group::benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
    ratios();
}
