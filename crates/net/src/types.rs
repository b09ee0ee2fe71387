//! The values that cross the boundary between the app and the network.

use std::fmt;

use libp2p::{Multiaddr, PeerId, StreamProtocol, gossipsub};
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use crate::{Misbehaviour, error::NetworkError};

/// The id of a gossip message: sha256(topic ‖ 0x00 ‖ data).
///
/// Content-addressed, so the copies of one message on one topic are
/// deduplicated however they travel, while the same bytes on another topic are
/// a different message (a record travels on each of its topics). The 0x00 keeps
/// topic and data apart (topics never contain a NUL).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(pub [u8; 32]);

impl MessageId {
    /// The id of `data` published on `topic`.
    pub fn new(topic: &str, data: &[u8]) -> Self {
        let mut h = Sha256::new();
        h.update(topic.as_bytes());
        h.update([0u8]);
        h.update(data);
        Self(h.finalize().into())
    }

    pub(crate) fn to_gossipsub(self) -> gossipsub::MessageId {
        gossipsub::MessageId::new(&self.0)
    }

    pub(crate) fn from_gossipsub(id: &gossipsub::MessageId) -> Option<Self> {
        id.0.as_slice().try_into().ok().map(Self)
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageId({self})")
    }
}

/// The app's verdict on a gossip message (DESIGN §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validation {
    /// Valid and new (or a copy on another of its topics): forward it.
    Accept,
    /// Invalid: drop it, lower the sender's gossip score and charge it
    /// [`Misbehaviour::InvalidRecord`].
    Reject,
    /// Not for us (stale, from the future, unknown version): drop it, blame nobody.
    Ignore,
}

impl From<Validation> for gossipsub::MessageAcceptance {
    fn from(v: Validation) -> Self {
        match v {
            Validation::Accept => gossipsub::MessageAcceptance::Accept,
            Validation::Reject => gossipsub::MessageAcceptance::Reject,
            Validation::Ignore => gossipsub::MessageAcceptance::Ignore,
        }
    }
}

/// A request-response protocol of swapmesh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// `/swapmesh/sync/1`: set reconciliation.
    Sync,
    /// `/swapmesh/agree/1`: agreement events between two parties.
    Agree,
    /// `/swapmesh/blob/1`: photos by their hash.
    Blob,
    /// `/swapmesh/mail/1`: sealed mail left with a peer's mail host.
    Mail,
}

impl Protocol {
    /// The protocol name negotiated on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Sync => "/swapmesh/sync/1",
            Protocol::Agree => "/swapmesh/agree/1",
            Protocol::Blob => "/swapmesh/blob/1",
            Protocol::Mail => "/swapmesh/mail/1",
        }
    }

    pub(crate) fn stream_protocol(self) -> StreamProtocol {
        StreamProtocol::new(self.name())
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a peer was blocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlockReason {
    /// Its misbehaviour score crossed the threshold; this was the last straw.
    Misbehaviour(Misbehaviour),
    /// The app asked for it ([`NetworkHandle::block_peer`](crate::NetworkHandle::block_peer)).
    Requested,
}

/// A blocked peer, as [`NetworkHandle::blocked_peers`](crate::NetworkHandle::blocked_peers) lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockedPeer {
    /// The peer.
    pub peer: PeerId,
    /// Why it was blocked.
    pub reason: BlockReason,
    /// How long its block still lasts (`None`: until unblocked).
    pub remaining: Option<std::time::Duration>,
}

/// Why a peer was unblocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnblockReason {
    /// Its block duration ran out.
    Expired,
    /// The app asked for it ([`NetworkHandle::unblock_peer`](crate::NetworkHandle::unblock_peer)).
    Requested,
}

/// A connected peer's standing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeerScore {
    /// The peer.
    pub peer: PeerId,
    /// Its gossipsub score (see [`crate::scoring`]); below
    /// [`GRAYLIST_THRESHOLD`](crate::scoring::GRAYLIST_THRESHOLD) it is ignored.
    pub gossip: f64,
    /// Its decayed misbehaviour points; at the block threshold it is blocked.
    pub misbehaviour: f64,
}

/// Something the network tells the app.
#[derive(Debug)]
#[non_exhaustive]
pub enum NetworkEvent {
    /// A gossip message on a joined topic, awaiting the app's verdict
    /// ([`NetworkHandle::report_validation`](crate::NetworkHandle::report_validation)).
    Gossip {
        /// Its id, to report the verdict with.
        message_id: MessageId,
        /// The topic it arrived on.
        topic: String,
        /// Its bytes.
        data: Vec<u8>,
        /// The peer it came from (not necessarily its author).
        propagation_source: PeerId,
    },
    /// A peer asks something; answer with [`ResponseHandle::respond`].
    InboundRequest {
        /// Which protocol.
        protocol: Protocol,
        /// Who asks.
        peer: PeerId,
        /// The request frame.
        data: Vec<u8>,
        /// Where the answer goes.
        reply: ResponseHandle,
    },
    /// The first connection to a peer was established.
    PeerConnected {
        /// The peer.
        peer: PeerId,
        /// The address of the connection: the one we dialled, or the one the peer
        /// came from (for an inbound TCP connection that is an ephemeral port;
        /// [`NetworkEvent::PeerIdentified`] gives the addresses it listens on).
        address: Multiaddr,
        /// Whether we dialled it.
        outbound: bool,
        /// Whether the connection goes through a relay (`/p2p-circuit`).
        relayed: bool,
    },
    /// We dialled `peer` at `address` and it answered as `peer`: an address
    /// worth remembering (what the peer reports for itself is not, until a
    /// dial proves it; see [`NetworkHandle::verify_addresses`](crate::NetworkHandle::verify_addresses)).
    AddressVerified {
        /// The peer.
        peer: PeerId,
        /// The address we dialled.
        address: Multiaddr,
    },
    /// A connected peer told us who it is and where it listens (identify).
    PeerIdentified {
        /// The peer.
        peer: PeerId,
        /// The addresses it says it listens on (at most 16 kept), relayed ones
        /// included.
        listen_addresses: Vec<Multiaddr>,
        /// Its software, e.g. `swapmesh/0.1.0`.
        agent_version: String,
    },
    /// Discovery found a peer (and dials it unless already connected).
    PeerDiscovered {
        /// The peer.
        peer: PeerId,
        /// Its addresses, when the discovery gave them (mDNS does; Kademlia keeps
        /// them and hands them to the dial itself).
        addresses: Vec<Multiaddr>,
        /// How it was found.
        via: Discovery,
    },
    /// An address of ours was confirmed as reachable by others (configured, or
    /// checked by AutoNAT).
    ExternalAddressConfirmed {
        /// The address.
        address: Multiaddr,
    },
    /// An address of ours is no longer known to be reachable.
    ExternalAddressExpired {
        /// The address.
        address: Multiaddr,
    },
    /// The last connection to a peer closed.
    PeerDisconnected {
        /// The peer.
        peer: PeerId,
    },
    /// A connected peer joined a topic.
    PeerSubscribed {
        /// The peer.
        peer: PeerId,
        /// The topic.
        topic: String,
    },
    /// A connected peer left a topic.
    PeerUnsubscribed {
        /// The peer.
        peer: PeerId,
        /// The topic.
        topic: String,
    },
    /// We listen on a new address.
    NewListenAddr {
        /// The address, with no `/p2p` suffix.
        address: Multiaddr,
    },
    /// A peer was charged for misbehaviour.
    PeerMisbehaved {
        /// The peer.
        peer: PeerId,
        /// What it did.
        misbehaviour: Misbehaviour,
        /// Its points after the charge.
        score: f64,
    },
    /// A peer was blocked and disconnected.
    PeerBlocked {
        /// The peer.
        peer: PeerId,
        /// Why.
        reason: BlockReason,
    },
    /// A peer was unblocked; it may connect again.
    PeerUnblocked {
        /// The peer.
        peer: PeerId,
        /// Why.
        reason: UnblockReason,
    },
}

/// How a peer was discovered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Discovery {
    /// mDNS on the LAN.
    Mdns,
    /// Kademlia: it provides the key sha256(`topic`) of a topic we joined.
    /// Reported once per peer and topic while the network runs.
    TopicProvider {
        /// The topic.
        topic: String,
    },
}

/// How others can reach this node from outside its LAN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reachability {
    /// At confirmed external addresses (configured, or confirmed by AutoNAT).
    Direct {
        /// The confirmed addresses.
        addresses: Vec<Multiaddr>,
    },
    /// Through relays that hold a reservation for us.
    Relayed {
        /// The relays.
        relays: Vec<PeerId>,
        /// Our addresses through them (`…/p2p/<relay>/p2p-circuit`).
        addresses: Vec<Multiaddr>,
    },
    /// Not from outside: no confirmed address and no relay reservation.
    Unreachable {
        /// Why, in words.
        reason: String,
    },
}

/// One open connection (diagnostics, and the relay test's proof).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// The peer at the other end.
    pub peer: PeerId,
    /// The address of the connection (see [`NetworkEvent::PeerConnected`]).
    pub address: Multiaddr,
    /// Whether we dialled it.
    pub outbound: bool,
    /// Whether it goes through a relay (`/p2p-circuit`).
    pub relayed: bool,
}

/// The app's answer to one inbound request, on its way to the event loop.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The response frame.
    pub(crate) data: Vec<u8>,
    /// Where the loop says whether it was sent.
    pub(crate) reply: oneshot::Sender<Result<(), NetworkError>>,
}

/// The way back to a peer that sent a request.
///
/// Answer with [`respond`](Self::respond). Dropping it without responding
/// declines the request at once: the event loop closes the stream, and the peer's
/// request fails promptly ([`RequestError::NoResponse`](crate::RequestError::NoResponse))
/// instead of waiting for its timeout. Unlike a
/// [`NetworkHandle`](crate::NetworkHandle), it does not keep the event loop
/// running: once the loop has stopped, `respond` fails with
/// [`NetworkError::Stopped`].
#[derive(Debug)]
pub struct ResponseHandle {
    protocol: Protocol,
    /// The event loop waits on the other end; dropping this sender is the
    /// decline.
    answer: oneshot::Sender<Answer>,
}

impl ResponseHandle {
    /// A handle for a request on `protocol`, and the end the event loop waits on.
    pub(crate) fn new(protocol: Protocol) -> (Self, oneshot::Receiver<Answer>) {
        let (answer, receiver) = oneshot::channel();
        (Self { protocol, answer }, receiver)
    }

    /// Sends `data` as the response. Fails if it is over the protocol's frame
    /// limit, if the request is no longer pending (it timed out or the
    /// connection closed), or if the event loop has stopped.
    pub async fn respond(self, data: Vec<u8>) -> Result<(), NetworkError> {
        let (reply, rx) = oneshot::channel();
        self.answer
            .send(Answer { data, reply })
            .map_err(|_| NetworkError::Stopped)?;
        rx.await.map_err(|_| NetworkError::Stopped)?
    }

    /// The protocol of the request this answers.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }
}
