//! [`Node`]: the façade. It owns the lifecycle (start, the task set, shutdown) and
//! offers the library API that the HTTP API, the CLI and the tests use; every
//! call goes to the part that owns its state (see the crate's `# Layout`).
//!
//! - `mod.rs`: the parts, start, shutdown, the expiry sweep, accessors;
//! - `records`: our own records (through the publisher), reading and searching;
//! - `mesh`: meshes and invites;
//! - `network`: peers, addresses, dialling, metrics;
//! - `agreements`: proposing, acting and reading agreements (through `agree`);
//! - `reviews`: reviews of our agreements' other parties, and what we hold of a party;
//! - `photos`: uploading and reading photos (through `blobs`);
//! - `mail`: the mailbox kept for others, and checking our own mail.

mod agreements;
mod mail;
mod mesh;
mod network;
mod photos;
mod records;
mod reviews;
mod trust;

use std::sync::Arc;

use swapmesh_net::{MdnsConfig, NetworkConfig, NetworkHandle, PeerId};
use swapmesh_protocol::{AuthorKey, Geohash, MeshId, Topic};
use swapmesh_store::Store;
use tokio::sync::broadcast;
use tracing::{debug, info, warn};

use crate::address_book::AddressBook;
use crate::agree::{Agree, AgreeParts};
use crate::blobs::{Blobs, BlobsParts};
use crate::blocks::Blocks;
use crate::config::{NodeConfig, Role};
use crate::dispatch::Dispatch;
use crate::error::NodeError;
use crate::events::NodeEvent;
use crate::health::Health;
use crate::identity;
use crate::ingest::{Ingestor, IngestorParts};
use crate::mail::{Mail, MailParts};
use crate::meshes::MeshBook;
use crate::metrics::AppMetrics;
use crate::publish::{Publisher, PublisherParts};
use crate::skew::SkewWatch;
use crate::sync::schedule::Schedule;
use crate::sync::{Progress, SessionError, SessionReport, SyncService};
use crate::tasks::Tasks;
use crate::trust::Trust;
use crate::web::WebSessions;

pub use reviews::ReviewSummary;

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

/// The parts of a node. Each owns its state; none reaches into another's.
struct Inner {
    author: AuthorKey,
    peer_id: PeerId,
    config: NodeConfig,
    store: Store,
    net: NetworkHandle,
    events: broadcast::Sender<NodeEvent>,
    meshes: Arc<MeshBook>,
    publisher: Arc<Publisher>,
    address_book: Arc<AddressBook>,
    sync: SyncService,
    schedule: Arc<Schedule>,
    agree: Agree,
    mail: Mail,
    blobs: Blobs,
    web: WebSessions,
    metrics: Arc<AppMetrics>,
    health: Arc<Health>,
    skew: Arc<SkewWatch>,
    trust: Arc<Trust>,
    blocks: Arc<Blocks>,
    tasks: Arc<Tasks>,
}

impl Node {
    /// Starts a node: loads or creates its key, opens its store, starts its network,
    /// joins its topics, dials its bootstrap peers and the peers it remembers, and
    /// runs until [`Node::shutdown`].
    pub async fn start(config: NodeConfig) -> Result<Node, NodeError> {
        let key = identity::load_or_create_key(&config.data_dir)?;
        let store = Store::open(config.data_dir.database(), config.store.clone())?;
        let meshes = Arc::new(
            MeshBook::open(
                store.clone(),
                config.area.clone(),
                &config.meshes,
                config.store_budget,
            )
            .await?,
        );

        let net_config = network_config(&config, identity::libp2p_keypair(&key));
        let sync_frame_limit = net_config.frame_limits.sync;
        let (net, net_events, event_loop) = swapmesh_net::new(net_config)?;
        let tasks = Arc::new(Tasks::default());
        tasks.spawn(event_loop.run());
        let (events, _) = broadcast::channel(1024);
        let photo_files = store.blobs(config.data_dir.blobs())?;
        let (photos_named, photo_news) = tokio::sync::mpsc::channel(1024);
        let metrics = Arc::new(AppMetrics::default());
        let health = Arc::new(Health::default());
        let clock = config.clock.clone();
        let ingestor = Arc::new(Ingestor::new(IngestorParts {
            store: store.clone(),
            events: events.clone(),
            metrics: metrics.clone(),
            clock: clock.clone(),
            faults: config.faults.clone(),
            photos: photos_named,
            health: health.clone(),
            meshes: meshes.clone(),
        }));
        let skew = ingestor.skew();
        let blocks = Arc::new(Blocks::open(store.clone())?);
        let trust = Arc::new(Trust::new(
            swapmesh_protocol::signed::author_of(&key),
            clock.clone(),
            config.trust_interval,
        ));
        let sync = SyncService::new(
            store.clone(),
            meshes.clone(),
            ingestor.clone(),
            net.clone(),
            events.clone(),
            sync_frame_limit,
            config.sync_responder,
        )
        .map_err(|e| NodeError::Config(e.to_string()))?;
        let peer_id = net.local_peer_id();
        let address_book = Arc::new(AddressBook::new(store.clone(), clock, peer_id));
        let schedule = Arc::new(Schedule::new(
            sync.clone(),
            meshes.clone(),
            address_book.clone(),
            events.clone(),
            tasks.clone(),
            config.sync_on_connect,
        ));
        let publisher = Arc::new(Publisher::new(
            PublisherParts {
                key: key.clone(),
                store: store.clone(),
                net: net.clone(),
                events: events.clone(),
                metrics: metrics.clone(),
                photos: photo_files.clone(),
                meshes: meshes.clone(),
            },
            &config,
        ));
        let mail = Mail::new(MailParts {
            key: key.clone(),
            store: store.clone(),
            net: net.clone(),
            clock: config.clock.clone(),
            address_book: address_book.clone(),
            host: config.mailbox,
        });
        let agree = Agree::new(AgreeParts {
            key: key.clone(),
            store: store.clone(),
            net: net.clone(),
            clock: config.clock.clone(),
            publisher: publisher.clone(),
            events: events.clone(),
            address_book: address_book.clone(),
            tasks: tasks.clone(),
            ack_wait: config.agreement_ack_wait,
            overdue_grace: config.overdue_grace,
            metrics: metrics.clone(),
            faults: config.faults.clone(),
            blocks: blocks.clone(),
            mail: mail.clone(),
            mail_after: config.mail_after,
        });
        let blobs = Blobs::new(BlobsParts {
            store: store.clone(),
            files: photo_files,
            net: net.clone(),
            clock: config.clock.clone(),
            author: swapmesh_protocol::signed::author_of(&key),
            schedule: schedule.clone(),
            meshes: meshes.clone(),
            area: config.area.clone(),
            tasks: tasks.clone(),
            budget: config.blob_budget,
            fetch_timeout: config.blob_fetch_timeout,
        });
        tasks.spawn(blobs.clone().watch(photo_news));
        for topic in meshes.topics() {
            if meshes.announces(&topic) {
                net.subscribe(topic.as_str()).await?;
            } else {
                net.subscribe_unannounced(topic.as_str()).await?;
            }
        }
        let dispatch = Dispatch {
            agree: agree.clone(),
            mail: mail.clone(),
            blobs: blobs.clone(),
            net: net.clone(),
            events: events.clone(),
            publisher: publisher.clone(),
            ingestor,
            address_book: address_book.clone(),
            sync: sync.clone(),
            schedule: schedule.clone(),
            tasks: tasks.clone(),
        };
        tasks.spawn(dispatch.run(net_events));
        tasks.spawn(schedule.clone().timer(config.sync_interval));
        agree.start(config.agreement_tick, config.mail_poll);
        let web = WebSessions::new(store.clone(), config.clock.clone(), config.login_link_ttl);
        let node = Node {
            inner: Arc::new(Inner {
                author: swapmesh_protocol::signed::author_of(&key),
                peer_id,
                config,
                store,
                net,
                events,
                meshes,
                publisher,
                address_book,
                sync,
                schedule,
                agree,
                mail,
                blobs,
                web,
                metrics,
                health,
                skew,
                trust,
                blocks,
                tasks,
            }),
        };
        node.follow_trust_records()?;
        node.follow_profiles_for_mail();
        node.forget_left_meshes().await?;
        node.keep_store_budget().await?;
        node.inner.tasks.spawn(node.clone().sweep_every_interval());
        node.inner.tasks.spawn(node.clone().recover_when_degraded());
        // Bootstrap addresses are dialled by the network itself (they also seed
        // Kademlia); the address book is ours.
        node.redial_known_peers().await;
        info!(peer = %node.inner.peer_id, author = %node.inner.author, "node started");
        Ok(node)
    }

    /// Stops the network and the node's tasks and flushes the store. Other clones
    /// of this node see [`NodeError::Stopped`] afterwards.
    pub async fn shutdown(&self) -> Result<(), NodeError> {
        self.inner.net.shutdown().await;
        self.inner.tasks.abort_all().await;
        self.inner.store.flush().await?;
        info!(peer = %self.inner.peer_id, "node stopped");
        Ok(())
    }

    /// Drops the records and tombstones expired at the clock's time now, then
    /// collects the photos no stored record has named for a grace day (see
    /// [`crate::blobs`]); returns how many records were dropped. The node does
    /// this at start and every [`NodeConfig::sweep_interval`]; a test that
    /// moved the clock calls it.
    pub fn sweep_now(&self) -> Result<usize, NodeError> {
        let swept = self
            .inner
            .store
            .sweep_expired(self.inner.config.clock.now())?;
        self.inner.trust.sweep();
        self.inner.blobs.collect()?;
        let letters = self.inner.mail.sweep(self.inner.config.clock.now())?;
        if letters > 0 {
            info!(
                letters,
                "mail dropped: expired, or its recipient left this host"
            );
        }
        Ok(swept)
    }

    async fn sweep_every_interval(self) {
        let interval = self.inner.config.sweep_interval;
        loop {
            match self.sweep_now() {
                Ok(0) => {}
                Ok(n) => info!(records = n, "expired records swept"),
                Err(NodeError::Store(e)) if self.store_failed("the expiry sweep", &e) => {}
                Err(e) => warn!(error = %e, "expiry sweep failed"),
            }
            if let Err(e) = self.keep_store_budget().await {
                warn!(error = %e, "keeping the store budget failed");
            }
            if let Err(e) = self.renew_vouches().await {
                warn!(error = %e, "renewing own vouches failed");
            }
            if interval.is_zero() {
                return;
            }
            tokio::time::sleep(interval).await;
        }
    }

    /// A store call failed: if the disk failed, the node turns degraded (see
    /// [`crate::health`]); returns whether it did.
    pub(crate) fn store_failed(&self, what: &str, e: &swapmesh_store::StoreError) -> bool {
        self.inner
            .health
            .failed(self.inner.config.clock.now(), what, e)
    }

    /// An API call failed to write: the node turns degraded (see
    /// [`crate::health`]).
    pub(crate) fn api_write_failed(&self, reason: String) {
        self.inner
            .health
            .turn_degraded(self.inner.config.clock.now(), reason);
    }

    /// Is the node degraded (its disk does not take writes)? Why, if so.
    pub fn degraded(&self) -> Option<String> {
        self.inner.health.reason()
    }

    /// Our clock against the peers', from their fresh gossip (see
    /// [`crate::skew`]).
    pub fn clock_skew(&self) -> crate::skew::ClockJson {
        self.inner.skew.json()
    }

    /// The node's health as `GET /api/v1/node` shows it.
    pub fn health(&self) -> crate::health::HealthJson {
        self.inner.health.json()
    }

    /// While degraded, every [`NodeConfig::disk_retry_interval`]: reopens the
    /// store (sled keeps an I/O error until then) and writes and flushes a
    /// probe; when that works, the node is healthy again. Reopening also drops
    /// what was written but never flushed, so nothing unacknowledged stays
    /// visible.
    async fn recover_when_degraded(self) {
        let every = self
            .inner
            .config
            .disk_retry_interval
            .max(std::time::Duration::from_millis(50));
        loop {
            // At once when it turns degraded (a reopen drops what was written
            // but never flushed), then every `every`.
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = self.inner.health.turned_degraded() => {}
            }
            if !self.inner.health.is_degraded() {
                continue;
            }
            self.inner.health.attempt();
            let store = self.inner.store.clone();
            let now = self.inner.config.clock.now();
            let probe = tokio::task::spawn_blocking(move || {
                store.reopen()?;
                store.put_state("disk_probe", &now.0.to_be_bytes())?;
                store.flush_blocking()
            })
            .await;
            match probe {
                Ok(Ok(())) => self.inner.health.recovered(),
                Ok(Err(e)) => debug!(error = %e, "still degraded: the store does not take writes"),
                Err(e) => warn!(error = %e, "the disk probe panicked"),
            }
        }
    }

    /// Dials the peers of the address book, most recently seen first (up to
    /// [`NodeConfig::reconnect_known_peers`]).
    async fn redial_known_peers(&self) {
        let limit = self.inner.config.reconnect_known_peers;
        for (peer, addresses) in self.inner.address_book.to_redial(limit) {
            debug!(%peer, ?addresses, "dialling a peer from the address book");
            if let Err(e) = self.inner.net.dial_peer(peer, addresses).await {
                debug!(%peer, error = %e, "could not dial a known peer");
            }
        }
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
    ) -> Result<SessionReport, SessionError> {
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

    /// The store, for tests and benchmarks that arrange or inspect its contents
    /// directly. The API goes through the other methods.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The network handle.
    pub fn network(&self) -> &NetworkHandle {
        &self.inner.net
    }

    /// The web page's sign-in links and sessions.
    pub fn web_sessions(&self) -> &WebSessions {
        &self.inner.web
    }

    /// A stream of what happens on this node from now on.
    pub fn subscribe_events(&self) -> broadcast::Receiver<NodeEvent> {
        self.inner.events.subscribe()
    }

    /// The topics this node listens to: its area's cell and neighbours, or the
    /// `local` mesh, and its named meshes.
    pub fn listening_topics(&self) -> Vec<Topic> {
        self.inner.meshes.topics()
    }

    /// Where our records go by default: our area, or the `local` mesh, plus the
    /// open named meshes we are in (at most 4 meshes).
    pub fn default_placement(&self) -> Placement {
        Placement {
            area: self.inner.config.area.clone(),
            meshes: self.inner.meshes.default_meshes(),
        }
    }

    /// Where a listing goes when its author says: `meshes` (each one we are
    /// in; `None` for the default ones) and whether our area too (`None`: yes,
    /// unless a private mesh is named). A private mesh gets a record only when
    /// named, and such a record goes nowhere else: naming an open mesh or the
    /// area beside it is [`Invalid::PrivateInTheOpen`].
    ///
    /// [`Invalid::PrivateInTheOpen`]: swapmesh_protocol::Invalid::PrivateInTheOpen
    pub fn placement(
        &self,
        meshes: Option<Vec<MeshId>>,
        area: Option<bool>,
    ) -> Result<Placement, NodeError> {
        let Some(mut named) = meshes else {
            let mut placement = self.default_placement();
            if area == Some(false) {
                placement.area = None;
            }
            return Ok(placement);
        };
        let (_, ours) = self.inner.meshes.places();
        if let Some(mesh) = named.iter().find(|m| !ours.contains(m)) {
            return Err(NodeError::NotInMesh(mesh.to_string()));
        }
        named.sort();
        named.dedup();
        let private = named.iter().any(MeshId::is_private);
        let in_the_open = area == Some(true) || named.iter().any(|m| !m.is_private());
        if private && in_the_open {
            return Err(NodeError::Invalid(
                swapmesh_protocol::validate::OwnError::Invalid(
                    swapmesh_protocol::Invalid::PrivateInTheOpen,
                ),
            ));
        }
        let area = area.unwrap_or(!private);
        Ok(Placement {
            area: self.inner.config.area.clone().filter(|_| area),
            meshes: named,
        })
    }
}

/// The network configuration of a node configuration.
fn network_config(config: &NodeConfig, keypair: swapmesh_net::Keypair) -> NetworkConfig {
    let mut net = NetworkConfig::new(keypair);
    net.transport = config.transport;
    net.listen_addresses = config.listen.clone();
    net.external_addresses = config.external_addresses.clone();
    net.gossip = config.gossip.clone();
    // Net knows nothing of records: the largest message is ours to say.
    net.gossip.max_message_bytes = swapmesh_protocol::gossip::MAX_GOSSIP_MESSAGE;
    // Peers announce only topics a node could serve; junk is ignored.
    net.gossip.topic_rule = Some(swapmesh_protocol::Topic::admitted);
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
    // A relay named in a listen address is the person's choice: no automatic one.
    let circuit = config.listen.iter().any(|a| {
        a.iter()
            .any(|p| p == swapmesh_net::multiaddr::Protocol::P2pCircuit)
    });
    net.nat.auto_relay &= !circuit;
    net.server = (config.role == Role::Server).then_some(swapmesh_net::ServerConfig {
        relay: Some(config.relay_limits),
        autonat: true,
    });
    net
}
