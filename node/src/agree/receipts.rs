//! Receipts (DESIGN §3, §5): when a chain ends after acceptance (completed,
//! cancelled, resolved), the other party's node signs the receipt statement in
//! the commit that ended it and queues `ReceiptSig` in its outbox. The
//! sequencer checks the signature against its own statement, signs too,
//! publishes one `Receipt` record at the kept listing's area and meshes for a
//! year, and answers with it; a repeat gets the same record. A `ReceiptSig` for
//! a chain the sequencer has not ended is refused `NotEnded` (no blame) and
//! retried.

use swapmesh_net::Misbehaviour;
use swapmesh_protocol::agreement::Agreement;
use swapmesh_protocol::agreement::wire::{Refusal, Response};
use swapmesh_protocol::social::Receipt;
use swapmesh_protocol::validate::{self, Checked};
use swapmesh_protocol::{
    Address, AgreementId, AuthorKey, Content, RecordKind, Signature, SignedRecord, VerifyingKey,
};
use swapmesh_store::{OutboxKey, StoredRecord};
use tracing::{debug, warn};

use super::outbox::{Item, Sent};
use super::{Agree, AgreeError};
use crate::events::NodeEvent;
use crate::node::Placement;

impl Agree {
    /// The outbox entry that carries our signature of `next`'s receipt
    /// statement, if `next` ended a chain the other party sequences.
    pub(super) fn receipt_sig_entry(&self, next: &Agreement) -> Option<(AuthorKey, Vec<u8>)> {
        if self.is_sequencer(next) {
            return None;
        }
        let statement = next.receipt_statement()?;
        let sig = statement.sign(&self.inner.key);
        Some((next.terms.provider, Item::ReceiptSig { sig }.encode()))
    }

    /// The receipt record of agreement `state` this node holds, if any.
    pub(crate) fn receipt_of(&self, state: &Agreement) -> Result<Option<StoredRecord>, AgreeError> {
        let address = Address {
            author: state.terms.provider,
            kind: RecordKind::Receipt,
            d: state.id.to_string(),
        };
        Ok(self.inner.store.get_current(&address)?)
    }

    /// As the sequencer: the other party's signature over the receipt
    /// statement of `agreement`.
    pub(super) async fn receipt_sig_in(
        &self,
        peer: super::serve::Origin,
        from: AuthorKey,
        agreement: AgreementId,
        sig: Signature,
    ) -> Result<Response, AgreeError> {
        let _guard = self.inner.commits.lock().await;
        let Some(stored) = self.inner.store.agreement(&agreement)? else {
            return Ok(Response::Unknown);
        };
        let state = &stored.state;
        if !self.is_sequencer(state) || from != state.terms.receiver {
            self.charge(peer, Misbehaviour::InvalidRecord).await;
            return Ok(refused(Refusal::NotAParty));
        }
        let Some(statement) = state.receipt_statement() else {
            return Ok(refused(Refusal::NotEnded));
        };
        let verifies = VerifyingKey::from_bytes(&from.0)
            .and_then(|key| key.verify_strict(&statement.signing_bytes(), &sig))
            .is_ok();
        if !verifies {
            debug!(%peer, agreement = %agreement, "a receipt signature over another statement");
            self.charge(peer, Misbehaviour::InvalidRecord).await;
            return Ok(refused(Refusal::BadSignature));
        }
        if let Some(held) = self.receipt_of(state)? {
            return Ok(Response::Receipt {
                record: held.signed,
            });
        }
        let receipt = Receipt {
            provider_sig: statement.sign(&self.inner.key),
            receiver_sig: sig,
            statement,
        };
        let published = self
            .inner
            .publisher
            .publish_replacing(Content::Receipt(receipt), placement_of(state))
            .await
            .map_err(|e| AgreeError::Publish(e.to_string()))?;
        debug!(agreement = %agreement, "published the receipt");
        self.receipt_published(state.id, published.id());
        Ok(Response::Receipt {
            record: published.signed().clone(),
        })
    }

    /// As the other party: sends our receipt signature; the sequencer's receipt
    /// in answer is stored as one from gossip would be.
    pub(super) async fn send_receipt_sig(
        &self,
        key: &OutboxKey,
        sig: Signature,
    ) -> Result<Sent, AgreeError> {
        if self.inner.faults.receipt_before_send() {
            std::process::abort();
        }
        let request = swapmesh_protocol::agreement::wire::Request::ReceiptSig {
            agreement: key.agreement,
            sig,
        };
        let response = match self.request(key, request).await {
            Ok(r) => r,
            Err(sent) => return Ok(sent),
        };
        match response {
            Response::Receipt { record } => {
                self.keep_receipt(key.agreement, record).await?;
                self.inner.store.outbox_remove(key)?;
                Ok(Sent::Done)
            }
            // Not ended there yet, not known yet, or the sequencer failed inside
            // (it answers `Unsupported` then): try again later, so a receipt
            // owed is never dropped.
            Response::Refused {
                refusal: Refusal::NotEnded | Refusal::Unsupported,
                ..
            }
            | Response::Unknown => Ok(Sent::Later),
            Response::Refused { refusal, .. } if !refusal.proves_absence() => Ok(Sent::Later),
            other => {
                warn!(agreement = %key.agreement, answer = ?other, "the other party did not take our receipt signature");
                self.inner.store.outbox_remove(key)?;
                Ok(Sent::Done)
            }
        }
    }

    /// Stores the sequencer's receipt of `agreement` if it is a valid one of it.
    async fn keep_receipt(
        &self,
        agreement: AgreementId,
        record: SignedRecord,
    ) -> Result<(), AgreeError> {
        let now = self.inner.clock.now();
        let verified = match validate::check(record, now) {
            Ok(Checked::Valid(v)) => v,
            _ => {
                warn!(agreement = %agreement, "the sequencer answered with an invalid receipt");
                return Ok(());
            }
        };
        match &verified.body().content {
            Content::Receipt(r) if r.statement.agreement == agreement => {}
            _ => {
                warn!(agreement = %agreement, "the sequencer answered with another record");
                return Ok(());
            }
        }
        let outcome = self.inner.store.insert_durable(&verified, now).await?;
        NodeEvent::announce_insert(&self.inner.events, &self.inner.metrics, outcome, &verified);
        // Gossip may have brought the same record first (then it is a
        // duplicate here): it is still this agreement's receipt arriving, and
        // the open agreement page waits for the event to show it.
        if outcome.is_new() || outcome == swapmesh_store::InsertOutcome::Duplicate {
            self.receipt_published(agreement, verified.id());
        }
        Ok(())
    }

    fn receipt_published(&self, agreement: AgreementId, record: swapmesh_protocol::RecordId) {
        self.inner.metrics.receipt_published();
        self.emit(NodeEvent::ReceiptPublished { agreement, record });
    }
}

/// Where an agreement's receipt is published: the kept listing's area and meshes.
fn placement_of(state: &Agreement) -> Placement {
    match state.listing.decode_trusted() {
        Ok(body) => Placement {
            area: body.area,
            meshes: body.meshes,
        },
        Err(_) => Placement {
            area: None,
            meshes: Vec::new(),
        },
    }
}

fn refused(refusal: Refusal) -> Response {
    Response::Refused {
        refusal,
        head: None,
    }
}
