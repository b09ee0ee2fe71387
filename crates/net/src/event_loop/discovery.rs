//! Discovery: mDNS on the LAN, Kademlia fed by identify, bootstrap peers, and
//! the providers of each joined topic.

use std::{
    collections::{HashMap, HashSet},
    time::{Duration, Instant},
};

use libp2p::{
    Multiaddr, PeerId, identify, kad, mdns, metrics::Recorder, multiaddr::Protocol as AddrProtocol,
};
use sha2::{Digest, Sha256};
use tracing::{debug, trace, warn};

use super::EventLoop;
use crate::{
    behaviour::KAD_PROTOCOL,
    error::NetworkError,
    types::{Discovery, NetworkEvent},
};

/// Listen addresses of one peer kept from identify: a peer cannot make us store
/// (or feed Kademlia) more than this many.
const MAX_IDENTIFY_ADDRESSES: usize = 16;

/// (peer, topic) provider sightings remembered to report each only once; beyond
/// this many the memory is cleared (and a few sightings are reported again).
const MAX_REPORTED_PROVIDERS: usize = 10_000;

/// A completed Kademlia bootstrap starts a discovery round unless one ran less
/// than this long ago (automatic bootstraps can come in bursts).
const MIN_ROUND_GAP: Duration = Duration::from_secs(5);

impl EventLoop {
    /// Adds bootstrap peers: each address with a `/p2p/<peer>` joins Kademlia's
    /// routing table (which then bootstraps on its own), and each is dialled.
    /// Returns the first dial error, after trying them all.
    pub(super) fn bootstrap(&mut self, addresses: Vec<Multiaddr>) -> Result<(), NetworkError> {
        let mut first_error = None;
        for address in addresses {
            let result = match peer_of(&address) {
                Some(peer) => {
                    if let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() {
                        kad.add_address(&peer, address.clone());
                    }
                    self.dial_peer(peer, vec![address.clone()])
                }
                None => self.dial(address.clone()),
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
    pub(super) fn discovery_round(&mut self, announce: bool) {
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

    /// Identify told us a peer's listen addresses: Kademlia gets them (if the
    /// peer speaks our DHT), the app gets them for its address book.
    pub(super) fn on_identify(&mut self, event: identify::Event) {
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
    pub(super) fn on_mdns(&mut self, event: mdns::Event) {
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

    pub(super) fn on_kad(&mut self, event: kad::Event) {
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
}

/// The Kademlia key under which the members of `topic` announce themselves:
/// sha256 of the topic name (DESIGN §4).
pub(crate) fn provider_key(topic: &str) -> kad::RecordKey {
    kad::RecordKey::new(&Sha256::digest(topic.as_bytes()))
}

/// The peer an address ends with (`…/p2p/<peer>`), if any.
pub(super) fn peer_of(address: &Multiaddr) -> Option<PeerId> {
    match address.iter().last() {
        Some(AddrProtocol::P2p(peer)) => Some(peer),
        _ => None,
    }
}
