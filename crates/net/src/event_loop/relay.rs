//! NAT traversal: listening through a relay (and keeping that listener), the
//! automatic choice of relays while no direct address is confirmed, the relay
//! client and server, DCUtR and AutoNAT, and how reachable we are.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use libp2p::{
    Multiaddr, PeerId, autonat, core::transport::ListenerId, dcutr, metrics::Recorder,
    multiaddr::Protocol as AddrProtocol, relay,
};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::{counter::Counter, family::Family, gauge::Gauge};
use prometheus_client::registry::Registry;
use tracing::{debug, info, warn};

use super::{EventLoop, discovery::peer_of};
use crate::config::NatConfig;
use crate::error::NetworkError;
use crate::types::Reachability;

/// Listening through a relay: wanted for as long as the network runs (or, when
/// chosen automatically, while we have no direct address), renewed when the
/// relay comes back after a restart or a lost connection.
#[derive(Debug)]
pub(super) struct RelayListen {
    /// The whole `…/p2p/<relay>/p2p-circuit` address.
    circuit: Multiaddr,
    /// The relay's own address (`…/p2p/<relay>`).
    relay: Multiaddr,
    /// The listener while it lives.
    listener: Option<ListenerId>,
    /// The relay accepted our reservation on the current listener.
    reserved: bool,
    /// Chosen by the automatic relay, not asked for.
    auto: bool,
    /// When it last had a reservation, or was chosen.
    since: Instant,
}

/// How long an automatically chosen relay may go without a reservation before
/// another is tried in its place.
const RELAY_PATIENCE: Duration = Duration::from_secs(30);
/// How long a relay that let us down is passed over when choosing.
const RELAY_BACKOFF: Duration = Duration::from_secs(60);

/// What the automatic relay knows and has chosen.
#[derive(Debug)]
pub(super) struct AutoRelay {
    /// Whether it runs at all.
    enabled: bool,
    /// Most relays listened through automatically.
    max: usize,
    /// Peers whose identify shows the relay hop protocol.
    candidates: HashSet<PeerId>,
    /// Relays that let us down, and when.
    failed: HashMap<PeerId, Instant>,
    /// Counters for `/metrics`.
    reservations: Gauge,
    steps: Family<StepLabel, Counter>,
}

/// The label of an automatic relay step in `/metrics`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct StepLabel {
    step: &'static str,
}

impl AutoRelay {
    pub(super) fn new(config: &NatConfig, registry: &mut Registry) -> Self {
        let reservations = Gauge::default();
        let steps = Family::<StepLabel, Counter>::default();
        registry.register(
            "swapmesh_relay_reservations",
            "Relays holding a reservation for this node",
            reservations.clone(),
        );
        registry.register(
            "swapmesh_auto_relay_steps",
            "Automatic relay steps: a relay chosen, dropped, a reservation accepted or lost",
            steps.clone(),
        );
        Self {
            enabled: config.relay_client && config.auto_relay && config.max_relays > 0,
            max: config.max_relays,
            candidates: HashSet::new(),
            failed: HashMap::new(),
            reservations,
            steps,
        }
    }

    fn step(&self, step: &'static str) {
        self.steps.get_or_create(&StepLabel { step }).inc();
    }
}

impl EventLoop {
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
                reserved: false,
                auto: false,
                since: Instant::now(),
            },
        );
        self.renew_relay_listens();
        Ok(())
    }

    /// Listens through each wanted relay that has no listener: now if we are
    /// connected to it, else after dialling it.
    pub(super) fn renew_relay_listens(&mut self) {
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

    /// A connection to `peer` opened: if it is a relay we want to listen through
    /// and have no listener on, listen through it now.
    pub(super) fn on_relay_connected(&mut self, peer: PeerId) {
        if self
            .relay_listens
            .get(&peer)
            .is_some_and(|r| r.listener.is_none())
        {
            self.renew_relay_listens();
        }
    }

    /// A listener closed: if it listened through a relay, it is renewed at the
    /// next housekeeping tick.
    pub(super) fn on_listener_closed(&mut self, listener_id: ListenerId) {
        for (peer, relay) in &mut self.relay_listens {
            if relay.listener == Some(listener_id) {
                relay.listener = None;
                if relay.reserved {
                    relay.reserved = false;
                    info!(relay = %peer, "relay reservation lost");
                    self.auto_relay.step("lost");
                }
            }
        }
        self.count_reservations();
    }

    pub(super) fn on_relay_client(&mut self, event: relay::client::Event) {
        match event {
            relay::client::Event::ReservationReqAccepted {
                relay_peer_id,
                renewal,
                ..
            } => {
                if let Some(r) = self.relay_listens.get_mut(&relay_peer_id) {
                    r.reserved = true;
                    r.since = Instant::now();
                }
                if !renewal {
                    info!(relay = %relay_peer_id, "relay reservation accepted");
                    self.auto_relay.step("accepted");
                    // Reachable again (a first reservation, or one back after the
                    // relay restarted and forgot the providers): announce our
                    // topics and look for their other providers soon, rather than
                    // at the next periodic round — once the DHT knows a peer again
                    // (identify may not have refilled it yet).
                    self.announce_due = true;
                }
                self.count_reservations();
            }
            other => debug!(event = ?other, "relay client"),
        }
    }

    fn count_reservations(&self) {
        let reserved = self.relay_listens.values().filter(|r| r.reserved).count();
        self.auto_relay.reservations.set(reserved as i64);
    }

    /// Identify told us what `peer` speaks: one that relays is a candidate.
    pub(super) fn note_relay_candidate(&mut self, peer: PeerId, relays: bool) {
        if relays && self.auto_relay.candidates.insert(peer) {
            debug!(%peer, "a relay candidate");
        }
    }

    /// Do we have a confirmed external address that is not a relayed one?
    fn direct_addresses(&self) -> Vec<Multiaddr> {
        self.swarm
            .external_addresses()
            .filter(|a| !a.iter().any(|p| p == AddrProtocol::P2pCircuit))
            .cloned()
            .collect()
    }

    /// The address we reach `peer` at directly: that of an outbound connection.
    fn dialed_address(&self, peer: &PeerId) -> Option<Multiaddr> {
        self.connections
            .values()
            .find(|c| c.peer == *peer && c.outbound && !c.relayed)
            .map(|c| c.address.clone())
    }

    /// `peer` through each relay we know a direct address of
    /// (`…/p2p/<relay>/p2p-circuit/p2p/<peer>`): how a provider found behind NAT
    /// is reached when its own addresses are not known (or were dropped while
    /// its relay was away).
    pub(super) fn routes_through_relays(&self, peer: PeerId) -> Vec<Multiaddr> {
        self.auto_relay
            .candidates
            .iter()
            .chain(self.relay_listens.keys())
            .filter(|relay| **relay != peer)
            .filter_map(|relay| Some(with_peer(self.dialed_address(relay)?, *relay)))
            .map(|relay| {
                relay
                    .with(AddrProtocol::P2pCircuit)
                    .with(AddrProtocol::P2p(peer))
            })
            .collect::<HashSet<_>>()
            .into_iter()
            .collect()
    }

    /// The automatic relay, each housekeeping tick: with a direct address it
    /// drops the relays it chose; without, it drops those that went
    /// [`RELAY_PATIENCE`] without a reservation and chooses others up to the
    /// most it may have.
    pub(super) fn auto_relay_tick(&mut self) {
        if !self.auto_relay.enabled {
            return;
        }
        let now = Instant::now();
        let direct = !self.direct_addresses().is_empty();
        let dropped: Vec<PeerId> = self
            .relay_listens
            .iter()
            .filter(|(_, r)| r.auto && (direct || (!r.reserved && now - r.since > RELAY_PATIENCE)))
            .map(|(peer, _)| *peer)
            .collect();
        for peer in dropped {
            if let Some(r) = self.relay_listens.remove(&peer) {
                if let Some(listener) = r.listener {
                    self.swarm.remove_listener(listener);
                }
                if direct {
                    info!(relay = %peer, "a direct address is confirmed: no longer listening through the relay");
                } else {
                    info!(relay = %peer, "no reservation from the relay: trying another");
                    self.auto_relay.failed.insert(peer, now);
                }
                self.auto_relay.step("dropped");
            }
        }
        self.count_reservations();
        if direct {
            return;
        }
        self.auto_relay
            .failed
            .retain(|_, at| now - *at < RELAY_BACKOFF);
        let chosen = self.relay_listens.values().filter(|r| r.auto).count();
        let mut wanted = self.auto_relay.max.saturating_sub(chosen);
        let mut candidates: Vec<(PeerId, Multiaddr)> = self
            .auto_relay
            .candidates
            .iter()
            .filter(|peer| !self.relay_listens.contains_key(peer))
            .filter_map(|peer| Some((*peer, self.dialed_address(peer)?)))
            .collect();
        // Those that did not let us down first; a failed one only if nothing else.
        candidates.sort_by_key(|(peer, _)| self.auto_relay.failed.contains_key(peer));
        for (peer, address) in candidates {
            if wanted == 0 {
                break;
            }
            let relay = with_peer(address, peer);
            let circuit = relay.clone().with(AddrProtocol::P2pCircuit);
            info!(relay = %peer, address = %circuit, "no direct address: listening through a relay");
            self.auto_relay.step("chosen");
            self.relay_listens.insert(
                peer,
                RelayListen {
                    circuit,
                    relay,
                    listener: None,
                    reserved: false,
                    auto: true,
                    since: now,
                },
            );
            wanted -= 1;
        }
        self.renew_relay_listens();
    }

    /// How others can reach us.
    pub(super) fn reachability(&self) -> Reachability {
        let direct = self.direct_addresses();
        if !direct.is_empty() {
            return Reachability::Direct { addresses: direct };
        }
        let relays: Vec<PeerId> = self
            .relay_listens
            .iter()
            .filter(|(_, r)| r.reserved)
            .map(|(peer, _)| *peer)
            .collect();
        if !relays.is_empty() {
            let addresses = self
                .swarm
                .listeners()
                .filter(|a| a.iter().any(|p| p == AddrProtocol::P2pCircuit))
                .cloned()
                .collect();
            return Reachability::Relayed { relays, addresses };
        }
        let reason = if !self.auto_relay.enabled && self.relay_listens.is_empty() {
            "no confirmed address, and the automatic relay is off".to_owned()
        } else if self.auto_relay.candidates.is_empty() && self.relay_listens.is_empty() {
            "no confirmed address, and no relay known".to_owned()
        } else {
            "no confirmed address, and no relay has given a reservation yet".to_owned()
        };
        Reachability::Unreachable { reason }
    }

    pub(super) fn on_dcutr(&self, event: dcutr::Event) {
        self.metrics.record(&event);
        debug!(?event, "dcutr");
    }

    pub(super) fn on_autonat_client(&self, event: autonat::v2::client::Event) {
        let autonat::v2::client::Event {
            tested_addr,
            server,
            result,
            ..
        } = &event;
        debug!(address = %tested_addr, %server, ok = result.is_ok(), "autonat probe");
    }

    pub(super) fn on_relay_server(&self, event: relay::Event) {
        self.metrics.record(&event);
        debug!(?event, "relay server");
    }

    pub(super) fn on_autonat_server(&self, event: &autonat::v2::server::Event) {
        debug!(?event, "autonat server");
    }
}

/// `address` ending in `/p2p/<peer>` (added if it has none).
fn with_peer(address: Multiaddr, peer: PeerId) -> Multiaddr {
    if address.iter().any(|p| matches!(p, AddrProtocol::P2p(_))) {
        address
    } else {
        address.with(AddrProtocol::P2p(peer))
    }
}

/// The relay part of a `…/p2p/<relay>/p2p-circuit` address (everything before
/// `/p2p-circuit`), if it is one.
fn relay_of(address: &Multiaddr) -> Option<Multiaddr> {
    let position = address.iter().position(|p| p == AddrProtocol::P2pCircuit)?;
    Some(address.iter().take(position).collect())
}
