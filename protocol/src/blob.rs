//! The blob protocol's frames (`/swapmesh/blob/1`): a photo asked for by its
//! hash, answered with its bytes or `NotFound`.
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

/// Largest photo a peer sends or takes: 512 KiB (normalising keeps every
/// photo within it).
pub const MAX_BLOB: usize = 512 * 1024;
/// Largest blob request frame.
pub const MAX_BLOB_REQUEST: usize = 64;

/// Tag of a response that carries the bytes.
const TAG_BLOB: u8 = 1;
/// Tag of a response saying the peer does not hold the blob.
const TAG_NOT_FOUND: u8 = 2;

/// A request, by protocol version.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum BlobRequest {
    /// Version 1: the blob of this hash, please.
    V1 {
        /// The hash asked for.
        hash: BlobHash,
    },
}

impl BlobRequest {
    /// The canonical bytes of the request.
    pub fn encode(&self) -> Vec<u8> {
        encoding::encode(self)
    }

    /// Decodes a request frame (canonical, at most [`MAX_BLOB_REQUEST`] bytes).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        encoding::decode_canonical(bytes, MAX_BLOB_REQUEST)
    }

    /// The hash asked for.
    pub fn hash(&self) -> BlobHash {
        match self {
            Self::V1 { hash } => *hash,
        }
    }
}

/// The answer to a [`BlobRequest`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum BlobResponse {
    /// The blob's bytes (which the asker checks against the hash).
    Blob(Vec<u8>),
    /// The peer does not hold it.
    NotFound,
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
        }
    }

    /// Decodes a response frame, taking its bytes (no copy of the photo).
    pub fn decode(mut frame: Vec<u8>) -> Result<Self, DecodeError> {
        encoding::check_len(&frame, 1 + MAX_BLOB)?;
        match frame.first() {
            Some(&TAG_BLOB) => {
                frame.remove(0);
                Ok(Self::Blob(frame))
            }
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
        for response in [BlobResponse::Blob(vec![1, 2, 3]), BlobResponse::NotFound] {
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
