//! What a node tells its users (the API's event stream, tests).

use swapmesh_net::{Discovery, Misbehaviour, PeerId};
use swapmesh_protocol::agreement::wire::Refusal;
use swapmesh_protocol::agreement::{EventId, Phase};
use swapmesh_protocol::{
    Address, AgreementId, AuthorKey, Content, RecordId, Timestamp, Topic, Verified,
};
use swapmesh_store::InsertOutcome;
use tokio::sync::broadcast;

use crate::metrics::AppMetrics;

/// Something that happened on a node.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NodeEvent {
    /// A record arrived at an address where we had nothing.
    RecordAdded {
        /// Its address.
        address: Address,
        /// Its id.
        id: RecordId,
    },
    /// A newer version replaced the one we had.
    RecordChanged {
        /// Its address.
        address: Address,
        /// The new version's id.
        id: RecordId,
    },
    /// A listing was withdrawn (its tombstone arrived).
    RecordWithdrawn {
        /// Its address.
        address: Address,
        /// The tombstone's id.
        id: RecordId,
    },
    /// A peer connected.
    PeerUp {
        /// The peer.
        peer: PeerId,
    },
    /// A peer disconnected.
    PeerDown {
        /// The peer.
        peer: PeerId,
    },
    /// Discovery found a peer (it is dialled unless already connected).
    PeerDiscovered {
        /// The peer.
        peer: PeerId,
        /// How: mDNS, or as a Kademlia provider of one of our topics.
        via: Discovery,
    },
    /// A peer was charged for misbehaving (at enough points it is blocked).
    PeerCharged {
        /// The peer.
        peer: PeerId,
        /// What it did.
        misbehaviour: Misbehaviour,
    },
    /// A peer was blocked for misbehaving.
    PeerBlocked {
        /// The peer.
        peer: PeerId,
    },
    /// A catch-up sync session made progress (records fetched of expected).
    SyncProgress {
        /// The peer synced with.
        peer: PeerId,
        /// The topic.
        topic: Topic,
        /// Records fetched so far in this session.
        fetched: usize,
        /// Records the session expects.
        expected: usize,
    },
    /// An event joined an agreement's chain here.
    AgreementChanged {
        /// The agreement.
        id: AgreementId,
        /// The event, the head when it joined.
        event: EventId,
        /// What it did.
        action: &'static str,
        /// The phase it left the agreement in.
        phase: Phase,
    },
    /// The other party acknowledged our chain up to `head`.
    AgreementDelivered {
        /// The agreement.
        id: AgreementId,
        /// The head it has.
        head: EventId,
    },
    /// An event of ours waits for the sequencer; the outbox keeps sending it.
    AgreementPending {
        /// The agreement.
        id: AgreementId,
        /// The event.
        event: EventId,
        /// What it does.
        action: &'static str,
    },
    /// Our pending event was refused by the sequencer, or dropped (its offer
    /// expired): it will not be in the chain.
    AgreementRefused {
        /// The agreement.
        id: AgreementId,
        /// The event.
        event: EventId,
        /// Why.
        refusal: Refusal,
    },
    /// An item of the agreement is overdue at the node's time (once per due date).
    AgreementOverdue {
        /// The agreement.
        id: AgreementId,
        /// The due date that passed.
        due: Timestamp,
    },
    /// The other party sent a note.
    AgreementNote {
        /// The agreement.
        id: AgreementId,
        /// Who wrote it.
        from: AuthorKey,
    },
    /// The receipt of one of our agreements was published (as its sequencer)
    /// or came back from the sequencer.
    ReceiptPublished {
        /// The agreement.
        agreement: AgreementId,
        /// The receipt record.
        record: RecordId,
    },
    /// A review was stored here: ours, or one from the network.
    ReviewAdded {
        /// The review record.
        record: RecordId,
        /// Its author.
        author: AuthorKey,
        /// Whom it reviews.
        subject: AuthorKey,
    },
    /// A catch-up sync session ended.
    SyncFinished {
        /// The peer synced with.
        peer: PeerId,
        /// The topic.
        topic: Topic,
        /// Records fetched and stored.
        fetched: usize,
        /// Records the peer stored from us.
        pushed: usize,
    },
}

impl NodeEvent {
    /// What storing a record changed, if anything: the record's event, and
    /// for a new review [`NodeEvent::ReviewAdded`].
    pub(crate) fn of_insert(outcome: InsertOutcome, verified: &Verified) -> Vec<NodeEvent> {
        let address = verified.body().address();
        let id = verified.id();
        let mut events = Vec::new();
        match outcome {
            InsertOutcome::Inserted => events.push(NodeEvent::RecordAdded { address, id }),
            InsertOutcome::Replaced => events.push(NodeEvent::RecordChanged { address, id }),
            InsertOutcome::Tombstoned => events.push(NodeEvent::RecordWithdrawn { address, id }),
            InsertOutcome::Stale
            | InsertOutcome::Duplicate
            | InsertOutcome::Replayed
            | InsertOutcome::Expired
            | InsertOutcome::OverQuota(_) => {}
        }
        if outcome.is_new()
            && let Content::Review(review) = &verified.body().content
            && let Some(subject) = review.receipt.other_party(&verified.body().author)
        {
            events.push(NodeEvent::ReviewAdded {
                record: id,
                author: verified.body().author,
                subject,
            });
        }
        events
    }

    /// Sends what storing a record changed to the node's subscribers, and
    /// counts a new review.
    pub(crate) fn announce_insert(
        sender: &broadcast::Sender<NodeEvent>,
        metrics: &AppMetrics,
        outcome: InsertOutcome,
        verified: &Verified,
    ) {
        for event in Self::of_insert(outcome, verified) {
            if matches!(event, NodeEvent::ReviewAdded { .. }) {
                metrics.review_added();
            }
            let _ = sender.send(event);
        }
    }
}
