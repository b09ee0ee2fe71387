//! The façade's meshes: join, leave, create, invite, join by invite.

use swapmesh_protocol::{MeshId, Topic};
use tracing::{info, warn};

use super::Node;
use crate::error::NodeError;
use crate::invite::{Invite, MeshInfo};

impl Node {
    /// Joins a named mesh: listens to it, remembers it across restarts, and places
    /// our new records in it.
    pub async fn join_mesh(&self, mesh: MeshId) -> Result<(), NodeError> {
        self.join_named_mesh(mesh, None).await
    }

    async fn join_named_mesh(&self, mesh: MeshId, name: Option<String>) -> Result<(), NodeError> {
        let topic = Topic::mesh(&mesh);
        self.inner.meshes.join(mesh, name).await?;
        self.inner.net.subscribe(topic.as_str()).await?;
        Ok(())
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
        Ok(())
    }

    /// The named meshes this node is in.
    pub fn meshes(&self) -> Vec<MeshId> {
        self.inner.meshes.ids()
    }

    /// The named meshes this node is in, with their names.
    pub fn named_meshes(&self) -> Vec<MeshInfo> {
        self.inner.meshes.list()
    }

    /// Creates a named mesh with a fresh random id, joins it, and returns its id
    /// and an invite to it (see [`Node::invite`]).
    pub async fn create_mesh(&self, name: &str) -> Result<(MeshId, String), NodeError> {
        let mesh = MeshId::random();
        // Check the name (and that we have an address) before joining anything.
        let text = self.invite_text(&mesh, name).await?;
        self.join_named_mesh(mesh.clone(), Some(name.to_owned()))
            .await?;
        info!(%mesh, name, "created mesh");
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
        self.invite_text(mesh, &name).await
    }

    async fn invite_text(&self, mesh: &MeshId, name: &str) -> Result<String, NodeError> {
        let external = self.inner.net.external_addresses().await?;
        let listening = self.inner.net.listen_addresses().await?;
        if external.is_empty() && listening.is_empty() {
            return Err(NodeError::NoAddressToShare);
        }
        let invite =
            Invite::of_own_addresses(mesh.clone(), name, self.peer_id(), external, listening)?;
        Ok(invite.encode())
    }

    /// Joins a mesh from an invite text: checks it (a mistyped or altered invite
    /// is refused with [`NodeError::Invite`]), joins and remembers the mesh and
    /// its name, remembers the invite's peers in the address book, and dials them
    /// (they also seed Kademlia). Returns the mesh id.
    pub async fn join_invite(&self, text: &str) -> Result<MeshId, NodeError> {
        let invite = Invite::parse(text)?;
        self.join_named_mesh(invite.mesh.clone(), Some(invite.name.clone()))
            .await?;
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
