//! Sealed records of private meshes: deterministic, distinct nonces for distinct
//! plaintexts, and the largest record still fits a gossip message.

use ed25519_dalek::hazmat::{ExpandedSecretKey, raw_sign};
use sha2::Sha512;
use swapmesh_protocol::encoding::encode;
use swapmesh_protocol::gossip::MAX_GOSSIP_MESSAGE;
use swapmesh_protocol::private::{MeshKey, MeshSecrets};
use swapmesh_protocol::signed::RECORD_DOMAIN;
use swapmesh_protocol::{GossipMessage, SignedRecord, Timestamp, check_bytes, fixtures};

fn private_record(secrets: &MeshSecrets) -> (SignedRecord, ed25519_dalek::SigningKey) {
    let key = fixtures::key(1);
    let author = swapmesh_protocol::signed::author_of(&key);
    let mut body = fixtures::local_body(
        author,
        swapmesh_protocol::Content::Listing(fixtures::listing("drill")),
        Timestamp(1_700_000_000),
    );
    body.meshes = vec![secrets.id().clone()];
    (SignedRecord::sign(&body, &key), key)
}

#[test]
fn same_record_seals_to_the_same_bytes() {
    let secrets = MeshSecrets::new(&MeshKey::random());
    let (record, _) = private_record(&secrets);
    let plaintext = record.encode();
    let once = GossipMessage::sealed(secrets.seal(&plaintext)).encode();
    let again = GossipMessage::sealed(secrets.seal(&plaintext)).encode();
    assert_eq!(once, again);
    // And a member opens it to the record's bytes.
    let GossipMessage::Sealed(sealed) = GossipMessage::decode(&once).unwrap() else {
        panic!("a sealed message decodes as sealed");
    };
    assert_eq!(secrets.open(&sealed).unwrap(), plaintext);
    // Another mesh seals the same record to other bytes.
    let other = MeshSecrets::new(&MeshKey::random());
    assert_ne!(other.seal(&plaintext), secrets.seal(&plaintext));
}

#[test]
fn two_signatures_over_one_body_seal_with_different_nonces() {
    let secrets = MeshSecrets::new(&MeshKey::random());
    let (first, key) = private_record(&secrets);
    // A second valid signature over the same body: ed25519 with another
    // per-signature nonce (what a randomised signer would make).
    let mut expanded = ExpandedSecretKey::from(key.as_bytes());
    expanded.hash_prefix = [7; 32];
    let mut message = RECORD_DOMAIN.to_vec();
    message.extend_from_slice(&first.body);
    let sig = raw_sign::<Sha512>(&expanded, &message, &key.verifying_key());
    let second = SignedRecord {
        body: first.body.clone(),
        sig,
    };
    assert_ne!(first.sig, second.sig);
    let now = Timestamp(1_700_000_100);
    for record in [&first, &second] {
        assert!(
            check_bytes(&record.encode(), now).is_ok(),
            "both signatures verify"
        );
    }
    let (a, b) = (
        secrets.seal(&first.encode()),
        secrets.seal(&second.encode()),
    );
    assert_ne!(a.nonce, b.nonce);
    assert_eq!(secrets.open(&b).unwrap(), second.encode());
}

#[test]
fn the_largest_sealed_record_is_within_the_gossip_limit() {
    let secrets = MeshSecrets::new(&MeshKey::random());
    let record = SignedRecord {
        body: vec![0; swapmesh_protocol::signed::MAX_BODY],
        sig: ed25519_dalek::Signature::from_bytes(&[0; 64]),
    };
    let plaintext = record.encode();
    assert_eq!(plaintext.len(), encode(&record).len());
    let wire = GossipMessage::sealed(secrets.seal(&plaintext)).encode();
    assert!(
        wire.len() <= MAX_GOSSIP_MESSAGE,
        "{} > {MAX_GOSSIP_MESSAGE}",
        wire.len()
    );
    assert!(GossipMessage::decode(&wire).is_ok());
}
