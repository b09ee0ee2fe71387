//! The libp2p behaviour: which protocols a swapmesh node speaks, in which order.

use libp2p::{
    PeerId, StreamProtocol, allow_block_list, autonat, connection_limits, dcutr, gossipsub,
    identify,
    identity::Keypair,
    kad, mdns,
    metrics::Registry,
    ping, relay, request_response,
    swarm::{NetworkBehaviour, behaviour::toggle::Toggle},
};
use tracing::warn;

use crate::topics::{self, Filter};

use crate::{
    codec::FrameCodec,
    config::{NetworkConfig, RelayLimits},
    door::Door,
    kad_store::KadStore,
    scoring,
    types::{MessageId, Protocol},
};

/// The protocol version identify announces.
const IDENTIFY_PROTOCOL: &str = "/swapmesh/1.0.0";

/// Our own Kademlia protocol name: swapmesh nodes form their own DHT and never
/// mix with the public IPFS one (`/ipfs/kad/1.0.0`), whose peers know nothing of
/// our topics and would fill the routing table with strangers.
pub(crate) const KAD_PROTOCOL: &str = "/swapmesh/kad/1";
/// The protocol a relay server speaks to clients that reserve slots and open
/// circuits (libp2p's circuit relay v2 hop).
pub(crate) const RELAY_HOP_PROTOCOL: &str = "/libp2p/circuit/relay/0.2.0/hop";

/// Everything the swarm runs.
///
/// The derive polls fields in declaration order and asks them in that order
/// whether to accept a connection, so the order is deliberate:
///
/// 1. behaviours that decide whether a connection may exist (limits, the door
///    that counts by IP and relay, then the block list), so a refused
///    connection never reaches the protocols;
/// 2. the ones every connection uses to learn about its peer (identify, ping);
/// 3. discovery (mDNS, Kademlia), which turns what identify learnt into
///    addresses and dials — before NAT traversal, so the addresses it hands the
///    swarm for a dial come first;
/// 4. NAT traversal (relay client, DCUtR, AutoNAT client), then what a server
///    offers others (relay server, AutoNAT server): these manage connections
///    and addresses, so they come before the protocols that only use connections;
/// 5. gossip, then our request-response protocols, one behaviour each (a single
///    behaviour with several protocols would offer all of them for every
///    request, DESIGN §4).
///
/// Optional parts are `Toggle`s: switched off, they accept every connection and
/// do nothing, and the type stays the same for every configuration.
#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    /// Caps pending and established connections, globally and per peer.
    pub(crate) connection_limits: connection_limits::Behaviour,
    /// Counts inbound connections by IP and by relay, charges blocked peers'
    /// IPs, and keeps slots for our own dials.
    pub(crate) door: Door,
    /// Peers blocked for misbehaviour (or by the app); also closes their
    /// connections when they are blocked.
    pub(crate) block_list: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    /// Exchanges listen addresses and protocols; feeds Kademlia.
    pub(crate) identify: identify::Behaviour,
    /// Keeps connections measured and detects dead ones.
    pub(crate) ping: ping::Behaviour,
    /// LAN discovery (off in tests and on the memory transport).
    pub(crate) mdns: Toggle<mdns::tokio::Behaviour>,
    /// The DHT: bootstrap, routing, and providers of sha256(topic).
    pub(crate) kad: Toggle<kad::Behaviour<KadStore>>,
    /// Listening and dialling through relays.
    pub(crate) relay_client: Toggle<relay::client::Behaviour>,
    /// Hole punching: upgrades relayed connections to direct ones.
    pub(crate) dcutr: Toggle<dcutr::Behaviour>,
    /// Asks AutoNAT servers whether our candidate addresses are reachable.
    pub(crate) autonat_client: Toggle<autonat::v2::client::Behaviour>,
    /// Relays for peers behind NAT (`role = server`).
    pub(crate) relay_server: Toggle<relay::Behaviour>,
    /// Dials back other nodes' candidate addresses (`role = server`).
    pub(crate) autonat_server: Toggle<autonat::v2::server::Behaviour>,
    /// Anonymous, content-addressed gossip with app validation and scoring.
    pub(crate) gossipsub: gossipsub::Behaviour<gossipsub::IdentityTransform, Filter>,
    /// `/swapmesh/sync/1`.
    pub(crate) sync: request_response::Behaviour<FrameCodec>,
    /// `/swapmesh/agree/1`.
    pub(crate) agree: request_response::Behaviour<FrameCodec>,
    /// `/swapmesh/blob/1`.
    pub(crate) blob: request_response::Behaviour<FrameCodec>,
    /// `/swapmesh/mail/1`.
    pub(crate) mail: request_response::Behaviour<FrameCodec>,
}

/// An error while building the behaviour, as the swarm builder wants it.
pub(crate) type BuildError = Box<dyn std::error::Error + Send + Sync>;

impl Behaviour {
    /// The behaviour of `config`; `relay_client` comes from the swarm builder
    /// (it shares a channel with the relay transport). Gossipsub registers its
    /// own metrics (per-topic counts, including duplicates) in `registry`.
    pub(crate) fn new(
        key: &Keypair,
        relay_client: relay::client::Behaviour,
        config: &NetworkConfig,
        registry: &mut Registry,
    ) -> Result<Self, BuildError> {
        let peer_id = key.public().to_peer_id();
        let limits = config.connection_limits;
        let connection_limits = connection_limits::Behaviour::new(
            connection_limits::ConnectionLimits::default()
                .with_max_pending_incoming(Some(limits.max_pending_incoming))
                .with_max_pending_outgoing(Some(limits.max_pending_outgoing))
                .with_max_established(Some(limits.max_established))
                .with_max_established_per_peer(Some(limits.max_established_per_peer)),
        );
        let identify = identify::Behaviour::new(
            identify::Config::new(IDENTIFY_PROTOCOL.to_owned(), key.public())
                .with_agent_version(format!("swapmesh/{}", env!("CARGO_PKG_VERSION")))
                // A node dials its bootstrap peers while its listeners start:
                // its first identify can go out with no listen address, and
                // the next one only 5 minutes later. Pushing every change
                // gets its addresses (and later relayed ones) into its peers'
                // routing tables at once, so that others can look it up.
                .with_push_listen_addr_updates(true),
        );
        let nat = config.nat;
        let server = config.server;
        Ok(Self {
            connection_limits,
            door: Door::new(limits, registry),
            block_list: Default::default(),
            identify,
            ping: ping::Behaviour::default(),
            mdns: mdns(peer_id, config),
            kad: config
                .discovery
                .kademlia
                .then(|| kad(peer_id, config))
                .into(),
            relay_client: nat.relay_client.then_some(relay_client).into(),
            dcutr: nat.dcutr.then(|| dcutr::Behaviour::new(peer_id)).into(),
            // `default()`: the client's own rng, which avoids a rand version clash.
            autonat_client: nat
                .autonat_client
                .then(autonat::v2::client::Behaviour::default)
                .into(),
            relay_server: server
                .and_then(|s| s.relay)
                .map(|limits| relay::Behaviour::new(peer_id, relay_config(limits)))
                .into(),
            autonat_server: server
                .filter(|s| s.autonat)
                .map(|_| autonat::v2::server::Behaviour::default())
                .into(),
            gossipsub: gossipsub(config, registry)?,
            sync: request_response(Protocol::Sync, config.frame_limits.sync, config),
            agree: request_response(Protocol::Agree, config.frame_limits.agree, config),
            blob: request_response(Protocol::Blob, config.frame_limits.blob, config),
            mail: request_response(Protocol::Mail, config.frame_limits.mail, config),
        })
    }

    /// The request-response behaviour of `protocol`.
    pub(crate) fn protocol_mut(
        &mut self,
        protocol: Protocol,
    ) -> &mut request_response::Behaviour<FrameCodec> {
        match protocol {
            Protocol::Sync => &mut self.sync,
            Protocol::Agree => &mut self.agree,
            Protocol::Blob => &mut self.blob,
            Protocol::Mail => &mut self.mail,
        }
    }
}

/// mDNS if enabled; a LAN without multicast (or no interface at all) only turns
/// it off, with a warning, instead of failing the node.
fn mdns(peer_id: PeerId, config: &NetworkConfig) -> Toggle<mdns::tokio::Behaviour> {
    if !config.mdns.enabled || !config.transport.is_real() {
        return None.into();
    }
    let mdns_config = mdns::Config {
        query_interval: config.mdns.query_interval,
        ..mdns::Config::default()
    };
    match mdns::tokio::Behaviour::new(mdns_config, peer_id) {
        Ok(behaviour) => Some(behaviour).into(),
        Err(error) => {
            warn!(%error, "mDNS could not start; LAN discovery is off");
            None.into()
        }
    }
}

/// Kademlia with our protocol name, in server mode, on our capped store.
fn kad(peer_id: PeerId, config: &NetworkConfig) -> kad::Behaviour<KadStore> {
    let discovery = &config.discovery;
    let mut kad_config = kad::Config::new(StreamProtocol::new(KAD_PROTOCOL));
    kad_config
        .set_periodic_bootstrap_interval(Some(discovery.bootstrap_interval))
        .set_provider_record_ttl(Some(discovery.provider_record_ttl))
        // We announce again ourselves (provider_announce_interval), to peers
        // found since; kad's own republication would only repeat the old ones.
        .set_provider_publication_interval(None)
        .set_query_timeout(std::time::Duration::from_secs(30))
        // Every inbound put comes to the event loop, which refuses value
        // records and hands provider records to our capped store.
        .set_record_filtering(kad::StoreInserts::FilterBoth);
    let store = KadStore::new(peer_id, discovery.kad_limits);
    let mut kad = kad::Behaviour::with_config(peer_id, store, kad_config);
    // Auto mode would stay a client until an external address is confirmed,
    // which on a LAN or in a small private mesh never happens: then nobody
    // would answer queries. Every swapmesh node serves the DHT.
    kad.set_mode(Some(kad::Mode::Server));
    kad
}

/// The relay server's configuration from our limits (libp2p's rate limiters kept).
fn relay_config(limits: RelayLimits) -> relay::Config {
    relay::Config {
        max_reservations: limits.max_reservations,
        reservation_duration: limits.reservation_duration,
        max_circuits: limits.max_circuits,
        max_circuits_per_peer: limits.max_circuits_per_peer,
        max_circuit_duration: limits.max_circuit_duration,
        max_circuit_bytes: limits.max_circuit_bytes,
        ..relay::Config::default()
    }
}

/// Gossipsub as DESIGN §4 asks.
///
/// Created with its metrics in `registry`: per topic, messages received before
/// and after duplicates are dropped (`topic_msg_recv_counts_unfiltered` and
/// `topic_msg_recv_counts`), mesh sizes, scores, validation verdicts.
fn gossipsub(
    config: &NetworkConfig,
    registry: &mut Registry,
) -> Result<gossipsub::Behaviour<gossipsub::IdentityTransform, Filter>, BuildError> {
    let g = &config.gossip;
    let gossip_config = gossipsub::ConfigBuilder::default()
        // Records are signed by their authors; a second, per-hop signature would
        // cost a verification per duplicate and reveal the publisher. Anonymous
        // mode sends neither author, sequence number nor signature (js-libp2p's
        // StrictNoSign), and the message id must then come from the content.
        .validation_mode(gossipsub::ValidationMode::Anonymous)
        .message_id_fn(|message: &gossipsub::Message| {
            MessageId::new(message.topic.as_str(), &message.data).to_gossipsub()
        })
        // Nothing is forwarded before the app has checked the record.
        .validate_messages()
        .max_transmit_size(g.max_transmit_size())
        .heartbeat_interval(g.heartbeat_interval)
        .heartbeat_initial_delay(g.heartbeat_interval)
        .mesh_n(g.mesh_n)
        .mesh_n_low(g.mesh_n_low)
        .mesh_n_high(g.mesh_n_high)
        // Gossipsub's default of 2, lowered for tiny meshes to keep its rule
        // (outbound_min ≤ D_lo and 2 × outbound_min ≤ D).
        .mesh_outbound_min(g.mesh_n_low.min(2).min(g.mesh_n / 2))
        .duplicate_cache_time(g.duplicate_cache_time)
        .build()?;
    let thresholds = scoring::peer_score_thresholds();
    let mut metrics_config = gossipsub::MetricsConfig::default();
    metrics_config.buckets_using_scoring_thresholds(&thresholds);
    let filter = topics::filter(g.topic_rule, g.max_topics_per_peer, registry);
    let mut behaviour = gossipsub::Behaviour::new_with_subscription_filter(
        gossipsub::MessageAuthenticity::Anonymous,
        gossip_config,
        filter,
    )?
    .with_metrics(
        registry.sub_registry_with_prefix("gossipsub"),
        metrics_config,
    );
    behaviour.with_peer_score(scoring::peer_score_params(), thresholds)?;
    Ok(behaviour)
}

/// One request-response behaviour for `protocol`, with its own frame limit.
fn request_response(
    protocol: Protocol,
    limit: usize,
    config: &NetworkConfig,
) -> request_response::Behaviour<FrameCodec> {
    request_response::Behaviour::with_codec(
        FrameCodec::new(limit),
        [(
            protocol.stream_protocol(),
            request_response::ProtocolSupport::Full,
        )],
        request_response::Config::default()
            .with_request_timeout(config.request_timeout)
            .with_max_concurrent_streams(config.max_concurrent_streams),
    )
}
