//! Peers: dials, the connections they make, misbehaviour charges, and blocking.

use std::time::{Duration, Instant};

use libp2p::{
    Multiaddr, PeerId,
    core::ConnectedPoint,
    swarm::{
        ConnectionError, ConnectionId,
        dial_opts::{DialOpts, PeerCondition},
    },
};
use tracing::{debug, info, warn};

use super::EventLoop;

/// Address checks (dials of what a peer reports) in flight at most.
const MAX_VERIFYING: usize = 64;
use crate::{
    error::NetworkError,
    misbehaviour::Misbehaviour,
    types::{BlockReason, BlockedPeer, ConnectionInfo, NetworkEvent, PeerScore, UnblockReason},
};

impl EventLoop {
    /// Starts dialling `address`.
    pub(super) fn dial(&mut self, address: Multiaddr) -> Result<(), NetworkError> {
        self.swarm
            .dial(address)
            .map_err(|e| NetworkError::Dial(e.to_string()))
    }

    /// Dials `peer` at `addresses` (plus any Kademlia knows), unless it is
    /// connected or being dialled already.
    pub(super) fn dial_peer(
        &mut self,
        peer: PeerId,
        addresses: Vec<Multiaddr>,
    ) -> Result<(), NetworkError> {
        if peer == self.local_peer_id {
            return Ok(());
        }
        // The addresses given, and those the behaviours know (Kademlia, identify).
        let opts = DialOpts::peer_id(peer)
            .addresses(addresses)
            .extend_addresses_through_behaviour()
            .condition(PeerCondition::DisconnectedAndNotDialing)
            .build();
        match self.swarm.dial(opts) {
            Ok(()) => Ok(()),
            // Connected or dialling already: what the caller wanted.
            Err(libp2p::swarm::DialError::DialPeerConditionFalse(_)) => Ok(()),
            Err(e) => Err(NetworkError::Dial(e.to_string())),
        }
    }

    /// Dials `peer` at each of `addresses` alone, connected or not, to prove it
    /// listens there (see [`NetworkHandle::verify_addresses`](crate::NetworkHandle::verify_addresses)).
    ///
    /// One dial per address: libp2p's dial of several addresses takes the
    /// first transport connection and only then checks the peer id, so a
    /// claimed address that leads to someone else would fail the whole dial.
    pub(super) fn verify_addresses(
        &mut self,
        peer: PeerId,
        addresses: Vec<Multiaddr>,
    ) -> Result<(), NetworkError> {
        if peer == self.local_peer_id {
            return Ok(());
        }
        for address in addresses {
            if self.verifying.len() >= MAX_VERIFYING {
                return Err(NetworkError::Dial("too many address checks at once".into()));
            }
            let opts = DialOpts::peer_id(peer)
                .addresses(vec![address])
                .condition(PeerCondition::Always)
                .build();
            let connection = opts.connection_id();
            self.swarm
                .dial(opts)
                .map_err(|e| NetworkError::Dial(e.to_string()))?;
            self.verifying.insert(connection);
        }
        Ok(())
    }

    /// A dial failed: no longer an address check in flight.
    pub(super) fn on_outgoing_error(&mut self, connection_id: ConnectionId) {
        self.verifying.remove(&connection_id);
    }

    pub(super) fn on_connection_established(
        &mut self,
        peer_id: PeerId,
        connection_id: ConnectionId,
        endpoint: &ConnectedPoint,
        num_established: u32,
    ) {
        let info = ConnectionInfo {
            peer: peer_id,
            address: endpoint.get_remote_address().clone(),
            outbound: endpoint.is_dialer(),
            relayed: endpoint.is_relayed(),
        };
        self.connections.insert(connection_id, info.clone());
        if info.outbound {
            self.emit(NetworkEvent::AddressVerified {
                peer: peer_id,
                address: info.address.clone(),
            });
        }
        // A check's connection is not closed here: the peer may already be
        // sending requests on it (request-response spreads them over a peer's
        // connections); with nothing on it, it closes when idle.
        self.verifying.remove(&connection_id);
        self.on_relay_connected(peer_id);
        if num_established == 1 {
            debug!(peer = %peer_id, address = %info.address, relayed = info.relayed, "connected");
            self.emit(NetworkEvent::PeerConnected {
                peer: peer_id,
                address: info.address,
                outbound: info.outbound,
                relayed: info.relayed,
            });
        }
    }

    pub(super) fn on_connection_closed(
        &mut self,
        peer_id: PeerId,
        connection_id: ConnectionId,
        num_established: u32,
        cause: Option<ConnectionError>,
    ) {
        self.connections.remove(&connection_id);
        if num_established == 0 {
            debug!(peer = %peer_id, ?cause, "disconnected");
            self.emit(NetworkEvent::PeerDisconnected { peer: peer_id });
        }
    }

    /// The gossip score and misbehaviour points of each connected peer.
    pub(super) fn peer_scores(&self) -> Vec<PeerScore> {
        let now = Instant::now();
        let gossipsub = &self.swarm.behaviour().gossipsub;
        self.swarm
            .connected_peers()
            .map(|&peer| PeerScore {
                peer,
                gossip: gossipsub.peer_score(&peer).unwrap_or(0.0),
                misbehaviour: self.misbehaviour.score(&peer, now),
            })
            .collect()
    }

    /// Charges `peer` for `what`; blocks it if that crosses the threshold.
    pub(super) fn charge(&mut self, peer: PeerId, what: Misbehaviour) {
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
    pub(super) fn block(
        &mut self,
        peer: PeerId,
        reason: BlockReason,
        duration: Option<Duration>,
    ) -> bool {
        let until = duration.map(|d| tokio::time::Instant::now() + d);
        if let Some(existing) = self.blocked.get_mut(&peer) {
            if until.is_none() {
                existing.until = None;
            }
            return false;
        }
        // Its IPs stay charged while it is blocked: a fresh id from the same
        // machine gets no fresh budget.
        self.swarm.behaviour_mut().door.charge(peer);
        self.swarm.behaviour_mut().block_list.block_peer(peer);
        self.blocked.insert(peer, Block { until, reason });
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

    /// The blocked peers, why, and for how long still.
    pub(super) fn blocked_peers(&self) -> Vec<BlockedPeer> {
        let now = tokio::time::Instant::now();
        let mut out: Vec<BlockedPeer> = self
            .blocked
            .iter()
            .map(|(peer, block)| BlockedPeer {
                peer: *peer,
                reason: block.reason,
                remaining: block.until.map(|u| u.saturating_duration_since(now)),
            })
            .collect();
        out.sort_by_key(|b| b.peer.to_bytes());
        out
    }

    /// Unblocks `peer`; returns `false` if it was not blocked.
    pub(super) fn unblock(&mut self, peer: PeerId, reason: UnblockReason) -> bool {
        if self.blocked.remove(&peer).is_none() {
            return false;
        }
        self.swarm.behaviour_mut().block_list.unblock_peer(peer);
        self.swarm.behaviour_mut().door.discharge(&peer);
        // The block was the sentence: the peer starts again from zero.
        self.misbehaviour.forget(&peer);
        info!(%peer, ?reason, "unblocked peer");
        self.emit(NetworkEvent::PeerUnblocked { peer, reason });
        true
    }

    pub(super) fn on_block_timer(&mut self, peer: PeerId) {
        // The peer may have been unblocked (and blocked again) meanwhile.
        if let Some(Block {
            until: Some(until), ..
        }) = self.blocked.get(&peer)
            && *until <= tokio::time::Instant::now()
        {
            self.unblock(peer, UnblockReason::Expired);
        }
    }
}

/// Why a peer is blocked, and until when (`None`: until unblocked).
#[derive(Debug, Clone, Copy)]
pub(super) struct Block {
    pub(super) until: Option<tokio::time::Instant>,
    pub(super) reason: BlockReason,
}
