//! The one task that owns the swarm.
//!
//! [`EventLoop::run`] `select!`s between swarm events, commands from the
//! [`NetworkHandle`](crate::NetworkHandle)s, block expiries and a housekeeping
//! tick. Events for the app go through a small outbox: while it is not empty the
//! loop stops polling the swarm (so a slow app slows the network down instead of
//! losing events) but keeps serving commands (so an app that sends a command
//! while it holds back events cannot deadlock the loop).

use std::{
    collections::{HashMap, HashSet, VecDeque},
    time::{Duration, Instant},
};

use futures::{StreamExt, future::BoxFuture, stream::FuturesUnordered};
use libp2p::{
    Multiaddr, PeerId, Swarm, autonat,
    core::transport::ListenerId,
    gossipsub::{self, IdentTopic, TopicHash},
    identify, kad, mdns,
    metrics::{Metrics, Recorder, Registry},
    multiaddr::Protocol as AddrProtocol,
    relay,
    request_response::{self, OutboundFailure, OutboundRequestId, ResponseChannel},
    swarm::{
        ConnectionId, SwarmEvent,
        dial_opts::{DialOpts, PeerCondition},
    },
};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, trace, warn};

use crate::{
    behaviour::{Behaviour, BehaviourEvent, KAD_PROTOCOL},
    codec::{Frame, FrameError, frame_error},
    config::{DiscoveryConfig, FrameLimits, MisbehaviourConfig, NetworkConfig},
    error::{NetworkError, PublishError, RequestError},
    misbehaviour::{Misbehaviour, MisbehaviourTracker, RateLimiter, Traffic},
    scoring,
    types::{
        BlockReason, ConnectionInfo, Discovery, InboundKey, MessageId, NetworkEvent, PeerScore,
        Protocol, ResponseHandle, UnblockReason, Validation,
    },
};

/// How often decayed misbehaviour points and refilled rate buckets are dropped.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(5);

/// Listen addresses of one peer kept from identify: a peer cannot make us store
/// (or feed Kademlia) more than this many.
const MAX_IDENTIFY_ADDRESSES: usize = 16;

/// (peer, topic) provider sightings remembered to report each only once; beyond
/// this many the memory is cleared (and a few sightings are reported again).
const MAX_REPORTED_PROVIDERS: usize = 10_000;

/// A completed Kademlia bootstrap starts a discovery round unless one ran less
/// than this long ago (automatic bootstraps can come in bursts).
const MIN_ROUND_GAP: Duration = Duration::from_secs(5);

/// Bytes of gossipsub's protobuf envelope around a published message, besides
/// the topic: frame length, field tags and lengths (about 16 in practice).
const RPC_ENVELOPE: usize = 32;

/// A reply slot.
type Reply<T> = oneshot::Sender<T>;
/// The reply slot of an outbound request.
type ResponseReply = Reply<Result<Vec<u8>, RequestError>>;

/// What a [`NetworkHandle`](crate::NetworkHandle) asks of the loop.
#[derive(Debug)]
pub(crate) enum Command {
    Publish {
        topic: String,
        data: Vec<u8>,
        reply: Reply<Result<MessageId, PublishError>>,
    },
    Subscribe {
        topic: String,
        reply: Reply<Result<bool, NetworkError>>,
    },
    Unsubscribe {
        topic: String,
        reply: Reply<bool>,
    },
    Dial {
        address: Multiaddr,
        reply: Reply<Result<(), NetworkError>>,
    },
    DialPeer {
        peer: PeerId,
        addresses: Vec<Multiaddr>,
        reply: Reply<Result<(), NetworkError>>,
    },
    Bootstrap {
        addresses: Vec<Multiaddr>,
        reply: Reply<Result<(), NetworkError>>,
    },
    ListenOn {
        address: Multiaddr,
        reply: Reply<Result<(), NetworkError>>,
    },
    AddExternalAddress {
        address: Multiaddr,
        reply: Reply<()>,
    },
    ExternalAddresses {
        reply: Reply<Vec<Multiaddr>>,
    },
    Connections {
        reply: Reply<Vec<ConnectionInfo>>,
    },
    DiscoverNow {
        reply: Reply<()>,
    },
    MetricsText {
        reply: Reply<Result<String, NetworkError>>,
    },
    AddAddress {
        peer: PeerId,
        address: Multiaddr,
        reply: Reply<()>,
    },
    SendRequest {
        protocol: Protocol,
        peer: PeerId,
        data: Vec<u8>,
        reply: Reply<Result<Vec<u8>, RequestError>>,
    },
    Respond {
        key: InboundKey,
        data: Vec<u8>,
        reply: Reply<Result<(), NetworkError>>,
    },
    ReportValidation {
        message_id: MessageId,
        propagation_source: PeerId,
        validation: Validation,
        reply: Reply<bool>,
    },
    ReportMisbehaviour {
        peer: PeerId,
        misbehaviour: Misbehaviour,
        reply: Reply<()>,
    },
    BlockPeer {
        peer: PeerId,
        reply: Reply<bool>,
    },
    UnblockPeer {
        peer: PeerId,
        reply: Reply<bool>,
    },
    ConnectedPeers {
        reply: Reply<Vec<PeerId>>,
    },
    ListenAddresses {
        reply: Reply<Vec<Multiaddr>>,
    },
    PeerScores {
        reply: Reply<Vec<PeerScore>>,
    },
    MeshPeers {
        topic: String,
        reply: Reply<Vec<PeerId>>,
    },
    Shutdown {
        reply: Reply<()>,
    },
}

/// The task that owns the swarm. Spawn [`EventLoop::run`] once.
pub struct EventLoop {
    swarm: Swarm<Behaviour>,
    commands: mpsc::Receiver<Command>,
    /// For the [`ResponseHandle`]s; weak so that the loop still ends when every
    /// handle is gone.
    command_sender: mpsc::WeakSender<Command>,
    events: mpsc::Sender<NetworkEvent>,
    /// Events produced but not yet taken by the app (see the module docs).
    outbox: VecDeque<NetworkEvent>,
    frame_limits: FrameLimits,
    max_transmit_size: usize,
    misbehaviour_config: MisbehaviourConfig,
    pending_outbound: HashMap<(Protocol, OutboundRequestId), ResponseReply>,
    pending_inbound: HashMap<InboundKey, ResponseChannel<Vec<u8>>>,
    misbehaviour: MisbehaviourTracker,
    rates: RateLimiter,
    /// Blocked peers and when their block ends (`None`: until unblocked).
    blocked: HashMap<PeerId, Option<tokio::time::Instant>>,
    block_timers: FuturesUnordered<BoxFuture<'static, PeerId>>,
    local_peer_id: PeerId,
    /// Where libp2p-metrics, gossipsub and the bandwidth counters report.
    registry: Registry,
    metrics: Metrics,
    discovery: DiscoveryConfig,
    /// The Kademlia provider key, sha256(topic), of each joined topic.
    provider_keys: HashMap<kad::RecordKey, String>,
    /// Providers already reported (see [`Discovery::TopicProvider`]).
    reported_providers: HashSet<(PeerId, String)>,
    /// Open connections.
    connections: HashMap<ConnectionId, ConnectionInfo>,
    /// When the last discovery round (announce + look up) ran.
    last_round: Option<Instant>,
    /// Addresses we listen on through a relay, by relay.
    relay_listens: HashMap<PeerId, RelayListen>,
}

/// Listening through a relay: wanted for as long as the network runs, renewed
/// when the relay comes back after a restart or a lost connection.
#[derive(Debug)]
struct RelayListen {
    /// The whole `…/p2p/<relay>/p2p-circuit` address.
    circuit: Multiaddr,
    /// The relay's own address (`…/p2p/<relay>`).
    relay: Multiaddr,
    /// The listener while it lives.
    listener: Option<ListenerId>,
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
        command_sender: mpsc::WeakSender<Command>,
        events: mpsc::Sender<NetworkEvent>,
        config: &NetworkConfig,
    ) -> Self {
        let misbehaviour_config = config.misbehaviour;
        let metrics = Metrics::new(&mut registry);
        let mut event_loop = Self {
            local_peer_id: *swarm.local_peer_id(),
            registry,
            metrics,
            discovery: config.discovery.clone(),
            provider_keys: HashMap::new(),
            reported_providers: HashSet::new(),
            connections: HashMap::new(),
            last_round: None,
            relay_listens: HashMap::new(),
            swarm,
            commands,
            command_sender,
            events,
            outbox: VecDeque::new(),
            frame_limits: config.frame_limits,
            max_transmit_size: config.gossip.max_transmit_size,
            misbehaviour_config,
            pending_outbound: HashMap::new(),
            pending_inbound: HashMap::new(),
            misbehaviour: MisbehaviourTracker::new(misbehaviour_config),
            rates: RateLimiter::new(misbehaviour_config.flood),
            blocked: HashMap::new(),
            block_timers: FuturesUnordered::new(),
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
    /// [`RequestError::Stopped`] and all connections close.
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
                Some(peer) = self.block_timers.next(), if !self.block_timers.is_empty() => {
                    self.on_block_timer(peer);
                }
                _ = housekeeping.tick() => {
                    let now = Instant::now();
                    self.misbehaviour.prune(now);
                    self.rates.prune(now);
                    self.renew_relay_listens();
                }
                _ = announce.tick() => self.discovery_round(true),
                _ = lookup.tick() => self.discovery_round(false),
            }
        };
        info!(peer = %self.swarm.local_peer_id(), "network event loop stopping");
        // Dropping the loop drops the swarm (closing every connection) and the
        // reply slots of pending requests (their callers get `Stopped`).
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

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Publish { topic, data, reply } => {
                let _ = reply.send(self.publish(topic, data));
            }
            Command::Subscribe { topic, reply } => {
                let _ = reply.send(self.subscribe(topic));
            }
            Command::Unsubscribe { topic, reply } => {
                let left = self
                    .swarm
                    .behaviour_mut()
                    .gossipsub
                    .unsubscribe(&IdentTopic::new(topic.clone()));
                let key = provider_key(&topic);
                self.provider_keys.remove(&key);
                if let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() {
                    kad.stop_providing(&key);
                }
                let _ = reply.send(left);
            }
            Command::Dial { address, reply } => {
                let result = self
                    .swarm
                    .dial(address)
                    .map_err(|e| NetworkError::Dial(e.to_string()));
                let _ = reply.send(result);
            }
            Command::DialPeer {
                peer,
                addresses,
                reply,
            } => {
                let _ = reply.send(self.dial_peer(peer, addresses));
            }
            Command::Bootstrap { addresses, reply } => {
                let _ = reply.send(self.bootstrap(addresses));
            }
            Command::ListenOn { address, reply } => {
                let _ = reply.send(self.listen(address));
            }
            Command::AddExternalAddress { address, reply } => {
                self.swarm.add_external_address(address);
                let _ = reply.send(());
            }
            Command::ExternalAddresses { reply } => {
                let _ = reply.send(self.swarm.external_addresses().cloned().collect());
            }
            Command::Connections { reply } => {
                let _ = reply.send(self.connections.values().cloned().collect());
            }
            Command::DiscoverNow { reply } => {
                self.discovery_round(true);
                let _ = reply.send(());
            }
            Command::MetricsText { reply } => {
                let mut text = String::new();
                let result = prometheus_client::encoding::text::encode(&mut text, &self.registry)
                    .map(|()| text)
                    .map_err(|e| NetworkError::Metrics(e.to_string()));
                let _ = reply.send(result);
            }
            Command::AddAddress {
                peer,
                address,
                reply,
            } => {
                self.swarm.add_peer_address(peer, address);
                let _ = reply.send(());
            }
            Command::SendRequest {
                protocol,
                peer,
                data,
                reply,
            } => self.send_request(protocol, peer, data, reply),
            Command::Respond { key, data, reply } => {
                let _ = reply.send(self.respond(key, data));
            }
            Command::ReportValidation {
                message_id,
                propagation_source,
                validation,
                reply,
            } => {
                let found = self
                    .swarm
                    .behaviour_mut()
                    .gossipsub
                    .report_message_validation_result(
                        &message_id.to_gossipsub(),
                        &propagation_source,
                        validation.into(),
                    );
                if validation == Validation::Reject {
                    self.charge(propagation_source, Misbehaviour::InvalidRecord);
                }
                let _ = reply.send(found);
            }
            Command::ReportMisbehaviour {
                peer,
                misbehaviour,
                reply,
            } => {
                self.charge(peer, misbehaviour);
                let _ = reply.send(());
            }
            Command::BlockPeer { peer, reply } => {
                let _ = reply.send(self.block(peer, BlockReason::Requested, None));
            }
            Command::UnblockPeer { peer, reply } => {
                let _ = reply.send(self.unblock(peer, UnblockReason::Requested));
            }
            Command::ConnectedPeers { reply } => {
                let _ = reply.send(self.swarm.connected_peers().copied().collect());
            }
            Command::ListenAddresses { reply } => {
                let _ = reply.send(self.swarm.listeners().cloned().collect());
            }
            Command::PeerScores { reply } => {
                let now = Instant::now();
                let gossipsub = &self.swarm.behaviour().gossipsub;
                let scores = self
                    .swarm
                    .connected_peers()
                    .map(|&peer| PeerScore {
                        peer,
                        gossip: gossipsub.peer_score(&peer).unwrap_or(0.0),
                        misbehaviour: self.misbehaviour.score(&peer, now),
                    })
                    .collect();
                let _ = reply.send(scores);
            }
            Command::MeshPeers { topic, reply } => {
                let peers = self
                    .swarm
                    .behaviour()
                    .gossipsub
                    .mesh_peers(&TopicHash::from_raw(topic))
                    .copied()
                    .collect();
                let _ = reply.send(peers);
            }
            // Handled in `run`; kept here so the match stays exhaustive.
            Command::Shutdown { reply } => {
                let _ = reply.send(());
            }
        }
    }

    fn publish(&mut self, topic: String, data: Vec<u8>) -> Result<MessageId, PublishError> {
        // `max_transmit_size` bounds the whole RPC frame a receiver reads, so
        // the data must leave room for the envelope and the topic.
        let limit = self
            .max_transmit_size
            .saturating_sub(RPC_ENVELOPE + topic.len());
        if data.len() > limit {
            return Err(PublishError::TooLarge {
                len: data.len(),
                limit,
            });
        }
        let len = data.len();
        let id = self
            .swarm
            .behaviour_mut()
            .gossipsub
            .publish(IdentTopic::new(topic), data)
            .map_err(|e| match e {
                gossipsub::PublishError::Duplicate => PublishError::Duplicate,
                gossipsub::PublishError::NoPeersSubscribedToTopic => PublishError::NoPeers,
                gossipsub::PublishError::MessageTooLarge => PublishError::TooLarge { len, limit },
                gossipsub::PublishError::AllQueuesFull(_) => PublishError::QueuesFull,
                other => PublishError::Other(other.to_string()),
            })?;
        MessageId::from_gossipsub(&id)
            .ok_or_else(|| PublishError::Other(format!("unexpected message id {id}")))
    }

    fn subscribe(&mut self, topic: String) -> Result<bool, NetworkError> {
        let gossipsub = &mut self.swarm.behaviour_mut().gossipsub;
        let ident = IdentTopic::new(topic.clone());
        let error = |reason: String| NetworkError::Subscribe {
            topic: topic.clone(),
            reason,
        };
        // Parameters first: a `Reject` lowers a score only on topics that have
        // them, and the mesh time (P1) counts from the graft.
        gossipsub
            .set_topic_params(ident.clone(), scoring::topic_score_params())
            .map_err(|e| error(e.to_owned()))?;
        let joined = gossipsub
            .subscribe(&ident)
            .map_err(|e| error(e.to_string()))?;
        if joined {
            // Announce ourselves for the topic and look for its other members now
            // rather than at the next round.
            let key = provider_key(&topic);
            self.provider_keys.insert(key.clone(), topic);
            if let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() {
                if let Err(e) = kad.start_providing(key.clone()) {
                    warn!(error = %e, "could not store our own provider record");
                }
                kad.get_providers(key);
            }
        }
        Ok(joined)
    }

    /// Listens on `address`. A `…/p2p/<relay>/p2p-circuit` address is listened
    /// on once we are connected to the relay (we dial it): the relay client asks
    /// for its reservation on an existing connection, while a dial of its own
    /// would be dropped if one of ours to the same relay were under way. Such a
    /// listener is renewed if it closes (see [`Self::renew_relay_listens`]).
    pub(crate) fn listen(&mut self, address: Multiaddr) -> Result<(), NetworkError> {
        let error = |reason: String| NetworkError::Listen {
            address: address.to_string(),
            reason,
        };
        let Some(relay) = relay_of(&address) else {
            return self
                .swarm
                .listen_on(address.clone())
                .map(|_| ())
                .map_err(|e| error(e.to_string()));
        };
        let Some(relay_peer) = peer_of(&relay) else {
            return Err(error(
                "a relayed address must name its relay: …/p2p/<relay>/p2p-circuit".to_owned(),
            ));
        };
        self.relay_listens.insert(
            relay_peer,
            RelayListen {
                circuit: address.clone(),
                relay,
                listener: None,
            },
        );
        self.renew_relay_listens();
        Ok(())
    }

    /// Listens through each wanted relay that has no listener: now if we are
    /// connected to it, else after dialling it.
    fn renew_relay_listens(&mut self) {
        let waiting: Vec<(PeerId, Multiaddr, Multiaddr)> = self
            .relay_listens
            .iter()
            .filter(|(_, r)| r.listener.is_none())
            .map(|(peer, r)| (*peer, r.circuit.clone(), r.relay.clone()))
            .collect();
        for (relay_peer, circuit, relay) in waiting {
            if self.swarm.is_connected(&relay_peer) {
                match self.swarm.listen_on(circuit.clone()) {
                    Ok(id) => {
                        if let Some(r) = self.relay_listens.get_mut(&relay_peer) {
                            r.listener = Some(id);
                        }
                    }
                    Err(e) => {
                        warn!(address = %circuit, error = %e, "could not listen through the relay")
                    }
                }
            } else if let Err(e) = self.dial_peer(relay_peer, vec![relay]) {
                debug!(relay = %relay_peer, error = %e, "could not dial the relay");
            }
        }
    }

    /// Dials `peer` at `addresses` (plus any Kademlia knows), unless it is
    /// connected or being dialled already.
    fn dial_peer(&mut self, peer: PeerId, addresses: Vec<Multiaddr>) -> Result<(), NetworkError> {
        if peer == self.local_peer_id {
            return Ok(());
        }
        let opts = DialOpts::peer_id(peer)
            .addresses(addresses)
            .condition(PeerCondition::DisconnectedAndNotDialing)
            .build();
        match self.swarm.dial(opts) {
            Ok(()) => Ok(()),
            // Connected or dialling already: what the caller wanted.
            Err(libp2p::swarm::DialError::DialPeerConditionFalse(_)) => Ok(()),
            Err(e) => Err(NetworkError::Dial(e.to_string())),
        }
    }

    /// Adds bootstrap peers: each address with a `/p2p/<peer>` joins Kademlia's
    /// routing table (which then bootstraps on its own), and each is dialled.
    /// Returns the first dial error, after trying them all.
    fn bootstrap(&mut self, addresses: Vec<Multiaddr>) -> Result<(), NetworkError> {
        let mut first_error = None;
        for address in addresses {
            let result = match peer_of(&address) {
                Some(peer) => {
                    if let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() {
                        kad.add_address(&peer, address.clone());
                    }
                    self.dial_peer(peer, vec![address.clone()])
                }
                None => self
                    .swarm
                    .dial(address.clone())
                    .map_err(|e| NetworkError::Dial(e.to_string())),
            };
            if let Err(error) = result {
                warn!(%address, %error, "could not dial bootstrap peer");
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Looks up the providers of every joined topic (and, with `announce`,
    /// announces ourselves as one first). The providers found are dialled as the
    /// answers come in ([`Self::on_providers`]).
    fn discovery_round(&mut self, announce: bool) {
        let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() else {
            return;
        };
        self.last_round = Some(Instant::now());
        for key in self.provider_keys.keys() {
            if announce && let Err(e) = kad.start_providing(key.clone()) {
                warn!(error = %e, "could not store our own provider record");
            }
            kad.get_providers(key.clone());
        }
    }

    /// Providers of a topic's key were found: report and dial them.
    fn on_providers(&mut self, key: &kad::RecordKey, providers: HashSet<PeerId>) {
        let Some(topic) = self.provider_keys.get(key).cloned() else {
            return; // a topic we left meanwhile
        };
        for peer in providers {
            if peer == self.local_peer_id || self.blocked.contains_key(&peer) {
                continue;
            }
            if self.reported_providers.len() >= MAX_REPORTED_PROVIDERS {
                self.reported_providers.clear();
            }
            if self.reported_providers.insert((peer, topic.clone())) {
                debug!(%peer, %topic, "found a provider of the topic");
                self.emit(NetworkEvent::PeerDiscovered {
                    peer,
                    addresses: Vec::new(),
                    via: Discovery::TopicProvider {
                        topic: topic.clone(),
                    },
                });
            }
            if !self.swarm.is_connected(&peer)
                && let Err(error) = self.dial_peer(peer, Vec::new())
            {
                debug!(%peer, %error, "could not dial a provider");
            }
        }
    }

    fn frame_limit(&self, protocol: Protocol) -> usize {
        match protocol {
            Protocol::Sync => self.frame_limits.sync,
            Protocol::Agree => self.frame_limits.agree,
        }
    }

    fn send_request(
        &mut self,
        protocol: Protocol,
        peer: PeerId,
        data: Vec<u8>,
        reply: ResponseReply,
    ) {
        let limit = self.frame_limit(protocol);
        if data.len() > limit {
            let _ = reply.send(Err(RequestError::TooLarge {
                len: data.len(),
                limit,
            }));
            return;
        }
        let id = self
            .swarm
            .behaviour_mut()
            .protocol_mut(protocol)
            .send_request(&peer, Frame::Data(data));
        self.pending_outbound.insert((protocol, id), reply);
    }

    fn respond(&mut self, key: InboundKey, data: Vec<u8>) -> Result<(), NetworkError> {
        let limit = self.frame_limit(key.protocol);
        if data.len() > limit {
            return Err(NetworkError::ResponseTooLarge {
                len: data.len(),
                limit,
            });
        }
        let channel = self
            .pending_inbound
            .remove(&key)
            .ok_or(NetworkError::RequestGone)?;
        self.swarm
            .behaviour_mut()
            .protocol_mut(key.protocol)
            .send_response(channel, data)
            .map_err(|_| NetworkError::RequestGone)
    }

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
            SwarmEvent::Behaviour(BehaviourEvent::Identify(event)) => self.on_identify(event),
            SwarmEvent::Behaviour(BehaviourEvent::Ping(event)) => {
                self.metrics.record(&event);
                trace!(?event, "ping");
            }
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(event)) => self.on_mdns(event),
            SwarmEvent::Behaviour(BehaviourEvent::Kad(event)) => self.on_kad(event),
            SwarmEvent::Behaviour(BehaviourEvent::RelayClient(event)) => match event {
                relay::client::Event::ReservationReqAccepted { relay_peer_id, .. } => {
                    info!(relay = %relay_peer_id, "relay reservation accepted");
                }
                other => debug!(event = ?other, "relay client"),
            },
            SwarmEvent::Behaviour(BehaviourEvent::Dcutr(event)) => {
                self.metrics.record(&event);
                debug!(?event, "dcutr");
            }
            SwarmEvent::Behaviour(BehaviourEvent::AutonatClient(event)) => {
                let autonat::v2::client::Event {
                    tested_addr,
                    server,
                    result,
                    ..
                } = &event;
                debug!(address = %tested_addr, %server, ok = result.is_ok(), "autonat probe");
            }
            SwarmEvent::Behaviour(BehaviourEvent::RelayServer(event)) => {
                self.metrics.record(&event);
                debug!(?event, "relay server");
            }
            SwarmEvent::Behaviour(BehaviourEvent::AutonatServer(event)) => {
                debug!(?event, "autonat server");
            }
            SwarmEvent::Behaviour(BehaviourEvent::ConnectionLimits(never)) => match never {},
            SwarmEvent::Behaviour(BehaviourEvent::BlockList(never)) => match never {},
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                num_established,
                ..
            } => {
                let info = ConnectionInfo {
                    peer: peer_id,
                    address: endpoint.get_remote_address().clone(),
                    outbound: endpoint.is_dialer(),
                    relayed: endpoint.is_relayed(),
                };
                self.connections.insert(connection_id, info.clone());
                if self
                    .relay_listens
                    .get(&peer_id)
                    .is_some_and(|r| r.listener.is_none())
                {
                    self.renew_relay_listens();
                }
                if num_established.get() == 1 {
                    debug!(peer = %peer_id, address = %info.address, relayed = info.relayed, "connected");
                    self.emit(NetworkEvent::PeerConnected {
                        peer: peer_id,
                        address: info.address,
                        outbound: info.outbound,
                        relayed: info.relayed,
                    });
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                num_established,
                cause,
                ..
            } => {
                self.connections.remove(&connection_id);
                if num_established == 0 {
                    debug!(peer = %peer_id, ?cause, "disconnected");
                    self.emit(NetworkEvent::PeerDisconnected { peer: peer_id });
                }
            }
            SwarmEvent::NewListenAddr { address, .. } => {
                info!(%address, "listening");
                self.emit(NetworkEvent::NewListenAddr { address });
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
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
                // A relayed listener is renewed at the next housekeeping tick.
                for relay in self.relay_listens.values_mut() {
                    if relay.listener == Some(listener_id) {
                        relay.listener = None;
                    }
                }
            }
            other => trace!(event = ?other, "swarm event"),
        }
    }

    /// Identify told us a peer's listen addresses: Kademlia gets them (if the
    /// peer speaks our DHT), the app gets them for its address book.
    fn on_identify(&mut self, event: identify::Event) {
        self.metrics.record(&event);
        let identify::Event::Received { peer_id, info, .. } = event else {
            trace!(?event, "identify");
            return;
        };
        let mut listen_addresses = info.listen_addrs;
        listen_addresses.truncate(MAX_IDENTIFY_ADDRESSES);
        let speaks_kad = info.protocols.iter().any(|p| p.as_ref() == KAD_PROTOCOL);
        if speaks_kad && let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() {
            for address in &listen_addresses {
                kad.add_address(&peer_id, address.clone());
            }
        }
        self.emit(NetworkEvent::PeerIdentified {
            peer: peer_id,
            listen_addresses,
            agent_version: info.agent_version,
        });
    }

    /// mDNS found peers on the LAN: dial them (never `add_explicit_peer`, which
    /// would exempt them from gossip scoring) and tell Kademlia.
    fn on_mdns(&mut self, event: mdns::Event) {
        let mdns::Event::Discovered(found) = event else {
            return; // expiry: the connection, if any, ends on its own
        };
        let mut by_peer: HashMap<PeerId, Vec<Multiaddr>> = HashMap::new();
        for (peer, address) in found {
            by_peer.entry(peer).or_default().push(address);
        }
        for (peer, addresses) in by_peer {
            if peer == self.local_peer_id || self.blocked.contains_key(&peer) {
                continue;
            }
            if let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() {
                for address in &addresses {
                    kad.add_address(&peer, address.clone());
                }
            }
            debug!(%peer, ?addresses, "found on the LAN");
            if let Err(error) = self.dial_peer(peer, addresses.clone()) {
                debug!(%peer, %error, "could not dial a LAN peer");
            }
            self.emit(NetworkEvent::PeerDiscovered {
                peer,
                addresses,
                via: Discovery::Mdns,
            });
        }
    }

    fn on_kad(&mut self, event: kad::Event) {
        self.metrics.record(&event);
        match event {
            kad::Event::OutboundQueryProgressed { result, .. } => match result {
                kad::QueryResult::GetProviders(Ok(kad::GetProvidersOk::FoundProviders {
                    key,
                    providers,
                })) => self.on_providers(&key, providers),
                kad::QueryResult::Bootstrap(Ok(kad::BootstrapOk { num_remaining, .. })) => {
                    let recent = self
                        .last_round
                        .is_some_and(|at| at.elapsed() < MIN_ROUND_GAP);
                    if num_remaining == 0 && !recent {
                        // A fresh routing table: announce and look up now.
                        self.discovery_round(true);
                    }
                }
                other => trace!(result = ?other, "kademlia query"),
            },
            other => trace!(event = ?other, "kademlia"),
        }
    }

    fn on_gossip(&mut self, event: gossipsub::Event) {
        self.metrics.record(&event);
        match event {
            gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            } => {
                let allowed = self
                    .rates
                    .allow(propagation_source, Traffic::Gossip, Instant::now());
                let id = MessageId::from_gossipsub(&message_id);
                match (allowed, id) {
                    (true, Some(id)) => self.emit(NetworkEvent::Gossip {
                        message_id: id,
                        topic: message.topic.into_string(),
                        data: message.data,
                        propagation_source,
                    }),
                    (allowed, _) => {
                        // Over the rate (or, impossibly, a foreign id): drop it
                        // without forwarding and without a gossip penalty.
                        self.swarm
                            .behaviour_mut()
                            .gossipsub
                            .report_message_validation_result(
                                &message_id,
                                &propagation_source,
                                gossipsub::MessageAcceptance::Ignore,
                            );
                        if !allowed {
                            self.charge(propagation_source, Misbehaviour::Flooding);
                        } else {
                            warn!(%message_id, "gossip message id is not a sha256");
                        }
                    }
                }
            }
            gossipsub::Event::Subscribed { peer_id, topic } => {
                self.emit(NetworkEvent::PeerSubscribed {
                    peer: peer_id,
                    topic: topic.into_string(),
                });
            }
            gossipsub::Event::Unsubscribed { peer_id, topic } => {
                self.emit(NetworkEvent::PeerUnsubscribed {
                    peer: peer_id,
                    topic: topic.into_string(),
                });
            }
            gossipsub::Event::GossipsubNotSupported { peer_id } => {
                debug!(peer = %peer_id, "peer does not support gossipsub");
            }
            gossipsub::Event::SlowPeer {
                peer_id,
                failed_messages,
            } => {
                debug!(peer = %peer_id, ?failed_messages, "slow gossipsub peer");
            }
        }
    }

    fn on_request_response(
        &mut self,
        protocol: Protocol,
        event: request_response::Event<Frame, Vec<u8>>,
    ) {
        match event {
            request_response::Event::Message {
                peer,
                message:
                    request_response::Message::Request {
                        request_id,
                        request,
                        channel,
                    },
                ..
            } => {
                if !self.rates.allow(peer, Traffic::Request, Instant::now()) {
                    // Dropping the channel closes the stream: the peer sees a failure.
                    drop(channel);
                    self.charge(peer, Misbehaviour::Flooding);
                    return;
                }
                match request {
                    Frame::Data(data) => {
                        let Some(commands) = self.command_sender.upgrade() else {
                            return; // every handle is gone: the loop is ending
                        };
                        let key = InboundKey {
                            protocol,
                            id: request_id,
                        };
                        self.pending_inbound.insert(key, channel);
                        self.emit(NetworkEvent::InboundRequest {
                            protocol,
                            peer,
                            data,
                            reply: ResponseHandle { key, commands },
                        });
                    }
                    Frame::Refused(error) => {
                        debug!(%peer, %protocol, %error, "refused inbound request");
                        drop(channel);
                        if let Some(misbehaviour) = misbehaviour_of(&error) {
                            self.charge(peer, misbehaviour);
                        }
                    }
                }
            }
            request_response::Event::Message {
                message:
                    request_response::Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                if let Some(reply) = self.pending_outbound.remove(&(protocol, request_id)) {
                    let _ = reply.send(Ok(response));
                }
            }
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                debug!(%peer, %protocol, %error, "outbound request failed");
                let error = match error {
                    OutboundFailure::DialFailure => RequestError::DialFailure,
                    OutboundFailure::Timeout => RequestError::Timeout,
                    OutboundFailure::ConnectionClosed => RequestError::ConnectionClosed,
                    OutboundFailure::UnsupportedProtocols => RequestError::UnsupportedProtocol,
                    OutboundFailure::Io(e) => match frame_error(&e) {
                        Some(FrameError::Empty) => RequestError::NoResponse,
                        Some(frame) => {
                            let frame = frame.clone();
                            if let Some(misbehaviour) = misbehaviour_of(&frame) {
                                self.charge(peer, misbehaviour);
                            }
                            RequestError::BadResponse(frame)
                        }
                        None => RequestError::Io(e.to_string()),
                    },
                };
                if let Some(reply) = self.pending_outbound.remove(&(protocol, request_id)) {
                    let _ = reply.send(Err(error));
                }
            }
            request_response::Event::InboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                debug!(%peer, %protocol, %error, "inbound request failed");
                self.pending_inbound.remove(&InboundKey {
                    protocol,
                    id: request_id,
                });
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }

    /// Charges `peer` for `what`; blocks it if that crosses the threshold.
    fn charge(&mut self, peer: PeerId, what: Misbehaviour) {
        if self.blocked.contains_key(&peer) {
            return;
        }
        let (score, crossed) = self.misbehaviour.charge(peer, what, Instant::now());
        warn!(%peer, misbehaviour = ?what, score, "peer misbehaved");
        self.emit(NetworkEvent::PeerMisbehaved {
            peer,
            misbehaviour: what,
            score,
        });
        if crossed {
            let duration = self.misbehaviour_config.block_duration;
            self.block(peer, BlockReason::Misbehaviour(what), Some(duration));
        }
    }

    /// Blocks `peer` (closing its connections) for `duration`, or until unblocked.
    /// Returns `false` if it was blocked already (a timed block then becomes
    /// indefinite if `duration` is `None`).
    fn block(&mut self, peer: PeerId, reason: BlockReason, duration: Option<Duration>) -> bool {
        let until = duration.map(|d| tokio::time::Instant::now() + d);
        if let Some(existing) = self.blocked.get_mut(&peer) {
            if until.is_none() {
                *existing = None;
            }
            return false;
        }
        self.swarm.behaviour_mut().block_list.block_peer(peer);
        self.blocked.insert(peer, until);
        if let Some(until) = until {
            self.block_timers.push(Box::pin(async move {
                tokio::time::sleep_until(until).await;
                peer
            }));
        }
        warn!(%peer, ?reason, ?duration, "blocked peer");
        self.emit(NetworkEvent::PeerBlocked { peer, reason });
        true
    }

    /// Unblocks `peer`; returns `false` if it was not blocked.
    fn unblock(&mut self, peer: PeerId, reason: UnblockReason) -> bool {
        if self.blocked.remove(&peer).is_none() {
            return false;
        }
        self.swarm.behaviour_mut().block_list.unblock_peer(peer);
        // The block was the sentence: the peer starts again from zero.
        self.misbehaviour.forget(&peer);
        info!(%peer, ?reason, "unblocked peer");
        self.emit(NetworkEvent::PeerUnblocked { peer, reason });
        true
    }

    fn on_block_timer(&mut self, peer: PeerId) {
        // The peer may have been unblocked (and blocked again) meanwhile.
        if let Some(Some(until)) = self.blocked.get(&peer)
            && *until <= tokio::time::Instant::now()
        {
            self.unblock(peer, UnblockReason::Expired);
        }
    }
}

/// The Kademlia key under which the members of `topic` announce themselves:
/// sha256 of the topic name (DESIGN §4).
pub(crate) fn provider_key(topic: &str) -> kad::RecordKey {
    kad::RecordKey::new(&Sha256::digest(topic.as_bytes()))
}

/// The relay part of a `…/p2p/<relay>/p2p-circuit` address (everything before
/// `/p2p-circuit`), if it is one.
fn relay_of(address: &Multiaddr) -> Option<Multiaddr> {
    let position = address.iter().position(|p| p == AddrProtocol::P2pCircuit)?;
    Some(address.iter().take(position).collect())
}

/// The peer an address ends with (`…/p2p/<peer>`), if any.
fn peer_of(address: &Multiaddr) -> Option<PeerId> {
    match address.iter().last() {
        Some(AddrProtocol::P2p(peer)) => Some(peer),
        _ => None,
    }
}

/// The misbehaviour a refused frame amounts to (an empty stream is none: the
/// peer sent nothing, which costs us nothing).
fn misbehaviour_of(error: &FrameError) -> Option<Misbehaviour> {
    match error {
        FrameError::Oversize { .. } => Some(Misbehaviour::OversizeFrame),
        FrameError::Truncated { .. } => Some(Misbehaviour::MalformedFrame),
        FrameError::Empty => None,
    }
}
