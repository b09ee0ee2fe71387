//! Ingest of gossip: decode with limits, verify, validate, store, and the verdict
//! that goes back to gossipsub (DESIGN §4).

use swapmesh_net::Validation;
use swapmesh_protocol::validate::Checked;
use swapmesh_protocol::{GossipMessage, Timestamp, Verified, check, topics};
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
    let verified = match check(record, now) {
        Ok(Checked::Valid(v)) => v,
        Ok(Checked::Ignored(why)) => {
            debug!(topic, reason = why.reason(), "ignored record");
            return Ingested::verdict(Validation::Ignore, why.reason());
        }
        Err(invalid) => {
            debug!(topic, rule = invalid.rule(), "rejected: {invalid}");
            return Ingested::verdict(Validation::Reject, invalid.rule());
        }
    };
    if !topics(verified.body()).iter().any(|t| t.as_str() == topic) {
        debug!(topic, id = %verified.id(), "rejected: record on a topic it does not name");
        return Ingested::verdict(Validation::Reject, "wrong_topic");
    }
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
