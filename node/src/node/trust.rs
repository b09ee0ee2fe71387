//! Trust: vouches of our own, and what this node computes of everyone's
//! standing (see [`crate::trust`]).

use swapmesh_protocol::social::{Confidence, Vouch, VouchClaim};
use swapmesh_protocol::time::DAY;
use swapmesh_protocol::{Address, AuthorKey, Content, RecordKind, Verified};
use swapmesh_store::StoredRecord;
use tokio::sync::broadcast::error::RecvError;
use tracing::{debug, info, warn};

use super::Node;
use crate::error::NodeError;
use crate::events::NodeEvent;
use crate::trust::{Explanation, KINDS, Standing};

/// Own vouches are published again this long before they expire.
const RENEW_BEFORE: u64 = 30 * DAY;

impl Node {
    /// Builds the trust graph from the store and keeps it up to date from the
    /// node's own events (a lagging follower reloads from the store).
    pub(super) fn follow_trust_records(&self) -> Result<(), NodeError> {
        // Subscribed before the load: nothing stored in between is missed.
        let mut events = self.inner.events.subscribe();
        self.inner.trust.set_blocked(self.inner.blocks.all());
        self.inner.trust.load(&self.inner.store)?;
        let node = self.clone();
        self.inner.tasks.spawn(async move {
            loop {
                match events.recv().await {
                    Ok(
                        NodeEvent::RecordAdded { address, id }
                        | NodeEvent::RecordChanged { address, id },
                    ) if KINDS.contains(&address.kind) => match node.inner.store.get(&id) {
                        Ok(Some(record)) => node.inner.trust.observe(record.id, &record.body),
                        Ok(None) => {}
                        Err(e) => debug!(error = %e, "could not read a trust record"),
                    },
                    Ok(_) => {}
                    Err(RecvError::Lagged(missed)) => {
                        debug!(missed, "trust fell behind the node's events: reloading");
                        if let Err(e) = node.inner.trust.load(&node.inner.store) {
                            warn!(error = %e, "could not reload the trust graph");
                        }
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        });
        Ok(())
    }

    /// Computes trust now from what the store holds (reloaded), whatever
    /// `trust_interval` says: for tests, and after a restart.
    pub fn trust_now(&self) -> Result<(), NodeError> {
        self.inner.trust.load(&self.inner.store)?;
        self.inner.trust.now();
        Ok(())
    }

    /// `author`'s standing from where this node stands.
    pub fn trust_of(&self, author: &AuthorKey) -> Standing {
        let computed = self.inner.trust.current();
        self.inner.trust.standing(&computed, author)
    }

    /// `author`'s standing and why: shortest vouch paths, deals and reviews.
    pub fn explain_trust(&self, author: &AuthorKey) -> (Standing, Explanation) {
        let computed = self.inner.trust.current();
        (
            self.inner.trust.standing(&computed, author),
            self.inner.trust.explain(&computed, author),
        )
    }

    /// Every score (parts per million) and distance, in key order: what two
    /// nodes with the same records must agree on to the bit.
    pub fn trust_table(&self) -> Vec<(AuthorKey, u32, Option<u8>)> {
        let computed = self.inner.trust.current();
        computed
            .scores
            .keys
            .iter()
            .map(|k| (*k, computed.scores.ppm(k), computed.distance(k)))
            .collect()
    }

    /// Vouches for `subject`: publishes (or replaces) our `Vouch` for a year,
    /// at our usual area and meshes. Renewed while it lives.
    pub async fn vouch(
        &self,
        subject: AuthorKey,
        claim: VouchClaim,
        confidence: Confidence,
        note: String,
    ) -> Result<Verified, NodeError> {
        let vouch = Vouch {
            subject,
            claim,
            confidence,
            note,
        };
        self.publish_vouch(vouch).await
    }

    /// Publishes a vouch of ours and computes trust again at once: your own
    /// vouch shows in your figures without waiting for `trust_interval`.
    async fn publish_vouch(&self, vouch: Vouch) -> Result<Verified, NodeError> {
        let placement = self.default_placement();
        let published = self
            .inner
            .publisher
            .publish_replacing(Content::Vouch(vouch), placement)
            .await?;
        self.inner.trust.observe(published.id(), published.body());
        self.inner.trust.now();
        Ok(published)
    }

    /// Takes our vouch for `subject` back (a newer version, `revoked`);
    /// [`NodeError::NoSuchVouch`] if we never vouched or revoked it already.
    pub async fn revoke_vouch(&self, subject: AuthorKey) -> Result<Verified, NodeError> {
        let Some(current) = self.own_vouch(subject)? else {
            return Err(NodeError::NoSuchVouch(subject.to_string()));
        };
        let Content::Vouch(mut vouch) = current.body.content else {
            return Err(NodeError::NoSuchVouch(subject.to_string()));
        };
        if vouch.confidence == Confidence::Revoked {
            return Err(NodeError::NoSuchVouch(subject.to_string()));
        }
        vouch.confidence = Confidence::Revoked;
        self.publish_vouch(vouch).await
    }

    /// Our current vouch for `subject`, revoked ones included.
    fn own_vouch(&self, subject: AuthorKey) -> Result<Option<StoredRecord>, NodeError> {
        let address = Address {
            author: self.author(),
            kind: RecordKind::Vouch,
            d: subject.to_string(),
        };
        Ok(self.inner.store.get_current(&address)?)
    }

    /// Live vouches held, by `author` and for `subject` when given, revoked
    /// ones left out; in address order.
    pub fn vouches(
        &self,
        author: Option<AuthorKey>,
        subject: Option<AuthorKey>,
    ) -> Result<Vec<StoredRecord>, NodeError> {
        let now = self.inner.config.clock.now();
        let all = self.inner.store.current_of_kinds(&[RecordKind::Vouch])?;
        Ok(all
            .into_iter()
            .filter(|r| r.body.expires_at > now)
            .filter(|r| author.is_none_or(|a| r.body.author == a))
            .filter(|r| match &r.body.content {
                Content::Vouch(v) => {
                    v.confidence != Confidence::Revoked && subject.is_none_or(|s| v.subject == s)
                }
                _ => false,
            })
            .collect())
    }

    /// Publishes again our live vouches that expire within 30 days: a vouch
    /// lasts until it is revoked. Returns how many were renewed.
    pub async fn renew_vouches(&self) -> Result<usize, NodeError> {
        let now = self.inner.config.clock.now();
        let mut renewed = 0;
        for record in self.vouches(Some(self.author()), None)? {
            if record.body.expires_at.0 > now.0.saturating_add(RENEW_BEFORE) {
                continue;
            }
            let Content::Vouch(vouch) = record.body.content else {
                continue;
            };
            self.publish_vouch(vouch).await?;
            renewed += 1;
        }
        if renewed > 0 {
            info!(renewed, "own vouches renewed");
        }
        Ok(renewed)
    }
}

impl Node {
    /// Blocks `author` for this node's owner (see [`crate::blocks`]): durable
    /// when it returns; `false` if they were blocked already.
    pub async fn block_author(&self, author: AuthorKey) -> Result<bool, NodeError> {
        let changed = self.inner.blocks.set(author, true).await?;
        self.blocks_changed();
        Ok(changed)
    }

    /// Unblocks `author`; `false` if they were not blocked.
    pub async fn unblock_author(&self, author: AuthorKey) -> Result<bool, NodeError> {
        let changed = self.inner.blocks.set(author, false).await?;
        self.blocks_changed();
        Ok(changed)
    }

    /// The authors this node blocks, in key order.
    pub fn blocked_authors(&self) -> Vec<AuthorKey> {
        self.inner.blocks.all().into_iter().collect()
    }

    /// The name in `author`'s profile if we hold one, blocked or not.
    pub fn held_profile_name(&self, author: &AuthorKey) -> Option<String> {
        let (_, profile) = self.held_profile(*author).ok()??;
        Some(profile.name)
    }

    /// Whether this node blocks `author`.
    pub fn is_blocked(&self, author: &AuthorKey) -> bool {
        self.inner.blocks.contains(author)
    }

    fn blocks_changed(&self) {
        self.inner.trust.set_blocked(self.inner.blocks.all());
        self.inner.trust.now();
    }
}
