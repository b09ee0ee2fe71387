//! Everything the network layer can be told, parsed once into one value.
//!
//! [`NetworkConfig::new`] gives the defaults a real node runs with; tests shorten
//! the timers (heartbeat, block duration) through the public fields.

use crate::kad_store::KadLimits;
use std::time::Duration;

use libp2p::{Multiaddr, identity::Keypair, multiaddr::Protocol as AddrProtocol};

use crate::error::NetworkError;

/// Which transport the swarm runs on.
///
/// Every choice is authenticated with noise and multiplexed with yamux (QUIC
/// brings its own TLS 1.3 and streams), and every choice can also reach peers
/// through a relay (`/p2p-circuit`) when the relay client is on
/// ([`NatConfig::relay_client`]). The real transports resolve `/dns*` addresses.
/// The rest of the crate does not depend on the choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Transport {
    /// libp2p's `MemoryTransport` upgraded with noise and yamux; listen on
    /// `/memory/0` to get a fresh address. Only reaches swarms in the same process
    /// (the in-process tests and simulations).
    #[default]
    Memory,
    /// TCP (`/ip4/…/tcp/…`) only.
    Tcp,
    /// QUIC v1 (`/ip4/…/udp/…/quic-v1`) only.
    Quic,
    /// Both TCP and QUIC: what a real node runs. QUIC connects in one round trip
    /// fewer and survives address changes; TCP gets through networks that block UDP.
    TcpAndQuic,
}

impl Transport {
    /// Whether this transport uses real sockets.
    pub fn is_real(self) -> bool {
        !matches!(self, Transport::Memory)
    }
}

/// LAN discovery with mDNS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MdnsConfig {
    /// Whether mDNS runs (default on; tests that do not run in network namespaces
    /// of their own turn it off, and so can a server on a hostile LAN).
    pub enabled: bool,
    /// How often the LAN is asked who is there (default 5 s). libp2p's default is
    /// 5 minutes: a neighbour whose first announcement was lost would then stay
    /// invisible for minutes. One query every few seconds is a few hundred bytes
    /// of multicast.
    pub query_interval: Duration,
}

impl Default for MdnsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            query_interval: Duration::from_secs(5),
        }
    }
}

/// Discovery beyond the LAN: Kademlia and topic providers (DESIGN §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryConfig {
    /// Whether Kademlia (`/swapmesh/kad/1`, server mode) runs (default on).
    pub kademlia: bool,
    /// Peers dialled at start and added to Kademlia's routing table. Give each
    /// address its `/p2p/<peer id>`: Kademlia can only use addresses whose peer
    /// it knows (the others are dialled all the same, and join the routing table
    /// once identify has told us who answered). There are no built-in ones.
    pub bootstrap: Vec<Multiaddr>,
    /// How often Kademlia re-runs its bootstrap (a lookup of our own id, which
    /// refreshes the routing table); default 5 min, as libp2p.
    pub bootstrap_interval: Duration,
    /// How often the providers of each joined topic are looked up and dialled
    /// (default 60 s; tests use ~1 s). A lookup also runs when a topic is joined
    /// and when a Kademlia bootstrap completes.
    pub provider_lookup_interval: Duration,
    /// How often we announce ourselves again as a provider of each joined topic
    /// (default 10 min). Announcing is a Kademlia query per topic; the records we
    /// leave live [`provider_record_ttl`](Self::provider_record_ttl).
    pub provider_announce_interval: Duration,
    /// How long other nodes keep our provider records (default 1 h: a node that
    /// left for good stops being dialled within the hour, and an announcement every
    /// 10 minutes keeps a live node's records fresh with a wide margin).
    pub provider_record_ttl: Duration,
    /// Caps on the provider records others leave with us.
    pub kad_limits: KadLimits,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        Self {
            kademlia: true,
            bootstrap: Vec::new(),
            bootstrap_interval: Duration::from_secs(5 * 60),
            provider_lookup_interval: Duration::from_secs(60),
            provider_announce_interval: Duration::from_secs(10 * 60),
            provider_record_ttl: Duration::from_secs(60 * 60),
            kad_limits: KadLimits::default(),
        }
    }
}

/// NAT traversal for nodes behind a home router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NatConfig {
    /// The relay client: listen and dial through a relay's `/p2p-circuit`
    /// (default on).
    pub relay_client: bool,
    /// DCUtR: upgrade a relayed connection to a direct one by hole punching
    /// (default on; the relay test turns it off to keep its connection relayed).
    pub dcutr: bool,
    /// The AutoNAT v2 client: asks AutoNAT servers to dial our candidate
    /// addresses back, and confirms those that work as external addresses
    /// (default on).
    pub autonat_client: bool,
    /// Automatic relay: while no direct external address is confirmed, listen
    /// through up to [`NatConfig::max_relays`] relays among the peers whose
    /// identify shows the relay hop protocol (default on; the node turns it off
    /// for a server and when a `/p2p-circuit` listen address is given).
    pub auto_relay: bool,
    /// Most relays listened through automatically (default 2).
    pub max_relays: usize,
}

impl Default for NatConfig {
    fn default() -> Self {
        Self {
            relay_client: true,
            dcutr: true,
            autonat_client: true,
            auto_relay: true,
            max_relays: 2,
        }
    }
}

/// What a node with a public address offers its neighbours (`role = server`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerConfig {
    /// The relay server, with these limits; `None`: no relaying.
    pub relay: Option<RelayLimits>,
    /// The AutoNAT v2 server: dials back the addresses other nodes ask it to
    /// check (default on for a server).
    pub autonat: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            relay: Some(RelayLimits::default()),
            autonat: true,
        }
    }
}

/// Limits of the relay server.
///
/// libp2p's defaults (a circuit ends after 2 minutes or 128 KiB, whichever comes
/// first) are made for public relays that only help two peers meet before DCUtR
/// gives them a direct connection. A swapmesh home server relays for its own
/// neighbourhood, and for a neighbour behind a symmetric NAT (or with DCUtR
/// failing) the relayed connection *is* its connection: a catch-up sync of a
/// neighbourhood is megabytes, and cutting it at 128 KiB would stop it mid-way,
/// again and again. The limits below still bound what one home server spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayLimits {
    /// Bytes one circuit may carry, both directions together (default 64 MiB:
    /// a full catch-up of a busy neighbourhood — 10,000 listings of ~2 KiB is
    /// 20 MiB — with room to spare; after that the peers simply open a new
    /// circuit, so this caps a runaway peer, not a normal one).
    pub max_circuit_bytes: u64,
    /// How long one circuit may last (default 1 h: long enough for a sync and
    /// for gossip to flow without reconnect churn; a fresh circuit is cheap).
    pub max_circuit_duration: Duration,
    /// Circuits open at once in total (default 64) ...
    pub max_circuits: usize,
    /// ... and per peer (default 8: one per neighbour it talks to through us).
    pub max_circuits_per_peer: usize,
    /// Peers that may hold a reservation (listen through us) at once (default 128,
    /// a neighbourhood; libp2p's 128 too).
    pub max_reservations: usize,
    /// How long a reservation lasts before the client renews it (default 1 h, as
    /// libp2p).
    pub reservation_duration: Duration,
}

impl Default for RelayLimits {
    fn default() -> Self {
        Self {
            max_circuit_bytes: 64 * 1024 * 1024,
            max_circuit_duration: Duration::from_secs(60 * 60),
            max_circuits: 64,
            max_circuits_per_peer: 8,
            max_reservations: 128,
            reservation_duration: Duration::from_secs(60 * 60),
        }
    }
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
    /// The largest message, in bytes, the app publishes (and so expects to
    /// receive). The app passes its own limit, e.g.
    /// `swapmesh_protocol::gossip::MAX_GOSSIP_MESSAGE`: this crate knows nothing
    /// of what the bytes mean.
    ///
    /// A larger publish is refused with
    /// [`PublishError::TooLarge`](crate::PublishError::TooLarge), and gossipsub's
    /// frame limit is derived from it ([`GossipConfig::max_transmit_size`]), so a
    /// message of this size always fits in a frame and a peer's frames are
    /// refused when they are more than about 8 KiB larger (gossipsub's default
    /// limit, 64 KiB, would be twice what swapmesh needs). Must not be zero.
    ///
    /// Default 33 KiB: a 32 KiB payload with 1 KiB of the app's own framing.
    pub max_message_bytes: usize,
    /// Target number of peers in the mesh of each topic (gossipsub's D, default 6).
    pub mesh_n: usize,
    /// Fewer mesh peers than this and the heartbeat grafts more (D_lo, default 5).
    pub mesh_n_low: usize,
    /// More mesh peers than this and the heartbeat prunes some (D_hi, default 12).
    pub mesh_n_high: usize,
    /// How long a message id is remembered to drop duplicates (default 2 min).
    pub duplicate_cache_time: Duration,
    /// Which topic names peers may announce and we may join (`None`, the
    /// default: any). A subscription to another name is ignored and counted.
    pub topic_rule: Option<crate::TopicRule>,
    /// Most topics one peer may be subscribed to here (default 64); a
    /// subscription beyond them is ignored and counted.
    pub max_topics_per_peer: usize,
}

impl Default for GossipConfig {
    fn default() -> Self {
        Self {
            heartbeat_interval: Duration::from_secs(1),
            max_message_bytes: 33 * 1024,
            mesh_n: 6,
            mesh_n_low: 5,
            mesh_n_high: 12,
            duplicate_cache_time: Duration::from_secs(120),
            topic_rule: None,
            max_topics_per_peer: 64,
        }
    }
}

impl GossipConfig {
    /// gossipsub's `max_transmit_size`: the largest RPC frame we send or accept,
    /// in bytes. [`max_message_bytes`](Self::max_message_bytes) plus
    /// [`MAX_TOPIC_BYTES`], [`RPC_ENVELOPE_BYTES`] and
    /// [`READ_BUFFER_ALLOWANCE`] (defaults: 33,792 + 64 + 43 + 8,192 = 42,091).
    pub fn max_transmit_size(&self) -> usize {
        self.max_message_bytes.saturating_add(FRAME_OVERHEAD)
    }

    /// The most data one message on `topic` may carry:
    /// [`max_message_bytes`](Self::max_message_bytes), or less on a topic longer
    /// than [`MAX_TOPIC_BYTES`], so that every frame we send fits in
    /// [`max_transmit_size`](Self::max_transmit_size) with the
    /// [`READ_BUFFER_ALLOWANCE`] to spare.
    pub(crate) fn data_limit(&self, topic: &str) -> usize {
        let topic_overflow = topic.len().saturating_sub(MAX_TOPIC_BYTES);
        self.max_message_bytes.saturating_sub(topic_overflow)
    }

    /// Checks the values a network cannot run with.
    pub(crate) fn validate(&self) -> Result<(), NetworkError> {
        if self.max_message_bytes == 0 {
            return Err(NetworkError::InvalidConfig(
                "gossip.max_message_bytes is 0: set it to the largest message the app publishes"
                    .to_owned(),
            ));
        }
        if self.max_message_bytes.checked_add(FRAME_OVERHEAD).is_none() {
            return Err(NetworkError::InvalidConfig(format!(
                "gossip.max_message_bytes is {}: no frame can be that large",
                self.max_message_bytes
            )));
        }
        Ok(())
    }
}

/// What [`GossipConfig::max_transmit_size`] adds to the largest message.
const FRAME_OVERHEAD: usize = MAX_TOPIC_BYTES + RPC_ENVELOPE_BYTES + READ_BUFFER_ALLOWANCE;

/// Room for the topic name in every gossipsub frame, in bytes.
///
/// swapmesh's longest topic is `swapmesh/1/mesh/<32 chars>`, 48 bytes; 64 leaves
/// room for a longer name without changing the frame limit. A message on a topic
/// longer than this may carry that much less data (publishing more is refused
/// with [`PublishError::TooLarge`](crate::PublishError::TooLarge)).
pub const MAX_TOPIC_BYTES: usize = 64;

/// The longest protobuf varint: one that encodes a 64-bit length.
const MAX_VARINT_BYTES: usize = 10;

/// The key of a protobuf field numbered below 16: one byte.
const FIELD_KEY_BYTES: usize = 1;

/// Bytes gossipsub 0.50 adds around one published message, besides the message
/// data and the topic name (checked against libp2p-gossipsub 0.50.1).
///
/// A frame on the wire is an unsigned-varint length prefix followed by one
/// protobuf `RPC`. gossipsub 0.50 sends every queued `RpcOut` as an RPC of its
/// own (`impl From<RpcOut> for proto::Rpc`), so the RPC that carries a message,
/// published or forwarded, carries only that message: no subscriptions, and no
/// control messages (IHAVE, IWANT, GRAFT, PRUNE, IDONTWANT) piggybacked on it.
/// In anonymous mode the message has no `from`, `seqno`, `signature` or `key`.
/// What is left:
///
/// | part                                     | bytes    |
/// |------------------------------------------|----------|
/// | frame length prefix (varint)             | ≤ 10     |
/// | `RPC.publish` (field 2): key, length     | 1 + ≤ 10 |
/// | `Message.data` (field 2): key, length    | 1 + ≤ 10 |
/// | `Message.topic` (field 4): key, length   | 1 + ≤ 10 |
///
/// Each length is counted at its widest (10 bytes, any 64-bit length), so the
/// sum, 43, holds for every configuration; for swapmesh's sizes (frames under
/// 2 MiB, topics under 128 bytes) the envelope is in fact 14 bytes.
pub const RPC_ENVELOPE_BYTES: usize = MAX_VARINT_BYTES + 3 * (FIELD_KEY_BYTES + MAX_VARINT_BYTES);

/// Bytes the frame limit allows beyond the largest frame we send, so that a
/// receiver does not drop it: 8 KiB.
///
/// libp2p-gossipsub 0.50.1 checks `max_transmit_size` against its whole read
/// buffer rather than against one frame (`validate_rpc_limits` is given
/// everything read so far), and that buffer is filled 8 KiB at a time
/// (asynchronous-codec 0.7's `FramedRead`). When frames come back to back, the
/// buffer holding a whole frame may also hold up to 8 KiB − 1 bytes of the next
/// one: without this allowance a burst of messages near the limit would fail the
/// receiver's stream and lose them (the test
/// `a_burst_of_the_largest_messages_all_arrive` shows it).
pub const READ_BUFFER_ALLOWANCE: usize = 8 * 1024;

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
    /// `/swapmesh/blob/1`: 512 KiB and 1 KiB for the framing. A response
    /// carries one photo, which normalising keeps within 512 KiB.
    pub blob: usize,
    /// `/swapmesh/mail/1`: 1 MiB. A put carries one envelope (≤ 261 KiB); a
    /// fetch's answer carries up to 1 MiB of them.
    pub mail: usize,
}

impl Default for FrameLimits {
    fn default() -> Self {
        Self {
            sync: 1024 * 1024,
            agree: 256 * 1024,
            blob: 512 * 1024 + 1024,
            mail: 1024 * 1024,
        }
    }
}

/// How much traffic per peer is normal; beyond it a message is dropped. A
/// request over the rate charges its peer
/// [`Misbehaviour::Flooding`](crate::Misbehaviour::Flooding); a gossip message
/// over the rate is ignored uncharged (`swapmesh_gossip_over_rate_total`),
/// since its deliverer may be an honest forwarder of someone else's flood.
///
/// Each limit is a token bucket: `burst` messages at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FloodLimits {
    /// Gossip messages per second from one propagation source (default 50).
    pub gossip_per_second: f64,
    /// Gossip messages one propagation source may send at once (default 500: a
    /// node publishing its kept records when the first peer joins a topic).
    pub gossip_burst: f64,
    /// Inbound `/swapmesh/agree/1` requests per second from one peer (default 20).
    pub requests_per_second: f64,
    /// Agreement requests one peer may send at once (default 200).
    pub request_burst: f64,
    /// Inbound `/swapmesh/sync/1` requests per second from one peer (default
    /// 100). Only a guard against a stream of requests: what sync answers is
    /// budgeted by the bytes it serves (the node's sync responder), so that a
    /// large honest catch-up is slowed down, never charged.
    pub sync_requests_per_second: f64,
    /// Sync requests one peer may send at once (default 1,000).
    pub sync_request_burst: f64,
    /// Inbound `/swapmesh/blob/1` requests per second from one peer, counted
    /// apart from the others (default 100: a page of results asks for a
    /// thumbnail's photo per listing, and a node fetches its area's photos).
    pub blob_requests_per_second: f64,
    /// Blob requests one peer may send at once (default 1,000).
    pub blob_request_burst: f64,
}

impl Default for FloodLimits {
    fn default() -> Self {
        Self {
            gossip_per_second: 50.0,
            gossip_burst: 500.0,
            requests_per_second: 20.0,
            request_burst: 200.0,
            sync_requests_per_second: 100.0,
            sync_request_burst: 1000.0,
            blob_requests_per_second: 100.0,
            blob_request_burst: 1000.0,
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
///
/// [`ConnectionLimitsConfig::personal`] (the default) suits a laptop;
/// [`ConnectionLimitsConfig::server`] an always-on home server that many
/// neighbours connect to and relay through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimitsConfig {
    /// Incoming connections still in their handshake.
    pub max_pending_incoming: u32,
    /// Outgoing dials in progress.
    pub max_pending_outgoing: u32,
    /// Established connections in total.
    pub max_established: u32,
    /// Established connections to one peer (3: a relayed connection, its direct
    /// upgrade by DCUtR, and one more while both peers dial each other at once).
    pub max_established_per_peer: u32,
    /// Inbound connections (pending and established) from one IP, an IPv6
    /// address counted by its /64 (default 8). Peers blocked for misbehaviour
    /// stay counted against their IP while the block lasts. Relayed connections
    /// do not count here but against their relay.
    pub max_per_ip: u32,
    /// Inbound circuits through one relay (a relay carries many neighbours
    /// behind NAT, each its own peer).
    pub max_per_relay: u32,
    /// Slots of `max_established` that inbound connections from peers we never
    /// dialled may not take: kept for our own dials and the peers we know.
    pub outbound_reserve: u32,
}

impl ConnectionLimitsConfig {
    /// A laptop: a neighbourhood's gossip mesh needs a dozen peers per topic and
    /// discovery a few dozen more; 128 leaves room while keeping a laptop on a
    /// café network from being used as a free hub. 32 handshakes at once either way.
    pub fn personal() -> Self {
        Self {
            max_pending_incoming: 32,
            max_pending_outgoing: 32,
            max_established: 128,
            max_established_per_peer: 3,
            max_per_ip: 8,
            max_per_relay: 32,
            outbound_reserve: 32,
        }
    }

    /// A home server: it is the bootstrap peer, the Kademlia server and the
    /// relay of its neighbourhood, so every neighbour stays connected to it;
    /// 1024 connections cost a few tens of MiB. More handshakes at once too, as
    /// neighbours all reconnect after the server restarts.
    pub fn server() -> Self {
        Self {
            max_pending_incoming: 128,
            max_pending_outgoing: 64,
            max_established: 1024,
            max_established_per_peer: 3,
            max_per_ip: 8,
            max_per_relay: 128,
            outbound_reserve: 128,
        }
    }
}

impl Default for ConnectionLimitsConfig {
    fn default() -> Self {
        Self::personal()
    }
}

/// The whole configuration of one network instance.
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// The node's identity; its `PeerId` is derived from it.
    pub keypair: Keypair,
    /// The transport to run on.
    pub transport: Transport,
    /// Addresses to listen on at start (`/memory/0` for the memory transport,
    /// `/ip4/0.0.0.0/tcp/0` and `/ip4/0.0.0.0/udp/0/quic-v1` for the real ones,
    /// `<relay address>/p2p/<relay>/p2p-circuit` to listen through a relay).
    pub listen_addresses: Vec<Multiaddr>,
    /// Addresses others can reach us at, announced as confirmed external
    /// addresses (a server's public address: AutoNAT cannot confirm an address
    /// in a mesh with fewer than a few AutoNAT servers). The relay server only
    /// offers relaying once it has one.
    pub external_addresses: Vec<Multiaddr>,
    /// mDNS on the LAN.
    pub mdns: MdnsConfig,
    /// Kademlia, bootstrap peers and topic providers.
    pub discovery: DiscoveryConfig,
    /// Relay client, DCUtR, AutoNAT client.
    pub nat: NatConfig,
    /// Relay and AutoNAT servers (`role = server`); `None` for a personal node.
    pub server: Option<ServerConfig>,
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
    /// The defaults for `keypair` on the memory transport, listening on
    /// `/memory/0`, with mDNS off (there is no LAN in memory).
    pub fn new(keypair: Keypair) -> Self {
        Self {
            keypair,
            transport: Transport::Memory,
            listen_addresses: vec![Multiaddr::empty().with(AddrProtocol::Memory(0))],
            external_addresses: Vec::new(),
            // The memory transport has no LAN.
            mdns: MdnsConfig {
                enabled: false,
                ..MdnsConfig::default()
            },
            discovery: DiscoveryConfig::default(),
            nat: NatConfig::default(),
            server: None,
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

    /// The defaults for `keypair` on TCP and QUIC: listening on every IPv4
    /// interface on ports the system picks, mDNS on.
    pub fn real(keypair: Keypair) -> Self {
        Self {
            transport: Transport::TcpAndQuic,
            listen_addresses: vec![
                "/ip4/0.0.0.0/tcp/0".parse().expect("a valid multiaddr"),
                "/ip4/0.0.0.0/udp/0/quic-v1"
                    .parse()
                    .expect("a valid multiaddr"),
            ],
            mdns: MdnsConfig::default(),
            ..Self::new(keypair)
        }
    }
}
