//! Trust computed by this node, from where its owner stands: vouches, receipts
//! and reviews folded into a graph ([`graph`]), scored by personalised
//! PageRank from the own key and measured in vouch hops ([`rank`]).
//!
//! [`Trust`] keeps the graph in memory: built from the store at start, told of
//! every trust record the node stores (the ingest path and its own publishes),
//! and computed again from scratch when it changed, at most every
//! `trust_interval`. Readers get the last computation, shared.

pub(crate) mod graph;
pub(crate) mod rank;
#[cfg(test)]
mod sybil;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use swapmesh_protocol::{AuthorKey, RecordBody, RecordKind};
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
}

impl Computed {
    fn new(me: AuthorKey, folded: Folded) -> Computed {
        let edges = folded.edges();
        let scores = rank(&edges, Teleport::To(me));
        let mut vouches: BTreeMap<AuthorKey, Vec<AuthorKey>> = BTreeMap::new();
        for (author, subject) in folded.vouches.keys() {
            vouches.entry(*author).or_default().push(*subject);
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
            graph.insert(&record.body);
        }
        let mut state = self.lock();
        state.graph = graph;
        state.dirty = true;
        Ok(())
    }

    /// A record was stored (new, or a newer version at its address).
    pub(crate) fn observe(&self, body: &RecordBody) {
        if !KINDS.contains(&body.kind()) {
            return;
        }
        let mut state = self.lock();
        if state.graph.insert(body) {
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
                state.graph.fold(self.clock.now(), &BTreeSet::new()),
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
        let mut vouched_by: Vec<AuthorKey> = folded
            .vouches
            .keys()
            .filter(|(from, to)| {
                to == author && *from != self.me && folded.vouches.contains_key(&(self.me, *from))
            })
            .map(|(from, _)| *from)
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

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("trust lock")
    }
}
