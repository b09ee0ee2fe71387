//! Everything the network layer can be told, parsed once into one value.
//!
//! [`NetworkConfig::new`] gives the defaults a real node runs with; tests shorten
//! the timers (heartbeat, block duration) through the public fields.

use std::time::Duration;

use libp2p::{Multiaddr, identity::Keypair, multiaddr::Protocol as AddrProtocol};

/// Largest record body the protocol accepts (DESIGN §3).
const RECORD_BODY_LIMIT: usize = 32 * 1024;

/// Which transport the swarm runs on.
///
/// Only the in-memory transport exists so far (tests and in-process simulations).
/// TCP, QUIC and DNS arrive with the real-network issue as new variants here; the
/// rest of the crate does not depend on the choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Transport {
    /// libp2p's `MemoryTransport` upgraded with noise and yamux; listen on
    /// `/memory/0` to get a fresh address. Only reaches swarms in the same process.
    #[default]
    Memory,
    // Tcp { .. }, Quic { .. }, Dns: the real-network issue.
}

/// Gossipsub settings a deployment (or a test) may want to change.
///
/// The scoring parameters are not here: they are fixed in [`crate::scoring`],
/// where each one is explained.
#[derive(Debug, Clone)]
pub struct GossipConfig {
    /// How often gossipsub maintains its mesh and emits gossip (1 s by default;
    /// tests use ~100 ms). The first heartbeat comes one interval after start.
    pub heartbeat_interval: Duration,
    /// Largest gossipsub RPC frame accepted, in bytes; a published message must
    /// fit in it with its topic and protobuf envelope.
    ///
    /// 34 KiB: a record is a body of at most 32 KiB plus a 64-byte signature and a
    /// few bytes of encoding; the other ~2 KiB is headroom for that framing, the
    /// topic and the envelope, so any valid record fits and anything much larger
    /// is refused by the receiver's codec before it is decoded (gossipsub's
    /// default, 64 KiB, would accept frames twice the size of any valid record).
    pub max_transmit_size: usize,
    /// Target number of peers in the mesh of each topic (gossipsub's D, default 6).
    pub mesh_n: usize,
    /// Fewer mesh peers than this and the heartbeat grafts more (D_lo, default 5).
    pub mesh_n_low: usize,
    /// More mesh peers than this and the heartbeat prunes some (D_hi, default 12).
    pub mesh_n_high: usize,
    /// How long a message id is remembered to drop duplicates (default 2 min).
    pub duplicate_cache_time: Duration,
}

impl Default for GossipConfig {
    fn default() -> Self {
        Self {
            heartbeat_interval: Duration::from_secs(1),
            max_transmit_size: RECORD_BODY_LIMIT + 2 * 1024,
            mesh_n: 6,
            mesh_n_low: 5,
            mesh_n_high: 12,
            duplicate_cache_time: Duration::from_secs(120),
        }
    }
}

/// The largest frame, in bytes, each request-response protocol reads or writes.
///
/// One limit per protocol covers both its requests and its responses. A peer can
/// make us hold at most `limit × max_concurrent_streams` bytes per connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    /// `/swapmesh/sync/1`: 1 MiB. Reconciliation messages are ranges and
    /// fingerprints; responses that carry missing records are paged by the sync
    /// layer, and 1 MiB holds about thirty records of the largest size.
    pub sync: usize,
    /// `/swapmesh/agree/1`: 256 KiB. An agreement event carries a copy of the signed
    /// listing version it names (≤ 34 KiB) plus terms; a response may return a
    /// short chain of such events.
    pub agree: usize,
}

impl Default for FrameLimits {
    fn default() -> Self {
        Self {
            sync: 1024 * 1024,
            agree: 256 * 1024,
        }
    }
}

/// How much traffic per peer is normal; beyond it a message is dropped and the
/// peer is charged [`Misbehaviour::Flooding`](crate::Misbehaviour::Flooding).
///
/// Each limit is a token bucket: `burst` messages at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FloodLimits {
    /// Gossip messages per second from one propagation source (default 50).
    pub gossip_per_second: f64,
    /// Gossip messages one propagation source may send at once (default 500: a
    /// node publishing its kept records when the first peer joins a topic).
    pub gossip_burst: f64,
    /// Inbound requests per second from one peer, all protocols together (default 20).
    pub requests_per_second: f64,
    /// Inbound requests one peer may send at once (default 200: a catch-up sync
    /// over several topics).
    pub request_burst: f64,
}

impl Default for FloodLimits {
    fn default() -> Self {
        Self {
            gossip_per_second: 50.0,
            gossip_burst: 500.0,
            requests_per_second: 20.0,
            request_burst: 200.0,
        }
    }
}

/// When misbehaviour gets a peer blocked, and for how long (STYLE §9).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MisbehaviourConfig {
    /// A peer whose misbehaviour score reaches this is blocked (default 100; the
    /// penalties in [`Misbehaviour::penalty`](crate::Misbehaviour::penalty) are sized
    /// against it).
    pub block_threshold: f64,
    /// The score halves every `half_life` (default 10 min), so occasional
    /// mistakes of an honest peer fade while a steady stream of them does not.
    pub half_life: Duration,
    /// How long a blocked peer stays blocked (default 30 min; tests use ~1 s).
    pub block_duration: Duration,
    /// Rates beyond which traffic counts as flooding.
    pub flood: FloodLimits,
}

impl Default for MisbehaviourConfig {
    fn default() -> Self {
        Self {
            block_threshold: 100.0,
            half_life: Duration::from_secs(600),
            block_duration: Duration::from_secs(30 * 60),
            flood: FloodLimits::default(),
        }
    }
}

/// Connection counts that guard the door (libp2p's `connection_limits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimitsConfig {
    /// Incoming connections still in their handshake (default 32).
    pub max_pending_incoming: u32,
    /// Established connections in total (default 256).
    pub max_established: u32,
    /// Established connections to one peer (default 2: one each way while both dial).
    pub max_established_per_peer: u32,
}

impl Default for ConnectionLimitsConfig {
    fn default() -> Self {
        Self {
            max_pending_incoming: 32,
            max_established: 256,
            max_established_per_peer: 2,
        }
    }
}

/// The whole configuration of one network instance.
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// The node's identity; its `PeerId` is derived from it.
    pub keypair: Keypair,
    /// The transport to run on.
    pub transport: Transport,
    /// Addresses to listen on at start (`/memory/0` for the memory transport).
    pub listen_addresses: Vec<Multiaddr>,
    /// Gossipsub settings.
    pub gossip: GossipConfig,
    /// Frame limits per request-response protocol.
    pub frame_limits: FrameLimits,
    /// How long an outbound request waits for its response, and an inbound one
    /// for the app's reply (default 30 s).
    pub request_timeout: Duration,
    /// Concurrent request streams per connection and protocol (default 16).
    pub max_concurrent_streams: usize,
    /// Misbehaviour tolerance and blocking.
    pub misbehaviour: MisbehaviourConfig,
    /// Connection limits.
    pub connection_limits: ConnectionLimitsConfig,
    /// Capacity of the `NetworkEvent` channel (default 1024). When it is full the
    /// event loop stops reading from the network until the app catches up.
    pub event_channel_capacity: usize,
    /// Capacity of the command channel shared by all handles (default 256).
    pub command_channel_capacity: usize,
    /// How long a connection with no open stream is kept (default 120 s).
    ///
    /// libp2p 0.55 lowered the default to 10 s, which drops an agreement or sync
    /// partner that shares no gossip topic between two exchanges.
    pub idle_connection_timeout: Duration,
}

impl NetworkConfig {
    /// The defaults for `keypair` on the memory transport, listening on `/memory/0`.
    pub fn new(keypair: Keypair) -> Self {
        Self {
            keypair,
            transport: Transport::Memory,
            listen_addresses: vec![Multiaddr::empty().with(AddrProtocol::Memory(0))],
            gossip: GossipConfig::default(),
            frame_limits: FrameLimits::default(),
            request_timeout: Duration::from_secs(30),
            max_concurrent_streams: 16,
            misbehaviour: MisbehaviourConfig::default(),
            connection_limits: ConnectionLimitsConfig::default(),
            event_channel_capacity: 1024,
            command_channel_capacity: 256,
            idle_connection_timeout: Duration::from_secs(120),
        }
    }
}
