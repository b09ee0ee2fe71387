//! The one task that owns the swarm.
//!
//! [`EventLoop::run`] `select!`s between swarm events, commands from the
//! [`NetworkHandle`](crate::NetworkHandle)s, block expiries and a housekeeping
//! tick. Events for the app go through a small outbox: while it is not empty the
//! loop stops polling the swarm (so a slow app slows the network down instead of
//! losing events) but keeps serving commands (so an app that sends a command
//! while it holds back events cannot deadlock the loop).

use std::{
    collections::{HashMap, VecDeque},
    time::{Duration, Instant},
};

use futures::{StreamExt, future::BoxFuture, stream::FuturesUnordered};
use libp2p::{
    Multiaddr, PeerId, Swarm,
    gossipsub::{self, IdentTopic, TopicHash},
    request_response::{self, OutboundFailure, OutboundRequestId, ResponseChannel},
    swarm::SwarmEvent,
};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, trace, warn};

use crate::{
    behaviour::{Behaviour, BehaviourEvent},
    codec::{Frame, FrameError, frame_error},
    config::{FrameLimits, MisbehaviourConfig},
    error::{NetworkError, PublishError, RequestError},
    misbehaviour::{Misbehaviour, MisbehaviourTracker, RateLimiter, Traffic},
    scoring,
    types::{
        BlockReason, InboundKey, MessageId, NetworkEvent, PeerScore, Protocol, ResponseHandle,
        UnblockReason, Validation,
    },
};

/// How often decayed misbehaviour points and refilled rate buckets are dropped.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_secs(5);

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
        commands: mpsc::Receiver<Command>,
        command_sender: mpsc::WeakSender<Command>,
        events: mpsc::Sender<NetworkEvent>,
        frame_limits: FrameLimits,
        max_transmit_size: usize,
        misbehaviour_config: MisbehaviourConfig,
    ) -> Self {
        Self {
            swarm,
            commands,
            command_sender,
            events,
            outbox: VecDeque::new(),
            frame_limits,
            max_transmit_size,
            misbehaviour_config,
            pending_outbound: HashMap::new(),
            pending_inbound: HashMap::new(),
            misbehaviour: MisbehaviourTracker::new(misbehaviour_config),
            rates: RateLimiter::new(misbehaviour_config.flood),
            blocked: HashMap::new(),
            block_timers: FuturesUnordered::new(),
        }
    }

    /// Runs until [`NetworkHandle::shutdown`](crate::NetworkHandle::shutdown) is
    /// called or every handle is dropped. Pending requests then fail with
    /// [`RequestError::Stopped`] and all connections close.
    pub async fn run(mut self) {
        let mut housekeeping = tokio::time::interval(HOUSEKEEPING_INTERVAL);
        housekeeping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
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
                }
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
                    .unsubscribe(&IdentTopic::new(topic));
                let _ = reply.send(left);
            }
            Command::Dial { address, reply } => {
                let result = self
                    .swarm
                    .dial(address)
                    .map_err(|e| NetworkError::Dial(e.to_string()));
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
        gossipsub
            .subscribe(&ident)
            .map_err(|e| error(e.to_string()))
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
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(event)) => self.on_gossip(event),
            SwarmEvent::Behaviour(BehaviourEvent::Sync(event)) => {
                self.on_request_response(Protocol::Sync, event);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Agree(event)) => {
                self.on_request_response(Protocol::Agree, event);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(event)) => {
                // Discovery (kad) will take the addresses from here.
                trace!(?event, "identify");
            }
            SwarmEvent::Behaviour(BehaviourEvent::Ping(event)) => trace!(?event, "ping"),
            SwarmEvent::Behaviour(BehaviourEvent::ConnectionLimits(never)) => match never {},
            SwarmEvent::Behaviour(BehaviourEvent::BlockList(never)) => match never {},
            SwarmEvent::ConnectionEstablished {
                peer_id,
                num_established,
                ..
            } => {
                if num_established.get() == 1 {
                    debug!(peer = %peer_id, "connected");
                    self.emit(NetworkEvent::PeerConnected { peer: peer_id });
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established,
                cause,
                ..
            } => {
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
            SwarmEvent::ListenerError { error, .. } => warn!(%error, "listener error"),
            SwarmEvent::ListenerClosed {
                addresses, reason, ..
            } => {
                warn!(?addresses, ?reason, "listener closed");
            }
            other => trace!(event = ?other, "swarm event"),
        }
    }

    fn on_gossip(&mut self, event: gossipsub::Event) {
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

/// The misbehaviour a refused frame amounts to (an empty stream is none: the
/// peer sent nothing, which costs us nothing).
fn misbehaviour_of(error: &FrameError) -> Option<Misbehaviour> {
    match error {
        FrameError::Oversize { .. } => Some(Misbehaviour::OversizeFrame),
        FrameError::Truncated { .. } => Some(Misbehaviour::MalformedFrame),
        FrameError::Empty => None,
    }
}
