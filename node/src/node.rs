//! [`Node`]: identity + store + network, the ingest loop, and the library API the
//! binary and the tests use.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use swapmesh_net::{
    ConnectionInfo, MdnsConfig, Multiaddr, NetworkConfig, NetworkEvent, NetworkHandle, PeerId,
    PublishError, ServerConfig, multiaddr::Protocol as AddrProtocol,
};
use swapmesh_protocol::encoding::{decode_canonical, encode};
use swapmesh_protocol::listing::{Listing, ListingStatus};
use swapmesh_protocol::record::PROFILE_D;
use swapmesh_protocol::signed::author_of;
use swapmesh_protocol::social::Profile;
use swapmesh_protocol::time::YEAR;
use swapmesh_protocol::topic::area_topics;
use swapmesh_protocol::validate::{MAX_LIFETIME, MAX_MESHES};
use swapmesh_protocol::{
    Address, AuthorKey, Content, Geohash, GossipMessage, ListingId, MeshId, RecordBody, RecordId,
    RecordKind, SigningKey, Timestamp, Topic, Verified, sign_own, topics,
};
use swapmesh_store::{Page, PeerEntry, Query, Store, StoredRecord};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::config::{NodeConfig, Role};
use crate::error::NodeError;
use crate::events::NodeEvent;
use crate::identity;
use crate::ingest::{event_of, ingest};
use crate::invite::{Invite, MeshInfo};
use crate::metrics::AppMetrics;
use crate::sync::{Progress, SyncService};

/// The store state key of the joined named meshes.
const MESHES_STATE: &str = "meshes";
/// The store state key of the names of named meshes (canonical encoding of
/// `Vec<(mesh id, name)>`).
const MESH_NAMES_STATE: &str = "mesh_names";
/// Largest encoded mesh-name list read back.
const MAX_MESH_NAMES: usize = 64 * 1024;
/// Addresses remembered per peer in the address book.
const MAX_PEER_ADDRESSES: usize = 8;
/// Peers kept in the address book; the least recently seen go first.
const MAX_ADDRESS_BOOK: usize = 1024;
/// Addresses of ours put in an invite.
const MAX_INVITE_ADDRESSES: usize = 8;

/// Where a record of ours is placed: its area and meshes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Placement {
    /// The area, if any.
    pub area: Option<Geohash>,
    /// The meshes (at most 4).
    pub meshes: Vec<MeshId>,
}

/// A running node. Cheap to clone; every clone talks to the same node.
#[derive(Clone)]
pub struct Node {
    inner: Arc<Inner>,
}

struct Inner {
    key: SigningKey,
    author: AuthorKey,
    peer_id: PeerId,
    config: NodeConfig,
    store: Store,
    net: NetworkHandle,
    events: broadcast::Sender<NodeEvent>,
    state: Mutex<State>,
    /// Serialises read-modify-write of our own records (the next `seq`).
    own_writes: tokio::sync::Mutex<()>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    sync: SyncService,
    metrics: AppMetrics,
}

#[derive(Default)]
struct State {
    /// Own records kept per topic because no peer had joined it when published.
    pending: BTreeMap<String, BTreeSet<RecordId>>,
    /// Named meshes joined (not `local`, which follows from having no area).
    meshes: BTreeSet<MeshId>,
    /// Names of named meshes, where known.
    mesh_names: BTreeMap<MeshId, String>,
    /// The topics each connected peer has joined (from gossipsub).
    peer_topics: HashMap<PeerId, BTreeSet<String>>,
    /// Topics waiting for a sync session, per peer. A peer has an entry while its
    /// worker runs: sessions with one peer run one at a time.
    sync_queue: HashMap<PeerId, BTreeSet<String>>,
}

impl Node {
    /// Starts a node: loads or creates its key, opens its store, starts its network,
    /// joins its topics, dials its bootstrap peers, and runs until [`Node::shutdown`].
    pub async fn start(config: NodeConfig) -> Result<Node, NodeError> {
        let key = identity::load_or_create_key(&config.data_dir)?;
        let store = Store::open(config.data_dir.join("db"), config.store.clone())?;

        let net_config = network_config(&config, identity::libp2p_keypair(&key));
        let sync_frame_limit = net_config.frame_limits.sync;
        let (net, net_events, event_loop) = swapmesh_net::new(net_config)?;
        let net_task = tokio::spawn(event_loop.run());

        let mut meshes: BTreeSet<MeshId> = load_meshes(&store)?;
        meshes.extend(config.meshes.iter().cloned());
        let mesh_names = load_mesh_names(&store)?;
        let (events, _) = broadcast::channel(1024);
        let sync = SyncService::new(store.clone(), net.clone(), events.clone(), sync_frame_limit);
        let inner = Arc::new(Inner {
            sync,
            metrics: AppMetrics::default(),
            author: author_of(&key),
            peer_id: net.local_peer_id(),
            key,
            store,
            net,
            events,
            state: Mutex::new(State {
                meshes: meshes.clone(),
                mesh_names,
                ..State::default()
            }),
            own_writes: tokio::sync::Mutex::new(()),
            tasks: Mutex::new(Vec::new()),
            config,
        });
        save_meshes(&inner.store, &meshes).await?;
        let node = Node { inner };
        for topic in node.listening_topics() {
            node.inner.net.subscribe(topic.as_str()).await?;
        }
        let app = tokio::spawn(run(node.inner.clone(), net_events));
        node.track(net_task);
        node.track(app);
        node.track(tokio::spawn(sync_timer(node.inner.clone())));
        node.track(tokio::spawn(expiry_sweeper(node.inner.clone())));
        // Bootstrap addresses are dialled by the network itself (they also seed
        // Kademlia); the address book is ours.
        node.reconnect_known_peers().await;
        info!(peer = %node.inner.peer_id, author = %node.inner.author, "node started");
        Ok(node)
    }

    /// Stops the network and the node's tasks and flushes the store. Other clones
    /// of this node see [`NodeError::Stopped`] afterwards.
    pub async fn shutdown(&self) -> Result<(), NodeError> {
        self.inner.net.shutdown().await;
        let tasks = std::mem::take(&mut *self.inner.tasks.lock().expect("tasks lock"));
        for task in tasks {
            task.abort();
            let _ = task.await;
        }
        self.inner.store.flush().await?;
        info!(peer = %self.inner.peer_id, "node stopped");
        Ok(())
    }

    fn track(&self, task: JoinHandle<()>) {
        self.inner.track(task);
    }

    /// Progress of the catch-up sync sessions this node runs.
    pub fn sync_progress(&self) -> Progress {
        self.inner.sync.progress()
    }

    /// Runs one catch-up sync session with `peer` on `topic` now, as the initiator.
    pub async fn sync_with(
        &self,
        peer: PeerId,
        topic: &Topic,
    ) -> Result<crate::sync::SessionReport, crate::sync::SessionError> {
        self.inner.sync.run_session(peer, topic).await
    }

    /// The libp2p peer id (derived from the node key).
    pub fn peer_id(&self) -> PeerId {
        self.inner.peer_id
    }

    /// The author key of this node's records.
    pub fn author(&self) -> AuthorKey {
        self.inner.author
    }

    /// The configuration it was started with.
    pub fn config(&self) -> &NodeConfig {
        &self.inner.config
    }

    /// The store (read access for the API and tests).
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The network handle.
    pub fn network(&self) -> &NetworkHandle {
        &self.inner.net
    }

    /// A stream of what happens on this node from now on.
    pub fn subscribe_events(&self) -> broadcast::Receiver<NodeEvent> {
        self.inner.events.subscribe()
    }

    /// The topics this node listens to: its area's cell and neighbours, or the
    /// `local` mesh, and its named meshes.
    pub fn listening_topics(&self) -> Vec<Topic> {
        self.inner.listening_topics()
    }

    /// Where our records go by default: our area, or the `local` mesh, plus the
    /// named meshes we are in (at most 4 meshes).
    pub fn default_placement(&self) -> Placement {
        let mut meshes = Vec::new();
        if self.inner.config.area.is_none() {
            meshes.push(MeshId::local());
        }
        let state = self.inner.state.lock().expect("state lock");
        meshes.extend(state.meshes.iter().cloned());
        meshes.truncate(MAX_MESHES);
        Placement {
            area: self.inner.config.area.clone(),
            meshes,
        }
    }

    /// Connected peers.
    pub async fn peers(&self) -> Result<Vec<PeerId>, NodeError> {
        Ok(self.inner.net.connected_peers().await?)
    }

    /// Addresses we listen on.
    pub async fn listen_addresses(&self) -> Result<Vec<Multiaddr>, NodeError> {
        Ok(self.inner.net.listen_addresses().await?)
    }

    /// Dials a peer.
    pub async fn dial(&self, address: Multiaddr) -> Result<(), NodeError> {
        Ok(self.inner.net.dial(address).await?)
    }

    /// Open connections, with their addresses and whether they are relayed.
    pub async fn connections(&self) -> Result<Vec<ConnectionInfo>, NodeError> {
        Ok(self.inner.net.connections().await?)
    }

    /// Addresses others can reach us at: configured, or confirmed by AutoNAT.
    pub async fn external_addresses(&self) -> Result<Vec<Multiaddr>, NodeError> {
        Ok(self.inner.net.external_addresses().await?)
    }

    /// Announces one more address others can reach us at (see
    /// [`NodeConfig::external_addresses`]).
    pub async fn add_external_address(&self, address: Multiaddr) -> Result<(), NodeError> {
        Ok(self.inner.net.add_external_address(address).await?)
    }

    /// The network's metrics and the node's own counters in the Prometheus text
    /// format (for `/metrics`).
    pub async fn metrics_text(&self) -> Result<String, NodeError> {
        let libp2p = self.inner.net.metrics_text().await?;
        let peers = self.inner.net.connected_peers().await?.len();
        // OpenMetrics ends with `# EOF`: ours go before it.
        let body = libp2p.trim_end().strip_suffix("# EOF").unwrap_or(&libp2p);
        let mut text = body.to_owned();
        text.push_str(&self.inner.metrics.render(&self.sync_progress(), peers));
        text.push_str("# EOF\n");
        Ok(text)
    }

    /// Dials the peers of the address book, most recently seen first (up to
    /// [`NodeConfig::reconnect_known_peers`]); forgets the oldest beyond the
    /// book's size.
    async fn reconnect_known_peers(&self) {
        let limit = self.inner.config.reconnect_known_peers;
        let mut known = match self.inner.store.peers() {
            Ok(known) => known,
            Err(e) => {
                warn!(error = %e, "could not read the address book");
                return;
            }
        };
        known.sort_by_key(|(_, entry)| std::cmp::Reverse(entry.last_seen));
        for (peer, _) in known.iter().skip(MAX_ADDRESS_BOOK) {
            let _ = self.inner.store.remove_peer(peer);
        }
        for (peer_bytes, entry) in known.into_iter().take(limit) {
            let Ok(peer) = PeerId::from_bytes(&peer_bytes) else {
                let _ = self.inner.store.remove_peer(&peer_bytes);
                continue;
            };
            if peer == self.inner.peer_id {
                continue;
            }
            let addresses: Vec<Multiaddr> = entry
                .addresses
                .iter()
                .filter_map(|a| a.parse().ok())
                .collect();
            debug!(%peer, ?addresses, "dialling a peer from the address book");
            if let Err(e) = self.inner.net.dial_peer(peer, addresses).await {
                debug!(%peer, error = %e, "could not dial a known peer");
            }
        }
    }

    /// Joins a named mesh: listens to it, remembers it across restarts, and places
    /// our new records in it.
    pub async fn join_mesh(&self, mesh: MeshId) -> Result<(), NodeError> {
        let meshes = {
            let mut state = self.inner.state.lock().expect("state lock");
            state.meshes.insert(mesh.clone());
            state.meshes.clone()
        };
        save_meshes(&self.inner.store, &meshes).await?;
        self.inner
            .net
            .subscribe(Topic::mesh(&mesh).as_str())
            .await?;
        Ok(())
    }

    /// Leaves a named mesh (and forgets its name).
    pub async fn leave_mesh(&self, mesh: &MeshId) -> Result<(), NodeError> {
        let (meshes, names) = {
            let mut state = self.inner.state.lock().expect("state lock");
            state.meshes.remove(mesh);
            state.mesh_names.remove(mesh);
            (state.meshes.clone(), state.mesh_names.clone())
        };
        save_mesh_names(&self.inner.store, &names)?;
        save_meshes(&self.inner.store, &meshes).await?;
        self.inner
            .net
            .unsubscribe(Topic::mesh(mesh).as_str())
            .await?;
        Ok(())
    }

    /// The named meshes this node is in.
    pub fn meshes(&self) -> Vec<MeshId> {
        let state = self.inner.state.lock().expect("state lock");
        state.meshes.iter().cloned().collect()
    }

    /// The named meshes this node is in, with their names.
    pub fn named_meshes(&self) -> Vec<MeshInfo> {
        let state = self.inner.state.lock().expect("state lock");
        state
            .meshes
            .iter()
            .map(|id| MeshInfo {
                id: id.clone(),
                name: state.mesh_names.get(id).cloned(),
            })
            .collect()
    }

    /// Creates a named mesh with a fresh random id, joins it, and returns its id
    /// and an invite to it (see [`Node::invite`]).
    pub async fn create_mesh(&self, name: &str) -> Result<(MeshId, String), NodeError> {
        let mesh = MeshId::random();
        // Check the name (and that we have an address) before joining anything.
        let text = self.invite_text(&mesh, name).await?;
        self.join_named_mesh(mesh.clone(), name.to_owned()).await?;
        info!(%mesh, name, "created mesh");
        Ok((mesh, text))
    }

    /// An invite to a mesh this node is in: its id, name and this node's
    /// addresses (external ones first, then where it listens, loopback last),
    /// as a `swapmesh:…` text with a checksum.
    pub async fn invite(&self, mesh: &MeshId) -> Result<String, NodeError> {
        let name = {
            let state = self.inner.state.lock().expect("state lock");
            if !state.meshes.contains(mesh) {
                return Err(NodeError::NotInMesh(mesh.to_string()));
            }
            state
                .mesh_names
                .get(mesh)
                .cloned()
                .unwrap_or_else(|| mesh.to_string())
        };
        self.invite_text(mesh, &name).await
    }

    async fn invite_text(&self, mesh: &MeshId, name: &str) -> Result<String, NodeError> {
        let mut addresses = self.inner.net.external_addresses().await?;
        let mut listening = self.inner.net.listen_addresses().await?;
        // Loopback only helps another node on this machine: put it last.
        listening.sort_by_key(is_loopback);
        addresses.extend(listening);
        let me = self.inner.peer_id;
        let mut bootstrap: Vec<Multiaddr> = Vec::new();
        for address in addresses {
            let address = with_peer(address, me);
            if !bootstrap.contains(&address) {
                bootstrap.push(address);
            }
        }
        bootstrap.truncate(MAX_INVITE_ADDRESSES);
        if bootstrap.is_empty() {
            return Err(NodeError::NoAddressToShare);
        }
        Ok(Invite::new(mesh.clone(), name, bootstrap)?.encode())
    }

    /// Joins a mesh from an invite text: checks it (a mistyped or altered invite
    /// is refused with [`NodeError::Invite`]), joins and remembers the mesh and
    /// its name, remembers the invite's peers in the address book, and dials them
    /// (they also seed Kademlia). Returns the mesh id.
    pub async fn join_invite(&self, text: &str) -> Result<MeshId, NodeError> {
        let invite = Invite::parse(text)?;
        self.join_named_mesh(invite.mesh.clone(), invite.name.clone())
            .await?;
        for (peer, address) in invite.peers() {
            remember_peer(&self.inner.store, peer, &[address]);
        }
        if let Err(e) = self.inner.net.bootstrap(invite.bootstrap.clone()).await {
            // Some address of the invite did not work; the others, Kademlia and
            // the address book may still reach the mesh.
            warn!(mesh = %invite.mesh, error = %e, "could not dial every peer of the invite");
        }
        info!(mesh = %invite.mesh, name = %invite.name, "joined mesh from an invite");
        Ok(invite.mesh)
    }

    async fn join_named_mesh(&self, mesh: MeshId, name: String) -> Result<(), NodeError> {
        let names = {
            let mut state = self.inner.state.lock().expect("state lock");
            state.mesh_names.insert(mesh.clone(), name);
            state.mesh_names.clone()
        };
        save_mesh_names(&self.inner.store, &names)?;
        self.join_mesh(mesh).await
    }

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
        let _guard = self.inner.own_writes.lock().await;
        let address = self.listing_address(&listing.d);
        let seq = match self.inner.store.get_current(&address)? {
            Some(current) if !current.body.is_tombstone() => {
                return Err(NodeError::ListingExists(listing.d));
            }
            Some(current) => current.body.seq + 1,
            None => 1,
        };
        let now = Timestamp::now();
        let lifetime = self.inner.config.listing_lifetime.as_secs();
        let body = RecordBody {
            author: self.inner.author,
            seq,
            created_at: now,
            expires_at: now.plus(lifetime.min(MAX_LIFETIME)),
            area: placement.area,
            meshes: placement.meshes,
            content: Content::Listing(listing),
        };
        self.publish_own(body, now).await
    }

    /// Publishes a new version of a listing of ours, changed by `change`, at the same
    /// place. Its lifetime starts again.
    pub async fn update_listing(
        &self,
        d: &str,
        change: impl FnOnce(&mut Listing),
    ) -> Result<Verified, NodeError> {
        let _guard = self.inner.own_writes.lock().await;
        let mut body = self.current_own_listing(d)?;
        let Content::Listing(listing) = &mut body.content else {
            return Err(NodeError::NoSuchListing(d.to_owned()));
        };
        change(listing);
        listing.d = d.to_owned();
        if listing.is_withdrawn() {
            return Err(NodeError::Withdrawn(d.to_owned()));
        }
        let now = Timestamp::now();
        body.seq += 1;
        body.created_at = now;
        body.expires_at = now.plus(
            self.inner
                .config
                .listing_lifetime
                .as_secs()
                .min(MAX_LIFETIME),
        );
        self.publish_own(body, now).await
    }

    /// Withdraws a listing of ours: publishes its tombstone, which lives a full year
    /// so it outlives every version it replaces.
    pub async fn withdraw_listing(&self, d: &str) -> Result<Verified, NodeError> {
        let _guard = self.inner.own_writes.lock().await;
        let mut body = self.current_own_listing(d)?;
        if let Content::Listing(listing) = &mut body.content {
            listing.status = ListingStatus::Withdrawn;
        }
        let now = Timestamp::now();
        body.seq += 1;
        body.created_at = now;
        body.expires_at = now.plus(YEAR).max(body.expires_at);
        self.publish_own(body, now).await
    }

    /// Sets our profile (a new version replaces the old one everywhere).
    pub async fn set_profile(&self, profile: Profile) -> Result<Verified, NodeError> {
        let _guard = self.inner.own_writes.lock().await;
        let address = Address {
            author: self.inner.author,
            kind: RecordKind::Profile,
            d: PROFILE_D.to_owned(),
        };
        let seq = self
            .inner
            .store
            .current_version(&address)?
            .map_or(1, |v| v.seq + 1);
        let placement = self.default_placement();
        let now = Timestamp::now();
        let body = RecordBody {
            author: self.inner.author,
            seq,
            created_at: now,
            expires_at: now.plus(YEAR),
            area: placement.area,
            meshes: placement.meshes,
            content: Content::Profile(profile),
        };
        self.publish_own(body, now).await
    }

    /// The current version of a listing (anyone's), tombstones included.
    pub fn listing(&self, id: &ListingId) -> Result<Option<StoredRecord>, NodeError> {
        let address = Address {
            author: id.author,
            kind: RecordKind::Listing,
            d: id.d.clone(),
        };
        Ok(self.inner.store.get_current(&address)?)
    }

    /// Searches the listings we hold.
    /// Searches the listings we hold. Listings that expired since the last sweep
    /// are left out.
    pub fn search(&self, query: &Query) -> Result<Page, NodeError> {
        let mut page = self.inner.store.search(query)?;
        let now = Timestamp::now();
        page.records.retain(|r| r.body.expires_at > now);
        Ok(page)
    }

    fn listing_address(&self, d: &str) -> Address {
        Address {
            author: self.inner.author,
            kind: RecordKind::Listing,
            d: d.to_owned(),
        }
    }

    fn current_own_listing(&self, d: &str) -> Result<RecordBody, NodeError> {
        match self.inner.store.get_current(&self.listing_address(d))? {
            Some(current) if current.body.is_tombstone() => Err(NodeError::Withdrawn(d.to_owned())),
            Some(current) => Ok(current.body),
            None => Err(NodeError::NoSuchListing(d.to_owned())),
        }
    }

    /// Signs, validates, stores, flushes, then publishes a record of ours on its
    /// topics; a topic nobody has joined yet keeps the record until someone does.
    async fn publish_own(&self, body: RecordBody, now: Timestamp) -> Result<Verified, NodeError> {
        let verified = sign_own(&body, &self.inner.key, now)?;
        let outcome = self.inner.store.insert_durable(&verified, now).await?;
        if !outcome.is_new() {
            return Err(NodeError::Superseded);
        }
        if let Some(event) = event_of(outcome, &verified) {
            let _ = self.inner.events.send(event);
        }
        publish_on_topics(&self.inner, &verified).await;
        Ok(verified)
    }
}

/// Publishes a record on each of its topics, keeping it for topics with no peers.
async fn publish_on_topics(inner: &Inner, verified: &Verified) {
    let data = GossipMessage::record(verified.signed().clone()).encode();
    for topic in topics(verified.body()) {
        match inner.net.publish(topic.as_str(), data.clone()).await {
            Ok(_) | Err(PublishError::Duplicate) => {}
            Err(PublishError::NoPeers) => {
                debug!(%topic, id = %verified.id(), "no peers on topic yet; keeping the record");
                let mut state = inner.state.lock().expect("state lock");
                state
                    .pending
                    .entry(topic.as_str().to_owned())
                    .or_default()
                    .insert(verified.id());
            }
            Err(e) => warn!(%topic, id = %verified.id(), error = %e, "publish failed"),
        }
    }
}

impl Inner {
    fn track(&self, task: JoinHandle<()>) {
        let mut tasks = self.tasks.lock().expect("tasks lock");
        tasks.retain(|t| !t.is_finished());
        tasks.push(task);
    }

    fn listening_topics(&self) -> Vec<Topic> {
        let mut out = match &self.config.area {
            Some(area) => area_topics(area),
            None => vec![Topic::mesh(&MeshId::local())],
        };
        let state = self.state.lock().expect("state lock");
        out.extend(state.meshes.iter().map(Topic::mesh));
        out
    }

    fn listens_to(&self, topic: &str) -> bool {
        self.listening_topics().iter().any(|t| t.as_str() == topic)
    }
}

/// Queues a sync session with `peer` on `topic`. Sessions with one peer run one
/// after another (a peer serves only a few at once), by one worker per peer.
fn spawn_sync(inner: &Arc<Inner>, peer: PeerId, topic: String) {
    {
        let mut state = inner.state.lock().expect("state lock");
        if let Some(queue) = state.sync_queue.get_mut(&peer) {
            queue.insert(topic);
            return;
        }
        state.sync_queue.insert(peer, BTreeSet::from([topic]));
    }
    let task = tokio::spawn(sync_worker(inner.clone(), peer));
    inner.track(task);
}

/// Runs the queued sync sessions with one peer until its queue is empty.
async fn sync_worker(inner: Arc<Inner>, peer: PeerId) {
    loop {
        let next = {
            let mut state = inner.state.lock().expect("state lock");
            let topic = state
                .sync_queue
                .get_mut(&peer)
                .and_then(|queue| queue.pop_first());
            if topic.is_none() {
                state.sync_queue.remove(&peer);
            }
            topic
        };
        let Some(topic) = next else { return };
        let Some(parsed) = Topic::parse(&topic) else {
            continue;
        };
        match inner.sync.run_session(peer, &parsed).await {
            Ok(report) => {
                if report.needed + report.offered > 0 {
                    info!(%peer, %topic, ?report, "sync session done");
                }
                let _ = inner.events.send(NodeEvent::SyncFinished {
                    peer,
                    topic,
                    fetched: report.fetched,
                    pushed: report.pushed,
                });
            }
            Err(e) => debug!(%peer, %topic, error = %e, "sync session failed"),
        }
    }
}

/// Every `sync_interval` (jittered by ±25 %), syncs the shared topics with one
/// random connected peer: this heals partitions that gossip cannot, since gossip
/// only reaches nodes that are online when a record is published.
async fn sync_timer(inner: Arc<Inner>) {
    use rand::Rng;
    let base = inner.config.sync_interval;
    if base.is_zero() {
        return;
    }
    loop {
        let jitter = rand::thread_rng().gen_range(0.75..1.25);
        tokio::time::sleep(base.mul_f64(jitter)).await;
        let choice = {
            let state = inner.state.lock().expect("state lock");
            let peers: Vec<(PeerId, Vec<String>)> = state
                .peer_topics
                .iter()
                .map(|(p, topics)| (*p, topics.iter().cloned().collect()))
                .collect();
            drop(state);
            let shared: Vec<(PeerId, Vec<String>)> = peers
                .into_iter()
                .map(|(p, topics)| {
                    (
                        p,
                        topics
                            .into_iter()
                            .filter(|t| inner.listens_to(t))
                            .collect::<Vec<_>>(),
                    )
                })
                .filter(|(_, topics)| !topics.is_empty())
                .collect();
            if shared.is_empty() {
                None
            } else {
                let i = rand::thread_rng().gen_range(0..shared.len());
                Some(shared[i].clone())
            }
        };
        if let Some((peer, topics)) = choice {
            for topic in topics {
                spawn_sync(&inner, peer, topic);
            }
        }
    }
}

/// Drops expired records and tombstones at start and then every
/// `sweep_interval`, so the store holds only what is alive (a sweep is one pass
/// over the expiry index up to now).
async fn expiry_sweeper(inner: Arc<Inner>) {
    let interval = inner.config.sweep_interval;
    loop {
        match inner.store.sweep_expired(Timestamp::now()) {
            Ok(0) => {}
            Ok(n) => info!(records = n, "expired records swept"),
            Err(e) => warn!(error = %e, "expiry sweep failed"),
        }
        if interval.is_zero() {
            return;
        }
        tokio::time::sleep(interval).await;
    }
}

/// The node's main loop: network events in, verdicts and node events out.
async fn run(inner: Arc<Inner>, mut net_events: mpsc::Receiver<NetworkEvent>) {
    while let Some(event) = net_events.recv().await {
        match event {
            NetworkEvent::Gossip {
                message_id,
                topic,
                data,
                propagation_source,
            } => {
                let ingested = ingest(&inner.store, &topic, &data, Timestamp::now());
                inner.metrics.record(ingested.verdict, ingested.reason);
                if let Err(e) = inner
                    .net
                    .report_validation(message_id, propagation_source, ingested.verdict)
                    .await
                {
                    debug!(error = %e, "could not report a validation result");
                }
                if let Some(event) = ingested.event {
                    let _ = inner.events.send(event);
                }
            }
            NetworkEvent::PeerSubscribed { peer, topic } => {
                inner
                    .state
                    .lock()
                    .expect("state lock")
                    .peer_topics
                    .entry(peer)
                    .or_default()
                    .insert(topic.clone());
                // A peer that shares a topic: catch up. Both sides start a
                // session, so the one that was away (or just restarted) fetches
                // what it missed at once; when nothing differs a session is one
                // round of a few hundred bytes.
                if inner.config.sync_on_connect && inner.listens_to(&topic) {
                    spawn_sync(&inner, peer, topic.clone());
                }
                let kept = inner
                    .state
                    .lock()
                    .expect("state lock")
                    .pending
                    .remove(&topic);
                if let Some(ids) = kept {
                    debug!(%peer, %topic, count = ids.len(), "first peer on topic: publishing kept records");
                    let inner = inner.clone();
                    // Not tracked for shutdown abort: it ends on its own once the
                    // network stops (publish returns an error).
                    tokio::spawn(publish_kept(inner, topic, ids));
                }
            }
            NetworkEvent::PeerConnected {
                peer,
                address,
                outbound,
                ..
            } => {
                // An address we dialled works: remember it. (An inbound one is the
                // peer's ephemeral port; identify tells where it listens.)
                if outbound {
                    remember_peer(&inner.store, peer, &[address]);
                }
                let _ = inner.events.send(NodeEvent::PeerUp { peer });
            }
            NetworkEvent::PeerIdentified {
                peer,
                listen_addresses,
                ..
            } => remember_peer(&inner.store, peer, &listen_addresses),
            NetworkEvent::PeerDiscovered { peer, via, .. } => {
                let _ = inner.events.send(NodeEvent::PeerDiscovered { peer, via });
            }
            NetworkEvent::PeerUnsubscribed { peer, topic } => {
                if let Some(topics) = inner
                    .state
                    .lock()
                    .expect("state lock")
                    .peer_topics
                    .get_mut(&peer)
                {
                    topics.remove(&topic);
                }
            }
            NetworkEvent::PeerDisconnected { peer } => {
                inner
                    .state
                    .lock()
                    .expect("state lock")
                    .peer_topics
                    .remove(&peer);
                let _ = inner.events.send(NodeEvent::PeerDown { peer });
            }
            NetworkEvent::PeerBlocked { peer, reason } => {
                info!(%peer, ?reason, "peer blocked");
                // A blocked peer is not worth dialling after a restart.
                let _ = inner.store.remove_peer(&peer.to_bytes());
                let _ = inner.events.send(NodeEvent::PeerBlocked { peer });
            }
            NetworkEvent::InboundRequest {
                protocol: swapmesh_net::Protocol::Sync,
                peer,
                data,
                reply,
            } => {
                let task_inner = inner.clone();
                let task = tokio::spawn(async move {
                    let listening = task_inner.listening_topics();
                    task_inner
                        .sync
                        .serve(peer, data, reply, |t| {
                            listening.iter().any(|l| l.as_str() == t)
                        })
                        .await;
                });
                inner.track(task);
            }
            NetworkEvent::InboundRequest { protocol, peer, .. } => {
                // Agreements come with their issue; dropping the reply handle lets
                // the request fail at the peer.
                debug!(%protocol, %peer, "request on a protocol this node does not serve yet");
            }
            other => debug!(?other, "network event"),
        }
    }
}

/// Publishes records kept for `topic`, rate-limited, once a first peer joined it.
async fn publish_kept(inner: Arc<Inner>, topic: String, ids: BTreeSet<RecordId>) {
    let burst = inner.config.pending_burst.max(1);
    let per_second = inner.config.pending_per_second.max(1);
    for (n, id) in ids.into_iter().enumerate() {
        if n >= burst && (n - burst).is_multiple_of(per_second) {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let record = match inner.store.get(&id) {
            Ok(Some(r)) => r,
            Ok(None) => continue, // replaced or expired meanwhile
            Err(e) => {
                warn!(%id, error = %e, "could not read a kept record");
                continue;
            }
        };
        let data = GossipMessage::record(record.signed).encode();
        match inner.net.publish(topic.as_str(), data).await {
            Ok(_) | Err(PublishError::Duplicate) => {}
            Err(PublishError::NoPeers) => {
                // The peer left again: keep it for the next one.
                let mut state = inner.state.lock().expect("state lock");
                state.pending.entry(topic.clone()).or_default().insert(id);
            }
            Err(PublishError::Stopped) => return,
            Err(e) => warn!(%topic, %id, error = %e, "publishing a kept record failed"),
        }
    }
}

/// The network configuration of a node configuration.
fn network_config(config: &NodeConfig, keypair: swapmesh_net::Keypair) -> NetworkConfig {
    let mut net = NetworkConfig::new(keypair);
    net.transport = config.transport;
    net.listen_addresses = config.listen.clone();
    net.external_addresses = config.external_addresses.clone();
    net.gossip = config.gossip.clone();
    net.misbehaviour = config.misbehaviour;
    net.connection_limits = config.connection_limits;
    net.mdns = MdnsConfig {
        enabled: config.mdns,
        query_interval: config.mdns_query_interval,
    };
    net.discovery = config.discovery.clone();
    net.discovery
        .bootstrap
        .extend(config.bootstrap.iter().cloned());
    net.nat = config.nat;
    net.server = (config.role == Role::Server).then_some(ServerConfig {
        relay: Some(config.relay_limits),
        autonat: true,
    });
    net
}

/// Remembers `addresses` of `peer` in the address book, before the ones known
/// already, with the time it was seen. Failures only cost a reconnect later.
fn remember_peer(store: &Store, peer: PeerId, addresses: &[Multiaddr]) {
    let key = peer.to_bytes();
    let known = store.peer(&key).ok().flatten().map(|e| e.addresses);
    let mut merged: Vec<String> = Vec::new();
    let fresh = addresses.iter().map(|a| without_peer(a, peer).to_string());
    for address in fresh.chain(known.into_iter().flatten()) {
        if !merged.contains(&address) {
            merged.push(address);
        }
    }
    merged.truncate(MAX_PEER_ADDRESSES);
    if merged.is_empty() {
        return;
    }
    let entry = PeerEntry {
        addresses: merged,
        last_seen: Timestamp::now(),
    };
    if let Err(e) = store.put_peer(&key, &entry) {
        debug!(%peer, error = %e, "could not remember a peer");
    }
}

/// `address` without a trailing `/p2p/<peer>`.
fn without_peer(address: &Multiaddr, peer: PeerId) -> Multiaddr {
    let mut address = address.clone();
    if address.iter().last() == Some(AddrProtocol::P2p(peer)) {
        address.pop();
    }
    address
}

/// `address` ending with `/p2p/<peer>`.
fn with_peer(address: Multiaddr, peer: PeerId) -> Multiaddr {
    match address.iter().last() {
        Some(AddrProtocol::P2p(_)) => address,
        _ => address.with(AddrProtocol::P2p(peer)),
    }
}

/// Whether an address is a loopback one (only useful on this machine).
fn is_loopback(address: &Multiaddr) -> bool {
    address.iter().any(|p| match p {
        AddrProtocol::Ip4(ip) => ip.is_loopback(),
        AddrProtocol::Ip6(ip) => ip.is_loopback(),
        _ => false,
    })
}

fn load_mesh_names(store: &Store) -> Result<BTreeMap<MeshId, String>, NodeError> {
    let Some(bytes) = store.get_state(MESH_NAMES_STATE)? else {
        return Ok(BTreeMap::new());
    };
    let pairs: Vec<(String, String)> = match decode_canonical(&bytes, MAX_MESH_NAMES) {
        Ok(pairs) => pairs,
        Err(e) => {
            // Names are a convenience: a damaged list is dropped, not fatal.
            warn!(error = %e, "mesh names unreadable; forgetting them");
            return Ok(BTreeMap::new());
        }
    };
    Ok(pairs
        .into_iter()
        .filter_map(|(id, name)| MeshId::parse(&id).map(|id| (id, name)))
        .collect())
}

/// Saves the mesh names (made durable by the [`save_meshes`] that follows).
fn save_mesh_names(store: &Store, names: &BTreeMap<MeshId, String>) -> Result<(), NodeError> {
    let pairs: Vec<(&str, &str)> = names
        .iter()
        .map(|(id, name)| (id.as_str(), name.as_str()))
        .collect();
    store.put_state(MESH_NAMES_STATE, &encode(&pairs))?;
    Ok(())
}

fn load_meshes(store: &Store) -> Result<BTreeSet<MeshId>, NodeError> {
    let Some(bytes) = store.get_state(MESHES_STATE)? else {
        return Ok(BTreeSet::new());
    };
    let text = String::from_utf8_lossy(&bytes);
    Ok(text.split_whitespace().filter_map(MeshId::parse).collect())
}

async fn save_meshes(store: &Store, meshes: &BTreeSet<MeshId>) -> Result<(), NodeError> {
    let text: Vec<&str> = meshes.iter().map(MeshId::as_str).collect();
    store
        .put_state_durable(MESHES_STATE, text.join(" ").as_bytes())
        .await?;
    Ok(())
}
