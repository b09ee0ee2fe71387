//! The same live records give bit-identical scores and distances, whatever
//! order they arrive in, and after a restart from the store.

use std::sync::Arc;

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use swapmesh_protocol::listing::DealKind;
use swapmesh_protocol::signed::author_of;
use swapmesh_protocol::social::{
    Confidence, Outcome, Receipt, ReceiptStatement, Review, Vouch, VouchClaim,
};
use swapmesh_protocol::{AgreementId, AuthorKey, Content, Verified, fixtures};
use swapmesh_store::{Store, StoreOptions};

use super::graph::Graph;
use super::testkit::{NOW, signed};
use super::{Computed, Trust};
use crate::clock::ManualClock;

/// Vouches, receipts and reviews among `n` keys, from `seed`.
fn records(seed: u64, n: usize) -> Vec<Verified> {
    let mut rng = StdRng::seed_from_u64(seed);
    let keys: Vec<_> = (0..n as u64).map(|i| fixtures::key(1_000 + i)).collect();
    let mut out = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        for _ in 0..rng.gen_range(0..4) {
            let j = rng.gen_range(0..n);
            if j == i {
                continue;
            }
            let confidence =
                [Confidence::Low, Confidence::Medium, Confidence::High][rng.gen_range(0..3)];
            let vouch = Vouch {
                subject: author_of(&keys[j]),
                claim: VouchClaim::KnownInPerson,
                confidence,
                note: String::new(),
            };
            out.push(signed(key, Content::Vouch(vouch)));
        }
    }
    for _ in 0..n {
        let (p, r) = (rng.gen_range(0..n), rng.gen_range(0..n));
        if p == r {
            continue;
        }
        let statement = ReceiptStatement {
            agreement: AgreementId(rng.r#gen()),
            deal: DealKind::Rent,
            provider: author_of(&keys[p]),
            receiver: author_of(&keys[r]),
            outcome: [Outcome::Completed, Outcome::Cancelled, Outcome::Resolved]
                [rng.gen_range(0..3)],
            ended_at: NOW,
            on_time: Some(rng.gen_bool(0.8)),
        };
        let receipt = Receipt {
            provider_sig: statement.sign(&keys[p]),
            receiver_sig: statement.sign(&keys[r]),
            statement,
        };
        out.push(signed(&keys[p], Content::Receipt(receipt.clone())));
        if rng.gen_bool(0.5) {
            let review = Review {
                receipt,
                rating: rng.gen_range(1..=5),
                text: String::new(),
            };
            out.push(signed(&keys[r], Content::Review(review)));
        }
    }
    out
}

fn computed(home: AuthorKey, records: &[Verified]) -> Computed {
    let mut graph = Graph::default();
    for r in records {
        graph.insert(r.id(), r.body());
    }
    Computed::new(home, graph.fold(NOW, &Default::default()))
}

/// Scores as bits, and distances.
type Fingerprint = (Vec<(AuthorKey, u64)>, Vec<(AuthorKey, u8)>);

/// What must not differ at all.
fn fingerprint(c: &Computed) -> Fingerprint {
    let scores = c
        .scores
        .keys
        .iter()
        .zip(&c.scores.values)
        .map(|(k, v)| (*k, v.to_bits()))
        .collect();
    let distances = c.distances.iter().map(|(k, d)| (*k, *d)).collect();
    (scores, distances)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn trust_is_deterministic(seed in any::<u64>(), n in 3usize..=300, shuffle in any::<u64>()) {
        let records = records(seed, n);
        let home = author_of(&fixtures::key(1_000));
        let first = fingerprint(&computed(home, &records));

        let mut shuffled = records.clone();
        shuffled.shuffle(&mut StdRng::seed_from_u64(shuffle));
        prop_assert_eq!(&first, &fingerprint(&computed(home, &shuffled)));

        // After a restart: the graph built from the store again.
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
            store.insert_batch(&shuffled, NOW).unwrap();
            store.flush_blocking().unwrap();
        }
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        let trust = Trust::new(home, Arc::new(ManualClock::at(NOW)), std::time::Duration::ZERO);
        trust.load(&store).unwrap();
        prop_assert_eq!(&first, &fingerprint(&trust.now()));
    }
}
