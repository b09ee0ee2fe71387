//! The libp2p behaviour: which protocols a swapmesh node speaks, in which order.

use libp2p::{
    allow_block_list, connection_limits, gossipsub, identify, identity::Keypair, ping,
    request_response, swarm::NetworkBehaviour,
};

use crate::{
    codec::FrameCodec,
    config::NetworkConfig,
    scoring,
    types::{MessageId, Protocol},
};

/// The protocol version identify announces.
const IDENTIFY_PROTOCOL: &str = "/swapmesh/1.0.0";

/// Everything the swarm runs.
///
/// The derive polls fields in declaration order and asks them in that order
/// whether to accept a connection, so the order is deliberate: behaviours that
/// decide whether a connection may exist come first (limits, then the block list),
/// so a refused connection never reaches the protocols; then the ones every
/// connection uses to learn about its peer (identify, ping); then gossip; then our
/// request-response protocols, one behaviour each (a single behaviour with
/// several protocols would offer all of them for every request, DESIGN §4).
#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    /// Caps pending and established connections, globally and per peer.
    pub(crate) connection_limits: connection_limits::Behaviour,
    /// Peers blocked for misbehaviour (or by the app); also closes their
    /// connections when they are blocked.
    pub(crate) block_list: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    /// Exchanges listen addresses and protocols; feeds discovery later.
    pub(crate) identify: identify::Behaviour,
    /// Keeps connections measured and detects dead ones.
    pub(crate) ping: ping::Behaviour,
    // The real-network issue adds, here and in this order:
    // mdns: Toggle<mdns::tokio::Behaviour>  — LAN discovery (off in tests)
    // kad: kad::Behaviour<MemoryStore>       — providers of sha256(topic)
    // relay_client, dcutr, autonat          — NAT traversal
    // relay server, autonat server          — `role = server` only
    /// Anonymous, content-addressed gossip with app validation and scoring.
    pub(crate) gossipsub: gossipsub::Behaviour,
    /// `/swapmesh/sync/1`.
    pub(crate) sync: request_response::Behaviour<FrameCodec>,
    /// `/swapmesh/agree/1`.
    pub(crate) agree: request_response::Behaviour<FrameCodec>,
}

/// An error while building the behaviour, as the swarm builder wants it.
pub(crate) type BuildError = Box<dyn std::error::Error + Send + Sync>;

impl Behaviour {
    pub(crate) fn new(key: &Keypair, config: &NetworkConfig) -> Result<Self, BuildError> {
        let limits = config.connection_limits;
        let connection_limits = connection_limits::Behaviour::new(
            connection_limits::ConnectionLimits::default()
                .with_max_pending_incoming(Some(limits.max_pending_incoming))
                .with_max_established(Some(limits.max_established))
                .with_max_established_per_peer(Some(limits.max_established_per_peer)),
        );
        let identify = identify::Behaviour::new(
            identify::Config::new(IDENTIFY_PROTOCOL.to_owned(), key.public())
                .with_agent_version(format!("swapmesh/{}", env!("CARGO_PKG_VERSION"))),
        );
        Ok(Self {
            connection_limits,
            block_list: Default::default(),
            identify,
            ping: ping::Behaviour::default(),
            gossipsub: gossipsub(config)?,
            sync: request_response(Protocol::Sync, config.frame_limits.sync, config),
            agree: request_response(Protocol::Agree, config.frame_limits.agree, config),
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
        }
    }
}

/// Gossipsub as DESIGN §4 asks.
fn gossipsub(config: &NetworkConfig) -> Result<gossipsub::Behaviour, BuildError> {
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
        .max_transmit_size(g.max_transmit_size)
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
    let mut behaviour =
        gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Anonymous, gossip_config)?;
    behaviour.with_peer_score(
        scoring::peer_score_params(),
        scoring::peer_score_thresholds(),
    )?;
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
