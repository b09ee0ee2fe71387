//! The door: who may open a connection to us, counted by where it comes from.
//!
//! libp2p's `connection_limits` counts connections per peer id, and a peer id
//! costs nothing: one machine with fresh keys would get a fresh budget each
//! time. The door counts inbound connections by their *origin* instead:
//!
//! - a direct connection by the remote IP (an IPv6 address by its /64, which
//!   one host gets whole);
//! - a relayed connection by its relay. libp2p-relay gives an inbound circuit
//!   the send-back address `/p2p/<source>`, with no IP, and the local address
//!   `<relay address>/p2p-circuit`, with the *relay's* IP: counted by IP, every
//!   peer behind one relay would share one budget, or none at all;
//! - anything else (the memory transport) is not counted.
//!
//! A peer blocked for misbehaviour keeps its IPs charged for as long as its
//! block lasts, so dropping the connection and coming back with a new id does
//! not free a slot. And inbound connections from peers we do not know (never
//! dialled ourselves) may not take the last
//! [`outbound_reserve`](crate::ConnectionLimitsConfig::outbound_reserve) slots:
//! an inbound flood cannot keep us from reaching the peers we want.
//!
//! The checks run before the handshake (by origin) and after it (by peer), and
//! the counts come from the swarm's own events, so a connection another
//! behaviour refuses is never counted.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    convert::Infallible,
    fmt,
    net::IpAddr,
    task::{Context, Poll},
};

use libp2p::{
    Multiaddr, PeerId,
    core::{ConnectedPoint, Endpoint, multiaddr::Protocol, transport::PortUse},
    swarm::{
        ConnectionClosed, ConnectionDenied, ConnectionId, FromSwarm, ListenFailure,
        NetworkBehaviour, THandler, THandlerInEvent, THandlerOutEvent, ToSwarm,
        behaviour::ConnectionEstablished, dummy,
    },
};
use prometheus_client::{
    metrics::{counter::Counter, family::Family},
    registry::Registry,
};

use crate::config::ConnectionLimitsConfig;

/// Peers remembered as known (dialled by us); the oldest are forgotten first.
const MAX_KNOWN: usize = 4096;

/// Where an inbound connection comes from, as the door counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Origin {
    /// A direct connection from this IP (an IPv6 address cut to its /64).
    Ip(IpAddr),
    /// A circuit through this relay.
    Relay(PeerId),
    /// Nothing to count by (the memory transport).
    Uncounted,
}

impl Origin {
    /// The origin of an inbound connection with these addresses.
    pub(crate) fn inbound(local: &Multiaddr, remote: &Multiaddr) -> Origin {
        if let Some(relay) = relay_of(local) {
            return Origin::Relay(relay);
        }
        ip_of(remote).map_or(Origin::Uncounted, Origin::Ip)
    }

    /// The origin of a direct connection to or from `remote` (a dialled one
    /// counts for a blocked peer's charge).
    fn direct(remote: &Multiaddr) -> Option<Origin> {
        if relay_of(remote).is_some() {
            return None;
        }
        ip_of(remote).map(Origin::Ip)
    }
}

/// The relay a circuit address goes through: the `/p2p/<relay>` before
/// `/p2p-circuit`.
fn relay_of(address: &Multiaddr) -> Option<PeerId> {
    let mut relay = None;
    for protocol in address.iter() {
        match protocol {
            Protocol::P2p(peer) => relay = Some(peer),
            Protocol::P2pCircuit => return relay,
            _ => {}
        }
    }
    None
}

/// The IP an address starts with; IPv6 cut to its /64.
fn ip_of(address: &Multiaddr) -> Option<IpAddr> {
    match address.iter().next()? {
        Protocol::Ip4(ip) => Some(IpAddr::V4(ip)),
        Protocol::Ip6(ip) => {
            let prefix = u128::from(ip) & !((1u128 << 64) - 1);
            Some(IpAddr::V6(prefix.into()))
        }
        _ => None,
    }
}

/// Why the door refused a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Refusal {
    /// Its IP has [`ConnectionLimitsConfig::max_per_ip`] connections (or
    /// blocked peers) already.
    PerIp,
    /// Its relay carries [`ConnectionLimitsConfig::max_per_relay`] circuits to us.
    PerRelay,
    /// Inbound connections from unknown peers have used every slot but the
    /// outbound reserve.
    Inbound,
}

impl Refusal {
    /// Its `reason` label in `swapmesh_connections_refused_total`.
    fn label(self) -> &'static str {
        match self {
            Refusal::PerIp => "per_ip",
            Refusal::PerRelay => "per_relay",
            Refusal::Inbound => "inbound",
        }
    }
}

type RefusalLabels = Vec<(&'static str, &'static str)>;

/// The error a refused connection fails with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Refused {
    reason: Refusal,
    limit: u32,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason {
            Refusal::PerIp => write!(f, "at most {} connections per IP", self.limit),
            Refusal::PerRelay => write!(f, "at most {} circuits per relay", self.limit),
            Refusal::Inbound => write!(
                f,
                "at most {} inbound connections from unknown peers",
                self.limit
            ),
        }
    }
}

impl std::error::Error for Refused {}

/// One inbound connection: pending (no peer yet) or established.
#[derive(Debug, Clone, Copy)]
struct Inbound {
    origin: Origin,
    peer: Option<PeerId>,
}

/// The door behaviour. Put it right after `connection_limits`.
pub(crate) struct Door {
    limits: ConnectionLimitsConfig,
    /// Inbound connections, pending and established.
    inbound: HashMap<ConnectionId, Inbound>,
    /// The direct origins of every established connection, by peer (what a
    /// block charges).
    direct: HashMap<ConnectionId, (PeerId, Origin)>,
    /// Peers we dialled ourselves, oldest first.
    known: HashSet<PeerId>,
    known_order: VecDeque<PeerId>,
    /// Blocked peers and the origins they stay charged to.
    charged: HashMap<PeerId, Vec<Origin>>,
    refused: Family<RefusalLabels, Counter>,
}

impl Door {
    /// A door with `limits`; its refusals are counted in `registry` as
    /// `swapmesh_connections_refused_total{reason}`.
    pub(crate) fn new(limits: ConnectionLimitsConfig, registry: &mut Registry) -> Self {
        let refused = Family::<RefusalLabels, Counter>::default();
        registry.register(
            "swapmesh_connections_refused",
            "Inbound connections refused at the door, by reason",
            refused.clone(),
        );
        Self {
            limits,
            inbound: HashMap::new(),
            direct: HashMap::new(),
            known: HashSet::new(),
            known_order: VecDeque::new(),
            charged: HashMap::new(),
            refused,
        }
    }

    /// Keeps the direct origins of `peer` charged until [`Door::discharge`]:
    /// `peer` was blocked.
    pub(crate) fn charge(&mut self, peer: PeerId) {
        let origins: HashSet<Origin> = self
            .direct
            .values()
            .filter(|(p, _)| *p == peer)
            .map(|(_, origin)| *origin)
            .collect();
        if !origins.is_empty() {
            self.charged.insert(peer, origins.into_iter().collect());
        }
    }

    /// `peer`'s block ended: its origins are free again.
    pub(crate) fn discharge(&mut self, peer: &PeerId) {
        self.charged.remove(peer);
    }

    /// Inbound connections (pending and established) and blocked peers counted
    /// against `origin`.
    fn load(&self, origin: Origin) -> u32 {
        let open = self.inbound.values().filter(|c| c.origin == origin).count();
        let blocked = self
            .charged
            .values()
            .filter(|origins| origins.contains(&origin))
            .count();
        u32::try_from(open + blocked).unwrap_or(u32::MAX)
    }

    fn refuse(&self, reason: Refusal, limit: u32) -> ConnectionDenied {
        self.refused
            .get_or_create(&vec![("reason", reason.label())])
            .inc();
        ConnectionDenied::new(Refused { reason, limit })
    }

    /// The most established inbound connections unknown peers may hold.
    fn max_unknown_inbound(&self) -> u32 {
        self.limits
            .max_established
            .saturating_sub(self.limits.outbound_reserve)
    }

    fn remember_known(&mut self, peer: PeerId) {
        if self.known.insert(peer) {
            self.known_order.push_back(peer);
            if self.known_order.len() > MAX_KNOWN
                && let Some(oldest) = self.known_order.pop_front()
            {
                self.known.remove(&oldest);
            }
        }
    }
}

impl NetworkBehaviour for Door {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_pending_inbound_connection(
        &mut self,
        connection_id: ConnectionId,
        local_addr: &Multiaddr,
        remote_addr: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        let origin = Origin::inbound(local_addr, remote_addr);
        let limit = match origin {
            Origin::Ip(_) => Some((self.limits.max_per_ip, Refusal::PerIp)),
            Origin::Relay(_) => Some((self.limits.max_per_relay, Refusal::PerRelay)),
            Origin::Uncounted => None,
        };
        if let Some((limit, reason)) = limit
            && self.load(origin) >= limit
        {
            return Err(self.refuse(reason, limit));
        }
        self.inbound
            .insert(connection_id, Inbound { origin, peer: None });
        Ok(())
    }

    fn handle_established_inbound_connection(
        &mut self,
        _connection_id: ConnectionId,
        peer: PeerId,
        _local_addr: &Multiaddr,
        _remote_addr: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        if !self.known.contains(&peer) {
            let unknown = self
                .inbound
                .values()
                .filter(|c| c.peer.is_some_and(|p| !self.known.contains(&p)))
                .count();
            let limit = self.max_unknown_inbound();
            if u32::try_from(unknown).unwrap_or(u32::MAX) >= limit {
                return Err(self.refuse(Refusal::Inbound, limit));
            }
        }
        Ok(dummy::ConnectionHandler)
    }

    fn handle_established_outbound_connection(
        &mut self,
        _connection_id: ConnectionId,
        _peer: PeerId,
        _addr: &Multiaddr,
        _role_override: Endpoint,
        _port_use: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        match event {
            FromSwarm::ConnectionEstablished(ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                ..
            }) => {
                match endpoint {
                    ConnectedPoint::Listener { .. } => {
                        if let Some(inbound) = self.inbound.get_mut(&connection_id) {
                            inbound.peer = Some(peer_id);
                        }
                    }
                    ConnectedPoint::Dialer { .. } => {
                        self.remember_known(peer_id);
                    }
                }
                if let Some(origin) = Origin::direct(endpoint.get_remote_address()) {
                    self.direct.insert(connection_id, (peer_id, origin));
                }
            }
            FromSwarm::ConnectionClosed(ConnectionClosed { connection_id, .. }) => {
                self.inbound.remove(&connection_id);
                self.direct.remove(&connection_id);
            }
            FromSwarm::ListenFailure(ListenFailure { connection_id, .. }) => {
                self.inbound.remove(&connection_id);
            }
            _ => {}
        }
    }

    fn on_connection_handler_event(
        &mut self,
        _peer: PeerId,
        _connection: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        libp2p::core::util::unreachable(event)
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> Multiaddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_circuit_counts_by_its_relay_and_a_direct_connection_by_its_ip() {
        let relay = PeerId::random();
        let local = addr(&format!("/ip4/10.0.0.1/tcp/4001/p2p/{relay}/p2p-circuit"));
        let source = addr(&format!("/p2p/{}", PeerId::random()));
        assert_eq!(Origin::inbound(&local, &source), Origin::Relay(relay));

        let local = addr("/ip4/127.0.0.1/tcp/4001");
        let remote = addr("/ip4/127.0.0.2/tcp/53000");
        assert_eq!(
            Origin::inbound(&local, &remote),
            Origin::Ip("127.0.0.2".parse().unwrap())
        );
        assert_eq!(
            Origin::inbound(&addr("/memory/1"), &addr("/memory/2")),
            Origin::Uncounted
        );
    }

    #[test]
    fn ipv6_addresses_of_one_slash_64_are_one_origin() {
        let local = addr("/ip6/::1/tcp/4001");
        let a = Origin::inbound(&local, &addr("/ip6/2001:db8:1:2::1/tcp/1"));
        let b = Origin::inbound(&local, &addr("/ip6/2001:db8:1:2:ffff::9/tcp/2"));
        let other = Origin::inbound(&local, &addr("/ip6/2001:db8:1:3::1/tcp/1"));
        assert_eq!(a, b);
        assert_ne!(a, other);
    }
}
