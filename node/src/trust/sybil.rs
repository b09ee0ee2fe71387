//! A Sybil crowd against the trust score: pure, over generated graphs.
//!
//! Honest: 30 keys, each vouching for 3 others, and 30 completed rentals
//! between random pairs, reviewed 3 to 5. Crowd: 120 keys, each vouching high
//! for 10 others of the crowd, 240 rentals among them reviewed 5, and 20
//! vouches from the crowd to honest keys. The attack: an honest key at distance
//! 1 and one at distance 2 each vouch high for a crowd key, so trust does flow
//! into the crowd.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use swapmesh_protocol::social::Outcome;
use swapmesh_protocol::{AgreementId, AuthorKey};

use super::graph::{Deal, Folded};
use super::rank::{Teleport, distances, rank};

struct World {
    home: AuthorKey,
    honest: Vec<AuthorKey>,
    crowd: Vec<AuthorKey>,
    /// The two crowd keys honest keys vouch for.
    entries: [AuthorKey; 2],
    folded: Folded,
}

fn fresh_key(rng: &mut StdRng) -> AuthorKey {
    AuthorKey(rng.r#gen())
}

/// `count` distinct keys of `from`, none of them `not`.
fn pick(rng: &mut StdRng, from: &[AuthorKey], not: AuthorKey, count: usize) -> Vec<AuthorKey> {
    let others: Vec<AuthorKey> = from.iter().copied().filter(|k| *k != not).collect();
    others.choose_multiple(rng, count).copied().collect()
}

/// Rentals between random pairs of `among`, each reviewed by both parties with
/// a rating `rating` gives.
fn rentals(
    rng: &mut StdRng,
    folded: &mut Folded,
    among: &[AuthorKey],
    count: usize,
    rating: impl Fn(&mut StdRng) -> u8,
) {
    for _ in 0..count {
        let pair = pick(rng, among, AuthorKey([0; 32]), 2);
        let deal = Deal {
            agreement: AgreementId(rng.r#gen()),
            provider: pair[0],
            receiver: pair[1],
            outcome: Outcome::Completed,
            on_time: Some(true),
        };
        folded.deals.insert(deal.agreement, deal);
        for reviewer in pair {
            let r = rating(rng);
            folded.reviews.insert((deal.agreement, reviewer), r);
        }
    }
}

/// The world of `seed` with a crowd `scale` times the base size.
fn world(seed: u64, scale: usize) -> World {
    let mut rng = StdRng::seed_from_u64(seed);
    let honest: Vec<AuthorKey> = (0..30).map(|_| fresh_key(&mut rng)).collect();
    let home = honest[0];
    let mut folded = Folded::default();
    for key in &honest {
        for subject in pick(&mut rng, &honest, *key, 3) {
            let weight = rng.gen_range(1..=3);
            folded.vouches.insert((*key, subject), weight);
        }
    }
    rentals(&mut rng, &mut folded, &honest, 30, |r| r.gen_range(3..=5));

    // The crowd is built from its own generator, so that a larger crowd on the
    // same seed leaves the honest part as it was.
    let mut crowd_rng = StdRng::seed_from_u64(seed ^ 0xC0FFEE);
    let crowd: Vec<AuthorKey> = (0..120 * scale)
        .map(|_| fresh_key(&mut crowd_rng))
        .collect();
    for key in &crowd {
        for subject in pick(&mut crowd_rng, &crowd, *key, 10) {
            folded.vouches.insert((*key, subject), 3);
        }
    }
    rentals(&mut crowd_rng, &mut folded, &crowd, 240 * scale, |_| 5);
    for _ in 0..20 * scale {
        let from = crowd[crowd_rng.gen_range(0..crowd.len())];
        let to = honest[crowd_rng.gen_range(1..honest.len())];
        folded.vouches.insert((from, to), 3);
    }

    // The attack edges: one honest key at distance 1, one at distance 2.
    let hops = distances(home, &vouch_lists(&folded));
    let at = |d: u8| {
        *honest
            .iter()
            .find(|k| hops.get(k) == Some(&d))
            .expect("an honest key at that distance")
    };
    let entries = [crowd[0], crowd[1]];
    folded.vouches.insert((at(1), entries[0]), 3);
    folded.vouches.insert((at(2), entries[1]), 3);
    World {
        home,
        honest,
        crowd,
        entries,
        folded,
    }
}

fn vouch_lists(folded: &Folded) -> BTreeMap<AuthorKey, Vec<AuthorKey>> {
    let mut lists: BTreeMap<AuthorKey, Vec<AuthorKey>> = BTreeMap::new();
    for (author, subject) in folded.vouches.keys() {
        lists.entry(*author).or_default().push(*subject);
    }
    lists
}

/// The crowd's share of all score.
fn crowd_share(world: &World, teleport: Teleport) -> f64 {
    let scores = rank(&world.folded.edges(), teleport);
    world.crowd.iter().map(|k| scores.of(k)).sum()
}

#[test]
fn sybil_crowd_gains_nothing_by_growing() {
    for seed in 0..10 {
        let w = world(seed, 1);
        let scores = rank(&w.folded.edges(), Teleport::To(w.home));
        let hops = distances(w.home, &vouch_lists(&w.folded));

        // (a) Below every honest key within distance 2, but for the two entries.
        let lowest_near = w
            .honest
            .iter()
            .filter(|k| hops.get(k).is_some_and(|d| *d <= 2))
            .map(|k| scores.of(k))
            .fold(f64::INFINITY, f64::min);
        for key in w.crowd.iter().filter(|k| !w.entries.contains(k)) {
            assert!(
                scores.of(key) < lowest_near,
                "seed {seed}: a crowd key scores {} against {lowest_near}",
                scores.of(key)
            );
        }
        // Trust does flow into the crowd: the test tests something.
        assert!(scores.of(&w.entries[0]) > 0.0, "seed {seed}");

        // (b) 80% of the keys, under 30% of the score.
        let share = crowd_share(&w, Teleport::To(w.home));
        assert!(share < 0.30, "seed {seed}: the crowd holds {share}");

        // (c) Twice the crowd and its deals: under 15% more.
        let doubled = crowd_share(&world(seed, 2), Teleport::To(w.home));
        assert!(
            doubled < share * 1.15,
            "seed {seed}: {share} grew to {doubled}"
        );
    }
}

#[test]
fn global_pagerank_lets_the_crowd_rise() {
    for seed in 0..10 {
        let w = world(seed, 1);
        let share = crowd_share(&w, Teleport::Uniform);
        assert!(
            share > 0.50,
            "seed {seed}: with a uniform teleport the crowd holds only {share}"
        );
    }
}
