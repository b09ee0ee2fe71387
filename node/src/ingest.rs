//! Ingest of gossip: decode with limits, verify, validate, store, and the verdict
//! that goes back to gossipsub (DESIGN §4).

use swapmesh_net::Validation;
use swapmesh_protocol::validate::Checked;
use swapmesh_protocol::{GossipMessage, SignedRecord, Timestamp, Verified, check, topics};
use swapmesh_store::{InsertOutcome, Store};
use tracing::{debug, warn};

use crate::events::NodeEvent;

/// The verdict on one gossip message and what it changed.
#[derive(Debug)]
pub(crate) struct Ingested {
    pub(crate) verdict: Validation,
    /// Why, in a word, for the metrics: the rule broken, the reason ignored, or
    /// what the store did.
    pub(crate) reason: &'static str,
    pub(crate) event: Option<NodeEvent>,
}

impl Ingested {
    fn verdict(verdict: Validation, reason: &'static str) -> Self {
        Self {
            verdict,
            reason,
            event: None,
        }
    }
}

/// The verdict on one signed record that arrived for `topic` (by gossip or
/// sync), before the store has its say.
// Moved once into the store, as `Checked` is; boxing would add an allocation per
// record on the ingest path.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Judged {
    /// Valid and on one of its own topics.
    Valid(Verified),
    /// Ignored by the protocol, blaming nobody; the reason in a word.
    Ignored(&'static str),
    /// Invalid, or on a topic it does not name; the rule in a word.
    Rejected(&'static str),
}

/// Verifies and validates a record that arrived for `topic` at `now`.
pub(crate) fn judge(record: SignedRecord, topic: &str, now: Timestamp) -> Judged {
    match check(record, now) {
        Ok(Checked::Valid(v)) if topics(v.body()).iter().any(|t| t.as_str() == topic) => {
            Judged::Valid(v)
        }
        Ok(Checked::Valid(_)) => Judged::Rejected("wrong_topic"),
        Ok(Checked::Ignored(why)) => Judged::Ignored(why.reason()),
        Err(invalid) => Judged::Rejected(invalid.rule()),
    }
}

/// Decides on one gossip message that arrived on `topic`:
///
/// - `Accept` when the record is new, replaces an older version, or is a
///   byte-identical copy (gossipsub ids are per topic, so a copy we already hold is
///   the record arriving on another of its own topics — forwarding it lets it reach
///   that topic's members);
/// - `Ignore` when it is stale or the protocol ignores it (newer format, unknown
///   kind, clock skew, expired) — nobody is blamed;
/// - `Reject` when it is malformed or invalid, or arrives on a topic its own
///   `topics()` does not name — the sender is penalised by the network layer.
pub(crate) fn ingest(store: &Store, topic: &str, data: &[u8], now: Timestamp) -> Ingested {
    let record = match GossipMessage::decode(data) {
        Ok(message) => message.into_record(),
        Err(e) => {
            debug!(topic, error = %e, "rejected: malformed gossip message");
            return Ingested::verdict(Validation::Reject, "malformed");
        }
    };
    let verified = match judge(record, topic, now) {
        Judged::Valid(v) => v,
        Judged::Ignored(reason) => {
            debug!(topic, reason, "ignored record");
            return Ingested::verdict(Validation::Ignore, reason);
        }
        Judged::Rejected(rule) => {
            debug!(topic, rule, "rejected record");
            return Ingested::verdict(Validation::Reject, rule);
        }
    };
    let outcome = match store.insert(&verified, now) {
        Ok(outcome) => outcome,
        Err(e) => {
            // Our own failure: do not forward what we could not keep, blame nobody.
            warn!(id = %verified.id(), error = %e, "store failed to insert a valid record");
            return Ingested::verdict(Validation::Ignore, "store_error");
        }
    };
    let event = event_of(outcome, &verified);
    let (verdict, reason) = match outcome {
        InsertOutcome::Inserted => (Validation::Accept, "inserted"),
        InsertOutcome::Replaced => (Validation::Accept, "replaced"),
        InsertOutcome::Tombstoned => (Validation::Accept, "tombstoned"),
        InsertOutcome::Duplicate => (Validation::Accept, "duplicate"),
        InsertOutcome::Stale => (Validation::Ignore, "stale"),
        _ => (Validation::Ignore, "expired"),
    };
    Ingested {
        verdict,
        reason,
        event,
    }
}

/// The node event of a record the store took, if it changed anything.
pub(crate) fn event_of(outcome: InsertOutcome, verified: &Verified) -> Option<NodeEvent> {
    let address = verified.body().address();
    let id = verified.id();
    match outcome {
        InsertOutcome::Inserted => Some(NodeEvent::RecordAdded { address, id }),
        InsertOutcome::Replaced => Some(NodeEvent::RecordChanged { address, id }),
        InsertOutcome::Tombstoned => Some(NodeEvent::RecordWithdrawn { address, id }),
        _ => None,
    }
}
