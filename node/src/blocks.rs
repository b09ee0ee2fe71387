//! [`Blocks`]: the authors this node's owner does not want to see or deal with.
//!
//! A block is personal: it hides the author's listings, profile and reviews
//! from this node's API, search and page, drops their edges from the trust
//! graph, refuses their new proposals (as `unavailable`: they are not told)
//! and stops ours to them. It changes nothing in what the node stores, syncs
//! and forwards: a set of records that differed per node would fight every
//! sync with the neighbours (see the quotas). Agreements accepted before go on.
//!
//! Kept in the store's state (`blocks`: 32-byte keys end to end), written
//! durably before a change is acknowledged.

use std::collections::BTreeSet;
use std::sync::RwLock;

use swapmesh_protocol::AuthorKey;
use swapmesh_store::{Store, StoreError};

/// The state key.
const STATE_KEY: &str = "blocks";

/// The blocked authors.
#[derive(Debug)]
pub(crate) struct Blocks {
    store: Store,
    set: RwLock<BTreeSet<AuthorKey>>,
    /// One change at a time: each writes the whole set.
    writes: tokio::sync::Mutex<()>,
}

impl Blocks {
    /// The blocks saved in `store`.
    pub(crate) fn open(store: Store) -> Result<Self, StoreError> {
        let set = match store.get_state(STATE_KEY)? {
            Some(bytes) => bytes
                .chunks_exact(32)
                .map(|c| AuthorKey(c.try_into().expect("chunks of 32")))
                .collect(),
            None => BTreeSet::new(),
        };
        Ok(Self {
            store,
            set: RwLock::new(set),
            writes: tokio::sync::Mutex::new(()),
        })
    }

    /// Whether `author` is blocked.
    pub(crate) fn contains(&self, author: &AuthorKey) -> bool {
        self.read().contains(author)
    }

    /// Every blocked author, in key order.
    pub(crate) fn all(&self) -> BTreeSet<AuthorKey> {
        self.read().clone()
    }

    /// Adds or removes `author` durably; returns whether that changed anything.
    pub(crate) async fn set(&self, author: AuthorKey, blocked: bool) -> Result<bool, StoreError> {
        let _one = self.writes.lock().await;
        let bytes = {
            let mut next = self.all();
            let changed = if blocked {
                next.insert(author)
            } else {
                next.remove(&author)
            };
            if !changed {
                return Ok(false);
            }
            let bytes: Vec<u8> = next.iter().flat_map(|a| a.0).collect();
            (bytes, next)
        };
        // Durable before the set the node reads changes.
        self.store.put_state_durable(STATE_KEY, &bytes.0).await?;
        *self.set.write().expect("blocks lock") = bytes.1;
        Ok(true)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeSet<AuthorKey>> {
        self.set.read().expect("blocks lock")
    }
}
