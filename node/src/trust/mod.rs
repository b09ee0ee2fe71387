//! Trust computed by this node, from where its owner stands: vouches, receipts
//! and reviews folded into a graph ([`graph`]), scored by personalised
//! PageRank from the own key and measured in vouch hops ([`rank`]).
//!
//! [`Trust`] keeps the graph in memory: built from the store at start, told of
//! every trust record the node stores (the ingest path and its own publishes),
//! and computed again from scratch when it changed, at most every
//! `trust_interval`. Readers get the last computation, shared.

#[cfg(test)]
mod determinism;
pub mod graph;
pub mod rank;
#[cfg(test)]
mod sybil;
#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use swapmesh_protocol::{AuthorKey, RecordBody, RecordId, RecordKind};
use swapmesh_store::Store;

use self::graph::{Folded, Graph};
use self::rank::{Scores, Teleport, distances, rank};
use crate::clock::Clock;

/// Record kinds the graph reads.
pub(crate) const KINDS: [RecordKind; 3] =
    [RecordKind::Vouch, RecordKind::Receipt, RecordKind::Review];

/// Distance within which other people's deals and reviews count as "known".
pub(crate) const KNOWN_DISTANCE: u8 = 2;

/// One computation: scores, distances and what they were computed from.
#[derive(Debug, Default)]
pub(crate) struct Computed {
    pub(crate) scores: Scores,
    pub(crate) distances: BTreeMap<AuthorKey, u8>,
    pub(crate) folded: Folded,
    /// Deals by party: agreement ids, in order.
    pub(crate) deals_of: BTreeMap<AuthorKey, Vec<swapmesh_protocol::AgreementId>>,
    /// Who vouches for each key, in key order.
    pub(crate) vouchers_of: BTreeMap<AuthorKey, Vec<AuthorKey>>,
}

impl Computed {
    fn new(me: AuthorKey, folded: Folded) -> Computed {
        let edges = folded.edges();
        let scores = rank(&edges, Teleport::To(me));
        let mut vouches: BTreeMap<AuthorKey, Vec<AuthorKey>> = BTreeMap::new();
        let mut vouchers_of: BTreeMap<AuthorKey, Vec<AuthorKey>> = BTreeMap::new();
        for (author, subject) in folded.vouches.keys() {
            vouches.entry(*author).or_default().push(*subject);
            vouchers_of.entry(*subject).or_default().push(*author);
        }
        let distances = distances(me, &vouches);
        let mut deals_of: BTreeMap<AuthorKey, Vec<_>> = BTreeMap::new();
        for deal in folded.deals.values() {
            deals_of
                .entry(deal.provider)
                .or_default()
                .push(deal.agreement);
            if deal.receiver != deal.provider {
                deals_of
                    .entry(deal.receiver)
                    .or_default()
                    .push(deal.agreement);
            }
        }
        Computed {
            scores,
            distances,
            folded,
            deals_of,
            vouchers_of,
        }
    }

    /// Hops from us over vouches, if within the limit.
    pub(crate) fn distance(&self, key: &AuthorKey) -> Option<u8> {
        self.distances.get(key).copied()
    }

    fn known(&self, key: &AuthorKey) -> bool {
        self.distance(key).is_some_and(|d| d <= KNOWN_DISTANCE)
    }
}

/// What the node says of one author's trust.
#[derive(Debug, Clone, PartialEq)]
pub struct Standing {
    /// Parts per million of all trust, from where we stand.
    pub score: u32,
    /// Vouch hops from us (`None`: beyond 6, or none).
    pub distance: Option<u8>,
    /// Up to 3 people we vouch for who vouch for them, highest score first.
    pub vouched_by: Vec<AuthorKey>,
    /// Their agreements with receipts we hold.
    pub deals: u32,
    /// Of those, the ones whose other party is within distance 2 of us.
    pub deals_known: u32,
    /// Reviews of them by authors within distance 2 of us: count and mean.
    pub rating_known: (u32, Option<f64>),
}

/// The node's trust service.
#[derive(Debug)]
pub(crate) struct Trust {
    me: AuthorKey,
    clock: Arc<dyn Clock>,
    interval: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    graph: Graph,
    blocked: BTreeSet<AuthorKey>,
    /// The graph changed since `computed`.
    dirty: bool,
    computed: Arc<Computed>,
    computed_at: Option<Instant>,
}

impl Trust {
    /// The trust of `me`, recomputed at most every `interval`.
    pub(crate) fn new(me: AuthorKey, clock: Arc<dyn Clock>, interval: Duration) -> Self {
        Self {
            me,
            clock,
            interval,
            state: Mutex::new(State {
                dirty: true,
                ..State::default()
            }),
        }
    }

    /// Builds the graph again from what the store holds.
    pub(crate) fn load(&self, store: &Store) -> Result<(), swapmesh_store::StoreError> {
        let records = store.current_of_kinds(&KINDS)?;
        let mut graph = Graph::default();
        for record in &records {
            graph.insert(record.id, &record.body);
        }
        let mut state = self.lock();
        state.graph = graph;
        state.dirty = true;
        Ok(())
    }

    /// A record was stored (new, or a newer version at its address).
    pub(crate) fn observe(&self, id: RecordId, body: &RecordBody) {
        if !KINDS.contains(&body.kind()) {
            return;
        }
        let mut state = self.lock();
        if state.graph.insert(id, body) {
            state.dirty = true;
        }
    }

    /// Drops what expired at the clock's now.
    pub(crate) fn sweep(&self) {
        let now = self.clock.now();
        let mut state = self.lock();
        if state.graph.expire(now) {
            state.dirty = true;
        }
    }

    /// Sets the authors this node blocks: their records lend nothing.
    pub(crate) fn set_blocked(&self, blocked: BTreeSet<AuthorKey>) {
        let mut state = self.lock();
        if state.blocked != blocked {
            state.blocked = blocked;
            state.dirty = true;
        }
    }

    /// The last computation, computed again first if the graph changed and
    /// the interval has passed.
    pub(crate) fn current(&self) -> Arc<Computed> {
        self.compute(false)
    }

    /// Computes now if anything changed, whatever the interval.
    pub(crate) fn now(&self) -> Arc<Computed> {
        self.compute(true)
    }

    fn compute(&self, force: bool) -> Arc<Computed> {
        let (folded, computed) = {
            let state = self.lock();
            let due = state
                .computed_at
                .is_none_or(|at| at.elapsed() >= self.interval);
            if !state.dirty || !(force || due) {
                return state.computed.clone();
            }
            (
                state.graph.fold(self.clock.now(), &state.blocked),
                state.computed.clone(),
            )
        };
        // Computed outside the lock: readers meanwhile get the previous one.
        let fresh = Arc::new(Computed::new(self.me, folded));
        let mut state = self.lock();
        if Arc::ptr_eq(&state.computed, &computed) {
            state.computed = fresh.clone();
            state.computed_at = Some(Instant::now());
            state.dirty = false;
        }
        state.computed.clone()
    }

    /// `author`'s standing in `computed`.
    pub(crate) fn standing(&self, computed: &Computed, author: &AuthorKey) -> Standing {
        let folded = &computed.folded;
        let mut vouched_by: Vec<AuthorKey> = computed
            .vouchers_of
            .get(author)
            .into_iter()
            .flatten()
            .filter(|from| **from != self.me && folded.vouches.contains_key(&(self.me, **from)))
            .copied()
            .collect();
        vouched_by.sort_by(|a, b| {
            computed
                .scores
                .of(b)
                .total_cmp(&computed.scores.of(a))
                .then(a.cmp(b))
        });
        vouched_by.truncate(3);
        let mut deals = 0;
        let mut deals_known = 0;
        let mut ratings = Vec::new();
        for agreement in computed.deals_of.get(author).into_iter().flatten() {
            let deal = &folded.deals[agreement];
            deals += 1;
            let Some(other) = deal.other(author) else {
                continue;
            };
            if computed.known(&other) {
                deals_known += 1;
            }
            if let Some(rating) = folded.reviews.get(&(*agreement, other))
                && computed.known(&other)
            {
                ratings.push(f64::from(*rating));
            }
        }
        #[allow(clippy::cast_precision_loss)]
        let mean =
            (!ratings.is_empty()).then(|| ratings.iter().sum::<f64>() / ratings.len() as f64);
        Standing {
            score: computed.scores.ppm(author),
            distance: computed.distance(author),
            vouched_by,
            deals,
            deals_known,
            rating_known: (u32::try_from(ratings.len()).unwrap_or(u32::MAX), mean),
        }
    }

    /// Why `author` stands where they do: the shortest vouch paths to them,
    /// and each of their deals and reviews, counted as known or not.
    pub(crate) fn explain(&self, computed: &Computed, author: &AuthorKey) -> Explanation {
        let folded = &computed.folded;
        let mut deals = Vec::new();
        let mut reviews = Vec::new();
        for agreement in computed.deals_of.get(author).into_iter().flatten() {
            let deal = folded.deals[agreement];
            let Some(other) = deal.other(author) else {
                continue;
            };
            deals.push(DealSeen {
                deal,
                other,
                other_distance: computed.distance(&other),
            });
            if let Some(rating) = folded.reviews.get(&(*agreement, other)) {
                reviews.push(ReviewSeen {
                    agreement: *agreement,
                    reviewer: other,
                    rating: *rating,
                    reviewer_distance: computed.distance(&other),
                });
            }
        }
        Explanation {
            paths: shortest_paths(self.me, *author, folded, &computed.distances, 3),
            deals,
            reviews,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("trust lock")
    }
}

/// One of someone's deals, and who with.
#[derive(Debug, Clone)]
pub struct DealSeen {
    /// The deal.
    pub deal: graph::Deal,
    /// The other party.
    pub other: AuthorKey,
    /// Their vouch distance from us.
    pub other_distance: Option<u8>,
}

/// A review of someone, and who wrote it.
#[derive(Debug, Clone)]
pub struct ReviewSeen {
    /// The agreement reviewed.
    pub agreement: swapmesh_protocol::AgreementId,
    /// Who reviewed.
    pub reviewer: AuthorKey,
    /// 1 to 5.
    pub rating: u8,
    /// The reviewer's vouch distance from us.
    pub reviewer_distance: Option<u8>,
}

/// Why someone stands where they do.
#[derive(Debug, Clone, Default)]
pub struct Explanation {
    /// Up to 3 shortest vouch paths from us, each from the first hop to them.
    pub paths: Vec<Vec<AuthorKey>>,
    /// Their deals.
    pub deals: Vec<DealSeen>,
    /// Reviews of them.
    pub reviews: Vec<ReviewSeen>,
}

/// Up to `most` shortest vouch paths from `me` to `to` (without `me`), the
/// lowest keys first at each hop.
fn shortest_paths(
    me: AuthorKey,
    to: AuthorKey,
    folded: &Folded,
    distances: &BTreeMap<AuthorKey, u8>,
    most: usize,
) -> Vec<Vec<AuthorKey>> {
    let Some(&hops) = distances.get(&to) else {
        return Vec::new();
    };
    if hops == 0 {
        return Vec::new();
    }
    // Who vouches for whom, read backwards, over keys one hop closer.
    let mut back: BTreeMap<AuthorKey, Vec<AuthorKey>> = BTreeMap::new();
    for (author, subject) in folded.vouches.keys() {
        if let (Some(a), Some(s)) = (distances.get(author), distances.get(subject))
            && *a + 1 == *s
        {
            back.entry(*subject).or_default().push(*author);
        }
    }
    let mut paths = Vec::new();
    let mut stack = vec![vec![to]];
    while let Some(path) = stack.pop() {
        if paths.len() == most {
            break;
        }
        let head = path[path.len() - 1];
        if head == me {
            let mut path = path;
            path.pop();
            path.reverse();
            paths.push(path);
            continue;
        }
        // Pushed in reverse so the lowest key is explored first.
        for prev in back.get(&head).into_iter().flatten().rev() {
            let mut longer = path.clone();
            longer.push(*prev);
            stack.push(longer);
        }
    }
    paths
}
