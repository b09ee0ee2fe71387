#![no_main]
//! Any bytes as a record body, signed with a fixed key so the fuzzer gets past the
//! signature into the header, kind, content, canonical form, rules and clock checks:
//! the whole check never panics. Bytes 2..34 (the author, after the one-byte version
//! and kind) are set to the fixed key so the signature verifies.

use ed25519_dalek::{Signer, SigningKey};
use libfuzzer_sys::fuzz_target;
use swapmesh_protocol::signed::RECORD_DOMAIN;
use swapmesh_protocol::{SignedRecord, Timestamp, validate::check};

fuzz_target!(|data: &[u8]| {
    let key = SigningKey::from_bytes(&[7; 32]);
    let mut body = data.to_vec();
    if body.len() >= 34 {
        body[2..34].copy_from_slice(key.verifying_key().as_bytes());
    }
    let mut msg = RECORD_DOMAIN.to_vec();
    msg.extend_from_slice(&body);
    let sig = key.sign(&msg);
    let _ = check(SignedRecord { body, sig }, Timestamp(1_800_000_000));
});
