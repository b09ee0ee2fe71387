//! Encoding round trips and signatures that break under any flipped byte.

use proptest::prelude::*;
use swapmesh_protocol::encoding::decode_canonical;
use swapmesh_protocol::fixtures;
use swapmesh_protocol::signed::{MAX_SIGNED_RECORD, RECORD_DOMAIN};
use swapmesh_protocol::validate::{Checked, check};
use swapmesh_protocol::{Content, GossipMessage, RecordBody, SignedRecord, Timestamp, check_bytes};

use crate::strategies::{self, body_with};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 64,
        ..ProptestConfig::default()
    }
}

/// Encodes a body, signs it, decodes it through the signed-record path and checks
/// that the same value came back; returns whether `check` at `now` found it valid
/// (and so compared the verified body too).
fn body_round_trip(body: &RecordBody, now: Timestamp) -> bool {
    let key = fixtures::key(1);
    let mut body = body.clone();
    body.author = swapmesh_protocol::signed::author_of(&key);
    let signed = SignedRecord::sign(&body, &key);
    let bytes = signed.encode();
    // decode -> re-encode equals the input
    let decoded = SignedRecord::decode(&bytes).expect("decodes");
    assert_eq!(decoded.encode(), bytes);
    assert_eq!(decoded.body, body.encode());
    assert_eq!(RecordBody::decode_trusted(&decoded.body), Ok(body.clone()));
    // Decoding the body itself gives back the same value: check() decodes it, and
    // whatever its verdict it must not complain about the encoding.
    match check(decoded, now) {
        Err(swapmesh_protocol::Invalid::Malformed(e)) => panic!("round trip failed: {e}"),
        Ok(Checked::Valid(v)) => {
            assert_eq!(v.body(), &body);
            true
        }
        _ => false,
    }
}

/// Decoding the body bytes yields exactly the value encoded, and `check` sees that
/// value: bodies near a fixed `now` with content that keeps the rules are valid at
/// that `now`, so the comparison of the verified body runs in (nearly) every case,
/// which is counted.
#[test]
fn decoded_body_equals_the_encoded_value() {
    let now = Timestamp(1_800_000_000);
    let mut runner = proptest::test_runner::TestRunner::new(config());
    let (cases, valid) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
    runner
        .run(
            &strategies::body_near(now, strategies::valid_content()),
            |body| {
                cases.set(cases.get() + 1);
                if body_round_trip(&body, now) {
                    valid.set(valid.get() + 1);
                }
                Ok(())
            },
        )
        .unwrap();
    assert!(
        valid.get() * 10 >= cases.get() * 9,
        "the Valid arm ran in {} of {} cases",
        valid.get(),
        cases.get()
    );
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn listing_round_trips(body in body_with(strategies::listing().prop_map(Content::Listing))) {
        body_round_trip(&body, Timestamp(0));
    }

    #[test]
    fn profile_round_trips(body in body_with(strategies::profile().prop_map(Content::Profile))) {
        body_round_trip(&body, Timestamp(0));
    }

    #[test]
    fn vouch_round_trips(body in body_with(strategies::vouch().prop_map(Content::Vouch))) {
        body_round_trip(&body, Timestamp(0));
    }

    #[test]
    fn receipt_round_trips(body in body_with(strategies::receipt().prop_map(Content::Receipt))) {
        body_round_trip(&body, Timestamp(0));
    }

    #[test]
    fn review_round_trips(body in body_with(strategies::review().prop_map(Content::Review))) {
        body_round_trip(&body, Timestamp(0));
    }

    #[test]
    fn gossip_message_round_trips(body in body_with(strategies::content())) {
        let signed = SignedRecord::sign(&body, &fixtures::key(2));
        let msg = GossipMessage::record(signed.clone());
        let bytes = msg.encode();
        let back = GossipMessage::decode(&bytes).expect("decodes");
        prop_assert_eq!(back.encode(), bytes);
        prop_assert_eq!(back, GossipMessage::V1(signed));
    }

    #[test]
    fn any_content_decodes_and_breaks_rules_only_as_rules(
        body in body_with(strategies::content()),
    ) {
        // A valid-signature record whose body breaks rules still decodes (and is
        // rejected by a rule, never as malformed).
        body_round_trip(&body, Timestamp(0));
    }

    #[test]
    fn flipping_any_byte_breaks_the_signature(
        seed in 0u64..1000,
        positions in proptest::collection::vec(any::<prop::sample::Index>(), 8),
        bit in 0u8..8,
    ) {
        let now = Timestamp(1_800_000_000);
        let key = fixtures::key(seed);
        let verified = fixtures::verified_listing(&key, "drill", "u4pru", now);
        let signed = verified.signed().clone();
        let author = key.verifying_key();
        let total = signed.body.len() + 64;
        for index in positions {
            let at = index.index(total);
            let mut flipped = signed.clone();
            if at < signed.body.len() {
                flipped.body[at] ^= 1 << bit;
            } else {
                let mut sig = flipped.sig.to_bytes();
                sig[at - signed.body.len()] ^= 1 << bit;
                flipped.sig = swapmesh_protocol::Signature::from_bytes(&sig);
            }
            let mut msg = RECORD_DOMAIN.to_vec();
            msg.extend_from_slice(&flipped.body);
            prop_assert!(author.verify_strict(&msg, &flipped.sig).is_err(), "byte {at}");
            let verdict = check(flipped, now);
            prop_assert!(!matches!(verdict, Ok(Checked::Valid(_))), "byte {at}: {verdict:?}");
        }
    }
}

#[test]
fn typical_listing_is_valid_and_about_300_bytes() {
    let now = Timestamp(1_800_000_000);
    let v = fixtures::verified_listing(&fixtures::key(9), "drill", "u4pru", now);
    let bytes = v.signed().encode();
    assert!(bytes.len() < MAX_SIGNED_RECORD);
    assert!(
        (250..450).contains(&v.signed().body.len()),
        "{}",
        v.signed().body.len()
    );
    let again = check_bytes(&bytes, now).unwrap().valid().unwrap();
    assert_eq!(again, v);
    assert_eq!(
        decode_canonical::<SignedRecord>(&bytes, bytes.len()).unwrap(),
        *v.signed()
    );
}
