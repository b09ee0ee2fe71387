//! The outbox: what we owe each peer (our events, acknowledgements, receipt
//! signatures), kept until the peer answers. Payloads are opaque bytes; the node
//! encodes and decodes them.
//!
//! Entries are keyed by peer, then agreement, then a sequence number from
//! `sled::Db::generate_id` (monotonic, also across restarts): a peer's entries
//! read per agreement in the order they were queued, and one agreement's queue
//! never waits behind another's.

use swapmesh_protocol::{AgreementId, AuthorKey};

use crate::error::{Result, StoreError};
use crate::store::Store;

/// The key of one outbox entry: peer, agreement, sequence number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct OutboxKey {
    /// The peer it is for.
    pub peer: AuthorKey,
    /// The agreement it belongs to.
    pub agreement: AgreementId,
    /// Its place in the agreement's queue: later entries have larger numbers.
    pub seq: u64,
}

impl OutboxKey {
    /// Length of the key's bytes: peer (32) ‖ agreement (32) ‖ seq (8, big-endian).
    pub const LEN: usize = 72;

    /// The key's bytes, in the order the outbox reads.
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        out[..64].copy_from_slice(&outbox_prefix(&self.peer, &self.agreement));
        out[64..].copy_from_slice(&self.seq.to_be_bytes());
        out
    }

    /// Reads a key from its bytes (`None` unless exactly [`OutboxKey::LEN`] long).
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let b: &[u8; Self::LEN] = bytes.try_into().ok()?;
        Some(Self {
            peer: AuthorKey(b[..32].try_into().ok()?),
            agreement: AgreementId(b[32..64].try_into().ok()?),
            seq: u64::from_be_bytes(b[64..].try_into().ok()?),
        })
    }
}

/// `peer ‖ agreement`: the prefix of an agreement's queue for a peer.
pub(crate) fn outbox_prefix(peer: &AuthorKey, agreement: &AgreementId) -> [u8; 64] {
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&peer.0);
    out[32..].copy_from_slice(&agreement.0);
    out
}

fn outbox_key(bytes: &[u8]) -> Result<OutboxKey> {
    OutboxKey::from_bytes(bytes)
        .ok_or_else(|| StoreError::corrupt(format!("outbox key of {} bytes", bytes.len())))
}

impl Store {
    /// Queues a payload for a peer under an agreement, after everything queued
    /// there before. Not durable on return; entries that go with an agreement's
    /// change belong in its commit ([`crate::AgreementCommit::outbox_add`]).
    pub fn outbox_push(
        &self,
        peer: &AuthorKey,
        agreement: &AgreementId,
        payload: &[u8],
    ) -> Result<OutboxKey> {
        let key = OutboxKey {
            peer: *peer,
            agreement: *agreement,
            seq: self.o()?.db.generate_id()?,
        };
        self.o()?.trees.outbox.insert(key.to_bytes(), payload)?;
        Ok(key)
    }

    /// Removes an entry (the peer answered it); returns whether it was there.
    pub fn outbox_remove(&self, key: &OutboxKey) -> Result<bool> {
        Ok(self.o()?.trees.outbox.remove(key.to_bytes())?.is_some())
    }

    /// Everything queued for a peer, in key order: by agreement, each agreement's
    /// entries in the order they were queued.
    pub fn outbox(&self, peer: &AuthorKey) -> Result<Vec<(OutboxKey, Vec<u8>)>> {
        self.o()?
            .trees
            .outbox
            .scan_prefix(peer.0)
            .map(|kv| {
                let (k, v) = kv?;
                Ok((outbox_key(&k)?, v.to_vec()))
            })
            .collect()
    }

    /// The peers something is queued for, in key order.
    pub fn outbox_peers(&self) -> Result<Vec<AuthorKey>> {
        let mut peers = Vec::new();
        let mut next = self.o()?.trees.outbox.first()?;
        while let Some((k, _)) = next {
            let peer = outbox_key(&k)?.peer;
            peers.push(peer);
            // Skip the rest of this peer's entries: on from the next peer key.
            next = match next_key(peer.0) {
                Some(after) => self.o()?.trees.outbox.range(after..).next().transpose()?,
                None => None,
            };
        }
        Ok(peers)
    }
}

/// The least 32 bytes greater than `key` as a big-endian number (`None`: it is
/// the greatest): every key of `key`'s entries sorts before it.
fn next_key(mut key: [u8; 32]) -> Option<[u8; 32]> {
    for b in key.iter_mut().rev() {
        if *b == 0xff {
            *b = 0;
        } else {
            *b += 1;
            return Some(key);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_sort_as_their_fields() {
        let key = |p: u8, a: u8, seq: u64| OutboxKey {
            peer: AuthorKey([p; 32]),
            agreement: AgreementId([a; 32]),
            seq,
        };
        let keys = [
            key(0, 0xff, 1),
            key(1, 0, u64::MAX),
            key(1, 0xff, 0),
            key(1, 0xff, 256),
            key(0xff, 0, 2),
        ];
        for k in &keys {
            assert_eq!(OutboxKey::from_bytes(&k.to_bytes()), Some(*k));
        }
        for w in keys.windows(2) {
            assert!(w[0] < w[1] && w[0].to_bytes() < w[1].to_bytes());
        }
        assert_eq!(OutboxKey::from_bytes(&[0; 71]), None);
    }

    #[test]
    fn the_next_key_carries() {
        let mut k = [0u8; 32];
        k[31] = 0xff;
        k[30] = 7;
        let mut want = [0u8; 32];
        want[30] = 8;
        assert_eq!(next_key(k), Some(want));
        assert_eq!(next_key([0xff; 32]), None);
    }

    #[test]
    fn peers_are_listed_once_whatever_their_agreements() {
        let store = Store::temporary().unwrap();
        let peers = [
            AuthorKey([0; 32]),
            AuthorKey([0x7f; 32]),
            AuthorKey([0xff; 32]),
        ];
        for peer in &peers {
            for a in [0u8, 0xff] {
                store
                    .outbox_push(peer, &AgreementId([a; 32]), b"x")
                    .unwrap();
            }
        }
        assert_eq!(store.outbox_peers().unwrap(), peers);
    }
}
