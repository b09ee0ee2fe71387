//! Scores and distances over the trust [`Edges`]: personalised PageRank from
//! one key, and hops over vouches.
//!
//! Personalised PageRank (damping 0.85): a walk that starts at the own key,
//! follows an out-edge with probability proportional to its weight, and jumps
//! home with probability 0.15 at each step (and always from a key with no
//! out-edges). A key's score is the share of time the walk spends there. Trust
//! enters a crowd of fresh keys only through the few edges honest keys give it
//! (SybilRank's attack edges), so a crowd that grows shares the same inflow
//! among more keys; a key's weight is split among its out-edges, so more
//! vouches lend no more.
//!
//! Deterministic to the bit: keys sorted, edges sorted, sums in one order on
//! one thread, never a `HashMap` iteration. At most [`MAX_ITERATIONS`], ending
//! early when the L1 change is under [`TOLERANCE`].

use std::collections::{BTreeMap, VecDeque};

use swapmesh_protocol::AuthorKey;

use super::graph::Edges;

/// The walk's damping: the chance to follow an edge rather than jump home.
pub const DAMPING: f64 = 0.85;
/// Iterations at most.
pub const MAX_ITERATIONS: usize = 20;
/// The L1 change under which iterating stops.
pub const TOLERANCE: f64 = 1e-6;
/// Vouch hops counted; beyond them a distance is unknown.
pub const MAX_DISTANCE: u8 = 6;

/// Where the walk jumps to.
#[derive(Debug, Clone, Copy)]
pub enum Teleport {
    /// Always home: personalised PageRank.
    To(AuthorKey),
    /// Anywhere, uniformly: global PageRank (for comparison only).
    Uniform,
}

/// Scores of every key in the graph (and home), summing to 1.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scores {
    /// Every key, sorted.
    pub keys: Vec<AuthorKey>,
    /// Their scores, in the same order.
    pub values: Vec<f64>,
    /// Iterations run.
    pub iterations: usize,
}

impl Scores {
    /// The score of `key` (0 when it is not in the graph).
    pub fn of(&self, key: &AuthorKey) -> f64 {
        self.keys.binary_search(key).map_or(0.0, |i| self.values[i])
    }

    /// `key`'s score in parts per million, rounded.
    pub fn ppm(&self, key: &AuthorKey) -> u32 {
        // Scores are in [0, 1]: the cast cannot overflow.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let ppm = (self.of(key) * 1e6).round() as u32;
        ppm
    }
}

/// PageRank over `edges` with `teleport`.
pub fn rank(edges: &Edges, teleport: Teleport) -> Scores {
    let mut keys: Vec<AuthorKey> = edges
        .iter()
        .flat_map(|(from, out)| std::iter::once(*from).chain(out.iter().map(|(to, _)| *to)))
        .collect();
    if let Teleport::To(home) = teleport {
        keys.push(home);
    }
    keys.sort_unstable();
    keys.dedup();
    let n = keys.len();
    if n == 0 {
        return Scores::default();
    }
    let index = |key: &AuthorKey| keys.binary_search(key).expect("every key is indexed");
    // Out-edges as (to, share of the author's weight), in key order.
    let out: Vec<Vec<(usize, f64)>> = keys
        .iter()
        .map(|key| {
            let edges = edges.get(key).map_or(&[][..], Vec::as_slice);
            let total: u32 = edges.iter().map(|(_, w)| w).sum();
            edges
                .iter()
                .map(|(to, w)| (index(to), f64::from(*w) / f64::from(total)))
                .collect()
        })
        .collect();
    #[allow(clippy::cast_precision_loss)]
    let uniform = 1.0 / n as f64;
    let start: Vec<f64> = match teleport {
        Teleport::To(home) => {
            let mut v = vec![0.0; n];
            v[index(&home)] = 1.0;
            v
        }
        Teleport::Uniform => vec![uniform; n],
    };
    let mut scores = start.clone();
    let mut iterations = 0;
    while iterations < MAX_ITERATIONS {
        iterations += 1;
        let mut next = vec![0.0; n];
        let mut dangling = 0.0;
        for (i, edges) in out.iter().enumerate() {
            if edges.is_empty() {
                dangling += scores[i];
                continue;
            }
            let flow = DAMPING * scores[i];
            for (j, share) in edges {
                next[*j] += flow * share;
            }
        }
        // Teleport and dangling mass go where the walk restarts.
        let restart = (1.0 - DAMPING) + DAMPING * dangling;
        for (value, s) in next.iter_mut().zip(&start) {
            *value += restart * s;
        }
        let change: f64 = next.iter().zip(&scores).map(|(a, b)| (a - b).abs()).sum();
        scores = next;
        if change < TOLERANCE {
            break;
        }
    }
    Scores {
        keys,
        values: scores,
        iterations,
    }
}

/// Hops from `home` over `vouches` (author → subjects), up to [`MAX_DISTANCE`].
pub fn distances(
    home: AuthorKey,
    vouches: &BTreeMap<AuthorKey, Vec<AuthorKey>>,
) -> BTreeMap<AuthorKey, u8> {
    let mut found = BTreeMap::from([(home, 0u8)]);
    let mut queue = VecDeque::from([home]);
    while let Some(key) = queue.pop_front() {
        let hops = found[&key];
        if hops == MAX_DISTANCE {
            continue;
        }
        for next in vouches.get(&key).into_iter().flatten() {
            if !found.contains_key(next) {
                found.insert(*next, hops + 1);
                queue.push_back(*next);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> AuthorKey {
        AuthorKey([n; 32])
    }

    #[test]
    fn scores_sum_to_one_and_flow_from_home() {
        let mut edges = Edges::new();
        edges.insert(key(0), vec![(key(1), 3), (key(2), 1)]);
        edges.insert(key(1), vec![(key(3), 2)]);
        let scores = rank(&edges, Teleport::To(key(0)));
        let total: f64 = scores.values.iter().sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
        assert!(scores.of(&key(0)) > scores.of(&key(1)));
        assert!(scores.of(&key(1)) > scores.of(&key(2)), "weight 3 beats 1");
        assert_eq!(scores.of(&key(9)), 0.0);
        assert!(scores.iterations <= MAX_ITERATIONS);
    }

    #[test]
    fn a_lonely_home_holds_everything() {
        let scores = rank(&Edges::new(), Teleport::To(key(7)));
        assert_eq!(scores.ppm(&key(7)), 1_000_000);
    }

    #[test]
    fn distances_stop_at_six_hops() {
        let chain: BTreeMap<AuthorKey, Vec<AuthorKey>> =
            (0..10).map(|n| (key(n), vec![key(n + 1)])).collect();
        let found = distances(key(0), &chain);
        assert_eq!(found.get(&key(6)), Some(&6));
        assert_eq!(found.get(&key(7)), None);
    }
}
