//! Decoders never panic and refuse what is not canonical.

use proptest::prelude::*;
use swapmesh_protocol::encoding::DecodeError;
use swapmesh_protocol::fixtures;
use swapmesh_protocol::validate::check;
use swapmesh_protocol::{GossipMessage, Invalid, SignedRecord, Timestamp, check_bytes};

const NOW: Timestamp = Timestamp(1_800_000_000);

fn valid_bytes() -> Vec<u8> {
    fixtures::verified_listing(&fixtures::key(3), "tent", "u4pru", NOW)
        .signed()
        .encode()
}

/// Signs raw body bytes, so only the encoding rules can refuse them.
fn signed_raw(body: Vec<u8>) -> SignedRecord {
    use ed25519_dalek::Signer;
    use swapmesh_protocol::signed::RECORD_DOMAIN;
    let mut msg = RECORD_DOMAIN.to_vec();
    msg.extend_from_slice(&body);
    let sig = fixtures::key(3).sign(&msg);
    SignedRecord { body, sig }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = SignedRecord::decode(&bytes);
        let _ = GossipMessage::decode(&bytes);
        let _ = check_bytes(&bytes, NOW);
        // The same bytes as a body under a valid signature.
        let _ = check(signed_raw(bytes), NOW);
    }

    #[test]
    fn mutated_valid_records_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut body = SignedRecord::decode(&valid_bytes()).unwrap().body;
        for (at, byte) in edits {
            let i = at.index(body.len());
            body[i] = byte;
        }
        // Under a valid signature every outcome is a value, never a panic.
        let _ = check(signed_raw(body), NOW);
    }
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = valid_bytes();
    for len in 0..bytes.len() {
        assert!(SignedRecord::decode(&bytes[..len]).is_err(), "len {len}");
        assert!(check_bytes(&bytes[..len], NOW).is_err(), "len {len}");
    }
    let body = SignedRecord::decode(&bytes).unwrap().body;
    for len in 0..body.len() {
        let verdict = check(signed_raw(body[..len].to_vec()), NOW);
        assert!(verdict.is_err(), "body len {len}: {verdict:?}");
    }
}

#[test]
fn huge_length_prefix_is_refused() {
    // A signed record whose body claims 2^62 bytes.
    let mut bytes = vec![253u8];
    bytes.extend_from_slice(&(1u64 << 62).to_le_bytes());
    bytes.extend_from_slice(&[0u8; 64]);
    assert!(matches!(
        SignedRecord::decode(&bytes),
        Err(DecodeError::Malformed(_))
    ));
}

#[test]
fn oversize_record_is_refused_before_decoding() {
    let bytes = vec![0u8; swapmesh_protocol::signed::MAX_SIGNED_RECORD + 1];
    assert!(matches!(
        SignedRecord::decode(&bytes),
        Err(DecodeError::TooLarge { .. })
    ));
}

#[test]
fn non_minimal_varint_in_body_is_refused_even_when_signed() {
    let mut body = SignedRecord::decode(&valid_bytes()).unwrap().body;
    // The body starts with the format version 1, one byte. Spell it long: 251 then
    // a little-endian u16.
    assert_eq!(body[0], 1);
    body.splice(0..1, [251u8, 1, 0]);
    assert_eq!(
        check(signed_raw(body), NOW),
        Err(Invalid::Malformed(DecodeError::NonCanonical))
    );
}

#[test]
fn non_minimal_varint_in_envelope_is_refused() {
    let bytes = valid_bytes();
    // The envelope starts with the body length: 251 then a little-endian u16 for a
    // body of 251..65536 bytes. Spell it long: 252 then a u32.
    assert_eq!(bytes[0], 251);
    let len = u16::from_le_bytes([bytes[1], bytes[2]]) as u32;
    let mut long = vec![252u8];
    long.extend_from_slice(&len.to_le_bytes());
    long.extend_from_slice(&bytes[3..]);
    assert_eq!(SignedRecord::decode(&long), Err(DecodeError::NonCanonical));
}

#[test]
fn trailing_bytes_are_refused() {
    let mut bytes = valid_bytes();
    bytes.push(0);
    assert_eq!(
        SignedRecord::decode(&bytes),
        Err(DecodeError::TrailingBytes { extra: 1 })
    );
    let mut body = SignedRecord::decode(&valid_bytes()).unwrap().body;
    body.push(0);
    assert_eq!(
        check(signed_raw(body), NOW),
        Err(Invalid::Malformed(DecodeError::TrailingBytes { extra: 1 }))
    );
}

#[test]
fn invalid_utf8_is_refused() {
    let body = SignedRecord::decode(&valid_bytes()).unwrap().body;
    // The title follows the listing name; find its first byte and break it.
    let title = b"Cordless drill";
    let at = body
        .windows(title.len())
        .position(|w| w == title)
        .expect("title in body");
    let mut broken = body.clone();
    broken[at] = 0xff;
    assert!(matches!(
        check(signed_raw(broken), NOW),
        Err(Invalid::Malformed(DecodeError::Malformed(_)))
    ));
}

#[test]
fn unknown_gossip_version_is_refused() {
    let mut bytes = GossipMessage::record(SignedRecord::decode(&valid_bytes()).unwrap()).encode();
    assert_eq!(bytes[0], 0, "V1 is tag 0");
    bytes[0] = 7;
    assert!(GossipMessage::decode(&bytes).is_err());
}
