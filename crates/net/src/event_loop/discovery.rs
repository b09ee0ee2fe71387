//! Discovery: mDNS on the LAN, Kademlia fed by identify, bootstrap peers, the
//! providers of each joined topic, and lookups of one peer's addresses.

use std::{
    collections::{HashMap, HashSet},
    time::{Duration, Instant},
};

use libp2p::{
    Multiaddr, PeerId, gossipsub::TopicHash, identify, kad, mdns, metrics::Recorder,
    multiaddr::Protocol as AddrProtocol,
};
use sha2::{Digest, Sha256};
use tracing::{debug, trace, warn};

use super::{EventLoop, command::Reply};
use crate::{
    behaviour::{KAD_PROTOCOL, RELAY_HOP_PROTOCOL},
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

/// A provider lookup stops once it has found this many providers of its topic
/// (or heard from [`ENOUGH_ANSWERS`] peers that hold some), instead of walking
/// on to the K peers closest to the key: each of those holds the same records,
/// and gossipsub needs a few peers per topic, not all.
const ENOUGH_PROVIDERS: usize = 8;
/// See [`ENOUGH_PROVIDERS`].
const ENOUGH_ANSWERS: usize = 3;

/// ... and only while the routing table is filling: the last round saw fewer
/// peers than this, and the table has at least doubled since. Kademlia
/// bootstraps again after every new peer while it knows fewer than K; a
/// round after each (announce and look up every topic, tens of requests per
/// topic) made a city of freshly started nodes spend its CPU on discovery.
const ROUND_TABLE_FULL: usize = kad::K_VALUE.get();

/// What a provider lookup has found so far ([`EventLoop::enough_providers`]).
#[derive(Debug, Default)]
pub(super) struct ProviderLookup {
    /// The distinct providers found (every peer near the key holds the same
    /// records, so the same providers come back again and again).
    providers: HashSet<PeerId>,
    /// Answers that held at least one provider. Kademlia reports every
    /// answer, most of them empty while the walk is still far from the key:
    /// those must not end it.
    answers: usize,
}

/// A Kademlia lookup of one peer's addresses
/// ([`NetworkHandle::find_peer`](crate::NetworkHandle::find_peer)) and everyone
/// waiting for its answer. Dropped with the loop, which the callers read as
/// `Stopped`.
#[derive(Debug)]
pub(super) struct PeerLookup {
    peer: PeerId,
    replies: Vec<Reply<Vec<Multiaddr>>>,
}

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
    ///
    /// Between announcements (`announce` false: the minute's lookups) a topic
    /// whose gossip mesh already has `mesh_n_low` peers is skipped: a lookup
    /// walks tens of peers, and the connections it opens idle out again, so
    /// looking up every topic every minute kept a settled city of 200 nodes
    /// busy with handshakes (160 connections opened or closed per node per
    /// minute, 1.8 cores; issue 27's `city` bench). The announcement round
    /// still looks up every topic, which joins meshes that formed apart.
    pub(super) fn discovery_round(&mut self, announce: bool) {
        let full: HashSet<kad::RecordKey> = if announce {
            HashSet::new()
        } else {
            let gossipsub = &self.swarm.behaviour().gossipsub;
            self.provider_keys
                .iter()
                .filter(|(_, topic)| {
                    gossipsub
                        .mesh_peers(&TopicHash::from_raw(topic.as_str()))
                        .count()
                        >= self.gossip.mesh_n_low
                })
                .map(|(key, _)| key.clone())
                .collect()
        };
        let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() else {
            return;
        };
        self.last_round = Some(Instant::now());
        self.last_round_table = kad.kbuckets().map(|b| b.num_entries()).sum();
        debug!(
            topics = self.provider_keys.len(),
            announce,
            table = self.last_round_table,
            "discovery round"
        );
        for key in self.provider_keys.keys() {
            if announce
                && self.announced.contains(key)
                && let Err(e) = kad.start_providing(key.clone())
            {
                warn!(error = %e, "could not store our own provider record");
            }
            if full.contains(key) {
                continue;
            }
            let id = kad.get_providers(key.clone());
            self.provider_lookups.insert(id, ProviderLookup::default());
        }
    }

    /// A provider lookup's `id` heard from one more peer, which holds `found`
    /// providers (often none): finishes it once it has enough
    /// ([`ENOUGH_PROVIDERS`], [`ENOUGH_ANSWERS`]).
    fn enough_providers(&mut self, id: kad::QueryId, found: &HashSet<PeerId>) {
        let Some(lookup) = self.provider_lookups.get_mut(&id) else {
            return;
        };
        // Ourselves, found near the key of a topic we announce, is no answer.
        let me = self.local_peer_id;
        lookup
            .providers
            .extend(found.iter().copied().filter(|peer| *peer != me));
        if found.iter().all(|peer| *peer == me) {
            return;
        }
        lookup.answers += 1;
        if lookup.providers.len() >= ENOUGH_PROVIDERS || lookup.answers >= ENOUGH_ANSWERS {
            self.provider_lookups.remove(&id);
            let kad = self.swarm.behaviour_mut().kad.as_mut();
            if let Some(mut query) = kad.and_then(|kad| kad.query_mut(&id)) {
                query.finish();
            }
        }
    }

    /// Whether a finished bootstrap should start a discovery round: the
    /// routing table has grown since the last one, which reached too few
    /// peers ([`ROUND_TABLE_FULL`], [`MIN_ROUND_GAP`]).
    fn table_filling(&mut self) -> bool {
        if self
            .last_round
            .is_some_and(|at| at.elapsed() < MIN_ROUND_GAP)
        {
            return false;
        }
        let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() else {
            return false;
        };
        let table: usize = kad.kbuckets().map(|b| b.num_entries()).sum();
        self.last_round.is_none()
            || (self.last_round_table < ROUND_TABLE_FULL
                && table >= (2 * self.last_round_table).max(1))
    }

    /// Runs the discovery round a reservation asked for, once Kademlia's
    /// routing table holds a peer to ask.
    pub(super) fn announce_if_due(&mut self) {
        if !self.announce_due {
            return;
        }
        let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() else {
            self.announce_due = false;
            return;
        };
        if kad.kbuckets().any(|bucket| bucket.num_entries() > 0) {
            self.announce_due = false;
            self.discovery_round(true);
        }
    }

    /// Answers with the addresses of `peer`: the known ones at once, or else
    /// those a Kademlia lookup finds when it ends ([`Self::on_peer_lookup`]).
    /// A lookup already running for `peer` gets one more waiting caller.
    pub(super) fn find_peer(&mut self, peer: PeerId, reply: Reply<Vec<Multiaddr>>) {
        if peer == self.local_peer_id {
            let own = self
                .swarm
                .external_addresses()
                .chain(self.swarm.listeners());
            let _ = reply.send(dialable(peer, own.cloned()));
            return;
        }
        let known = self.known_addresses(peer);
        if !known.is_empty() {
            let _ = reply.send(known);
            return;
        }
        // A scan: lookups in flight are few (each is a walk of the DHT).
        if let Some(lookup) = self.peer_lookups.values_mut().find(|l| l.peer == peer) {
            lookup.replies.push(reply);
            return;
        }
        let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() else {
            let _ = reply.send(Vec::new());
            return;
        };
        // Ends within kad's query timeout, with `Ok` or `Err(Timeout)`.
        let id = kad.get_closest_peers(peer);
        debug!(%peer, ?id, "looking the peer up in Kademlia");
        self.peer_lookups.insert(
            id,
            PeerLookup {
                peer,
                replies: vec![reply],
            },
        );
    }

    /// The lookup `id` ended with these closest peers (all of them, or those
    /// found before it timed out). If its peer is among them, Kademlia and the
    /// request-response behaviours learn its addresses; every caller gets what
    /// is known then.
    fn on_peer_lookup(&mut self, id: kad::QueryId, closest: Vec<kad::PeerInfo>) {
        let Some(PeerLookup { peer, replies }) = self.peer_lookups.remove(&id) else {
            return; // some other query for closest peers
        };
        let found: Vec<Multiaddr> = closest
            .into_iter()
            .filter(|info| info.peer_id == peer)
            .flat_map(|info| info.addrs)
            .collect();
        debug!(%peer, ?found, "peer lookup ended");
        if let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() {
            for address in &found {
                kad.add_address(&peer, address.clone());
            }
        }
        for address in &found {
            // Kept by request-response too, in case Kademlia's bucket is full.
            self.swarm.add_peer_address(peer, address.clone());
        }
        let mut addresses = self.known_addresses(peer);
        addresses.extend(found);
        let addresses = dialable(peer, addresses);
        for reply in replies {
            let _ = reply.send(addresses.clone());
        }
    }

    /// The addresses we know for `peer`: in Kademlia's routing table, and of
    /// the connections we dialled (the address of an inbound one is usually a
    /// port the peer does not listen on).
    fn known_addresses(&mut self, peer: PeerId) -> Vec<Multiaddr> {
        let mut addresses = Vec::new();
        if let Some(kad) = self.swarm.behaviour_mut().kad.as_mut()
            && let Some(bucket) = kad.kbucket(peer)
            && let Some(entry) = bucket.iter().find(|e| *e.node.key.preimage() == peer)
        {
            addresses.extend(entry.node.value.iter().cloned());
        }
        let dialled = self
            .connections
            .values()
            .filter(|c| c.peer == peer && c.outbound);
        addresses.extend(dialled.map(|c| c.address.clone()));
        dialable(peer, addresses)
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
            // A neighbour behind NAT is reachable through a relay, most likely
            // one we use too: try those routes besides the addresses known.
            let routes = self.routes_through_relays(peer);
            if !self.swarm.is_connected(&peer)
                && let Err(error) = self.dial_peer(peer, routes)
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
        let relays = info
            .protocols
            .iter()
            .any(|p| p.as_ref() == RELAY_HOP_PROTOCOL);
        self.note_relay_candidate(peer_id, relays);
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
            kad::Event::OutboundQueryProgressed {
                id, result, step, ..
            } => {
                if step.last {
                    self.provider_lookups.remove(&id);
                }
                self.on_query_progress(id, result);
            }
            kad::Event::InboundRequest { request } => self.on_kad_insert(request),
            other => trace!(event = ?other, "kademlia"),
        }
    }

    /// A step of our query `id`.
    fn on_query_progress(&mut self, id: kad::QueryId, result: kad::QueryResult) {
        match result {
            kad::QueryResult::GetProviders(Ok(kad::GetProvidersOk::FoundProviders {
                key,
                providers,
            })) => {
                self.enough_providers(id, &providers);
                self.on_providers(&key, providers);
            }
            kad::QueryResult::Bootstrap(Ok(kad::BootstrapOk { num_remaining, .. })) => {
                if num_remaining == 0 && self.table_filling() {
                    // A fresh routing table: announce and look up now.
                    self.discovery_round(true);
                }
            }
            // One event per query, when it ends.
            kad::QueryResult::GetClosestPeers(Ok(kad::GetClosestPeersOk { peers, .. })) => {
                self.on_peer_lookup(id, peers);
            }
            kad::QueryResult::GetClosestPeers(Err(kad::GetClosestPeersError::Timeout {
                peers,
                ..
            })) => {
                debug!(?id, "Kademlia lookup timed out");
                self.on_peer_lookup(id, peers);
            }
            other => trace!(result = ?other, "kademlia query"),
        }
    }
}

impl EventLoop {
    /// An inbound Kademlia put (the behaviour filters every insert): provider
    /// records go to our capped store, value records nowhere.
    fn on_kad_insert(&mut self, request: kad::InboundRequest) {
        let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() else {
            return;
        };
        match request {
            kad::InboundRequest::AddProvider {
                record: Some(record),
            } => {
                let (key, provider) = (record.key.clone(), record.provider);
                if let Err(error) = kad::store::RecordStore::add_provider(kad.store_mut(), record) {
                    debug!(%provider, ?key, %error, "provider record refused");
                }
            }
            kad::InboundRequest::PutRecord {
                source,
                record: Some(record),
                ..
            } => debug!(peer = %source, key = ?record.key, "value record refused"),
            _ => {}
        }
    }
}

/// The Kademlia key under which the members of `topic` announce themselves:
/// sha256 of the topic name (DESIGN §4).
pub(crate) fn provider_key(topic: &str) -> kad::RecordKey {
    kad::RecordKey::new(&Sha256::digest(topic.as_bytes()))
}

/// `addresses` of `peer`, each ending with `/p2p/<peer>`, first occurrences
/// only; an address naming another peer is dropped.
fn dialable(peer: PeerId, addresses: impl IntoIterator<Item = Multiaddr>) -> Vec<Multiaddr> {
    let mut out: Vec<Multiaddr> = Vec::new();
    for address in addresses {
        if let Ok(address) = address.with_p2p(peer)
            && !out.contains(&address)
        {
            out.push(address);
        }
    }
    out
}

/// The peer an address ends with (`…/p2p/<peer>`), if any.
pub(super) fn peer_of(address: &Multiaddr) -> Option<PeerId> {
    match address.iter().last() {
        Some(AddrProtocol::P2p(peer)) => Some(peer),
        _ => None,
    }
}
