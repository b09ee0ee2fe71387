//! The peer address book and the node's small key/value state.

use serde::{Deserialize, Serialize};
use swapmesh_protocol::Timestamp;
use swapmesh_protocol::encoding::{decode_canonical, encode};

use crate::error::{Result, StoreError};
use crate::store::Store;

/// Largest encoded peer entry read back.
const MAX_PEER_ENTRY: usize = 64 * 1024;

/// What the store knows of a peer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerEntry {
    /// Its addresses as text (multiaddrs; the store does not parse them).
    pub addresses: Vec<String>,
    /// When it was last seen.
    pub last_seen: Timestamp,
    /// When we last exchanged records with it (a finished sync session).
    pub exchanged: Option<Timestamp>,
}

/// An entry as written before `exchanged` (builds before issue 24, same schema).
#[derive(Serialize, Deserialize)]
struct LegacyPeerEntry {
    addresses: Vec<String>,
    last_seen: Timestamp,
}

fn decode_peer(bytes: &[u8]) -> Result<PeerEntry> {
    decode_canonical(bytes, MAX_PEER_ENTRY)
        .or_else(|e| {
            decode_canonical::<LegacyPeerEntry>(bytes, MAX_PEER_ENTRY)
                .map(|old| PeerEntry {
                    addresses: old.addresses,
                    last_seen: old.last_seen,
                    exchanged: None,
                })
                .map_err(|_| e)
        })
        .map_err(|e| StoreError::corrupt(format!("peer entry: {e}")))
}

impl Store {
    /// Remembers a peer's addresses and when it was seen, replacing what was known.
    /// The peer id is opaque bytes (a libp2p `PeerId`'s bytes). Not durable on
    /// return: losing the last few seconds of the address book is harmless.
    pub fn put_peer(&self, peer: &[u8], entry: &PeerEntry) -> Result<()> {
        self.o()?.trees.peers.insert(peer, encode(entry))?;
        Ok(())
    }

    /// What is known of a peer.
    pub fn peer(&self, peer: &[u8]) -> Result<Option<PeerEntry>> {
        self.o()?
            .trees
            .peers
            .get(peer)?
            .map(|v| decode_peer(&v))
            .transpose()
    }

    /// Every known peer, in peer id byte order.
    pub fn peers(&self) -> Result<Vec<(Vec<u8>, PeerEntry)>> {
        self.o()?
            .trees
            .peers
            .iter()
            .map(|kv| {
                let (k, v) = kv?;
                Ok((k.to_vec(), decode_peer(&v)?))
            })
            .collect()
    }

    /// Forgets a peer; returns whether it was known.
    pub fn remove_peer(&self, peer: &[u8]) -> Result<bool> {
        Ok(self.o()?.trees.peers.remove(peer)?.is_some())
    }

    /// A value of the node's own state (for example the list of joined meshes).
    pub fn get_state(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.o()?.trees.state.get(key)?.map(|v| v.to_vec()))
    }

    /// Sets a value of the node's state. Not durable on return: use
    /// [`Store::put_state_durable`] before acknowledging it.
    pub fn put_state(&self, key: &str, value: &[u8]) -> Result<()> {
        self.o()?.trees.state.insert(key, value)?;
        Ok(())
    }

    /// [`Store::put_state`], then [`Store::flush`]: durable when it returns.
    pub async fn put_state_durable(&self, key: &str, value: &[u8]) -> Result<()> {
        self.put_state(key, value)?;
        self.flush().await
    }

    /// The keys of the node's state that start with `prefix`, in order.
    pub fn state_keys(&self, prefix: &str) -> Result<Vec<String>> {
        self.o()?
            .trees
            .state
            .scan_prefix(prefix)
            .keys()
            .map(|k| {
                let k = k?;
                String::from_utf8(k.to_vec())
                    .map_err(|_| crate::StoreError::corrupt("a state key is not UTF-8"))
            })
            .collect()
    }

    /// Removes a value of the node's state; returns whether it existed.
    pub fn remove_state(&self, key: &str) -> Result<bool> {
        Ok(self.o()?.trees.state.remove(key)?.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_written_before_exchanged_still_reads() {
        let old = LegacyPeerEntry {
            addresses: vec!["/ip4/10.0.0.1/tcp/1".into()],
            last_seen: Timestamp(7),
        };
        let entry = decode_peer(&encode(&old)).unwrap();
        assert_eq!(entry.addresses, old.addresses);
        assert_eq!(entry.last_seen, Timestamp(7));
        assert_eq!(entry.exchanged, None);
        assert!(decode_peer(b"\xff\xff").is_err());
    }
}
