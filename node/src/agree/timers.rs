//! What happens at a time rather than on a message, read from the node's
//! `Clock`: an offer's expiry releases its holds and drops a pending first
//! proposal (`offer_expired`); a booking's start moves its listing to reserved;
//! an item not given back `overdue_grace` after its due date is announced
//! overdue, once per due date.
//! `Node::tick` runs what is due; the node calls it periodically, tests after
//! moving the clock. And after every commit: the listing status of our items.

use swapmesh_protocol::agreement::wire::Refusal;
use swapmesh_protocol::agreement::{Agreement, listing_status};
use swapmesh_protocol::listing::ListingStatus;
use swapmesh_protocol::{Address, Content, ListingId, RecordKind};
use swapmesh_store::AgreementCommit;
use tracing::{debug, warn};

use super::pending::is_first_proposal;
use super::{Agree, AgreeError, Joined, holds};
use crate::events::NodeEvent;

impl Agree {
    /// Runs the timers due at the clock's time.
    pub(crate) async fn tick(&self) -> Result<(), AgreeError> {
        let now = self.inner.clock.now();
        let mut items = Vec::new();
        {
            let _guard = self.inner.commits.lock().await;
            for stored in self.inner.store.agreements()? {
                if stored.refused.is_some() {
                    continue;
                }
                let state = &stored.state;
                let first_pending = stored
                    .pending
                    .as_ref()
                    .is_some_and(|p| is_first_proposal(state, p));
                if first_pending && now >= state.terms.offer_expires {
                    let entry = self.pending_entry(&stored)?;
                    self.drop_pending(&stored, entry, Refusal::OfferExpired)
                        .await?;
                } else if state.expired(now) {
                    let releases = holds::release_all(&self.inner.store, &self.inner.me, state)?;
                    if !releases.is_empty() {
                        let commit = AgreementCommit {
                            holds: &releases,
                            ..AgreementCommit::new(state)
                        };
                        self.inner.store.commit_agreement_durable(&commit).await?;
                        debug!(agreement = %state.id, "an expired offer released its holds");
                    }
                }
                if state.overdue(now, self.inner.overdue_grace) {
                    self.tell_overdue(state);
                }
                items.extend(self.our_items(state));
            }
        }
        items.sort();
        items.dedup();
        for item in items {
            self.refresh_status(&item).await;
        }
        Ok(())
    }

    /// After a commit: tell the users of each event that joined the chain,
    /// count it, and republish our items' status if the agreement changed it.
    pub(super) async fn after_commit(&self, state: &Agreement, joined: &[Joined]) {
        // Ids and phases only: terms (the pickup place) and notes are never logged.
        debug!(agreement = %state.id, phase = ?state.phase, events = state.chain.len(), "agreement committed");
        for j in joined {
            self.inner.metrics.agreement_event(j.action);
            self.emit(NodeEvent::AgreementChanged {
                id: state.id,
                event: j.event,
                action: j.action,
                phase: j.phase,
            });
        }
        if state.receipt_statement().is_some() && !self.is_sequencer(state) {
            // The commit that ended it queued our receipt signature.
            self.wake(state.terms.provider);
        }
        for item in self.our_items(state) {
            self.refresh_status(&item).await;
        }
    }

    /// Announces an overdue agreement once per due date (an extension's new
    /// date is announced again when it passes).
    fn tell_overdue(&self, state: &Agreement) {
        let Some(due) = state.due else { return };
        let fresh = self
            .inner
            .told_overdue
            .lock()
            .expect("overdue lock")
            .insert(state.id, due)
            != Some(due);
        if fresh {
            debug!(agreement = %state.id, "an item is overdue");
            self.emit(NodeEvent::AgreementOverdue { id: state.id, due });
        }
    }

    fn our_items(&self, state: &Agreement) -> Vec<ListingId> {
        state
            .legs()
            .iter()
            .filter(|leg| state.owner(**leg) == self.inner.me)
            .filter_map(|leg| state.items[leg.index()].clone())
            .collect()
    }

    /// Publishes a status-only version of our listing `item` if its derived
    /// status changed.
    async fn refresh_status(&self, item: &ListingId) {
        if let Err(e) = self.try_refresh_status(item).await {
            warn!(listing = %item, error = %e, "could not refresh a listing's status");
        }
    }

    async fn try_refresh_status(&self, item: &ListingId) -> Result<(), crate::error::NodeError> {
        let address = Address {
            author: item.author,
            kind: RecordKind::Listing,
            d: item.d.clone(),
        };
        let Some(current) = self.inner.store.get_current(&address)? else {
            return Ok(());
        };
        let Content::Listing(listing) = &current.body.content else {
            return Ok(());
        };
        let own = match listing.status {
            ListingStatus::Paused | ListingStatus::Withdrawn => listing.status,
            _ => ListingStatus::Active,
        };
        let agreements: Vec<Agreement> = self
            .inner
            .store
            .agreements()?
            .into_iter()
            .filter(|s| s.refused.is_none() && s.state.leg_of(item).is_some())
            .map(|s| s.state)
            .collect();
        let status = listing_status(item, own, &agreements, self.inner.clock.now());
        if status == listing.status {
            return Ok(());
        }
        debug!(listing = %item, ?status, "the listing's status follows its agreements");
        if status == ListingStatus::Withdrawn {
            self.inner.publisher.withdraw_listing(&item.d).await?;
        } else {
            self.inner
                .publisher
                .update_listing(&item.d, |l| l.status = status)
                .await?;
        }
        Ok(())
    }
}
