//! The canonical encoding: bincode 2.0.1, one fixed configuration, a byte limit on
//! every decode. This is the only module that names bincode (the crate is
//! unmaintained; keeping it behind one door makes it replaceable).
//!
//! bincode's decoder is lenient: it accepts non-minimal varints and stops before
//! trailing bytes. [`decode_canonical`] therefore re-encodes what it decoded and
//! refuses the input unless the bytes are identical, so every value has exactly one
//! encoding and a signature over those bytes means one thing.

use bincode::config::{self, Configuration, Limit, LittleEndian, Varint};
use serde::{Serialize, de::DeserializeOwned};
use thiserror::Error;

/// The hard ceiling of any one decode, whatever the caller's own limit: a length
/// prefix can never make us reserve more than this.
pub const MAX_DECODE: usize = 1 << 20;

type Config = Configuration<LittleEndian, Varint, Limit<MAX_DECODE>>;

const CONFIG: Config = config::standard().with_limit::<MAX_DECODE>();

/// Why bytes could not be decoded.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input is longer than the caller allows for this type.
    #[error("{len} bytes is over the limit of {limit} bytes")]
    TooLarge {
        /// Length of the input.
        len: usize,
        /// The limit for this type.
        limit: usize,
    },
    /// The bytes are not an encoding of the expected type (truncated, a bad tag, a
    /// huge length prefix, invalid UTF-8, ...).
    #[error("malformed encoding: {0}")]
    Malformed(String),
    /// A value was decoded but bytes were left over.
    #[error("{extra} trailing bytes after the value")]
    TrailingBytes {
        /// How many bytes were left.
        extra: usize,
    },
    /// The value decodes, but its canonical encoding is different bytes (for
    /// example a varint that is not minimal).
    #[error("not the canonical encoding of its value")]
    NonCanonical,
}

/// Encodes a value canonically.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    // Encoding into a Vec has no limit and no I/O; it fails only if a Serialize
    // impl fails, and every encoded type of ours is a plain derive.
    bincode::serde::encode_to_vec(value, CONFIG).expect("swapmesh wire types always encode")
}

/// Decodes a value from the front of `bytes`, returning it and the number of bytes
/// it used. Not a canonical check on its own: see [`decode_canonical`].
pub fn decode_prefix<T: DeserializeOwned>(bytes: &[u8]) -> Result<(T, usize), DecodeError> {
    bincode::serde::decode_from_slice(bytes, CONFIG)
        .map_err(|e| DecodeError::Malformed(e.to_string()))
}

/// Decodes exactly one value from `bytes` (at most `limit` long) and refuses it
/// unless re-encoding it gives the same bytes.
pub fn decode_canonical<T: Serialize + DeserializeOwned>(
    bytes: &[u8],
    limit: usize,
) -> Result<T, DecodeError> {
    check_len(bytes, limit)?;
    let (value, used) = decode_prefix::<T>(bytes)?;
    if used != bytes.len() {
        return Err(DecodeError::TrailingBytes {
            extra: bytes.len() - used,
        });
    }
    if encode(&value) != bytes {
        return Err(DecodeError::NonCanonical);
    }
    Ok(value)
}

/// Refuses input longer than `limit` before any decoding work.
pub fn check_len(bytes: &[u8], limit: usize) -> Result<(), DecodeError> {
    let limit = limit.min(MAX_DECODE);
    if bytes.len() > limit {
        return Err(DecodeError::TooLarge {
            len: bytes.len(),
            limit,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_minimal_varint_is_refused() {
        // 5 as a u64 is the single byte 5; 251 followed by a u16 is the same number
        // spelled long.
        assert_eq!(decode_canonical::<u64>(&[5], 16), Ok(5));
        let long = [251u8, 5, 0];
        assert!(decode_prefix::<u64>(&long).is_ok(), "bincode is lenient");
        assert_eq!(
            decode_canonical::<u64>(&long, 16),
            Err(DecodeError::NonCanonical)
        );
    }

    #[test]
    fn trailing_bytes_are_refused() {
        assert_eq!(
            decode_canonical::<u64>(&[5, 0], 16),
            Err(DecodeError::TrailingBytes { extra: 1 })
        );
    }

    #[test]
    fn huge_length_prefix_is_an_error_not_an_allocation() {
        // A Vec<u8> claiming u64::MAX elements.
        let mut bytes = vec![253u8];
        bytes.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(
            decode_canonical::<Vec<u8>>(&bytes, 64),
            Err(DecodeError::Malformed(_))
        ));
        let mut bytes = vec![253u8];
        bytes.extend_from_slice(&u64::MAX.to_le_bytes());
        assert!(decode_canonical::<Vec<String>>(&bytes, 64).is_err());
    }

    #[test]
    fn invalid_utf8_is_refused() {
        assert!(matches!(
            decode_canonical::<String>(&[2, 0xff, 0xfe], 16),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[test]
    fn oversize_input_is_refused_before_decoding() {
        assert_eq!(
            decode_canonical::<Vec<u8>>(&[0u8; 20], 10),
            Err(DecodeError::TooLarge { len: 20, limit: 10 })
        );
    }
}
