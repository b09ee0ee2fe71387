//! [`Publisher`]: the node's own records. It versions them (the next `seq` at
//! their address), signs, validates, stores and flushes them before anything is
//! acknowledged, and publishes them on their topics (sealed on a private mesh's,
//! see [`swapmesh_protocol::private`]); a topic nobody has joined yet holds the
//! record back until a first peer joins it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use swapmesh_net::{NetworkHandle, PublishError};
use swapmesh_protocol::listing::{Listing, ListingStatus};
use swapmesh_protocol::record::tombstone_expiry;
use swapmesh_protocol::social::Profile;
use swapmesh_protocol::time::YEAR;
use swapmesh_protocol::validate::MAX_LIFETIME;
use swapmesh_protocol::{
    Address, AuthorKey, Content, GossipMessage, RecordBody, RecordId, RecordKind, SignedRecord,
    SigningKey, Timestamp, Topic, Verified, sign_own, topics,
};
use swapmesh_store::{BlobStore, Store};
use tokio::sync::broadcast;
use tracing::{debug, warn};

use crate::clock::Clock;
use crate::config::NodeConfig;
use crate::error::NodeError;
use crate::events::NodeEvent;
use crate::meshes::MeshBook;
use crate::metrics::AppMetrics;
use crate::node::Placement;

/// Versions, signs, stores and publishes the node's own records.
pub(crate) struct Publisher {
    /// The blob files: a listing of ours names only photos held here.
    photos: BlobStore,
    key: SigningKey,
    author: AuthorKey,
    store: Store,
    net: NetworkHandle,
    events: broadcast::Sender<NodeEvent>,
    metrics: Arc<AppMetrics>,
    clock: Arc<dyn Clock>,
    /// How long a listing lives, clamped to the protocol's maximum.
    listing_lifetime: u64,
    pending_burst: usize,
    pending_per_second: usize,
    /// Serialises read-modify-write of our own records (the next `seq`).
    own_writes: tokio::sync::Mutex<()>,
    /// Own records held back per topic because no peer had joined it.
    held: Mutex<BTreeMap<Topic, BTreeSet<RecordId>>>,
    /// Every area topic we listen to, where our records also go when area
    /// filtering is off ([`Faults::no_area_filter`](crate::Faults)); else empty.
    spill: Vec<Topic>,
    /// The keys of the private meshes we are in.
    meshes: Arc<MeshBook>,
}

/// What [`Publisher::new`] takes beside the config.
pub(crate) struct PublisherParts {
    pub(crate) key: SigningKey,
    pub(crate) store: Store,
    pub(crate) net: NetworkHandle,
    pub(crate) events: broadcast::Sender<NodeEvent>,
    pub(crate) metrics: Arc<AppMetrics>,
    pub(crate) photos: BlobStore,
    pub(crate) meshes: Arc<MeshBook>,
}

impl Publisher {
    pub(crate) fn new(parts: PublisherParts, config: &NodeConfig) -> Self {
        let PublisherParts {
            key,
            store,
            net,
            events,
            metrics,
            photos,
            meshes,
        } = parts;
        Self {
            photos,
            author: swapmesh_protocol::signed::author_of(&key),
            key,
            store,
            net,
            events,
            metrics,
            clock: config.clock.clone(),
            listing_lifetime: config.listing_lifetime.as_secs().min(MAX_LIFETIME),
            pending_burst: config.pending_burst.max(1),
            pending_per_second: config.pending_per_second.max(1),
            own_writes: tokio::sync::Mutex::new(()),
            held: Mutex::new(BTreeMap::new()),
            spill: match &config.area {
                Some(area) if config.faults.no_area_filter() => {
                    swapmesh_protocol::topic::area_topics(area)
                }
                _ => Vec::new(),
            },
            meshes,
        }
    }

    /// Publishes a new listing of ours at `placement`. A listing of ours with the
    /// same name that is live is an error; one that was withdrawn may be
    /// published anew.
    pub(crate) async fn publish_listing(
        &self,
        listing: Listing,
        placement: Placement,
    ) -> Result<Verified, NodeError> {
        let _guard = self.own_writes.lock().await;
        let seq = match self.store.get_current(&self.listing_address(&listing.d))? {
            Some(current) if !current.body.is_tombstone() => {
                return Err(NodeError::ListingExists(listing.d));
            }
            Some(current) => current.body.seq + 1,
            None => 1,
        };
        let now = self.clock.now();
        let body = RecordBody {
            author: self.author,
            seq,
            created_at: now,
            expires_at: now.plus(self.listing_lifetime),
            area: placement.area,
            meshes: placement.meshes,
            content: Content::Listing(listing),
        };
        self.publish(body, now).await
    }

    /// Publishes a new version of a listing of ours, changed by `change`, at the
    /// same place. Its lifetime starts again.
    pub(crate) async fn update_listing(
        &self,
        d: &str,
        change: impl FnOnce(&mut Listing),
    ) -> Result<Verified, NodeError> {
        let _guard = self.own_writes.lock().await;
        let mut body = self.current_own_listing(d)?;
        let Content::Listing(listing) = &mut body.content else {
            return Err(NodeError::NoSuchListing(d.to_owned()));
        };
        change(listing);
        listing.d = d.to_owned();
        if listing.is_withdrawn() {
            return Err(NodeError::Withdrawn(d.to_owned()));
        }
        let now = self.clock.now();
        body.seq += 1;
        body.created_at = now;
        body.expires_at = now.plus(self.listing_lifetime);
        self.publish(body, now).await
    }

    /// Withdraws a listing of ours: publishes its tombstone, which lives a full
    /// year and at least as long as the version it replaces.
    pub(crate) async fn withdraw_listing(&self, d: &str) -> Result<Verified, NodeError> {
        let _guard = self.own_writes.lock().await;
        let mut body = self.current_own_listing(d)?;
        if let Content::Listing(listing) = &mut body.content {
            listing.status = ListingStatus::Withdrawn;
        }
        let now = self.clock.now();
        body.seq += 1;
        body.created_at = now;
        body.expires_at = tombstone_expiry(now.plus(YEAR), body.expires_at);
        self.publish(body, now).await
    }

    /// Sets our profile at `placement` (a new version replaces the old one
    /// everywhere).
    pub(crate) async fn set_profile(
        &self,
        profile: Profile,
        placement: Placement,
    ) -> Result<Verified, NodeError> {
        self.publish_replacing(Content::Profile(profile), placement)
            .await
    }

    /// Publishes a record of ours that lives a year at `placement`: a profile,
    /// a receipt or a review. A new version replaces the one at its address.
    pub(crate) async fn publish_replacing(
        &self,
        content: Content,
        placement: Placement,
    ) -> Result<Verified, NodeError> {
        let _guard = self.own_writes.lock().await;
        let now = self.clock.now();
        let mut body = RecordBody {
            author: self.author,
            seq: 1,
            created_at: now,
            expires_at: now.plus(YEAR),
            area: placement.area,
            meshes: placement.meshes,
            content,
        };
        body.seq = self
            .store
            .current_version(&body.address())?
            .map_or(1, |v| v.seq + 1);
        self.publish(body, now).await
    }

    /// A first peer joined `topic`: publishes the records held back for it,
    /// rate-limited (the receivers' flood limits), in a task of its own.
    pub(crate) fn first_peer_on(self: &Arc<Self>, topic: &Topic) {
        let held = self.held.lock().expect("held lock").remove(topic);
        if let Some(ids) = held {
            debug!(%topic, count = ids.len(), "first peer on topic: publishing held records");
            // Not tracked for shutdown: it ends on its own once the network stops
            // (publishing returns `Stopped`).
            tokio::spawn(self.clone().publish_held(topic.clone(), ids));
        }
    }

    fn listing_address(&self, d: &str) -> Address {
        Address {
            author: self.author,
            kind: RecordKind::Listing,
            d: d.to_owned(),
        }
    }

    fn current_own_listing(&self, d: &str) -> Result<RecordBody, NodeError> {
        match self.store.get_current(&self.listing_address(d))? {
            Some(current) if current.body.is_tombstone() => Err(NodeError::Withdrawn(d.to_owned())),
            Some(current) => Ok(current.body),
            None => Err(NodeError::NoSuchListing(d.to_owned())),
        }
    }

    /// Signs, validates, stores, flushes, then publishes a record of ours on its
    /// topics.
    async fn publish(&self, body: RecordBody, now: Timestamp) -> Result<Verified, NodeError> {
        self.check_photos(&body)?;
        let verified = sign_own(&body, &self.key, now)?;
        if let Err(quota) = self.store.quota_check(&verified)? {
            // Refused before anything changed: storing it would replace the
            // current version with one that no node keeps.
            return Err(NodeError::OverQuota(quota));
        }
        let outcome = self.store.insert_durable(&verified, now).await?;
        if !outcome.is_new() {
            return Err(NodeError::Superseded);
        }
        NodeEvent::announce_insert(&self.events, &self.metrics, outcome, &verified);
        let mut topics = topics(verified.body());
        for topic in &self.spill {
            if !topics.contains(topic) {
                topics.push(topic.clone());
            }
        }
        for topic in topics {
            if let Some(message) = self.message_for(&topic, verified.signed()) {
                self.publish_on(&topic, verified.id(), message).await;
            }
        }
        Ok(verified)
    }

    /// The gossip message of `record` on `topic`: sealed on a private mesh's
    /// topic (`None` when we no longer hold its key), in the clear elsewhere.
    fn message_for(&self, topic: &Topic, record: &SignedRecord) -> Option<Vec<u8>> {
        if !topic.is_private() {
            return Some(GossipMessage::record(record.clone()).encode());
        }
        let Some(secrets) = self.meshes.secrets(topic) else {
            debug!(%topic, "not in this private mesh any more: not published there");
            return None;
        };
        Some(GossipMessage::sealed(secrets.seal(&record.encode())).encode())
    }

    /// A live listing of ours names only photos held here (uploaded, or
    /// fetched), so that others can fetch them from us.
    fn check_photos(&self, body: &RecordBody) -> Result<(), NodeError> {
        let Content::Listing(listing) = &body.content else {
            return Ok(());
        };
        if listing.is_withdrawn() {
            return Ok(());
        }
        for hash in &listing.photos {
            if !self.photos.contains(hash)? {
                return Err(NodeError::MissingPhoto(*hash));
            }
        }
        Ok(())
    }

    /// Publishes one record on one topic; holds it back when nobody has joined
    /// the topic. `false` when the network has stopped.
    async fn publish_on(&self, topic: &Topic, id: RecordId, data: Vec<u8>) -> bool {
        match self.net.publish(topic.as_str(), data).await {
            Ok(_) | Err(PublishError::Duplicate) => true,
            Err(PublishError::NoPeers) => {
                debug!(%topic, %id, "no peers on topic yet; holding the record back");
                let mut held = self.held.lock().expect("held lock");
                held.entry(topic.clone()).or_default().insert(id);
                true
            }
            Err(PublishError::Stopped) => false,
            Err(e) => {
                warn!(%topic, %id, error = %e, "publishing failed");
                true
            }
        }
    }

    async fn publish_held(self: Arc<Self>, topic: Topic, ids: BTreeSet<RecordId>) {
        let (burst, per_second) = (self.pending_burst, self.pending_per_second);
        for (n, id) in ids.into_iter().enumerate() {
            if n >= burst && (n - burst).is_multiple_of(per_second) {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            let record = match self.store.get(&id) {
                Ok(Some(r)) => r,
                Ok(None) => continue, // replaced or expired meanwhile
                Err(e) => {
                    warn!(%id, error = %e, "could not read a held record");
                    continue;
                }
            };
            let Some(data) = self.message_for(&topic, &record.signed) else {
                return;
            };
            if !self.publish_on(&topic, id, data).await {
                return;
            }
        }
    }
}
