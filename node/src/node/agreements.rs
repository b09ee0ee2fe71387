//! Agreements through the façade: propose, act, read; the work is `agree`'s.

use swapmesh_protocol::AgreementId;
use swapmesh_protocol::agreement::{Action, Terms};

use super::Node;
use crate::agree::{Acted, AgreeError, AgreementSummary, AgreementView, ListFilter, Proposal};

impl Node {
    /// Proposes terms on a listing: another's (we receive) or ours (to a
    /// receiver). Answers once the proposal is in the chain on both nodes or the
    /// wait ran out ([`Acted::Pending`] when the provider has not taken it yet).
    pub async fn propose(&self, proposal: Proposal) -> Result<Acted, AgreeError> {
        self.inner.agree.propose(proposal).await
    }

    /// Signs `action` on agreement `id` (checked against our copy first: a typed
    /// error, nothing sent).
    pub async fn act(
        &self,
        id: &AgreementId,
        action: Action,
        note: String,
    ) -> Result<Acted, AgreeError> {
        self.inner.agree.act(id, action, note).await
    }

    /// Counters the current terms of `id` with `change` applied to them.
    pub async fn counter(
        &self,
        id: &AgreementId,
        change: impl FnOnce(&mut Terms),
        note: String,
    ) -> Result<Acted, AgreeError> {
        self.inner.agree.counter(id, change, note).await
    }

    /// Accepts the current terms of `id`.
    pub async fn accept(&self, id: &AgreementId, note: String) -> Result<Acted, AgreeError> {
        self.inner.agree.accept(id, note).await
    }

    /// Stops sending our pending event of `id`.
    pub async fn cancel_pending(&self, id: &AgreementId) -> Result<AgreementView, AgreeError> {
        self.inner.agree.cancel_pending(id).await
    }

    /// Sends the other party a note beside the chain (at most 1 KiB).
    pub async fn note(&self, id: &AgreementId, text: String) -> Result<AgreementView, AgreeError> {
        self.inner.agree.note(id, text).await
    }

    /// An agreement as this node has it.
    pub fn agreement(&self, id: &AgreementId) -> Result<AgreementView, AgreeError> {
        self.inner.agree.get(id)
    }

    /// A page of the agreements `filter` picks, the most recently changed
    /// first, and whether more follow.
    pub fn agreements(
        &self,
        filter: &ListFilter,
    ) -> Result<(Vec<AgreementSummary>, bool), AgreeError> {
        self.inner.agree.list(filter)
    }

    /// Runs the agreement timers due at the clock's time (offer expiry, a
    /// booking's start). The node runs them every
    /// [`NodeConfig::agreement_tick`](crate::NodeConfig::agreement_tick); a test
    /// that moved the clock calls this.
    pub async fn tick(&self) -> Result<(), AgreeError> {
        self.inner.agree.tick().await
    }
}
