#![no_main]
//! Any bytes as a signed agreement event, then as an event body signed by a fixed
//! key (so the fuzzer gets past the signature into the actions, terms, legs and
//! resolutions) and applied to nothing: never a panic, only a typed error.

use ed25519_dalek::{Signer, SigningKey};
use libfuzzer_sys::fuzz_target;
use swapmesh_protocol::Timestamp;
use swapmesh_protocol::agreement::event::EVENT_DOMAIN;
use swapmesh_protocol::agreement::{SignedEvent, apply, verify_event, verify_event_bytes};

fuzz_target!(|data: &[u8]| {
    let _ = verify_event_bytes(data);
    let key = SigningKey::from_bytes(&[7; 32]);
    let mut msg = EVENT_DOMAIN.to_vec();
    msg.extend_from_slice(data);
    let signed = SignedEvent {
        body: data.to_vec(),
        sig: key.sign(&msg),
    };
    if let Ok(event) = verify_event(signed) {
        let _ = apply(None, &event, Timestamp(1_800_000_000));
    }
});
