//! [`AddressBook`]: the peers this node has met and where they listen, kept in the
//! store so a node restarted with no bootstrap address finds its neighbours again.

use std::sync::Arc;

use swapmesh_net::{Multiaddr, PeerId, multiaddr::Protocol};
use swapmesh_store::{PeerEntry, Store};
use tracing::{debug, warn};

use crate::clock::Clock;

/// Addresses remembered per peer.
const MAX_PEER_ADDRESSES: usize = 8;
/// Peers kept; the least recently seen go first.
const MAX_PEERS: usize = 1024;

/// The address book of one node.
#[derive(Debug)]
pub(crate) struct AddressBook {
    store: Store,
    clock: Arc<dyn Clock>,
    me: PeerId,
}

impl AddressBook {
    pub(crate) fn new(store: Store, clock: Arc<dyn Clock>, me: PeerId) -> Self {
        Self { store, clock, me }
    }

    /// Remembers `addresses` of `peer`, before the ones known already, with the
    /// time it was seen. Failures only cost a reconnect later.
    pub(crate) fn remember(&self, peer: PeerId, addresses: &[Multiaddr]) {
        if peer == self.me {
            return;
        }
        let key = peer.to_bytes();
        let known = self.store.peer(&key).ok().flatten().map(|e| e.addresses);
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

    /// Forgets a peer (a blocked one is not worth dialling after a restart).
    pub(crate) fn forget(&self, peer: PeerId) {
        let _ = self.store.remove_peer(&peer.to_bytes());
    }

    /// Up to `limit` peers to dial, most recently seen first, with their
    /// addresses. Forgets the oldest beyond the book's size, and entries that do
    /// not parse.
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

/// `address` without a trailing `/p2p/<peer>`.
fn without_peer(address: &Multiaddr, peer: PeerId) -> Multiaddr {
    let mut address = address.clone();
    if address.iter().last() == Some(Protocol::P2p(peer)) {
        address.pop();
    }
    address
}
