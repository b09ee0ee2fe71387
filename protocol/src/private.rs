//! Private meshes: the key an invite carries, what is derived from it, sealed
//! gossip and the membership proofs of sync.
//!
//! A private mesh is its 32-byte random [`MeshKey`]. Everything else follows
//! from it with `blake3::derive_key` under distinct contexts ([`MeshSecrets`]):
//!
//! - the id: `p` and the first 31 hex characters of the id key (the topic is
//!   `swapmesh/1/pmesh/<id>`, see [`Topic::mesh`]);
//! - the sealing key: XChaCha20-Poly1305 over a record's signed bytes, the topic
//!   name as associated data ([`MeshSecrets::seal`]);
//! - the nonce key: `nonce = keyed_blake3(nonce_key, plaintext)[..24]`, so one
//!   record always seals to the same bytes (gossip deduplicates it) and two
//!   different plaintexts, even two valid signatures over one body, never share
//!   a nonce;
//! - the membership key: `proof = keyed_blake3(membership_key, role ‖ len(i) ‖ i
//!   ‖ len(r) ‖ r ‖ topic)`, `role` `"init"` or `"resp"`, `i` and `r` the
//!   initiator's and responder's peer ids as bytes (each after its length byte,
//!   so no two pairs run together into the same input).
//!
//! A proof binds both peers and the direction: a proof heard from a member is
//! worth nothing to anyone else, and echoing an initiator's proof back is not a
//! responder's proof.

use std::fmt;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::signed::MAX_SIGNED_RECORD;
use crate::topic::{MeshId, Topic};

/// Bytes of a mesh key.
pub const MESH_KEY_LEN: usize = 32;
/// Bytes of a sealed record's nonce.
pub const NONCE_LEN: usize = 24;
/// Bytes the AEAD adds to a plaintext.
pub const TAG_LEN: usize = 16;
/// The longest ciphertext: the largest signed record, sealed.
pub const MAX_CIPHERTEXT: usize = MAX_SIGNED_RECORD + TAG_LEN;
/// Bytes of a membership proof.
pub const PROOF_LEN: usize = 32;

const ID_CONTEXT: &str = "swapmesh 2026-12 private mesh id";
const SEALING_CONTEXT: &str = "swapmesh 2026-12 private mesh sealing key";
const NONCE_CONTEXT: &str = "swapmesh 2026-12 private mesh nonce key";
const MEMBERSHIP_CONTEXT: &str = "swapmesh 2026-12 private mesh membership key";

/// A membership proof of one sync session.
pub type Proof = [u8; PROOF_LEN];

/// The secret of a private mesh: whoever holds it is a member.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeshKey([u8; MESH_KEY_LEN]);

impl MeshKey {
    /// A fresh random key.
    pub fn random() -> Self {
        Self(rand::random())
    }

    /// A key from its bytes.
    pub fn from_bytes(bytes: [u8; MESH_KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// The bytes (for an invite).
    pub fn as_bytes(&self) -> &[u8; MESH_KEY_LEN] {
        &self.0
    }

    /// The mesh's id: `p` and 31 hex characters.
    pub fn id(&self) -> MeshId {
        let hash = blake3::derive_key(ID_CONTEXT, &self.0);
        let hex = hex::encode(hash);
        MeshId::parse(&format!("p{}", &hex[..31])).expect("a private id is a valid mesh id")
    }
}

impl fmt::Debug for MeshKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MeshKey({}, ..)", self.id())
    }
}

/// A record sealed for a private mesh's topic.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Sealed {
    /// The nonce: the first 24 bytes of the keyed hash of the plaintext.
    pub nonce: [u8; NONCE_LEN],
    /// The signed record's bytes, sealed, with the AEAD tag.
    #[serde(with = "serde_bytes")]
    pub ciphertext: Vec<u8>,
}

/// Why a sealed record did not open.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Error)]
#[non_exhaustive]
pub enum SealError {
    /// The ciphertext is shorter than a tag or longer than any sealed record.
    #[error("a sealed record of {0} bytes is of no possible size")]
    BadSize(usize),
    /// The AEAD refused it: another key, another topic, or altered bytes.
    #[error("the sealed record does not open under this mesh's key")]
    DoesNotOpen,
    /// It opened, but its nonce is not the one its plaintext gives: not sealed
    /// by a member's node.
    #[error("the sealed record's nonce does not match its content")]
    WrongNonce,
}

/// The direction a proof is made for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Role {
    /// The peer that opens the session.
    Initiator,
    /// The peer that answers it.
    Responder,
}

impl Role {
    fn label(self) -> &'static [u8; 4] {
        match self {
            Self::Initiator => b"init",
            Self::Responder => b"resp",
        }
    }
}

/// What a member derives from a [`MeshKey`].
#[derive(Clone)]
pub struct MeshSecrets {
    id: MeshId,
    topic: Topic,
    cipher: XChaCha20Poly1305,
    nonce_key: [u8; 32],
    membership_key: [u8; 32],
}

impl fmt::Debug for MeshSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MeshSecrets({}, ..)", self.id)
    }
}

impl MeshSecrets {
    /// Derives the mesh's id, topic and keys.
    pub fn new(key: &MeshKey) -> Self {
        let id = key.id();
        let sealing = blake3::derive_key(SEALING_CONTEXT, &key.0);
        Self {
            topic: Topic::mesh(&id),
            id,
            cipher: XChaCha20Poly1305::new(&sealing.into()),
            nonce_key: blake3::derive_key(NONCE_CONTEXT, &key.0),
            membership_key: blake3::derive_key(MEMBERSHIP_CONTEXT, &key.0),
        }
    }

    /// The mesh's id.
    pub fn id(&self) -> &MeshId {
        &self.id
    }

    /// The mesh's topic.
    pub fn topic(&self) -> &Topic {
        &self.topic
    }

    /// Seals a record's signed bytes for the mesh's topic; the same bytes
    /// always seal the same way.
    pub fn seal(&self, plaintext: &[u8]) -> Sealed {
        let nonce = self.nonce_of(plaintext);
        let ciphertext = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: self.topic.as_str().as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 seals any plaintext under 256 GiB");
        Sealed { nonce, ciphertext }
    }

    /// Opens a sealed record: its size is checked first, then one AEAD open,
    /// then that its nonce is the one its plaintext gives.
    pub fn open(&self, sealed: &Sealed) -> Result<Vec<u8>, SealError> {
        let len = sealed.ciphertext.len();
        if !(TAG_LEN + 1..=MAX_CIPHERTEXT).contains(&len) {
            return Err(SealError::BadSize(len));
        }
        let plaintext = self
            .cipher
            .decrypt(
                XNonce::from_slice(&sealed.nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad: self.topic.as_str().as_bytes(),
                },
            )
            .map_err(|_| SealError::DoesNotOpen)?;
        // Only a member can seal, but a member's node always seals one way: a
        // second sealing of a record would pass gossip's deduplication.
        if self.nonce_of(&plaintext) != sealed.nonce {
            return Err(SealError::WrongNonce);
        }
        Ok(plaintext)
    }

    /// The proof that the `role` side of a session between `initiator` and
    /// `responder` (peer ids as bytes) holds the key.
    pub fn proof(&self, role: Role, initiator: &[u8], responder: &[u8]) -> Proof {
        let mut hasher = blake3::Hasher::new_keyed(&self.membership_key);
        hasher.update(role.label());
        for peer in [initiator, responder] {
            hasher.update(&[u8::try_from(peer.len()).unwrap_or(u8::MAX)]);
            hasher.update(peer);
        }
        hasher.update(self.topic.as_str().as_bytes());
        *hasher.finalize().as_bytes()
    }

    /// Whether `proof` is the `role` side's proof for this session (compared
    /// in constant time).
    pub fn check_proof(
        &self,
        proof: &Proof,
        role: Role,
        initiator: &[u8],
        responder: &[u8],
    ) -> bool {
        blake3::Hash::from(self.proof(role, initiator, responder)) == blake3::Hash::from(*proof)
    }

    fn nonce_of(&self, plaintext: &[u8]) -> [u8; NONCE_LEN] {
        let hash = blake3::keyed_hash(&self.nonce_key, plaintext);
        let mut nonce = [0; NONCE_LEN];
        nonce.copy_from_slice(&hash.as_bytes()[..NONCE_LEN]);
        nonce
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_names_a_private_mesh_on_its_own_topic() {
        let key = MeshKey::random();
        let id = key.id();
        assert!(id.is_private(), "{id}");
        assert_eq!(id.as_str().len(), 32);
        assert_eq!(
            MeshSecrets::new(&key).topic().as_str(),
            format!("swapmesh/1/pmesh/{id}")
        );
        assert_ne!(MeshKey::random().id(), id);
    }

    #[test]
    fn a_seal_opens_only_under_its_key_and_topic() {
        let secrets = MeshSecrets::new(&MeshKey::random());
        let other = MeshSecrets::new(&MeshKey::random());
        let sealed = secrets.seal(b"a signed record");
        assert_eq!(secrets.open(&sealed).unwrap(), b"a signed record");
        assert_eq!(other.open(&sealed), Err(SealError::DoesNotOpen));
        let mut altered = sealed.clone();
        altered.ciphertext[0] ^= 1;
        assert_eq!(secrets.open(&altered), Err(SealError::DoesNotOpen));
        let mut short = sealed.clone();
        short.ciphertext.truncate(TAG_LEN);
        assert_eq!(secrets.open(&short), Err(SealError::BadSize(TAG_LEN)));
        let long = Sealed {
            nonce: sealed.nonce,
            ciphertext: vec![0; MAX_CIPHERTEXT + 1],
        };
        assert_eq!(
            secrets.open(&long),
            Err(SealError::BadSize(MAX_CIPHERTEXT + 1))
        );
    }

    #[test]
    fn a_proof_binds_role_peers_and_mesh() {
        let secrets = MeshSecrets::new(&MeshKey::random());
        let (i, r) = (b"initiator peer".as_slice(), b"responder peer".as_slice());
        let proof = secrets.proof(Role::Initiator, i, r);
        assert!(secrets.check_proof(&proof, Role::Initiator, i, r));
        assert!(!secrets.check_proof(&proof, Role::Responder, i, r));
        assert!(!secrets.check_proof(&proof, Role::Initiator, r, i));
        assert!(!secrets.check_proof(&proof, Role::Initiator, i, b"another peer"));
        let other = MeshSecrets::new(&MeshKey::random());
        assert!(!other.check_proof(&proof, Role::Initiator, i, r));
    }
}
