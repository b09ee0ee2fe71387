//! [`Graph`]: what vouches, receipts and reviews say about who trusts whom,
//! folded into weighted edges.
//!
//! The graph keeps one contribution per record address `(author, kind, d)`, so
//! a newer version replaces an older one and an expired record is dropped by
//! its address. Edges are folded from the live contributions on demand, in key
//! order: the same live records give the same edges whatever order they came
//! in.
//!
//! An edge a→b weighs, capped at [`MAX_PAIR_WEIGHT`]:
//!
//! - a's vouch for b: low 1, medium 2, high 3 (revoked: nothing);
//! - plus, for each agreement between them (once per agreement id, known from
//!   a receipt or from the receipt inside a review): a's review of b if we hold
//!   it (rating 5 → 3, 4 → 2, 3 → 1, else 0), else the outcome (completed 2,
//!   or 1 when a return came late; resolved 1; cancelled 0).
//!
//! An author keeps at most [`MAX_OUT_EDGES`] out-edges: the heaviest, then the
//! lowest keys.

use std::collections::{BTreeMap, BTreeSet};

use swapmesh_protocol::social::{Confidence, Outcome, ReceiptStatement};
use swapmesh_protocol::{
    AgreementId, AuthorKey, Content, RecordBody, RecordId, RecordKind, Timestamp, Version,
    supersedes,
};

/// The most an edge weighs.
pub(crate) const MAX_PAIR_WEIGHT: u32 = 6;
/// Out-edges kept per author.
pub(crate) const MAX_OUT_EDGES: usize = 1000;

/// A record's address, as the graph keys it.
type Address = (AuthorKey, RecordKind, String);

/// What one live record says.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Says {
    /// Its author vouches for `subject` with this weight (1–3).
    Vouch { subject: AuthorKey, weight: u32 },
    /// An agreement ended so.
    Deal(Deal),
    /// Its author reviewed the other party of `deal`.
    Review { deal: Deal, rating: u8 },
}

/// One agreement between two parties, and how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deal {
    /// The agreement.
    pub agreement: AgreementId,
    /// Who provided the thing.
    pub provider: AuthorKey,
    /// Who received it.
    pub receiver: AuthorKey,
    /// How it ended.
    pub outcome: Outcome,
    /// Whether the last return was on time, when there was one.
    pub on_time: Option<bool>,
}

impl Deal {
    fn of(statement: &ReceiptStatement) -> Deal {
        Deal {
            agreement: statement.agreement,
            provider: statement.provider,
            receiver: statement.receiver,
            outcome: statement.outcome,
            on_time: statement.on_time,
        }
    }

    /// The other party, if `who` is one.
    pub fn other(&self, who: &AuthorKey) -> Option<AuthorKey> {
        if *who == self.provider {
            Some(self.receiver)
        } else if *who == self.receiver {
            Some(self.provider)
        } else {
            None
        }
    }

    /// What the outcome alone is worth to an edge.
    pub fn outcome_weight(&self) -> u32 {
        match self.outcome {
            Outcome::Completed if self.on_time == Some(false) => 1,
            Outcome::Completed => 2,
            Outcome::Resolved => 1,
            Outcome::Cancelled => 0,
        }
    }
}

/// What a review's rating is worth to an edge.
pub(crate) fn rating_weight(rating: u8) -> u32 {
    match rating {
        5 => 3,
        4 => 2,
        3 => 1,
        _ => 0,
    }
}

/// What a vouch's confidence is worth (`None`: revoked).
pub(crate) fn confidence_weight(confidence: Confidence) -> Option<u32> {
    match confidence {
        Confidence::Revoked => None,
        Confidence::Low => Some(1),
        Confidence::Medium => Some(2),
        Confidence::High => Some(3),
    }
}

/// Out-edges by author: `(to, weight)` sorted by `to`.
pub type Edges = BTreeMap<AuthorKey, Vec<(AuthorKey, u32)>>;

/// The live trust records, one contribution per address.
#[derive(Debug, Default, Clone)]
pub(crate) struct Graph {
    says: BTreeMap<Address, Entry>,
}

/// What the current version at an address says (`None`: a revoked vouch or
/// an invalid one), until when, and which version it is.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    says: Option<Says>,
    expires_at: Timestamp,
    version: Version,
}

/// The deals and reviews folded from a graph: what explanations read.
#[derive(Debug, Default)]
pub(crate) struct Folded {
    /// Every known deal, by agreement.
    pub(crate) deals: BTreeMap<AgreementId, Deal>,
    /// Ratings by `(agreement, reviewer)`.
    pub(crate) reviews: BTreeMap<(AgreementId, AuthorKey), u8>,
    /// Live vouches: `(author, subject)` → weight.
    pub(crate) vouches: BTreeMap<(AuthorKey, AuthorKey), u32>,
}

impl Graph {
    /// Takes in a record; returns whether the graph changed. Like the store,
    /// only a version that supersedes the one held replaces it (higher `seq`,
    /// then lower id), so any arrival order ends with the same graph. Records
    /// of other kinds are no-ops.
    pub(crate) fn insert(&mut self, id: RecordId, body: &RecordBody) -> bool {
        let says = match &body.content {
            Content::Vouch(v) if v.subject != body.author => {
                confidence_weight(v.confidence).map(|weight| Says::Vouch {
                    subject: v.subject,
                    weight,
                })
            }
            Content::Receipt(r) => Some(Says::Deal(Deal::of(&r.statement))),
            Content::Review(r) if r.receipt.other_party(&body.author).is_some() => {
                Some(Says::Review {
                    deal: Deal::of(&r.receipt.statement),
                    rating: r.rating,
                })
            }
            Content::Vouch(_) | Content::Review(_) => None,
            _ => return false,
        };
        let version = Version { seq: body.seq, id };
        let entry = Entry {
            says,
            expires_at: body.expires_at,
            version,
        };
        match self.says.get(&address_of(body)) {
            Some(held) if !supersedes(version, held.version) => false,
            _ => {
                self.says.insert(address_of(body), entry);
                true
            }
        }
    }

    /// Drops what expired at `now`; returns whether anything did.
    pub(crate) fn expire(&mut self, now: Timestamp) -> bool {
        let before = self.says.len();
        self.says.retain(|_, entry| entry.expires_at > now);
        self.says.len() != before
    }

    /// The vouches, deals and ratings live at `now`, without `blocked` authors'
    /// records.
    pub(crate) fn fold(&self, now: Timestamp, blocked: &BTreeSet<AuthorKey>) -> Folded {
        let mut folded = Folded::default();
        for ((author, _, _), entry) in &self.says {
            if entry.expires_at <= now || blocked.contains(author) {
                continue;
            }
            let Some(says) = &entry.says else {
                continue;
            };
            match says {
                Says::Vouch { subject, weight } => {
                    if !blocked.contains(subject) {
                        folded.vouches.insert((*author, *subject), *weight);
                    }
                }
                Says::Deal(deal) => {
                    folded.deals.entry(deal.agreement).or_insert(*deal);
                }
                Says::Review { deal, rating } => {
                    folded.deals.entry(deal.agreement).or_insert(*deal);
                    folded.reviews.insert((deal.agreement, *author), *rating);
                }
            }
        }
        folded
            .deals
            .retain(|_, d| !blocked.contains(&d.provider) && !blocked.contains(&d.receiver));
        folded
    }
}

impl Folded {
    /// The weighted edges: vouches plus deals, capped per pair and per author.
    pub(crate) fn edges(&self) -> Edges {
        let mut pairs: BTreeMap<(AuthorKey, AuthorKey), u32> = self.vouches.clone();
        for deal in self.deals.values() {
            if deal.provider == deal.receiver {
                continue;
            }
            for (from, to) in [
                (deal.provider, deal.receiver),
                (deal.receiver, deal.provider),
            ] {
                let weight = match self.reviews.get(&(deal.agreement, from)) {
                    Some(rating) => rating_weight(*rating),
                    None => deal.outcome_weight(),
                };
                *pairs.entry((from, to)).or_default() += weight;
            }
        }
        let mut edges = Edges::new();
        for ((from, to), weight) in pairs {
            let weight = weight.min(MAX_PAIR_WEIGHT);
            if weight > 0 {
                edges.entry(from).or_default().push((to, weight));
            }
        }
        for out in edges.values_mut() {
            if out.len() > MAX_OUT_EDGES {
                out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                out.truncate(MAX_OUT_EDGES);
                out.sort_by_key(|e| e.0);
            }
        }
        edges
    }
}

fn address_of(body: &RecordBody) -> Address {
    let address = body.address();
    (address.author, address.kind, address.d)
}
