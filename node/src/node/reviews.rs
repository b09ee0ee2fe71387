//! Receipts and reviews through the façade: a review of the other party of
//! one of our ended agreements, embedding its receipt; reviews and a summary of
//! what this node holds about a party, read through the store's `by_party`
//! index.

use swapmesh_protocol::social::{Outcome, Review};
use swapmesh_protocol::{AgreementId, AuthorKey, Content, RecordKind, Verified};
use swapmesh_store::{Cursor, StoredRecord};

use super::{Node, Placement};
use crate::error::NodeError;

/// What this node holds about a party: its receipts and the reviews of it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReviewSummary {
    /// Receipts ended `completed`.
    pub completed: usize,
    /// Receipts ended `cancelled`.
    pub cancelled: usize,
    /// Receipts ended `resolved`.
    pub resolved: usize,
    /// Receipts with a return that came by the due date.
    pub on_time: usize,
    /// Receipts with a return at all (`on_time` known).
    pub returns: usize,
    /// Reviews of the party.
    pub reviews: usize,
    /// Their mean rating, if there are any.
    pub mean_rating: Option<f64>,
}

/// Most records a summary reads.
const SUMMARY_LIMIT: usize = 10_000;

impl Node {
    /// Reviews the other party of our ended agreement `id`: publishes (or
    /// replaces) our review with the receipt this node holds, where the
    /// receipt is published.
    pub async fn review(
        &self,
        id: &AgreementId,
        rating: u8,
        text: String,
    ) -> Result<Verified, NodeError> {
        let view = self.agreement(id)?;
        let receipt = self
            .inner
            .agree
            .receipt_of(&view.state)?
            .ok_or(NodeError::NoReceipt(*id))?;
        let Content::Receipt(receipt_content) = receipt.body.content else {
            return Err(NodeError::NoReceipt(*id));
        };
        let placement = Placement {
            area: receipt.body.area,
            meshes: receipt.body.meshes,
        };
        let review = Review {
            receipt: receipt_content,
            rating,
            text,
        };
        self.inner
            .publisher
            .publish_replacing(Content::Review(review), placement)
            .await
    }

    /// Receipts and reviews naming `party`, newest first, one page at a time.
    pub fn social_of(
        &self,
        party: &AuthorKey,
        kinds: &[RecordKind],
        cursor: Option<Cursor>,
        limit: usize,
    ) -> Result<(Vec<StoredRecord>, Option<Cursor>), NodeError> {
        let mut page = self.inner.store.by_party(party, kinds, cursor, limit)?;
        // Reviews written by someone we blocked are hidden.
        page.records
            .retain(|r| !(r.body.kind() == RecordKind::Review && self.is_blocked(&r.body.author)));
        Ok((page.records, page.next))
    }

    /// What this node holds about `party`: its receipts by outcome, returns on
    /// time, and the reviews of it with their mean rating.
    pub fn review_summary(&self, party: &AuthorKey) -> Result<ReviewSummary, NodeError> {
        let kinds = [RecordKind::Receipt, RecordKind::Review];
        let (records, _) = self.social_of(party, &kinds, None, SUMMARY_LIMIT)?;
        let mut summary = ReviewSummary::default();
        let mut ratings = 0u64;
        for record in records {
            match record.body.content {
                Content::Receipt(r) => {
                    match r.statement.outcome {
                        Outcome::Completed => summary.completed += 1,
                        Outcome::Cancelled => summary.cancelled += 1,
                        Outcome::Resolved => summary.resolved += 1,
                    }
                    if let Some(on_time) = r.statement.on_time {
                        summary.returns += 1;
                        summary.on_time += usize::from(on_time);
                    }
                }
                Content::Review(r) if record.body.author != *party => {
                    summary.reviews += 1;
                    ratings += u64::from(r.rating);
                }
                _ => {}
            }
        }
        if summary.reviews > 0 {
            summary.mean_rating = Some(ratings as f64 / summary.reviews as f64);
        }
        Ok(summary)
    }
}
