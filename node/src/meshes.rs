//! [`MeshBook`]: the named meshes this node is in, with their names (and, for a
//! private mesh, its key and what follows from it), and so the topics it
//! listens to (its area's cell and neighbours, or the built-in `local` mesh,
//! plus every named mesh).
//!
//! The book is saved as one value in one format (`mesh_book` in the store's state,
//! canonical bincode), written before a join or leave is acknowledged. Books saved
//! by older versions (`SavedBook::V1`, without keys; or two values, `meshes`,
//! whitespace-separated ids, and `mesh_names`, bincode pairs) are read once and
//! rewritten.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use swapmesh_protocol::encoding::{decode_canonical, encode};
use swapmesh_protocol::private::{MESH_KEY_LEN, MeshKey, MeshSecrets};
use swapmesh_protocol::topic::area_topics;
use swapmesh_protocol::validate::MAX_MESHES;
use swapmesh_protocol::{Geohash, MeshId, Topic};
use swapmesh_store::Store;
use tracing::warn;

use crate::error::NodeError;
use crate::invite::MeshInfo;

/// The store state key of the book.
const BOOK_STATE: &str = "mesh_book";
/// Older state keys, read once and removed.
const OLD_MESHES_STATE: &str = "meshes";
const OLD_NAMES_STATE: &str = "mesh_names";
/// Largest encoded book read back.
const MAX_BOOK_BYTES: usize = 256 * 1024;
/// The state key of the cells dropped to keep within the store budget:
/// canonical bincode of (the budget then, the cells).
const DROPPED_STATE: &str = "dropped_cells";

/// The book as stored.
#[derive(Serialize, Deserialize, Default)]
enum SavedBook {
    #[default]
    Empty,
    /// (mesh id, name if known), ascending by id.
    V1(Vec<(String, Option<String>)>),
    /// Every mesh, ascending by id.
    V2(Vec<SavedMesh>),
}

/// One mesh as stored.
#[derive(Serialize, Deserialize)]
struct SavedMesh {
    id: String,
    name: Option<String>,
    /// A private mesh's key (its id follows from it).
    key: Option<[u8; MESH_KEY_LEN]>,
    discoverable: bool,
}

/// One mesh of the book.
#[derive(Debug, Clone)]
struct Entry {
    name: Option<String>,
    /// A private mesh's key and what follows from it.
    private: Option<(MeshKey, Arc<MeshSecrets>)>,
    /// Whether we announce the mesh's topic in Kademlia (a private mesh may
    /// keep even its opaque id to itself).
    discoverable: bool,
}

impl Entry {
    fn open(name: Option<String>) -> Self {
        Self {
            name,
            private: None,
            discoverable: true,
        }
    }

    fn private(key: MeshKey, name: Option<String>, discoverable: bool) -> Self {
        let secrets = Arc::new(MeshSecrets::new(&key));
        Self {
            name,
            private: Some((key, secrets)),
            discoverable,
        }
    }
}

/// The named meshes of a node and the topics it listens to.
#[derive(Debug)]
pub(crate) struct MeshBook {
    store: Store,
    /// The node's area, fixed for its life: its topics come before the meshes'.
    area: Option<Geohash>,
    /// Named meshes joined (not `local`, which follows from having no area), with
    /// their names where known.
    meshes: Mutex<BTreeMap<MeshId, Entry>>,
    /// Neighbour cells of the area no longer listened to, to keep the store
    /// within its budget, farthest first (see `Node::keep_store_budget`).
    dropped: Mutex<Vec<Geohash>>,
    /// The store budget the node runs with.
    budget: u64,
}

impl MeshBook {
    /// Reads the book of `store`, adds `extra` meshes (from the config) and saves
    /// it durably.
    pub(crate) async fn open(
        store: Store,
        area: Option<Geohash>,
        extra: &[MeshId],
        budget: u64,
    ) -> Result<Self, NodeError> {
        let mut meshes = load(&store)?;
        for mesh in extra {
            if mesh.is_private() && !meshes.contains_key(mesh) {
                // Only its invite can bring its key.
                warn!(%mesh, "a private mesh is joined by its invite, not its id: not joined");
                continue;
            }
            meshes
                .entry(mesh.clone())
                .or_insert_with(|| Entry::open(None));
        }
        let dropped = match store.get_state(DROPPED_STATE)? {
            None => Vec::new(),
            Some(bytes) => match decode_canonical::<(u64, Vec<String>)>(&bytes, MAX_BOOK_BYTES) {
                // A larger budget than when they were dropped: listen again
                // (the next check drops what is still too much).
                Ok((then, _)) if then < budget => Vec::new(),
                Ok((_, cells)) => cells
                    .iter()
                    .filter_map(|c| Geohash::parse_cell(c))
                    .collect(),
                Err(e) => return Err(NodeError::Corrupt(format!("dropped cells unreadable: {e}"))),
            },
        };
        let book = Self {
            store,
            area,
            meshes: Mutex::new(meshes),
            dropped: Mutex::new(dropped),
            budget,
        };
        book.save(|_| ()).await?;
        let _ = book.store.remove_state(OLD_MESHES_STATE);
        let _ = book.store.remove_state(OLD_NAMES_STATE);
        Ok(book)
    }

    /// The named meshes, ascending.
    pub(crate) fn ids(&self) -> Vec<MeshId> {
        self.lock().keys().cloned().collect()
    }

    /// The named meshes with their names.
    pub(crate) fn list(&self) -> Vec<MeshInfo> {
        self.lock()
            .iter()
            .map(|(id, entry)| MeshInfo {
                id: id.clone(),
                name: entry.name.clone(),
                private: entry.private.is_some(),
                discoverable: entry.discoverable,
            })
            .collect()
    }

    /// The name of a mesh we are in (its id when it has none); `None` when we
    /// are not in it.
    pub(crate) fn name_of(&self, mesh: &MeshId) -> Option<String> {
        self.lock()
            .get(mesh)
            .map(|entry| entry.name.clone().unwrap_or_else(|| mesh.to_string()))
    }

    /// The key of a private mesh we are in.
    pub(crate) fn key_of(&self, mesh: &MeshId) -> Option<MeshKey> {
        self.private_of(mesh).map(|(key, _)| key)
    }

    /// The key of a private mesh we are in and whether it is discoverable
    /// (what its invites carry).
    pub(crate) fn private_of(&self, mesh: &MeshId) -> Option<(MeshKey, bool)> {
        let meshes = self.lock();
        let entry = meshes.get(mesh)?;
        let (key, _) = entry.private.as_ref()?;
        Some((key.clone(), entry.discoverable))
    }

    /// What we hold of the private mesh whose topic is `topic`: `None` for
    /// any other topic, or a private mesh we are not in.
    pub(crate) fn secrets(&self, topic: &Topic) -> Option<Arc<MeshSecrets>> {
        if !topic.is_private() {
            return None;
        }
        let mesh = topic.mesh_id()?;
        self.lock()
            .get(&mesh)
            .and_then(|entry| entry.private.as_ref())
            .map(|(_, secrets)| secrets.clone())
    }

    /// Joins an open mesh (a given name replaces the one known), durably.
    pub(crate) async fn join(&self, mesh: MeshId, name: Option<String>) -> Result<(), NodeError> {
        self.save(|meshes| {
            let entry = meshes.entry(mesh).or_insert_with(|| Entry::open(None));
            if name.is_some() {
                entry.name = name;
            }
        })
        .await
    }

    /// Joins a private mesh by its key, durably; its id.
    pub(crate) async fn join_private(
        &self,
        key: MeshKey,
        name: Option<String>,
        discoverable: bool,
    ) -> Result<MeshId, NodeError> {
        let id = key.id();
        self.save(|meshes| {
            meshes.insert(id.clone(), Entry::private(key, name, discoverable));
        })
        .await?;
        Ok(id)
    }

    /// Leaves a mesh and forgets its name, durably.
    pub(crate) async fn leave(&self, mesh: &MeshId) -> Result<(), NodeError> {
        self.save(|meshes| {
            meshes.remove(mesh);
        })
        .await
    }

    /// The topics this node listens to: its area's cell and neighbours, or the
    /// `local` mesh, and its named meshes.
    pub(crate) fn topics(&self) -> Vec<Topic> {
        let dropped = self.dropped_cells();
        let mut out = match &self.area {
            Some(area) => area_topics(area)
                .into_iter()
                .filter(|t| !dropped.iter().any(|c| *t == Topic::area(c)))
                .collect(),
            None => vec![Topic::mesh(&MeshId::local())],
        };
        out.extend(self.lock().keys().map(Topic::mesh));
        out
    }

    /// The places of [`MeshBook::topics`]: the area's cells (its own and the
    /// 8 around it) and the meshes.
    pub(crate) fn places(&self) -> (Vec<Geohash>, Vec<MeshId>) {
        let dropped = self.dropped_cells();
        let cells = self
            .area
            .as_ref()
            .map(|a| a.cell().with_neighbours())
            .unwrap_or_default()
            .into_iter()
            .filter(|c| !dropped.contains(c))
            .collect();
        let mut meshes = Vec::new();
        if self.area.is_none() {
            meshes.push(MeshId::local());
        }
        meshes.extend(self.lock().keys().cloned());
        (cells, meshes)
    }

    /// Whether this node announces itself in Kademlia as a provider of `topic`
    /// (one it listens to): for a mesh, and for its own area cell. A
    /// neighbouring cell's publishers are the nodes in it, which announce it;
    /// announcing all nine would cost nine times the DHT traffic (issue 27).
    /// A private mesh is announced only when it is discoverable.
    pub(crate) fn announces(&self, topic: &Topic) -> bool {
        match (topic.mesh_id(), &self.area) {
            (Some(mesh), _) => self.lock().get(&mesh).is_none_or(|e| e.discoverable),
            (None, None) => true,
            (None, Some(area)) => *topic == Topic::area(&area.cell()),
        }
    }

    /// Whether this node listens to `topic`.
    pub(crate) fn listens_to(&self, topic: &Topic) -> bool {
        self.topics().contains(topic)
    }

    /// The neighbour cells no longer listened to, to keep within the store
    /// budget, in the order they were dropped.
    pub(crate) fn dropped_cells(&self) -> Vec<Geohash> {
        self.dropped.lock().expect("dropped cells lock").clone()
    }

    /// The neighbour cell still listened to that lies farthest from the area
    /// (the area's own cell is never dropped).
    pub(crate) fn farthest_cell(&self) -> Option<Geohash> {
        let area = self.area.as_ref()?;
        let dropped = self.dropped_cells();
        area.cell()
            .neighbours()
            .into_iter()
            .filter(|c| !dropped.contains(c))
            .max_by(|a, b| {
                area.distance_km(a)
                    .total_cmp(&area.distance_km(b))
                    .then_with(|| b.as_str().cmp(a.as_str()))
            })
    }

    /// Stops listening to a neighbour cell for the store budget, durably.
    pub(crate) async fn drop_cell(&self, cell: Geohash) -> Result<(), NodeError> {
        let cells: Vec<String> = {
            let mut dropped = self.dropped.lock().expect("dropped cells lock");
            if !dropped.contains(&cell) {
                dropped.push(cell);
            }
            dropped.iter().map(|c| c.as_str().to_owned()).collect()
        };
        self.store
            .put_state(DROPPED_STATE, &encode(&(self.budget, cells)))?;
        self.store.flush().await?;
        Ok(())
    }

    /// The meshes our records go to by default: `local` when we have no area,
    /// then the open named meshes (at most 4 in all). A private mesh gets only
    /// what is meant for it, by name.
    pub(crate) fn default_meshes(&self) -> Vec<MeshId> {
        let mut meshes = Vec::new();
        if self.area.is_none() {
            meshes.push(MeshId::local());
        }
        meshes.extend(
            self.lock()
                .iter()
                .filter(|(_, e)| e.private.is_none())
                .map(|(id, _)| id.clone()),
        );
        meshes.truncate(MAX_MESHES);
        meshes
    }

    /// Changes the book and writes it in one step (so two changes never save out
    /// of order), then flushes before returning.
    async fn save(
        &self,
        change: impl FnOnce(&mut BTreeMap<MeshId, Entry>),
    ) -> Result<(), NodeError> {
        {
            let mut meshes = self.lock();
            change(&mut meshes);
            let saved = SavedBook::V2(
                meshes
                    .iter()
                    .map(|(id, entry)| SavedMesh {
                        id: id.as_str().to_owned(),
                        name: entry.name.clone(),
                        key: entry.private.as_ref().map(|(key, _)| *key.as_bytes()),
                        discoverable: entry.discoverable,
                    })
                    .collect(),
            );
            self.store.put_state(BOOK_STATE, &encode(&saved))?;
        }
        self.store.flush().await?;
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<MeshId, Entry>> {
        self.meshes.lock().expect("mesh book lock")
    }
}

/// Reads the book, or the two values older versions saved.
fn load(store: &Store) -> Result<BTreeMap<MeshId, Entry>, NodeError> {
    if let Some(bytes) = store.get_state(BOOK_STATE)? {
        return Ok(
            match decode_canonical::<SavedBook>(&bytes, MAX_BOOK_BYTES) {
                Ok(SavedBook::V1(pairs)) => pairs
                    .into_iter()
                    .filter_map(|(id, name)| MeshId::parse(&id).map(|id| (id, Entry::open(name))))
                    .collect(),
                Ok(SavedBook::V2(saved)) => saved
                    .into_iter()
                    .filter_map(|m| {
                        let entry = match m.key {
                            Some(key) => {
                                Entry::private(MeshKey::from_bytes(key), m.name, m.discoverable)
                            }
                            None => Entry {
                                discoverable: m.discoverable,
                                ..Entry::open(m.name)
                            },
                        };
                        let id = match &entry.private {
                            Some((_, secrets)) => secrets.id().clone(),
                            None => MeshId::parse(&m.id)?,
                        };
                        Some((id, entry))
                    })
                    .collect(),
                Ok(SavedBook::Empty) => BTreeMap::new(),
                Err(e) => {
                    // Losing the book would silently leave meshes: refuse to start.
                    return Err(NodeError::Corrupt(format!("mesh book unreadable: {e}")));
                }
            },
        );
    }
    let mut meshes: BTreeMap<MeshId, Entry> = match store.get_state(OLD_MESHES_STATE)? {
        Some(bytes) => String::from_utf8_lossy(&bytes)
            .split_whitespace()
            .filter_map(MeshId::parse)
            .map(|id| (id, Entry::open(None)))
            .collect(),
        None => BTreeMap::new(),
    };
    if let Some(bytes) = store.get_state(OLD_NAMES_STATE)? {
        match decode_canonical::<Vec<(String, String)>>(&bytes, MAX_BOOK_BYTES) {
            Ok(pairs) => {
                for (id, name) in pairs {
                    if let Some(slot) = MeshId::parse(&id).and_then(|id| meshes.get_mut(&id)) {
                        slot.name = Some(name);
                    }
                }
            }
            // Names are a convenience: a damaged list is dropped, not fatal.
            Err(e) => warn!(error = %e, "old mesh names unreadable; forgetting them"),
        }
    }
    Ok(meshes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mesh(s: &str) -> MeshId {
        MeshId::parse(s).unwrap()
    }

    #[tokio::test]
    async fn the_book_survives_a_reopen_in_one_value() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path(), Default::default()).unwrap();
        let book = MeshBook::open(store.clone(), None, &[mesh("club")], u64::MAX)
            .await
            .unwrap();
        book.join(mesh("elm"), Some("Elm Street".into()))
            .await
            .unwrap();
        book.leave(&mesh("club")).await.unwrap();
        drop(book);
        let again = MeshBook::open(store.clone(), None, &[], u64::MAX)
            .await
            .unwrap();
        assert_eq!(again.ids(), vec![mesh("elm")]);
        assert_eq!(again.name_of(&mesh("elm")).as_deref(), Some("Elm Street"));
        assert_eq!(
            again.topics(),
            vec![Topic::mesh(&MeshId::local()), Topic::mesh(&mesh("elm"))]
        );
        assert!(store.get_state(OLD_MESHES_STATE).unwrap().is_none());
    }

    #[tokio::test]
    async fn a_private_mesh_keeps_its_key_and_stays_out_of_defaults() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path(), Default::default()).unwrap();
        let book = MeshBook::open(store.clone(), None, &[mesh("club")], u64::MAX)
            .await
            .unwrap();
        let (open_key, hidden_key) = (MeshKey::random(), MeshKey::random());
        let seen = book
            .join_private(open_key.clone(), Some("Elm".into()), true)
            .await
            .unwrap();
        let hidden = book
            .join_private(hidden_key.clone(), None, false)
            .await
            .unwrap();
        drop(book);
        let book = MeshBook::open(store, None, &[], u64::MAX).await.unwrap();
        assert_eq!(book.key_of(&seen), Some(open_key));
        assert_eq!(book.key_of(&hidden), Some(hidden_key));
        assert_eq!(book.key_of(&mesh("club")), None);
        assert!(book.secrets(&Topic::mesh(&seen)).is_some());
        // Only the open mesh gets records by default.
        assert_eq!(book.default_meshes(), vec![MeshId::local(), mesh("club")]);
        // A hidden mesh's topic is listened to but not announced.
        assert!(book.listens_to(&Topic::mesh(&hidden)));
        assert!(!book.announces(&Topic::mesh(&hidden)));
        assert!(book.announces(&Topic::mesh(&seen)));
        let kinds: Vec<(bool, bool)> = book
            .list()
            .iter()
            .map(|m| (m.private, m.discoverable))
            .collect();
        assert_eq!(kinds.len(), 3);
        assert!(kinds.contains(&(true, false)) && kinds.contains(&(false, true)));
        // A private id named in the config, without its key, is not joined.
        let bogus = MeshKey::random().id();
        drop(book);
        let tmp2 = tempfile::tempdir().unwrap();
        let store2 = Store::open(tmp2.path(), Default::default()).unwrap();
        let book = MeshBook::open(store2, None, std::slice::from_ref(&bogus), u64::MAX)
            .await
            .unwrap();
        assert!(!book.ids().contains(&bogus));
    }

    #[tokio::test]
    async fn a_book_of_an_older_version_is_read_and_rewritten() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path(), Default::default()).unwrap();
        store.put_state(OLD_MESHES_STATE, b"elm club").unwrap();
        let names = vec![("elm".to_owned(), "Elm Street".to_owned())];
        store.put_state(OLD_NAMES_STATE, &encode(&names)).unwrap();
        let book = MeshBook::open(store.clone(), None, &[], u64::MAX)
            .await
            .unwrap();
        assert_eq!(book.ids(), vec![mesh("club"), mesh("elm")]);
        assert_eq!(book.name_of(&mesh("elm")).as_deref(), Some("Elm Street"));
        assert_eq!(book.name_of(&mesh("club")).as_deref(), Some("club"));
        assert!(store.get_state(OLD_MESHES_STATE).unwrap().is_none());
        assert!(store.get_state(BOOK_STATE).unwrap().is_some());
    }
}
