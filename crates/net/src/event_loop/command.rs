//! What a [`NetworkHandle`](crate::NetworkHandle) asks of the loop, and where
//! each request goes.

use std::time::Instant;

use libp2p::{Multiaddr, PeerId};
use tokio::sync::oneshot;

use super::EventLoop;
use crate::kad_store::KadStoreStats;
use crate::misbehaviour::Traffic;
use crate::{
    error::{NetworkError, PublishError, RequestError},
    misbehaviour::Misbehaviour,
    types::{
        BlockReason, BlockedPeer, ConnectionInfo, MessageId, PeerScore, Protocol, Reachability,
        UnblockReason, Validation,
    },
};

/// A reply slot.
pub(super) type Reply<T> = oneshot::Sender<T>;
/// The reply slot of an outbound request.
pub(super) type ResponseReply = Reply<Result<Vec<u8>, RequestError>>;

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
        announce: bool,
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
    VerifyAddresses {
        peer: PeerId,
        addresses: Vec<Multiaddr>,
        reply: Reply<Result<(), NetworkError>>,
    },
    Bootstrap {
        addresses: Vec<Multiaddr>,
        reply: Reply<Result<(), NetworkError>>,
    },
    FindPeer {
        peer: PeerId,
        reply: Reply<Vec<Multiaddr>>,
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
        reply: ResponseReply,
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
    TakeRecordRate {
        peer: PeerId,
        records: usize,
        reply: Reply<bool>,
    },
    BlockPeer {
        peer: PeerId,
        reply: Reply<bool>,
    },
    UnblockPeer {
        peer: PeerId,
        reply: Reply<bool>,
    },
    Reachability {
        reply: Reply<Reachability>,
    },
    ConnectedPeers {
        reply: Reply<Vec<PeerId>>,
    },
    ListenAddresses {
        reply: Reply<Vec<Multiaddr>>,
    },
    BlockedPeers {
        reply: Reply<Vec<BlockedPeer>>,
    },
    KadStoreStats {
        reply: Reply<KadStoreStats>,
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

impl EventLoop {
    /// Carries out `command` and answers its reply slot.
    pub(super) fn on_command(&mut self, command: Command) {
        match command {
            Command::Publish { topic, data, reply } => {
                let _ = reply.send(self.publish(topic, data));
            }
            Command::Subscribe {
                topic,
                announce,
                reply,
            } => {
                let _ = reply.send(self.subscribe(topic, announce));
            }
            Command::Unsubscribe { topic, reply } => {
                let _ = reply.send(self.unsubscribe(topic));
            }
            Command::Dial { address, reply } => {
                let _ = reply.send(self.dial(address));
            }
            Command::DialPeer {
                peer,
                addresses,
                reply,
            } => {
                let _ = reply.send(self.dial_peer(peer, addresses));
            }
            Command::VerifyAddresses {
                peer,
                addresses,
                reply,
            } => {
                let _ = reply.send(self.verify_addresses(peer, addresses));
            }
            Command::Bootstrap { addresses, reply } => {
                let _ = reply.send(self.bootstrap(addresses));
            }
            // Answered now, or when its Kademlia lookup ends.
            Command::FindPeer { peer, reply } => self.find_peer(peer, reply),
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
                let _ = reply.send(self.metrics_text());
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
            Command::ReportValidation {
                message_id,
                propagation_source,
                validation,
                reply,
            } => {
                let found = self.report_validation(message_id, propagation_source, validation);
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
            Command::TakeRecordRate {
                peer,
                records,
                reply,
            } => {
                let taken = self
                    .rates
                    .allow_n(peer, Traffic::Gossip, records, Instant::now());
                let _ = reply.send(taken);
            }
            Command::BlockPeer { peer, reply } => {
                let _ = reply.send(self.block(peer, BlockReason::Requested, None));
            }
            Command::UnblockPeer { peer, reply } => {
                let _ = reply.send(self.unblock(peer, UnblockReason::Requested));
            }
            Command::Reachability { reply } => {
                let _ = reply.send(self.reachability());
            }
            Command::ConnectedPeers { reply } => {
                let _ = reply.send(self.swarm.connected_peers().copied().collect());
            }
            Command::ListenAddresses { reply } => {
                let _ = reply.send(self.swarm.listeners().cloned().collect());
            }
            Command::BlockedPeers { reply } => {
                let _ = reply.send(self.blocked_peers());
            }
            Command::KadStoreStats { reply } => {
                let stats = self.swarm.behaviour_mut().kad.as_mut();
                let _ = reply.send(stats.map(|k| k.store_mut().stats()).unwrap_or_default());
            }
            Command::PeerScores { reply } => {
                let _ = reply.send(self.peer_scores());
            }
            Command::MeshPeers { topic, reply } => {
                let _ = reply.send(self.mesh_peers(topic));
            }
            // Handled in `run`; kept here so the match stays exhaustive.
            Command::Shutdown { reply } => {
                let _ = reply.send(());
            }
        }
    }
}
