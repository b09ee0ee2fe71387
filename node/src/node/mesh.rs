//! The façade's meshes: join, leave, create, invite, join by invite.

use swapmesh_protocol::private::MeshKey;
use swapmesh_protocol::{Geohash, MeshId, Topic};
use tracing::{info, warn};

use super::Node;
use crate::error::NodeError;
use crate::invite::{Invite, MeshInfo};

/// Whether a record is one this node keeps whatever it listens to: its own,
/// or a receipt or review of one of its agreements.
fn concerns(body: &swapmesh_protocol::RecordBody, me: swapmesh_protocol::AuthorKey) -> bool {
    use swapmesh_protocol::Content;
    let statement = match &body.content {
        Content::Receipt(r) => Some(&r.statement),
        Content::Review(r) => Some(&r.receipt.statement),
        _ => None,
    };
    body.author == me || statement.is_some_and(|s| s.provider == me || s.receiver == me)
}

impl Node {
    /// Joins an open mesh by its id: listens to it, remembers it across
    /// restarts, and places our new records in it. A private mesh's id is
    /// refused ([`NodeError::PrivateMeshNeedsInvite`]): only its invite
    /// carries its key.
    pub async fn join_mesh(&self, mesh: MeshId) -> Result<(), NodeError> {
        if mesh.is_private() {
            return Err(NodeError::PrivateMeshNeedsInvite(mesh.to_string()));
        }
        self.join_named_mesh(mesh, None).await
    }

    async fn join_named_mesh(&self, mesh: MeshId, name: Option<String>) -> Result<(), NodeError> {
        let topic = Topic::mesh(&mesh);
        self.inner.meshes.join(mesh, name).await?;
        self.inner.net.subscribe(topic.as_str()).await?;
        Ok(())
    }

    /// Joins the private mesh of `key`: keeps the key (durably, before
    /// anything else), then listens to the mesh's topic, announcing it in
    /// Kademlia only when the mesh is discoverable.
    async fn join_private_mesh(
        &self,
        key: MeshKey,
        name: Option<String>,
        discoverable: bool,
    ) -> Result<MeshId, NodeError> {
        let mesh = self
            .inner
            .meshes
            .join_private(key, name, discoverable)
            .await?;
        let topic = Topic::mesh(&mesh);
        if self.inner.meshes.announces(&topic) {
            self.inner.net.subscribe(topic.as_str()).await?;
        } else {
            self.inner.net.subscribe_unannounced(topic.as_str()).await?;
        }
        Ok(mesh)
    }

    /// Leaves a named mesh (and forgets its name); [`NodeError::NotInMesh`] if
    /// this node is not in it.
    pub async fn leave_mesh(&self, mesh: &MeshId) -> Result<(), NodeError> {
        if !self.meshes().contains(mesh) {
            return Err(NodeError::NotInMesh(mesh.to_string()));
        }
        self.inner.meshes.leave(mesh).await?;
        self.inner
            .net
            .unsubscribe(Topic::mesh(mesh).as_str())
            .await?;
        let forgotten = self.forget_topic(Topic::mesh(mesh)).await?;
        info!(%mesh, forgotten, "left mesh");
        Ok(())
    }

    /// Forgets the records held only for `topic`, which this node no longer
    /// listens to (`Store::forget_topic`): its own records and the receipts
    /// and reviews of its agreements stay. Returns how many went.
    async fn forget_topic(&self, topic: Topic) -> Result<usize, NodeError> {
        let node = self.clone();
        let forgotten = tokio::task::spawn_blocking(move || {
            let me = node.inner.author;
            let meshes = &node.inner.meshes;
            node.inner.store.forget_topic(
                &topic,
                |t| meshes.listens_to(t),
                |r| concerns(&r.body, me),
            )
        })
        .await
        .map_err(|_| NodeError::Stopped)??;
        self.inner.store.flush().await?;
        Ok(forgotten)
    }

    /// Keeps the stored records within [`NodeConfig::store_budget`]: while
    /// they are over it, stops listening to the neighbour cell farthest from
    /// the area (one whole topic at a time) and forgets what was held for it
    /// alone; ours and our agreements' records stay. The area's own cell is
    /// never dropped. Returns the cells dropped now. Runs at start and after
    /// every sweep; a test calls it.
    ///
    /// [`NodeConfig::store_budget`]: crate::NodeConfig::store_budget
    pub async fn keep_store_budget(&self) -> Result<Vec<Geohash>, NodeError> {
        let budget = self.inner.config.store_budget;
        let mut dropped = Vec::new();
        while self.inner.store.record_bytes() > budget {
            let Some(cell) = self.inner.meshes.farthest_cell() else {
                warn!(
                    held = self.inner.store.record_bytes(),
                    budget, "over the store budget with only the area's own cell left"
                );
                break;
            };
            let topic = Topic::area(&cell);
            self.inner.meshes.drop_cell(cell.clone()).await?;
            self.inner.net.unsubscribe(topic.as_str()).await?;
            let forgotten = self.forget_topic(topic).await?;
            warn!(
                %cell, forgotten, held = self.inner.store.record_bytes(), budget,
                "over the store budget: no longer listening to the farthest cell"
            );
            dropped.push(cell);
        }
        Ok(dropped)
    }

    /// The neighbour cells this node no longer listens to, to keep within
    /// its store budget, in the order they were dropped.
    pub fn dropped_cells(&self) -> Vec<Geohash> {
        self.inner.meshes.dropped_cells()
    }

    /// At start: forgets what is held for meshes left before (their records
    /// held for them alone), so a search or a sync never meets them.
    pub(super) async fn forget_left_meshes(&self) -> Result<(), NodeError> {
        for topic in self.inner.store.stored_topics()? {
            if topic.mesh_id().is_some() && !self.inner.meshes.listens_to(&topic) {
                let forgotten = self.forget_topic(topic.clone()).await?;
                if forgotten > 0 {
                    info!(%topic, forgotten, "forgot the records of a mesh left before");
                }
            }
        }
        Ok(())
    }

    /// The named meshes this node is in.
    pub fn meshes(&self) -> Vec<MeshId> {
        self.inner.meshes.ids()
    }

    /// The key of a private mesh this node is in (what its invites carry:
    /// whoever holds it can read and post).
    pub fn mesh_key(&self, mesh: &MeshId) -> Option<MeshKey> {
        self.inner.meshes.key_of(mesh)
    }

    /// The named meshes this node is in, with their names.
    pub fn named_meshes(&self) -> Vec<MeshInfo> {
        self.inner.meshes.list()
    }

    /// Creates a named mesh, joins it, and returns its id and an invite to it
    /// (see [`Node::invite`]): a private mesh (a fresh random key, which only
    /// its invites carry) unless `open` (a fresh random id anyone may join).
    pub async fn create_mesh(&self, name: &str, open: bool) -> Result<(MeshId, String), NodeError> {
        if !open {
            return self.create_private_mesh(name, true).await;
        }
        let mesh = MeshId::random();
        // Check the name (and that we have an address) before joining anything.
        let text = self.invite_text(&mesh, name, None).await?;
        self.join_named_mesh(mesh.clone(), Some(name.to_owned()))
            .await?;
        info!(%mesh, name, "created open mesh");
        Ok((mesh, text))
    }

    /// Creates a private mesh (a fresh random key, which only its invites
    /// carry), joins it, and returns its id and an invite. Members announce
    /// its topic in Kademlia only when it is `discoverable`.
    pub async fn create_private_mesh(
        &self,
        name: &str,
        discoverable: bool,
    ) -> Result<(MeshId, String), NodeError> {
        let key = MeshKey::random();
        let mesh = key.id();
        let text = self
            .invite_text(&mesh, name, Some((key.clone(), discoverable)))
            .await?;
        self.join_private_mesh(key, Some(name.to_owned()), discoverable)
            .await?;
        info!(%mesh, name, discoverable, "created private mesh");
        Ok((mesh, text))
    }

    /// An invite to a mesh this node is in: its id, name and this node's
    /// addresses (external ones first, then where it listens, loopback last),
    /// as a `swapmesh:…` text with a checksum.
    pub async fn invite(&self, mesh: &MeshId) -> Result<String, NodeError> {
        let name = self
            .inner
            .meshes
            .name_of(mesh)
            .ok_or_else(|| NodeError::NotInMesh(mesh.to_string()))?;
        let private = self.inner.meshes.private_of(mesh);
        self.invite_text(mesh, &name, private).await
    }

    /// The invite text to `mesh`, a private one when its key is given (with
    /// whether it is discoverable).
    async fn invite_text(
        &self,
        mesh: &MeshId,
        name: &str,
        private: Option<(MeshKey, bool)>,
    ) -> Result<String, NodeError> {
        let external = self.inner.net.external_addresses().await?;
        let listening = self.inner.net.listen_addresses().await?;
        if external.is_empty() && listening.is_empty() {
            return Err(NodeError::NoAddressToShare);
        }
        let mut invite =
            Invite::of_own_addresses(mesh.clone(), name, self.peer_id(), external, listening)?;
        if let Some((key, discoverable)) = private {
            invite = invite.into_private(key, discoverable);
        }
        Ok(invite.encode())
    }

    /// Joins a mesh from an invite text: checks it (a mistyped or altered invite
    /// is refused with [`NodeError::Invite`]), joins and remembers the mesh and
    /// its name, remembers the invite's peers in the address book, and dials them
    /// (they also seed Kademlia). Returns the mesh id.
    pub async fn join_invite(&self, text: &str) -> Result<MeshId, NodeError> {
        let invite = Invite::parse(text)?;
        match &invite.key {
            Some(key) => {
                self.join_private_mesh(key.clone(), Some(invite.name.clone()), invite.discoverable)
                    .await?;
            }
            None => {
                self.join_named_mesh(invite.mesh.clone(), Some(invite.name.clone()))
                    .await?;
            }
        }
        for (peer, address) in invite.peers() {
            self.inner.address_book.remember(peer, &[address]);
        }
        if let Err(e) = self.inner.net.bootstrap(invite.bootstrap.clone()).await {
            // Some address of the invite did not work; the others, Kademlia and
            // the address book may still reach the mesh.
            warn!(mesh = %invite.mesh, error = %e, "could not dial every peer of the invite");
        }
        info!(mesh = %invite.mesh, name = %invite.name, "joined mesh from an invite");
        Ok(invite.mesh)
    }
}
