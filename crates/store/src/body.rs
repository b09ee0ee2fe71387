//! Decoding stored records without verifying their signatures again.
//!
//! Only verified records are ever written, so reading one back needs the body, not
//! another `verify_strict`. The protocol crate decodes bodies only inside
//! `validate::check` (which verifies the signature and applies the clock), so this
//! module mirrors the body's public layout: a header of public serde types followed
//! by the kind's content. Every decode is checked by re-encoding with
//! `RecordBody::encode` and comparing bytes, so a layout drift in the protocol shows
//! up as [`StoreError::Corrupt`] (and in this module's round-trip test), never as a
//! wrong record.

use serde::Deserialize;
use swapmesh_protocol::encoding::decode_prefix;
use swapmesh_protocol::listing::Listing;
use swapmesh_protocol::record::FORMAT_VERSION;
use swapmesh_protocol::social::{Profile, Receipt, Review, Vouch};
use swapmesh_protocol::{
    AuthorKey, Content, Geohash, MeshId, RecordBody, RecordId, RecordKind, SignedRecord, Timestamp,
};

use crate::error::{Result, StoreError};

/// Mirror of the protocol's body header (same field order and types).
#[derive(Deserialize)]
struct Header {
    version: u16,
    kind: u8,
    author: AuthorKey,
    seq: u64,
    created_at: Timestamp,
    expires_at: Timestamp,
    area: Option<Geohash>,
    meshes: Vec<MeshId>,
}

fn content<T: serde::de::DeserializeOwned>(rest: &[u8]) -> Result<(T, usize)> {
    decode_prefix(rest).map_err(|e| StoreError::corrupt(format!("record content: {e}")))
}

/// Decodes canonical body bytes that were verified before they were stored.
pub(crate) fn decode_body(bytes: &[u8]) -> Result<RecordBody> {
    let (h, used) = decode_prefix::<Header>(bytes)
        .map_err(|e| StoreError::corrupt(format!("record header: {e}")))?;
    if h.version != FORMAT_VERSION {
        return Err(StoreError::corrupt(format!(
            "stored record of format {}",
            h.version
        )));
    }
    let rest = &bytes[used..];
    let kind = RecordKind::from_code(h.kind)
        .ok_or_else(|| StoreError::corrupt(format!("stored record of kind {}", h.kind)))?;
    let (content, n) = match kind {
        RecordKind::Listing => content::<Listing>(rest).map(|(c, n)| (Content::Listing(c), n))?,
        RecordKind::Profile => content::<Profile>(rest).map(|(c, n)| (Content::Profile(c), n))?,
        RecordKind::Vouch => content::<Vouch>(rest).map(|(c, n)| (Content::Vouch(c), n))?,
        RecordKind::Receipt => content::<Receipt>(rest).map(|(c, n)| (Content::Receipt(c), n))?,
        RecordKind::Review => content::<Review>(rest).map(|(c, n)| (Content::Review(c), n))?,
    };
    if n != rest.len() {
        return Err(StoreError::corrupt(
            "trailing bytes after a stored record body",
        ));
    }
    let body = RecordBody {
        author: h.author,
        seq: h.seq,
        created_at: h.created_at,
        expires_at: h.expires_at,
        area: h.area,
        meshes: h.meshes,
        content,
    };
    if body.encode() != bytes {
        return Err(StoreError::corrupt(
            "stored record body is not canonical (or the protocol's body layout changed)",
        ));
    }
    Ok(body)
}

/// A stored record as read back: the signed bytes, the decoded body and the id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRecord {
    /// The record id (blake3 of the body).
    pub id: RecordId,
    /// The signed record exactly as received (re-publish or sync it as is).
    pub signed: SignedRecord,
    /// The decoded body.
    pub body: RecordBody,
}

/// Decodes the value of the `records` tree.
pub(crate) fn decode_stored(id: RecordId, bytes: &[u8]) -> Result<StoredRecord> {
    let signed = SignedRecord::decode(bytes)
        .map_err(|e| StoreError::corrupt(format!("stored record {id}: {e}")))?;
    let body = decode_body(&signed.body)?;
    Ok(StoredRecord { id, signed, body })
}

#[cfg(test)]
mod tests {
    use super::*;
    use swapmesh_protocol::fixtures;

    #[test]
    fn decoding_matches_the_protocol_encoding() {
        let key = fixtures::key(1);
        let v = fixtures::verified_listing(&key, "drill", "u4pruy", Timestamp(1_700_000_000));
        let stored = decode_stored(v.id(), &v.signed().encode()).unwrap();
        assert_eq!(&stored.body, v.body());
        assert_eq!(&stored.signed, v.signed());
    }

    #[test]
    fn garbage_is_corruption_not_a_panic() {
        for bytes in [&b""[..], b"\x01", &[0xff; 40]] {
            assert!(matches!(
                decode_stored(RecordId([0; 32]), bytes),
                Err(StoreError::Corrupt { .. })
            ));
        }
    }
}
