//! What a node is started with, parsed and checked once.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

pub use swapmesh_net::{
    ConnectionLimitsConfig, DiscoveryConfig, GossipConfig, MisbehaviourConfig, Multiaddr,
    NatConfig, RelayLimits, Transport,
};
use swapmesh_protocol::{Currency, Geohash, MeshId};
use swapmesh_store::StoreOptions;

use crate::clock::{self, Clock};
use crate::data_dir::DataDir;

/// What a node is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    /// A laptop or desktop node.
    #[default]
    Personal,
    /// An always-on home server: it also runs the relay server (with
    /// [`NodeConfig::relay_limits`]) and the AutoNAT server for its neighbours,
    /// and should be given its public address in
    /// [`NodeConfig::external_addresses`].
    Server,
}

impl Role {
    /// The connection limits that suit the role (see
    /// [`ConnectionLimitsConfig::personal`] and [`ConnectionLimitsConfig::server`]).
    pub fn connection_limits(self) -> ConnectionLimitsConfig {
        match self {
            Role::Personal => ConnectionLimitsConfig::personal(),
            Role::Server => ConnectionLimitsConfig::server(),
        }
    }
}

/// Everything a [`Node`](crate::Node) is started with.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The data directory: key, database, config.
    pub data_dir: DataDir,
    /// Where the node reads the time (the system clock by default; tests move a
    /// [`ManualClock`](crate::clock::ManualClock)).
    pub clock: Arc<dyn Clock>,
    /// Faults to inject, for tests only (none by default).
    pub faults: Faults,
    /// Addresses to listen on.
    pub listen: Vec<Multiaddr>,
    /// Peers dialled at start and added to Kademlia (give them `/p2p/<peer id>`).
    /// There are no built-in ones; peers remembered in the address book are
    /// dialled too (see [`NodeConfig::reconnect_known_peers`]).
    pub bootstrap: Vec<Multiaddr>,
    /// The node's area (a geohash of 5–6 characters), if it has one. With an area
    /// it listens to its cell and the 8 around it; without one, to the `local` mesh.
    pub area: Option<Geohash>,
    /// Named meshes to be in, on top of those joined earlier (remembered in the store).
    pub meshes: Vec<MeshId>,
    /// LAN discovery with mDNS (on by default; it has no effect on the memory
    /// transport, which has no LAN). Tests turn it off.
    pub mdns: bool,
    /// How often mDNS asks the LAN who is there (default 5 s, so a neighbour
    /// appears within seconds; libp2p's default is 5 minutes).
    pub mdns_query_interval: Duration,
    /// Personal or server. Set it with [`NodeConfig::set_role`] to get the role's
    /// connection limits too.
    pub role: Role,
    /// The transport: [`Transport::Memory`] (in-process tests, the default of
    /// [`NodeConfig::new`]) or TCP and/or QUIC ([`NodeConfig::real`]).
    pub transport: Transport,
    /// Addresses others can reach this node at (a home server's public address,
    /// e.g. `/ip4/203.0.113.7/tcp/4001`), announced as confirmed: AutoNAT cannot
    /// confirm an address in a mesh with few AutoNAT servers, and the relay server
    /// only relays once the node has an external address.
    pub external_addresses: Vec<Multiaddr>,
    /// Kademlia and topic-provider timers. Its `bootstrap` list is used along with
    /// [`NodeConfig::bootstrap`].
    pub discovery: DiscoveryConfig,
    /// Relay client, DCUtR hole punching, AutoNAT client (all on by default).
    pub nat: NatConfig,
    /// The relay server's limits, used with [`Role::Server`].
    pub relay_limits: RelayLimits,
    /// At start, dial up to this many peers from the address book, most
    /// recently seen first (default 32; 0 turns it off), so a node restarted with
    /// no bootstrap address finds its neighbours again.
    pub reconnect_known_peers: usize,
    /// The store.
    pub store: StoreOptions,
    /// Gossipsub settings.
    pub gossip: GossipConfig,
    /// Misbehaviour tolerance and blocking.
    pub misbehaviour: MisbehaviourConfig,
    /// Connection limits (a laptop's by default; [`NodeConfig::set_role`] sets a
    /// server's).
    pub connection_limits: ConnectionLimitsConfig,
    /// How long a published listing lives before it must be renewed (default 90 days).
    pub listing_lifetime: Duration,
    /// Own records kept for a topic with no peers are published, once a first peer
    /// joins, at most this many at once ...
    pub pending_burst: usize,
    /// ... and then this many per second (the receivers' flood limits allow 500 at
    /// once and 50 a second).
    pub pending_per_second: usize,
    /// How often (jittered ±25 %) the node runs a catch-up sync with one random
    /// peer that shares a topic (default 60 s; zero turns the timer off). Sync also
    /// runs whenever a peer joins a topic we share.
    pub sync_interval: Duration,
    /// Whether to start a sync session whenever a peer joins a topic we share
    /// (default on). Off, the node still answers its peers' sessions and syncs on
    /// the timer.
    pub sync_on_connect: bool,
    /// What the node answers its peers' sync sessions with: at most this many
    /// sessions open at once (default 256), and a budget of bytes served per
    /// peer (default 8 MiB/s, 64 MiB at once); over it a peer is told "busy,
    /// retry later" (see the README, "Under attack").
    pub sync_responder: swapmesh_sync::ResponderLimits,
    /// How often expired records and tombstones are swept from the store (default
    /// 10 minutes; also once at start; zero sweeps only at start).
    pub sweep_interval: Duration,
    /// While the node is degraded (a write failed: a full disk), how often it
    /// reopens its store and tries a write to recover (default 5 s).
    pub disk_retry_interval: Duration,
    /// Trust scores are computed again when the graph changed, at most this
    /// often (default 60 s; [`Node::trust_now`](crate::Node::trust_now) at once).
    pub trust_interval: Duration,
    /// Bytes of records (as signed) the node keeps before it stops listening
    /// to its farthest cell, one at a time, forgetting what it held for it
    /// alone (default 1 GiB); checked at start and with every sweep. Its own
    /// records and those of its agreements always stay.
    pub store_budget: u64,
    /// The currency people of this node price things in (default EUR): the CLI
    /// and the page take amounts in it unless told another.
    pub currency: Currency,
    /// How long an agreement call waits for the other node before it answers
    /// with the event pending (default 5 s).
    pub agreement_ack_wait: Duration,
    /// How often the agreement timers run (offer expiry, a booking's start;
    /// default 30 s; zero runs them only at start and on `Node::tick`).
    pub agreement_tick: Duration,
    /// How long after its due date an item not given back is overdue (seconds
    /// of signed time; 1 hour).
    pub overdue_grace: u64,
    /// Bytes of photos kept (default 256 MiB): beyond it others' least
    /// recently used photos go; our own and our agreements' never count against
    /// their removal.
    pub blob_budget: u64,
    /// How long a read of a photo not held here waits for the network
    /// (default 10 s).
    pub blob_fetch_timeout: Duration,
    /// How long a web sign-in link stays valid (default 10 minutes).
    pub login_link_ttl: Duration,
    /// Keep sealed mail for the neighbours the operator admits
    /// (`mailbox = "allowed"`); on by default on a server.
    pub mailbox: bool,
    /// How long direct tries to a party fail, by the node's clock, before our
    /// messages go by mail to its mail peers (60 s).
    pub mail_after: Duration,
    /// How often to fetch our mail from our mail peers, by the node's clock
    /// (5 minutes; also at start and when one connects).
    pub mail_poll: Duration,
}

impl NodeConfig {
    /// Defaults for a node in `data_dir` on the memory transport.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: DataDir::new(data_dir),
            clock: clock::system(),
            faults: Faults::default(),
            listen: vec!["/memory/0".parse().expect("a valid multiaddr")],
            bootstrap: Vec::new(),
            area: None,
            meshes: Vec::new(),
            mdns: true,
            mdns_query_interval: Duration::from_secs(5),
            role: Role::Personal,
            transport: Transport::Memory,
            external_addresses: Vec::new(),
            discovery: DiscoveryConfig::default(),
            nat: NatConfig::default(),
            relay_limits: RelayLimits::default(),
            reconnect_known_peers: 32,
            store: StoreOptions::default(),
            gossip: GossipConfig::default(),
            misbehaviour: MisbehaviourConfig::default(),
            connection_limits: ConnectionLimitsConfig::default(),
            listing_lifetime: Duration::from_secs(90 * 24 * 3600),
            pending_burst: 200,
            pending_per_second: 40,
            sync_interval: Duration::from_secs(60),
            sync_on_connect: true,
            sync_responder: swapmesh_sync::ResponderLimits::default(),
            sweep_interval: Duration::from_secs(600),
            disk_retry_interval: Duration::from_secs(5),
            trust_interval: Duration::from_secs(60),
            store_budget: 1024 * 1024 * 1024,
            currency: Currency::from_code("EUR").expect("EUR is in the ISO 4217 table"),
            agreement_ack_wait: Duration::from_secs(5),
            agreement_tick: Duration::from_secs(30),
            overdue_grace: 3600,
            blob_budget: 256 * 1024 * 1024,
            blob_fetch_timeout: Duration::from_secs(10),
            login_link_ttl: Duration::from_secs(600),
            mailbox: false,
            mail_after: Duration::from_secs(60),
            mail_poll: Duration::from_secs(300),
        }
    }

    /// Defaults for a real node in `data_dir`: TCP and QUIC on every IPv4
    /// interface, on ports the system picks (give a server fixed ports, e.g.
    /// `/ip4/0.0.0.0/tcp/4001` and `/ip4/0.0.0.0/udp/4001/quic-v1`), mDNS on.
    pub fn real(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            listen: vec![
                "/ip4/0.0.0.0/tcp/0".parse().expect("a valid multiaddr"),
                "/ip4/0.0.0.0/udp/0/quic-v1"
                    .parse()
                    .expect("a valid multiaddr"),
            ],
            transport: Transport::TcpAndQuic,
            ..Self::new(data_dir)
        }
    }

    /// Sets the role and the connection limits that go with it.
    pub fn set_role(&mut self, role: Role) {
        self.role = role;
        self.connection_limits = role.connection_limits();
        // A server has a public address: it relays, it is not relayed.
        self.nat.auto_relay = role == Role::Personal;
        self.mailbox = role == Role::Server;
    }
}

/// Faults a test can inject into a running node, to reach the paths that handle
/// them. For tests only: a node in use never sets any. Clones share the faults.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    verify_panics: Arc<AtomicU32>,
    agree: Option<AgreeFault>,
    no_area_filter: bool,
    no_validation: bool,
}

/// Where an agreement exchange is cut by `std::process::abort` (no flush on
/// drop), for the crash tests of the real binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgreeFault {
    /// When an agree response arrives, before it is recorded.
    AfterSend,
    /// After the receiver's commit and flush, before it answers.
    BeforeAck,
    /// With our receipt signature queued and flushed, before it is sent.
    ReceiptBeforeSend,
}

impl Faults {
    /// Makes the next `n` sync batches panic while they are verified.
    pub fn panic_next_verifies(&self, n: u32) {
        self.verify_panics.store(n, Ordering::SeqCst);
    }

    /// The faults `SWAPMESH_FAULT` names (`agree-after-send`, `agree-before-ack`,
    /// `receipt-before-send`, `no-area-filter`, `no-validation`);
    /// only in debug builds, a release build ignores the variable.
    pub fn from_env() -> Self {
        let named = |name: &str| {
            cfg!(debug_assertions) && std::env::var("SWAPMESH_FAULT").as_deref() == Ok(name)
        };
        let agree = if cfg!(debug_assertions) {
            match std::env::var("SWAPMESH_FAULT").as_deref() {
                Ok("agree-after-send") => Some(AgreeFault::AfterSend),
                Ok("agree-before-ack") => Some(AgreeFault::BeforeAck),
                Ok("receipt-before-send") => Some(AgreeFault::ReceiptBeforeSend),
                _ => None,
            }
        } else {
            None
        };
        Self {
            agree,
            no_area_filter: named("no-area-filter"),
            no_validation: named("no-validation"),
            ..Self::default()
        }
    }

    /// Area filtering switched off, for the city test to show it can fail:
    /// our records go to every area topic we listen to, not only their own
    /// cell's, and a valid record is taken on any topic.
    pub(crate) fn no_area_filter(&self) -> bool {
        self.no_area_filter
    }

    /// Signatures of records from others not verified, for the city's Sybil
    /// test to show it can fail: a forged version of someone's listing
    /// replaces theirs.
    pub(crate) fn no_validation(&self) -> bool {
        self.no_validation
    }

    /// Abort when an agree response arrives, before recording it?
    pub(crate) fn agree_after_send(&self) -> bool {
        self.agree == Some(AgreeFault::AfterSend)
    }

    /// Abort after committing a delivery, before answering it?
    pub(crate) fn agree_before_ack(&self) -> bool {
        self.agree == Some(AgreeFault::BeforeAck)
    }

    /// Abort with our receipt signature queued, before sending it?
    pub(crate) fn receipt_before_send(&self) -> bool {
        self.agree == Some(AgreeFault::ReceiptBeforeSend)
    }

    /// Whether this verify is to panic (counts one down).
    pub(crate) fn take_verify_panic(&self) -> bool {
        self.verify_panics
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}
