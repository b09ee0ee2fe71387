//! The one task that owns the swarm.
//!
//! [`EventLoop::run`] `select!`s between swarm events, commands from the
//! [`NetworkHandle`](crate::NetworkHandle)s, the app's answers to inbound
//! requests, block expiries and a housekeeping tick. Events for the app go
//! through a small outbox: while it is not empty the loop stops polling the
//! swarm (so a slow app slows the network down instead of losing events) but
//! keeps serving commands (so an app that sends a command while it holds back
//! events cannot deadlock the loop).
//!
//! One struct, one task, one `impl` split by job, each file owning its part:
//!
//! - this file: the [`EventLoop`] struct, [`EventLoop::run`], `emit` and the
//!   dispatch of swarm events;
//! - `command`: [`Command`], what a handle asks, and `on_command`;
//! - `gossip`: publishing, joining and leaving topics, gossip events and the
//!   app's verdicts;
//! - `discovery`: mDNS, Kademlia, identify, bootstrap, topic providers and
//!   lookups of a peer's addresses;
//! - `relay`: relay client and server, DCUtR, AutoNAT, listening through a relay;
//! - `requests`: request-response, pending inbound and outbound requests;
//! - `peers`: connections and dials, misbehaviour charges, blocking.

mod command;
mod discovery;
mod gossip;
mod peers;
mod relay;
mod requests;

use std::{
    collections::{HashMap, HashSet, VecDeque},
    time::{Duration, Instant},
};

use futures::{StreamExt, future::BoxFuture, stream::FuturesUnordered};
use libp2p::{
    PeerId, Swarm, kad,
    metrics::{Metrics, Recorder, Registry},
    request_response::{OutboundRequestId, ResponseChannel},
    swarm::{ConnectionId, SwarmEvent},
};
use tokio::sync::mpsc;
use tracing::{debug, info, trace, warn};

pub(crate) use self::{command::Command, discovery::provider_key};
use self::{
    command::ResponseReply,
    discovery::PeerLookup,
    relay::{AutoRelay, RelayListen},
    requests::{InboundKey, PendingAnswer},
};
use crate::{
    behaviour::{Behaviour, BehaviourEvent},
    config::{DiscoveryConfig, FrameLimits, GossipConfig, MisbehaviourConfig, NetworkConfig},
    error::NetworkError,
    misbehaviour::{MisbehaviourTracker, RateLimiter},
    types::{ConnectionInfo, NetworkEvent, Protocol},
};

/// How often decayed misbehaviour points and refilled rate buckets are dropped.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(5);

/// The task that owns the swarm. Spawn [`EventLoop::run`] once.
pub struct EventLoop {
    swarm: Swarm<Behaviour>,
    local_peer_id: PeerId,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<NetworkEvent>,
    /// Events produced but not yet taken by the app (see the module docs).
    outbox: VecDeque<NetworkEvent>,
    /// Where libp2p-metrics, gossipsub and the bandwidth counters report.
    registry: Registry,
    metrics: Metrics,
    /// Gossip messages over their deliverer's rate, ignored uncharged.
    over_rate: prometheus_client::metrics::counter::Counter,

    // Gossip (`gossip`).
    gossip: GossipConfig,

    // Requests (`requests`).
    frame_limits: FrameLimits,
    pending_outbound: HashMap<(Protocol, OutboundRequestId), ResponseReply>,
    pending_inbound: HashMap<InboundKey, ResponseChannel<Vec<u8>>>,
    /// The app's answers to inbound requests, one per live
    /// [`ResponseHandle`](crate::ResponseHandle); a handle dropped unanswered
    /// resolves at once.
    answers: FuturesUnordered<PendingAnswer>,

    // Peers (`peers`).
    misbehaviour_config: MisbehaviourConfig,
    misbehaviour: MisbehaviourTracker,
    rates: RateLimiter,
    /// Blocked peers: why, and when their block ends.
    blocked: HashMap<PeerId, peers::Block>,
    block_timers: FuturesUnordered<BoxFuture<'static, PeerId>>,
    /// Open connections.
    connections: HashMap<ConnectionId, ConnectionInfo>,
    /// Dials that only check an address a peer reported.
    verifying: HashSet<ConnectionId>,

    // Discovery (`discovery`).
    discovery: DiscoveryConfig,
    /// The Kademlia provider key, sha256(topic), of each joined topic.
    provider_keys: HashMap<kad::RecordKey, String>,
    /// The keys among them we announce ourselves for.
    announced: HashSet<kad::RecordKey>,
    /// Provider lookups in flight, with the providers each found so far.
    provider_lookups: HashMap<kad::QueryId, discovery::ProviderLookup>,
    /// Providers already reported (see
    /// [`Discovery::TopicProvider`](crate::Discovery::TopicProvider)).
    reported_providers: HashSet<(PeerId, String)>,
    /// When the last discovery round (announce + look up) ran.
    last_round: Option<Instant>,
    /// How many peers Kademlia's routing table held at the last round.
    last_round_table: usize,
    /// A reservation came (back): announce our topics and look for their
    /// providers at the next housekeeping tick that finds the DHT reachable.
    announce_due: bool,
    /// Lookups of a peer's addresses in flight, by Kademlia query.
    peer_lookups: HashMap<kad::QueryId, PeerLookup>,

    // Relay (`relay`).
    /// Addresses we listen on through a relay, by relay.
    relay_listens: HashMap<PeerId, RelayListen>,
    /// The automatic choice of relays.
    auto_relay: AutoRelay,
}

impl std::fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLoop")
            .field("local_peer_id", self.swarm.local_peer_id())
            .finish_non_exhaustive()
    }
}

impl EventLoop {
    pub(crate) fn new(
        swarm: Swarm<Behaviour>,
        mut registry: Registry,
        commands: mpsc::Receiver<Command>,
        events: mpsc::Sender<NetworkEvent>,
        config: &NetworkConfig,
    ) -> Self {
        let misbehaviour_config = config.misbehaviour;
        let metrics = Metrics::new(&mut registry);
        let over_rate = prometheus_client::metrics::counter::Counter::default();
        registry.register(
            "swapmesh_gossip_over_rate",
            "Gossip messages over their deliverer's rate, ignored without a charge (gossipsub hands on only the first delivery, often from an honest forwarder)",
            over_rate.clone(),
        );
        let auto_relay = AutoRelay::new(&config.nat, &mut registry);
        let mut event_loop = Self {
            local_peer_id: *swarm.local_peer_id(),
            swarm,
            commands,
            events,
            outbox: VecDeque::new(),
            registry,
            metrics,
            over_rate,
            gossip: config.gossip.clone(),
            frame_limits: config.frame_limits,
            pending_outbound: HashMap::new(),
            pending_inbound: HashMap::new(),
            answers: FuturesUnordered::new(),
            misbehaviour_config,
            misbehaviour: MisbehaviourTracker::new(misbehaviour_config),
            rates: RateLimiter::new(misbehaviour_config.flood),
            blocked: HashMap::new(),
            block_timers: FuturesUnordered::new(),
            connections: HashMap::new(),
            verifying: HashSet::new(),
            discovery: config.discovery.clone(),
            provider_keys: HashMap::new(),
            announced: HashSet::new(),
            provider_lookups: HashMap::new(),
            reported_providers: HashSet::new(),
            last_round: None,
            last_round_table: 0,
            announce_due: false,
            peer_lookups: HashMap::new(),
            relay_listens: HashMap::new(),
            auto_relay,
        };
        for address in &config.external_addresses {
            event_loop.swarm.add_external_address(address.clone());
        }
        if let Err(error) = event_loop.bootstrap(config.discovery.bootstrap.clone()) {
            warn!(%error, "bootstrap");
        }
        event_loop
    }

    /// Runs until [`NetworkHandle::shutdown`](crate::NetworkHandle::shutdown) is
    /// called or every handle is dropped. Pending requests then fail with
    /// [`RequestError::Stopped`](crate::RequestError::Stopped) and all
    /// connections close.
    pub async fn run(mut self) {
        let mut housekeeping = tokio::time::interval(HOUSEKEEPING_INTERVAL);
        housekeeping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let periodic = |period: Duration| {
            let period = period.max(Duration::from_millis(100));
            let mut timer = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            timer
        };
        let mut lookup = periodic(self.discovery.provider_lookup_interval);
        let mut announce = periodic(self.discovery.provider_announce_interval);
        // A second sender, so a reserved permit does not borrow `self`.
        let events = self.events.clone();
        let shutdown = loop {
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown { reply }) => break Some(reply),
                    Some(command) => self.on_command(command),
                    None => break None,
                },
                permit = events.reserve(), if !self.outbox.is_empty() => match permit {
                    Ok(permit) => {
                        if let Some(event) = self.outbox.pop_front() {
                            permit.send(event);
                        }
                    }
                    Err(_) => {
                        let dropped = self.outbox.len();
                        debug!(dropped, "event receiver closed; discarding events");
                        self.outbox.clear();
                    }
                },
                event = self.swarm.select_next_some(), if self.outbox.is_empty() => {
                    self.on_swarm_event(event);
                }
                Some((key, answer)) = self.answers.next(), if !self.answers.is_empty() => {
                    self.on_answer(key, answer);
                }
                Some(peer) = self.block_timers.next(), if !self.block_timers.is_empty() => {
                    self.on_block_timer(peer);
                }
                _ = housekeeping.tick() => {
                    let now = Instant::now();
                    self.misbehaviour.prune(now);
                    self.rates.prune(now);
                    self.auto_relay_tick();
                    self.renew_relay_listens();
                    self.announce_if_due();
                }
                _ = announce.tick() => self.discovery_round(true),
                _ = lookup.tick() => self.discovery_round(false),
            }
        };
        info!(peer = %self.swarm.local_peer_id(), "network event loop stopping");
        // Dropping the loop drops the swarm (closing every connection) and the
        // reply slots of pending requests and peer lookups (their callers get
        // `Stopped`).
        drop(self);
        if let Some(reply) = shutdown {
            let _ = reply.send(());
        }
    }

    /// Queues an event for the app (see the module docs for back-pressure).
    fn emit(&mut self, event: NetworkEvent) {
        if self.events.is_closed() {
            trace!(?event, "event receiver closed; discarding event");
            return;
        }
        self.outbox.push_back(event);
    }

    /// The metrics in the Prometheus text exposition format.
    fn metrics_text(&self) -> Result<String, NetworkError> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .map(|()| text)
            .map_err(|e| NetworkError::Metrics(e.to_string()))
    }

    /// Hands each swarm event to the part that owns it.
    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        self.metrics.record(&event);
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(event)) => self.on_gossip(event),
            SwarmEvent::Behaviour(BehaviourEvent::Sync(event)) => {
                self.on_request_response(Protocol::Sync, event);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Agree(event)) => {
                self.on_request_response(Protocol::Agree, event);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Blob(event)) => {
                self.on_request_response(Protocol::Blob, event);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Mail(event)) => {
                self.on_request_response(Protocol::Mail, event);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(event)) => self.on_identify(event),
            SwarmEvent::Behaviour(BehaviourEvent::Ping(event)) => {
                self.metrics.record(&event);
                trace!(?event, "ping");
            }
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(event)) => self.on_mdns(event),
            SwarmEvent::Behaviour(BehaviourEvent::Kad(event)) => self.on_kad(event),
            SwarmEvent::Behaviour(BehaviourEvent::RelayClient(event)) => {
                self.on_relay_client(event);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Dcutr(event)) => self.on_dcutr(event),
            SwarmEvent::Behaviour(BehaviourEvent::AutonatClient(event)) => {
                self.on_autonat_client(event);
            }
            SwarmEvent::Behaviour(BehaviourEvent::RelayServer(event)) => {
                self.on_relay_server(event);
            }
            SwarmEvent::Behaviour(BehaviourEvent::AutonatServer(event)) => {
                self.on_autonat_server(&event);
            }
            SwarmEvent::Behaviour(BehaviourEvent::ConnectionLimits(never)) => match never {},
            SwarmEvent::Behaviour(BehaviourEvent::BlockList(never)) => match never {},
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                num_established,
                ..
            } => self.on_connection_established(
                peer_id,
                connection_id,
                &endpoint,
                num_established.get(),
            ),
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                num_established,
                cause,
                ..
            } => self.on_connection_closed(peer_id, connection_id, num_established, cause),
            SwarmEvent::NewListenAddr { address, .. } => {
                info!(%address, "listening");
                self.emit(NetworkEvent::NewListenAddr { address });
            }
            SwarmEvent::OutgoingConnectionError {
                peer_id,
                connection_id,
                error,
            } => {
                self.on_outgoing_error(connection_id);
                debug!(peer = ?peer_id, %error, "outgoing connection failed");
            }
            SwarmEvent::IncomingConnectionError { error, .. } => {
                debug!(%error, "incoming connection failed");
            }
            SwarmEvent::ExternalAddrConfirmed { address } => {
                info!(%address, "external address confirmed");
                self.emit(NetworkEvent::ExternalAddressConfirmed { address });
            }
            SwarmEvent::ExternalAddrExpired { address } => {
                info!(%address, "external address expired");
                self.emit(NetworkEvent::ExternalAddressExpired { address });
            }
            SwarmEvent::ListenerError { error, .. } => warn!(%error, "listener error"),
            SwarmEvent::ListenerClosed {
                listener_id,
                addresses,
                reason,
            } => {
                warn!(?addresses, ?reason, "listener closed");
                self.on_listener_closed(listener_id);
            }
            other => trace!(event = ?other, "swarm event"),
        }
    }
}
