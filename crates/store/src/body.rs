//! Decoding stored records without verifying their signatures again.
//!
//! Only verified records are ever written, so reading one back needs the body, not
//! another `verify_strict`: [`RecordBody::decode_trusted`] decodes canonically
//! (re-encoding must give the same bytes) without a signature check. A failure is
//! [`StoreError::Corrupt`].

use swapmesh_protocol::{RecordBody, RecordId, SignedRecord};

use crate::error::{Result, StoreError};

/// Decodes canonical body bytes that were verified before they were stored.
pub(crate) fn decode_body(bytes: &[u8]) -> Result<RecordBody> {
    RecordBody::decode_trusted(bytes)
        .map_err(|e| StoreError::corrupt(format!("stored record body: {e}")))
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
    use swapmesh_protocol::{Timestamp, fixtures};

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
