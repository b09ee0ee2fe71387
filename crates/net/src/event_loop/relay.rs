//! NAT traversal: listening through a relay (and keeping that listener), the
//! relay client and server, DCUtR and AutoNAT.

use libp2p::{
    Multiaddr, PeerId, autonat, core::transport::ListenerId, dcutr, metrics::Recorder,
    multiaddr::Protocol as AddrProtocol, relay,
};
use tracing::{debug, info, warn};

use super::{EventLoop, discovery::peer_of};
use crate::error::NetworkError;

/// Listening through a relay: wanted for as long as the network runs, renewed
/// when the relay comes back after a restart or a lost connection.
#[derive(Debug)]
pub(super) struct RelayListen {
    /// The whole `…/p2p/<relay>/p2p-circuit` address.
    circuit: Multiaddr,
    /// The relay's own address (`…/p2p/<relay>`).
    relay: Multiaddr,
    /// The listener while it lives.
    listener: Option<ListenerId>,
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
        for relay in self.relay_listens.values_mut() {
            if relay.listener == Some(listener_id) {
                relay.listener = None;
            }
        }
    }

    pub(super) fn on_relay_client(&self, event: relay::client::Event) {
        match event {
            relay::client::Event::ReservationReqAccepted { relay_peer_id, .. } => {
                info!(relay = %relay_peer_id, "relay reservation accepted");
            }
            other => debug!(event = ?other, "relay client"),
        }
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

/// The relay part of a `…/p2p/<relay>/p2p-circuit` address (everything before
/// `/p2p-circuit`), if it is one.
fn relay_of(address: &Multiaddr) -> Option<Multiaddr> {
    let position = address.iter().position(|p| p == AddrProtocol::P2pCircuit)?;
    Some(address.iter().take(position).collect())
}
