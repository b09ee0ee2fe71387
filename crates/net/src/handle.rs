//! The cloneable way to talk to the event loop.

use libp2p::{Multiaddr, PeerId};
use tokio::sync::{mpsc, oneshot};

use crate::{
    Misbehaviour,
    error::{NetworkError, PublishError, RequestError},
    event_loop::Command,
    kad_store::KadStoreStats,
    types::{
        BlockedPeer, ConnectionInfo, MessageId, PeerScore, Protocol, Reachability, Validation,
    },
};

/// Sends commands to the [`EventLoop`](crate::EventLoop); every method waits for
/// the loop's answer. Cheap to clone.
#[derive(Debug, Clone)]
pub struct NetworkHandle {
    commands: mpsc::Sender<Command>,
    local_peer_id: PeerId,
}

impl NetworkHandle {
    pub(crate) fn new(commands: mpsc::Sender<Command>, local_peer_id: PeerId) -> Self {
        Self {
            commands,
            local_peer_id,
        }
    }

    /// This node's peer id.
    pub fn local_peer_id(&self) -> PeerId {
        self.local_peer_id
    }

    /// Sends a command built around a reply slot and waits for the reply.
    async fn call<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, NetworkError> {
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| NetworkError::Stopped)?;
        rx.await.map_err(|_| NetworkError::Stopped)
    }

    /// Publishes `data` on `topic` (e.g. `"swapmesh/1/area/u4pru"`); returns its
    /// id, sha256(topic ‖ 0x00 ‖ data).
    pub async fn publish(
        &self,
        topic: impl Into<String>,
        data: Vec<u8>,
    ) -> Result<MessageId, PublishError> {
        let topic = topic.into();
        self.call(|reply| Command::Publish { topic, data, reply })
            .await
            .map_err(|_| PublishError::Stopped)?
    }

    /// Joins `topic` (with its score parameters) and announces us in Kademlia
    /// as one of its providers; `Ok(false)` if already joined.
    pub async fn subscribe(&self, topic: impl Into<String>) -> Result<bool, NetworkError> {
        let topic = topic.into();
        self.call(|reply| Command::Subscribe {
            topic,
            announce: true,
            reply,
        })
        .await?
    }

    /// Joins `topic` as [`subscribe`](Self::subscribe) does, and looks up its
    /// providers, without announcing us as one: for a neighbouring area cell,
    /// whose publishers are the nodes in it, which announce it themselves.
    pub async fn subscribe_unannounced(
        &self,
        topic: impl Into<String>,
    ) -> Result<bool, NetworkError> {
        let topic = topic.into();
        self.call(|reply| Command::Subscribe {
            topic,
            announce: false,
            reply,
        })
        .await?
    }

    /// Leaves `topic`; `Ok(false)` if it was not joined.
    pub async fn unsubscribe(&self, topic: impl Into<String>) -> Result<bool, NetworkError> {
        let topic = topic.into();
        self.call(|reply| Command::Unsubscribe { topic, reply })
            .await
    }

    /// Starts dialing `address` (add `/p2p/<peer>` to check who answers).
    /// Returns once the dial has started;
    /// [`NetworkEvent::PeerConnected`](crate::NetworkEvent::PeerConnected) says
    /// when it succeeded.
    pub async fn dial(&self, address: Multiaddr) -> Result<(), NetworkError> {
        self.call(|reply| Command::Dial { address, reply }).await?
    }

    /// Dials `peer` at each of `addresses` (one dial each), even if it is
    /// connected, to check that it listens there: a
    /// [`NetworkEvent::AddressVerified`](crate::NetworkEvent::AddressVerified)
    /// follows for each that answers as `peer`. An extra connection to a peer
    /// connected already closes by itself once idle
    /// ([`NetworkConfig::idle_connection_timeout`](crate::NetworkConfig::idle_connection_timeout)).
    pub async fn verify_addresses(
        &self,
        peer: PeerId,
        addresses: Vec<Multiaddr>,
    ) -> Result<(), NetworkError> {
        self.call(|reply| Command::VerifyAddresses {
            peer,
            addresses,
            reply,
        })
        .await?
    }

    /// Dials `peer` at `addresses` (and any address Kademlia knows for it),
    /// unless it is connected or being dialled already.
    pub async fn dial_peer(
        &self,
        peer: PeerId,
        addresses: Vec<Multiaddr>,
    ) -> Result<(), NetworkError> {
        self.call(|reply| Command::DialPeer {
            peer,
            addresses,
            reply,
        })
        .await?
    }

    /// Adds bootstrap peers (from an invite, say): each `…/p2p/<peer>` address
    /// joins Kademlia's routing table, and each is dialled. Fails with the first
    /// dial error after trying them all.
    pub async fn bootstrap(&self, addresses: Vec<Multiaddr>) -> Result<(), NetworkError> {
        self.call(|reply| Command::Bootstrap { addresses, reply })
            .await?
    }

    /// The addresses at which `peer` can be dialled, each ending with
    /// `/p2p/<peer>`; empty if it could not be found (not an error).
    ///
    /// Addresses already known (Kademlia's routing table, connections we
    /// dialled) come back at once. Otherwise Kademlia looks for the peers closest
    /// to `peer`, which takes at most its query timeout (30 s); if `peer` is among
    /// them, its addresses come back and are remembered, so that
    /// [`dial_peer`](Self::dial_peer) and [`send_request`](Self::send_request)
    /// can reach it. Concurrent calls for one peer share one lookup. With
    /// Kademlia off only connections we dialled are known. Our own id gives our
    /// external and listen addresses.
    pub async fn find_peer(&self, peer: PeerId) -> Result<Vec<Multiaddr>, NetworkError> {
        self.call(|reply| Command::FindPeer { peer, reply }).await
    }

    /// Starts listening on `address` (a `…/p2p/<relay>/p2p-circuit` address
    /// listens through that relay).
    /// [`NetworkEvent::NewListenAddr`](crate::NetworkEvent::NewListenAddr) says
    /// when it is ready.
    pub async fn listen_on(&self, address: Multiaddr) -> Result<(), NetworkError> {
        self.call(|reply| Command::ListenOn { address, reply })
            .await?
    }

    /// Announces `address` as one where others can reach us (a server's
    /// public address; see [`NetworkConfig::external_addresses`](crate::NetworkConfig::external_addresses)).
    pub async fn add_external_address(&self, address: Multiaddr) -> Result<(), NetworkError> {
        self.call(|reply| Command::AddExternalAddress { address, reply })
            .await
    }

    /// Our confirmed external addresses (configured or confirmed by AutoNAT).
    pub async fn external_addresses(&self) -> Result<Vec<Multiaddr>, NetworkError> {
        self.call(|reply| Command::ExternalAddresses { reply })
            .await
    }

    /// Every open connection.
    pub async fn connections(&self) -> Result<Vec<ConnectionInfo>, NetworkError> {
        self.call(|reply| Command::Connections { reply }).await
    }

    /// Whether we are connected to `peer` only through relays: `Ok(false)` if
    /// any connection to it is direct, or if there is none.
    pub async fn is_relayed(&self, peer: PeerId) -> Result<bool, NetworkError> {
        let connections: Vec<_> = self
            .connections()
            .await?
            .into_iter()
            .filter(|c| c.peer == peer)
            .collect();
        Ok(!connections.is_empty() && connections.iter().all(|c| c.relayed))
    }

    /// Runs a discovery round now: announce ourselves as a provider of each
    /// joined topic, look up the others and dial them (otherwise this happens
    /// periodically).
    pub async fn discover_now(&self) -> Result<(), NetworkError> {
        self.call(|reply| Command::DiscoverNow { reply }).await
    }

    /// The node's network metrics in the Prometheus text exposition format:
    /// libp2p-metrics (connections, identify, Kademlia, ping, relay, DCUtR),
    /// bandwidth per transport, and gossipsub's own per-topic counters (e.g.
    /// `gossipsub_topic_msg_recv_counts_unfiltered_total`, duplicates included).
    pub async fn metrics_text(&self) -> Result<String, NetworkError> {
        self.call(|reply| Command::MetricsText { reply }).await?
    }

    /// Remembers an address of `peer`, used when a request needs to dial it.
    pub async fn add_address(&self, peer: PeerId, address: Multiaddr) -> Result<(), NetworkError> {
        self.call(|reply| Command::AddAddress {
            peer,
            address,
            reply,
        })
        .await
    }

    /// Sends `data` to `peer` on `protocol` and waits for the response (dialing
    /// the peer first if it has a known address).
    pub async fn send_request(
        &self,
        protocol: Protocol,
        peer: PeerId,
        data: Vec<u8>,
    ) -> Result<Vec<u8>, RequestError> {
        self.call(|reply| Command::SendRequest {
            protocol,
            peer,
            data,
            reply,
        })
        .await
        .map_err(|_| RequestError::Stopped)?
        // A reply slot dropped by a stopping loop also reads as `Stopped`.
    }

    /// Gives the app's verdict on a gossip message. `Reject` also charges the
    /// propagation source [`Misbehaviour::InvalidRecord`] (no need to report it
    /// separately). Returns `false` if the message had already left the cache.
    pub async fn report_validation(
        &self,
        message_id: MessageId,
        propagation_source: PeerId,
        validation: Validation,
    ) -> Result<bool, NetworkError> {
        self.call(|reply| Command::ReportValidation {
            message_id,
            propagation_source,
            validation,
            reply,
        })
        .await
    }

    /// Charges `peer` for misbehaviour the app found (e.g. an invalid record in
    /// a sync or agreement response).
    pub async fn report_misbehaviour(
        &self,
        peer: PeerId,
        misbehaviour: Misbehaviour,
    ) -> Result<(), NetworkError> {
        self.call(|reply| Command::ReportMisbehaviour {
            peer,
            misbehaviour,
            reply,
        })
        .await
    }

    /// Counts `records` that `peer` pushed against its gossip rate
    /// ([`FloodLimits::gossip_per_second`](crate::FloodLimits)): `Ok(false)`,
    /// and nothing taken, when they do not fit. Records we fetched are not
    /// counted: we asked for them.
    pub async fn take_record_rate(
        &self,
        peer: PeerId,
        records: usize,
    ) -> Result<bool, NetworkError> {
        self.call(|reply| Command::TakeRecordRate {
            peer,
            records,
            reply,
        })
        .await
    }

    /// Blocks `peer` until [`unblock_peer`](Self::unblock_peer) and closes its
    /// connections; `Ok(false)` if it was blocked already.
    pub async fn block_peer(&self, peer: PeerId) -> Result<bool, NetworkError> {
        self.call(|reply| Command::BlockPeer { peer, reply }).await
    }

    /// The blocked peers: why, and how long still.
    pub async fn blocked_peers(&self) -> Result<Vec<BlockedPeer>, NetworkError> {
        self.call(|reply| Command::BlockedPeers { reply }).await
    }

    /// What the Kademlia store holds: our own provided keys and the provider
    /// records others left (zeros when Kademlia is off).
    pub async fn kad_store_stats(&self) -> Result<KadStoreStats, NetworkError> {
        self.call(|reply| Command::KadStoreStats { reply }).await
    }

    /// Unblocks `peer`; `Ok(false)` if it was not blocked.
    pub async fn unblock_peer(&self, peer: PeerId) -> Result<bool, NetworkError> {
        self.call(|reply| Command::UnblockPeer { peer, reply })
            .await
    }

    /// The peers with at least one open connection.
    pub async fn connected_peers(&self) -> Result<Vec<PeerId>, NetworkError> {
        self.call(|reply| Command::ConnectedPeers { reply }).await
    }

    /// How others can reach us: at a confirmed address, through relays, or not.
    pub async fn reachability(&self) -> Result<Reachability, NetworkError> {
        self.call(|reply| Command::Reachability { reply }).await
    }

    /// The addresses we listen on.
    pub async fn listen_addresses(&self) -> Result<Vec<Multiaddr>, NetworkError> {
        self.call(|reply| Command::ListenAddresses { reply }).await
    }

    /// The gossip score and misbehaviour points of each connected peer.
    pub async fn peer_scores(&self) -> Result<Vec<PeerScore>, NetworkError> {
        self.call(|reply| Command::PeerScores { reply }).await
    }

    /// The peers in our gossip mesh for `topic` (diagnostics and tests).
    pub async fn mesh_peers(&self, topic: impl Into<String>) -> Result<Vec<PeerId>, NetworkError> {
        let topic = topic.into();
        self.call(|reply| Command::MeshPeers { topic, reply }).await
    }

    /// Stops the event loop and waits until it has ended (every connection
    /// closed, pending requests failed). Returns at once if it already has.
    pub async fn shutdown(&self) {
        let _ = self.call(|reply| Command::Shutdown { reply }).await;
    }
}
