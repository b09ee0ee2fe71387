//! The façade's records: our own listings and profile (through the publisher),
//! and reading and searching what we hold.

use swapmesh_protocol::listing::Listing;
use swapmesh_protocol::record::PROFILE_D;
use swapmesh_protocol::social::Profile;
use swapmesh_protocol::{
    Address, AuthorKey, Content, ListingId, ListingIdPrefix, RecordId, RecordKind, Verified,
};
use swapmesh_store::{Page, Query, StoredRecord};

use super::{Node, Placement};
use crate::error::NodeError;

impl Node {
    /// Publishes a new listing of ours at the default placement.
    pub async fn publish_listing(&self, listing: Listing) -> Result<Verified, NodeError> {
        self.publish_listing_at(listing, self.default_placement())
            .await
    }

    /// Publishes a new listing of ours at `placement`. A listing of ours with the same
    /// name that is live is an error; one that was withdrawn may be published anew.
    pub async fn publish_listing_at(
        &self,
        listing: Listing,
        placement: Placement,
    ) -> Result<Verified, NodeError> {
        self.inner
            .publisher
            .publish_listing(listing, placement)
            .await
    }

    /// Publishes a new version of a listing of ours, changed by `change`, at the same
    /// place. Its lifetime starts again.
    pub async fn update_listing(
        &self,
        d: &str,
        change: impl FnOnce(&mut Listing),
    ) -> Result<Verified, NodeError> {
        self.inner.publisher.update_listing(d, change).await
    }

    /// Withdraws a listing of ours: publishes its tombstone, which lives a full year
    /// so it outlives every version it replaces.
    pub async fn withdraw_listing(&self, d: &str) -> Result<Verified, NodeError> {
        self.inner.publisher.withdraw_listing(d).await
    }

    /// [`Node::update_listing`] by the listing's id: another author's listing is
    /// [`NodeError::NotOurListing`].
    pub async fn change_listing(
        &self,
        id: &ListingId,
        change: impl FnOnce(&mut Listing),
    ) -> Result<Verified, NodeError> {
        self.check_ours(id)?;
        self.update_listing(&id.d, change).await
    }

    /// [`Node::withdraw_listing`] by the listing's id: another author's listing
    /// is [`NodeError::NotOurListing`].
    pub async fn withdraw(&self, id: &ListingId) -> Result<Verified, NodeError> {
        self.check_ours(id)?;
        self.withdraw_listing(&id.d).await
    }

    fn check_ours(&self, id: &ListingId) -> Result<(), NodeError> {
        if id.author == self.author() {
            Ok(())
        } else {
            Err(NodeError::NotOurListing(id.to_string()))
        }
    }

    /// The listings a short id names, as people type one (DESIGN §7): the name
    /// of a listing of ours (`cordless-drill-71de39`, withdrawn or not) names
    /// that one alone; otherwise the live listings whose id `<author-hex>.<d>`
    /// starts with `short`, newest first, at most `limit`. A prefix needs
    /// [`ListingIdPrefix::MIN_LEN`] characters ([`NodeError::IdPrefixTooShort`]);
    /// text that cannot start a listing id names nothing.
    pub fn find_listings(&self, short: &str, limit: usize) -> Result<Vec<StoredRecord>, NodeError> {
        if swapmesh_protocol::ids::is_valid_name(short) {
            let own = ListingId {
                author: self.author(),
                d: short.to_owned(),
            };
            if let Some(record) = self.listing(&own)? {
                return Ok(vec![record]);
            }
        }
        if short.len() < ListingIdPrefix::MIN_LEN {
            return Err(NodeError::IdPrefixTooShort {
                given: short.to_owned(),
                min: ListingIdPrefix::MIN_LEN,
            });
        }
        let Ok(prefix) = short.parse::<ListingIdPrefix>() else {
            return Ok(Vec::new());
        };
        let now = self.inner.config.clock.now();
        let mut found = self
            .inner
            .store
            .listings_by_id_prefix(&prefix, now, limit)?;
        found.retain(|r| !self.is_blocked(&r.body.author));
        Ok(found)
    }

    /// Sets our profile (a new version replaces the old one everywhere).
    pub async fn set_profile(&self, profile: Profile) -> Result<Verified, NodeError> {
        let placement = self.default_placement();
        self.inner.publisher.set_profile(profile, placement).await
    }

    /// The current version of a listing (anyone's), tombstones included.
    pub fn listing(&self, id: &ListingId) -> Result<Option<StoredRecord>, NodeError> {
        if self.is_blocked(&id.author) {
            return Ok(None);
        }
        let address = Address {
            author: id.author,
            kind: RecordKind::Listing,
            d: id.d.clone(),
        };
        Ok(self.inner.store.get_current(&address)?)
    }

    /// A record we hold, by id.
    pub fn record(&self, id: &RecordId) -> Result<Option<StoredRecord>, NodeError> {
        Ok(self.inner.store.get(id)?)
    }

    /// The current profile of `author`, with its version, if we hold one.
    pub fn profile(&self, author: AuthorKey) -> Result<Option<(u64, Profile)>, NodeError> {
        if self.is_blocked(&author) {
            return Ok(None);
        }
        self.held_profile(author)
    }

    /// The current profile of `author` as held, blocked or not.
    pub(super) fn held_profile(
        &self,
        author: AuthorKey,
    ) -> Result<Option<(u64, Profile)>, NodeError> {
        let address = Address {
            author,
            kind: RecordKind::Profile,
            d: PROFILE_D.to_owned(),
        };
        Ok(self
            .inner
            .store
            .get_current(&address)?
            .and_then(|record| match record.body.content {
                Content::Profile(profile) => Some((record.body.seq, profile)),
                _ => None,
            }))
    }

    /// Searches the listings we hold. Listings expired at the clock's time are left
    /// out, even before the sweep drops them. A search with no place and no
    /// author looks in the places this node listens to (its area's cells and
    /// its meshes), so it costs those topics, not every topic ever stored.
    pub fn search(&self, query: &Query) -> Result<Page, NodeError> {
        let mut query = Query {
            now: self.inner.config.clock.now(),
            ..query.clone()
        };
        if query.cells.is_empty() && query.meshes.is_empty() && query.author.is_none() {
            (query.cells, query.meshes) = self.inner.meshes.places();
        }
        let mut page = self.inner.store.search(&query)?;
        // Blocked authors' listings are hidden here (a page may hold fewer).
        page.records.retain(|r| !self.is_blocked(&r.body.author));
        Ok(page)
    }
}
