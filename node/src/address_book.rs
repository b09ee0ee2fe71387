//! [`AddressBook`]: the peers this node has met and where they listen, kept in the
//! store so a node restarted with no bootstrap address finds its neighbours again.
//!
//! Only addresses that answered are stored: one we dialled ourselves and that
//! answered as the peer ([`NetworkEvent::AddressVerified`]), or an invite's.
//! What a peer reports for itself (identify) is only a candidate: the book picks
//! the ones it does not hold yet ([`AddressBook::to_verify`]), the node dials
//! them, and a success comes back as a verified address. Otherwise a peer could
//! fill the book with addresses that are not its own, and our restart would dial
//! whoever it named. Checks are rate-limited, per peer and in all.
//!
//! [`NetworkEvent::AddressVerified`]: swapmesh_net::NetworkEvent::AddressVerified

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use swapmesh_net::{Multiaddr, PeerId, multiaddr::Protocol};
use swapmesh_store::{PeerEntry, Store};
use tracing::{debug, warn};

use crate::clock::Clock;

/// Addresses remembered per peer.
const MAX_PEER_ADDRESSES: usize = 8;
/// Peers kept; the least recently seen go first.
const MAX_PEERS: usize = 1024;
/// A peer's reported addresses are checked at most this often.
const VERIFY_PEER_EVERY: Duration = Duration::from_secs(10 * 60);
/// Address checks in all, per [`VERIFY_WINDOW`].
const VERIFY_PER_WINDOW: usize = 30;
const VERIFY_WINDOW: Duration = Duration::from_secs(60);
/// Reported addresses dialled per check.
const VERIFY_ADDRESSES: usize = 4;

/// The address book of one node.
#[derive(Debug)]
pub(crate) struct AddressBook {
    store: Store,
    clock: Arc<dyn Clock>,
    me: PeerId,
    checks: Mutex<Checks>,
}

/// When addresses were last checked, per peer and in all.
#[derive(Debug, Default)]
struct Checks {
    per_peer: HashMap<PeerId, Instant>,
    recent: Vec<Instant>,
}

impl AddressBook {
    pub(crate) fn new(store: Store, clock: Arc<dyn Clock>, me: PeerId) -> Self {
        Self {
            store,
            clock,
            me,
            checks: Mutex::default(),
        }
    }

    /// Of the addresses `peer` reports for itself, those worth a dial to check
    /// them: not held already, not unspecified, at most [`VERIFY_ADDRESSES`];
    /// `None` when there are none or the check's rate is used up.
    pub(crate) fn to_verify(&self, peer: PeerId, reported: &[Multiaddr]) -> Option<Vec<Multiaddr>> {
        if peer == self.me {
            return None;
        }
        let held = self.addresses_of(peer);
        let mut candidates: Vec<Multiaddr> = reported
            .iter()
            .map(|a| without_peer(a, peer))
            .filter(|a| dialable(a) && !held.contains(a))
            .collect();
        candidates.dedup();
        candidates.truncate(VERIFY_ADDRESSES);
        if candidates.is_empty() {
            return None;
        }
        let now = Instant::now();
        let mut checks = self.checks.lock().expect("address checks lock");
        checks
            .recent
            .retain(|at| now.duration_since(*at) < VERIFY_WINDOW);
        checks
            .per_peer
            .retain(|_, at| now.duration_since(*at) < VERIFY_PEER_EVERY);
        if checks.recent.len() >= VERIFY_PER_WINDOW || checks.per_peer.contains_key(&peer) {
            return None;
        }
        checks.recent.push(now);
        checks.per_peer.insert(peer, now);
        Some(candidates)
    }

    /// Notes that we exchanged records with `peer` (a sync session finished):
    /// it comes first when the node redials at start.
    pub(crate) fn exchanged(&self, peer: PeerId) {
        let key = peer.to_bytes();
        if let Ok(Some(mut entry)) = self.store.peer(&key) {
            entry.exchanged = Some(self.clock.now());
            if let Err(e) = self.store.put_peer(&key, &entry) {
                debug!(%peer, error = %e, "could not note an exchange");
            }
        }
    }

    /// Remembers `addresses` of `peer`, before the ones known already, with the
    /// time it was seen. Failures only cost a reconnect later.
    pub(crate) fn remember(&self, peer: PeerId, addresses: &[Multiaddr]) {
        if peer == self.me {
            return;
        }
        let key = peer.to_bytes();
        let known = self.store.peer(&key).ok().flatten();
        let exchanged = known.as_ref().and_then(|e| e.exchanged);
        let known = known.map(|e| e.addresses);
        let mut merged: Vec<String> = Vec::new();
        let fresh = addresses.iter().map(|a| without_peer(a, peer).to_string());
        for address in fresh.chain(known.into_iter().flatten()) {
            if !merged.contains(&address) {
                merged.push(address);
            }
        }
        merged.truncate(MAX_PEER_ADDRESSES);
        if merged.is_empty() {
            return;
        }
        let entry = PeerEntry {
            addresses: merged,
            last_seen: self.clock.now(),
            exchanged,
        };
        if let Err(e) = self.store.put_peer(&key, &entry) {
            debug!(%peer, error = %e, "could not remember a peer");
        }
    }

    /// The addresses remembered for `peer`, most recent first.
    pub(crate) fn addresses_of(&self, peer: PeerId) -> Vec<Multiaddr> {
        match self.store.peer(&peer.to_bytes()) {
            Ok(Some(entry)) => entry
                .addresses
                .iter()
                .filter_map(|a| a.parse().ok())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Dials `peer` at the addresses remembered for it, else where a Kademlia
    /// lookup finds it. Whether there was anywhere to dial and the dial went.
    pub(crate) async fn reach(&self, net: &swapmesh_net::NetworkHandle, peer: PeerId) -> bool {
        let mut addresses = self.addresses_of(peer);
        if addresses.is_empty() {
            addresses = net.find_peer(peer).await.unwrap_or_default();
        }
        if addresses.is_empty() {
            return false;
        }
        net.dial_peer(peer, addresses).await.is_ok()
    }

    /// Forgets a peer (a blocked one is not worth dialling after a restart).
    pub(crate) fn forget(&self, peer: PeerId) {
        let _ = self.store.remove_peer(&peer.to_bytes());
    }

    /// Up to `limit` peers to dial with their addresses: first those we
    /// exchanged records with, then the others, each most recently seen first.
    /// Forgets the oldest beyond the book's size, and entries that do not parse.
    pub(crate) fn to_redial(&self, limit: usize) -> Vec<(PeerId, Vec<Multiaddr>)> {
        let mut known = match self.store.peers() {
            Ok(known) => known,
            Err(e) => {
                warn!(error = %e, "could not read the address book");
                return Vec::new();
            }
        };
        known.sort_by_key(|(_, entry)| std::cmp::Reverse(entry.last_seen));
        for (peer, _) in known.iter().skip(MAX_PEERS) {
            let _ = self.store.remove_peer(peer);
        }
        known.truncate(MAX_PEERS);
        known.sort_by_key(|(_, entry)| {
            (
                entry.exchanged.is_none(),
                std::cmp::Reverse(entry.last_seen),
            )
        });
        let mut out = Vec::new();
        for (peer_bytes, entry) in known.into_iter().take(limit) {
            let Ok(peer) = PeerId::from_bytes(&peer_bytes) else {
                let _ = self.store.remove_peer(&peer_bytes);
                continue;
            };
            if peer == self.me {
                continue;
            }
            let addresses = entry
                .addresses
                .iter()
                .filter_map(|a| a.parse().ok())
                .collect();
            out.push((peer, addresses));
        }
        out
    }
}

/// Whether `address` can be dialled at all (not `0.0.0.0` or `::`).
fn dialable(address: &Multiaddr) -> bool {
    match address.iter().next() {
        Some(Protocol::Ip4(ip)) => !ip.is_unspecified(),
        Some(Protocol::Ip6(ip)) => !ip.is_unspecified(),
        Some(_) => true,
        None => false,
    }
}

/// `address` without a trailing `/p2p/<peer>`.
fn without_peer(address: &Multiaddr, peer: PeerId) -> Multiaddr {
    let mut address = address.clone();
    if address.iter().last() == Some(Protocol::P2p(peer)) {
        address.pop();
    }
    address
}

#[cfg(test)]
mod tests {
    use swapmesh_protocol::Timestamp;

    use super::*;
    use crate::clock::ManualClock;

    fn book() -> (AddressBook, ManualClock) {
        let clock = ManualClock::at(Timestamp(1_000_000));
        let store = Store::temporary().unwrap();
        let book = AddressBook::new(store, Arc::new(clock.clone()), PeerId::random());
        (book, clock)
    }

    fn addr(port: u16) -> Multiaddr {
        format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap()
    }

    #[test]
    fn the_redial_prefers_peers_we_exchanged_records_with() {
        let (book, clock) = book();
        let (traded, recent) = (PeerId::random(), PeerId::random());
        book.remember(traded, &[addr(1)]);
        book.exchanged(traded);
        clock.advance(60);
        book.remember(recent, &[addr(2)]);
        let order: Vec<PeerId> = book.to_redial(10).into_iter().map(|(p, _)| p).collect();
        assert_eq!(order, vec![traded, recent]);
        // A later sighting keeps the exchange.
        book.remember(traded, &[addr(3)]);
        assert_eq!(book.to_redial(1)[0].0, traded);
    }

    #[test]
    fn reported_addresses_are_checked_once_per_peer_and_only_new_ones() {
        let (book, _) = book();
        let peer = PeerId::random();
        book.remember(peer, &[addr(1)]);
        let unspecified: Multiaddr = "/ip4/0.0.0.0/tcp/9".parse().unwrap();
        let check = book.to_verify(peer, &[addr(1), addr(2), unspecified]);
        assert_eq!(check, Some(vec![addr(2)]));
        assert_eq!(book.to_verify(peer, &[addr(4)]), None, "checked already");
        // Nothing new: no check, and none used up.
        let other = PeerId::random();
        book.remember(other, &[addr(5)]);
        assert_eq!(book.to_verify(other, &[addr(5)]), None);
        assert!(book.to_verify(other, &[addr(6)]).is_some());
    }

    #[test]
    fn checks_in_all_are_rate_limited() {
        let (book, _) = book();
        let allowed = (0..100)
            .filter(|n| book.to_verify(PeerId::random(), &[addr(*n)]).is_some())
            .count();
        assert_eq!(allowed, VERIFY_PER_WINDOW);
    }
}
