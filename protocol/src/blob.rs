//! The blob protocol's frames (`/swapmesh/blob/1`): a photo asked for by its
//! hash, answered with its bytes or `NotFound`. A photo named only by private
//! meshes' records goes only to their members: the request then carries the
//! asker's membership proofs ([`BlobRequest::V2`], one per mesh it may be
//! shared in) and the answer the holder's ([`BlobResponse::ProvenBlob`]).
//!
//! The request is canonical bincode, versioned from its first byte like the
//! other protocols. The response is framed by hand: one tag byte, then for
//! [`BlobResponse::Blob`] the photo's bytes as they are, so that half a
//! megabyte is neither walked element by element nor copied to check a
//! canonical encoding. The receiver checks the bytes against the hash it asked
//! for; nothing in the frame is trusted.

use serde::{Deserialize, Serialize};

use crate::encoding::{self, DecodeError};
use crate::ids::BlobHash;
use crate::private::{PROOF_LEN, Proof};

/// Largest photo a peer sends or takes: 512 KiB (normalising keeps every
/// photo within it).
pub const MAX_BLOB: usize = 512 * 1024;
/// Largest blob response frame: a tag, a proof and the largest photo.
pub const MAX_BLOB_RESPONSE: usize = 1 + PROOF_LEN + MAX_BLOB;
/// Most membership proofs in one request (a record is in at most 4 meshes).
pub const MAX_BLOB_PROOFS: usize = 4;
/// Largest blob request frame: the hash and four proofs with their topics.
pub const MAX_BLOB_REQUEST: usize = 512;

/// Tag of a response that carries the bytes.
const TAG_BLOB: u8 = 1;
/// Tag of a response saying the peer does not hold the blob.
const TAG_NOT_FOUND: u8 = 2;
/// Tag of a response that carries the holder's proof, then the bytes.
const TAG_PROVEN_BLOB: u8 = 3;

/// A request, by protocol version.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum BlobRequest {
    /// Version 1: the blob of this hash, please.
    V1 {
        /// The hash asked for.
        hash: BlobHash,
    },
    /// Version 2: the blob of this hash, with the asker's proofs of
    /// membership of private meshes it may be shared in (at most
    /// [`MAX_BLOB_PROOFS`]), each bound to the asker and the holder.
    V2 {
        /// The hash asked for.
        hash: BlobHash,
        /// (topic name, the asker's proof as a session's initiator).
        proofs: Vec<(String, Proof)>,
    },
}

impl BlobRequest {
    /// The canonical bytes of the request.
    pub fn encode(&self) -> Vec<u8> {
        encoding::encode(self)
    }

    /// Decodes a request frame (canonical, at most [`MAX_BLOB_REQUEST`] bytes,
    /// at most [`MAX_BLOB_PROOFS`] proofs).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let request: Self = encoding::decode_canonical(bytes, MAX_BLOB_REQUEST)?;
        if request.proofs().len() > MAX_BLOB_PROOFS {
            return Err(DecodeError::Malformed(format!(
                "{} proofs in a blob request, over {MAX_BLOB_PROOFS}",
                request.proofs().len()
            )));
        }
        Ok(request)
    }

    /// The hash asked for.
    pub fn hash(&self) -> BlobHash {
        match self {
            Self::V1 { hash } | Self::V2 { hash, .. } => *hash,
        }
    }

    /// The asker's membership proofs (topic name, proof), none for version 1.
    pub fn proofs(&self) -> &[(String, Proof)] {
        match self {
            Self::V1 { .. } => &[],
            Self::V2 { proofs, .. } => proofs,
        }
    }
}

/// The answer to a [`BlobRequest`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum BlobResponse {
    /// The blob's bytes (which the asker checks against the hash).
    Blob(Vec<u8>),
    /// The peer does not hold it (or will not give it to this asker).
    NotFound,
    /// The bytes of a photo of a private mesh, after the holder's proof of
    /// membership (as a session's responder, for the first valid proof of
    /// the request).
    ProvenBlob {
        /// The holder's proof.
        proof: Proof,
        /// The blob's bytes.
        bytes: Vec<u8>,
    },
}

impl BlobResponse {
    /// The response frame.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Blob(bytes) => {
                let mut frame = Vec::with_capacity(1 + bytes.len());
                frame.push(TAG_BLOB);
                frame.extend_from_slice(bytes);
                frame
            }
            Self::NotFound => vec![TAG_NOT_FOUND],
            Self::ProvenBlob { proof, bytes } => {
                let mut frame = Vec::with_capacity(1 + PROOF_LEN + bytes.len());
                frame.push(TAG_PROVEN_BLOB);
                frame.extend_from_slice(proof);
                frame.extend_from_slice(bytes);
                frame
            }
        }
    }

    /// Decodes a response frame, taking its bytes (no copy of the photo).
    pub fn decode(mut frame: Vec<u8>) -> Result<Self, DecodeError> {
        encoding::check_len(&frame, MAX_BLOB_RESPONSE)?;
        match frame.first() {
            Some(&TAG_BLOB) if frame.len() <= 1 + MAX_BLOB => {
                frame.remove(0);
                Ok(Self::Blob(frame))
            }
            Some(&TAG_PROVEN_BLOB) if frame.len() > PROOF_LEN => {
                let mut proof = [0; PROOF_LEN];
                proof.copy_from_slice(&frame[1..1 + PROOF_LEN]);
                frame.drain(..1 + PROOF_LEN);
                Ok(Self::ProvenBlob {
                    proof,
                    bytes: frame,
                })
            }
            Some(&TAG_BLOB) => Err(DecodeError::TooLarge {
                len: frame.len(),
                limit: 1 + MAX_BLOB,
            }),
            Some(&TAG_NOT_FOUND) if frame.len() == 1 => Ok(Self::NotFound),
            Some(&TAG_NOT_FOUND) => Err(DecodeError::TrailingBytes {
                extra: frame.len() - 1,
            }),
            Some(tag) => Err(DecodeError::Malformed(format!(
                "unknown blob response tag {tag}"
            ))),
            None => Err(DecodeError::Malformed("empty blob response".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let request = BlobRequest::V1 {
            hash: BlobHash([7; 32]),
        };
        assert_eq!(BlobRequest::decode(&request.encode()), Ok(request));
        let proven = BlobRequest::V2 {
            hash: BlobHash([7; 32]),
            proofs: vec![
                (
                    "swapmesh/1/pmesh/p0123456789abcdef0123456789abcde".into(),
                    [3; 32]
                );
                4
            ],
        };
        let bytes = proven.encode();
        assert!(bytes.len() <= MAX_BLOB_REQUEST, "{}", bytes.len());
        assert_eq!(BlobRequest::decode(&bytes), Ok(proven));
        let five = BlobRequest::V2 {
            hash: BlobHash([7; 32]),
            proofs: vec![("swapmesh/1/pmesh/p0".into(), [3; 32]); 5],
        };
        assert!(BlobRequest::decode(&five.encode()).is_err());
        let largest = BlobResponse::ProvenBlob {
            proof: [4; 32],
            bytes: vec![5; MAX_BLOB],
        };
        assert_eq!(largest.encode().len(), MAX_BLOB_RESPONSE);
        for response in [
            BlobResponse::Blob(vec![1, 2, 3]),
            BlobResponse::NotFound,
            BlobResponse::ProvenBlob {
                proof: [9; 32],
                bytes: vec![1],
            },
            largest,
        ] {
            assert_eq!(BlobResponse::decode(response.encode()), Ok(response));
        }
    }

    #[test]
    fn malformed_responses_are_refused() {
        assert!(BlobResponse::decode(Vec::new()).is_err());
        assert!(BlobResponse::decode(vec![9, 1]).is_err());
        assert!(BlobResponse::decode(vec![TAG_NOT_FOUND, 0]).is_err());
        assert!(BlobResponse::decode(vec![TAG_BLOB; 2 + MAX_BLOB]).is_err());
    }
}
