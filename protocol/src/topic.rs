//! Gossip topics and mesh ids. [`topics`] is the one function that says which
//! topics a record travels on.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::geo::Geohash;
use crate::record::RecordBody;

/// The built-in mesh of LAN neighbours found with zero configuration.
pub const LOCAL_MESH: &str = "local";

/// A mesh id: `[a-z0-9]{1,32}`: 32 hex characters for a created open mesh, `p`
/// and 31 hex characters for a private one (derived from its key, see
/// [`MeshKey::id`](crate::private::MeshKey::id)), or `local`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MeshId(String);

impl MeshId {
    /// Parses a mesh id.
    pub fn parse(s: &str) -> Option<Self> {
        let m = Self(s.to_owned());
        m.is_valid().then_some(m)
    }

    /// The built-in `local` mesh.
    pub fn local() -> Self {
        Self(LOCAL_MESH.to_owned())
    }

    /// A fresh random mesh id (32 hex characters).
    pub fn random() -> Self {
        Self(hex::encode(rand::random::<[u8; 16]>()))
    }

    /// `[a-z0-9]{1,32}`.
    pub fn is_valid(&self) -> bool {
        (1..=32).contains(&self.0.len())
            && self
                .0
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    }

    /// Whether this is a private mesh's id: `p` and 31 lower-case hex
    /// characters.
    pub fn is_private(&self) -> bool {
        is_private_id(&self.0)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_private_id(id: &str) -> bool {
    id.len() == 32
        && id.starts_with('p')
        && id[1..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl fmt::Display for MeshId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for MeshId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MeshId({})", self.0)
    }
}

/// A gossip topic name: `swapmesh/1/area/<geohash5>`, `swapmesh/1/mesh/<mesh-id>`
/// for an open mesh or `swapmesh/1/pmesh/<private-mesh-id>`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Topic(String);

const AREA_PREFIX: &str = "swapmesh/1/area/";
const MESH_PREFIX: &str = "swapmesh/1/mesh/";
/// Private meshes' topics: `p` and 31 lower-case hex characters.
const PRIVATE_MESH_PREFIX: &str = "swapmesh/1/pmesh/";

impl Topic {
    /// The topic of an area's 5-character cell.
    pub fn area(area: &Geohash) -> Self {
        Self(format!("{AREA_PREFIX}{}", area.cell()))
    }

    /// The topic of a mesh: `pmesh` for a private one.
    pub fn mesh(mesh: &MeshId) -> Self {
        if mesh.is_private() {
            Self(format!("{PRIVATE_MESH_PREFIX}{mesh}"))
        } else {
            Self(format!("{MESH_PREFIX}{mesh}"))
        }
    }

    /// Parses a topic name, accepting only the well-formed kinds: an open
    /// mesh's topic never carries a private-form id, nor a private one another.
    pub fn parse(s: &str) -> Option<Self> {
        if let Some(cell) = s.strip_prefix(AREA_PREFIX) {
            Geohash::parse_cell(cell).map(|g| Self::area(&g))
        } else if let Some(mesh) = s.strip_prefix(MESH_PREFIX) {
            MeshId::parse(mesh)
                .filter(|m| !m.is_private())
                .map(|m| Self::mesh(&m))
        } else if let Some(mesh) = s.strip_prefix(PRIVATE_MESH_PREFIX) {
            MeshId::parse(mesh)
                .filter(MeshId::is_private)
                .map(|m| Self::mesh(&m))
        } else {
            None
        }
    }

    /// Whether a peer may announce `name` (a gossipsub subscription): an area,
    /// mesh or private mesh topic (nodes relay private meshes' topics without
    /// joining them).
    pub fn admitted(name: &str) -> bool {
        Self::parse(name).is_some()
    }

    /// Whether this is a private mesh's topic.
    pub fn is_private(&self) -> bool {
        self.0.starts_with(PRIVATE_MESH_PREFIX)
    }

    /// The topic name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The mesh of a mesh topic, open or private (`None` for an area topic).
    pub fn mesh_id(&self) -> Option<MeshId> {
        self.0
            .strip_prefix(MESH_PREFIX)
            .or_else(|| self.0.strip_prefix(PRIVATE_MESH_PREFIX))
            .and_then(MeshId::parse)
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The topics a record travels on: its 5-character area cell, if any, and each of
/// its meshes.
pub fn topics(body: &RecordBody) -> Vec<Topic> {
    body.area
        .iter()
        .map(Topic::area)
        .chain(body.meshes.iter().map(Topic::mesh))
        .collect()
}

/// The topics a node listens to for an area: its cell and the 8 around it.
pub fn area_topics(area: &Geohash) -> Vec<Topic> {
    area.cell()
        .with_neighbours()
        .iter()
        .map(Topic::area)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mesh_ids() {
        assert!(MeshId::parse("local").is_some());
        assert!(MeshId::random().is_valid());
        assert_eq!(MeshId::random().as_str().len(), 32);
        assert!(MeshId::parse("").is_none());
        assert!(MeshId::parse("Local").is_none());
        assert!(MeshId::parse(&"a".repeat(33)).is_none());
    }

    #[test]
    fn topic_names() {
        let g = Geohash::parse_area("u4pruy").unwrap();
        assert_eq!(Topic::area(&g).as_str(), "swapmesh/1/area/u4pru");
        assert_eq!(
            Topic::mesh(&MeshId::local()).as_str(),
            "swapmesh/1/mesh/local"
        );
        assert_eq!(Topic::parse("swapmesh/1/area/u4pru"), Some(Topic::area(&g)));
        assert!(Topic::parse("swapmesh/1/area/u4pruy").is_none());
        assert!(Topic::parse("swapmesh/2/mesh/local").is_none());
        assert_eq!(area_topics(&g).len(), 9);
        assert_eq!(
            Topic::mesh(&MeshId::local()).mesh_id(),
            Some(MeshId::local())
        );
        assert_eq!(Topic::area(&g).mesh_id(), None);
    }

    #[test]
    fn admitted_names_are_ours_and_private_meshes() {
        for name in [
            "swapmesh/1/area/u4pru",
            "swapmesh/1/mesh/local",
            "swapmesh/1/pmesh/p0123456789abcdef0123456789abcde",
        ] {
            assert!(Topic::admitted(name), "{name}");
        }
        for name in [
            "",
            "junk/topic",
            "swapmesh/1/area/u4pruy",
            "swapmesh/1/mesh/Local",
            "swapmesh/1/pmesh/p0123456789abcdef0123456789abcd",
            "swapmesh/1/pmesh/p0123456789abcdef0123456789abcdef",
            "swapmesh/1/pmesh/p0123456789ABCDEF0123456789ABCDE",
            "swapmesh/1/pmesh/q0123456789abcdef0123456789abcde",
            "swapmesh/2/area/u4pru",
            "swapmesh/1/mesh/p0123456789abcdef0123456789abcde",
            "swapmesh/1/pmesh/local",
        ] {
            assert!(!Topic::admitted(name), "{name}");
        }
    }

    #[test]
    fn private_ids_map_to_their_own_topics() {
        let id = MeshId::parse("p0123456789abcdef0123456789abcde").unwrap();
        assert!(id.is_private());
        let topic = Topic::mesh(&id);
        assert_eq!(topic.as_str(), format!("swapmesh/1/pmesh/{id}"));
        assert!(topic.is_private());
        assert_eq!(topic.mesh_id(), Some(id));
        assert_eq!(Topic::parse(topic.as_str()), Some(topic));
        assert!(!MeshId::random().is_private());
        assert!(!MeshId::parse("park").unwrap().is_private());
        assert!(!Topic::mesh(&MeshId::local()).is_private());
    }
}
