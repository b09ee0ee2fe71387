//! One test per validation rule, named for the rule, checking its outcome.

use swapmesh_protocol::fixtures;
use swapmesh_protocol::listing::{DealKind, Listing, ListingStatus, Money, Purpose, Window};
use swapmesh_protocol::signed::{SignedRecord, author_of};
use swapmesh_protocol::social::{
    Confidence, Outcome, Profile, Receipt, ReceiptStatement, Review, Vouch, VouchClaim,
};
use swapmesh_protocol::time::{DAY, MINUTE, YEAR};
use swapmesh_protocol::validate::{Checked, Ignored, Invalid, OwnError, check, sign_own};
use swapmesh_protocol::{
    AgreementId, AuthorKey, BlobHash, Content, Geohash, MeshId, RecordBody, RecordKind, Timestamp,
};

const NOW: Timestamp = Timestamp(1_800_000_000);

fn listing_body() -> RecordBody {
    fixtures::listing_body(
        author_of(&fixtures::key(1)),
        "u4pru",
        fixtures::listing("drill"),
        NOW,
    )
}

/// Signs a body as its author would, without pre-checking, and checks it at NOW.
fn verdict(body: &RecordBody) -> Result<Checked, Invalid> {
    check(SignedRecord::sign(body, &fixtures::key(1)), NOW)
}

fn rejected(mutate: impl FnOnce(&mut RecordBody)) -> Invalid {
    let mut body = listing_body();
    mutate(&mut body);
    verdict(&body).expect_err("should be rejected")
}

fn listing_rejected(mutate: impl FnOnce(&mut Listing)) -> Invalid {
    rejected(|b| {
        let Content::Listing(l) = &mut b.content else {
            unreachable!()
        };
        mutate(l)
    })
}

fn ignored(mutate: impl FnOnce(&mut RecordBody)) -> Ignored {
    let mut body = listing_body();
    mutate(&mut body);
    match verdict(&body) {
        Ok(Checked::Ignored(why)) => why,
        other => panic!("should be ignored, got {other:?}"),
    }
}

#[test]
fn the_fixture_is_valid() {
    assert!(matches!(verdict(&listing_body()), Ok(Checked::Valid(_))));
}

#[test]
fn bad_signature_is_rejected() {
    let mut signed = SignedRecord::sign(&listing_body(), &fixtures::key(2));
    assert_eq!(check(signed.clone(), NOW), Err(Invalid::BadSignature));
    signed = SignedRecord::sign(&listing_body(), &fixtures::key(1));
    signed.sig = swapmesh_protocol::Signature::from_bytes(&[0; 64]);
    assert_eq!(check(signed, NOW), Err(Invalid::BadSignature));
}

#[test]
fn author_that_is_not_a_curve_point_is_rejected() {
    // y = 2 has no x on the curve: the bytes do not decompress to a point.
    let mut not_a_point = [0u8; 32];
    not_a_point[0] = 2;
    assert!(swapmesh_protocol::VerifyingKey::from_bytes(&not_a_point).is_err());
    assert_eq!(
        rejected(|b| b.author = AuthorKey(not_a_point)),
        Invalid::BadAuthorKey
    );
}

#[test]
fn body_over_32_kib_is_rejected() {
    let mut signed = SignedRecord::sign(&listing_body(), &fixtures::key(1));
    signed.body.resize(32 * 1024 + 1, 0);
    assert_eq!(
        check(signed, NOW),
        Err(Invalid::BodyTooLarge { len: 32 * 1024 + 1 })
    );
}

#[test]
fn no_area_and_no_mesh_is_rejected() {
    assert_eq!(rejected(|b| b.area = None), Invalid::NoPlace);
}

#[test]
fn bad_geohash_is_rejected() {
    // Geohash::parse_area refuses it, so smuggle it in through serde.
    let bad: Geohash = serde_json_like("u4pra");
    assert_eq!(
        rejected(|b| b.area = Some(bad)),
        Invalid::BadGeohash("u4pra".into())
    );
    let short: Geohash = serde_json_like("u4p");
    assert!(matches!(
        rejected(|b| b.area = Some(short)),
        Invalid::BadGeohash(_)
    ));
}

#[test]
fn bad_mesh_id_is_rejected() {
    let bad: MeshId = serde_json_like("Local");
    assert_eq!(
        rejected(|b| b.meshes = vec![bad]),
        Invalid::BadMeshId("Local".into())
    );
}

#[test]
fn more_than_four_meshes_is_rejected() {
    let meshes: Vec<MeshId> = (0..5)
        .map(|i| MeshId::parse(&format!("m{i}")).unwrap())
        .collect();
    assert_eq!(
        rejected(|b| b.meshes = meshes),
        Invalid::BadMeshes { count: 5 }
    );
}

#[test]
fn duplicate_mesh_is_rejected() {
    assert_eq!(
        rejected(|b| b.meshes = vec![MeshId::local(), MeshId::local()]),
        Invalid::BadMeshes { count: 2 }
    );
}

#[test]
fn a_private_mesh_record_names_no_open_place() {
    let private = swapmesh_protocol::private::MeshKey::random().id();
    let other = swapmesh_protocol::private::MeshKey::random().id();
    // Beside an area (the fixture's), or beside an open mesh: travels in the
    // clear, so anyone could post into the mesh through it.
    let p = private.clone();
    assert_eq!(
        rejected(move |b| b.meshes = vec![p]),
        Invalid::PrivateInTheOpen
    );
    let p = private.clone();
    assert_eq!(
        rejected(move |b| {
            b.area = None;
            b.meshes = vec![MeshId::local(), p];
        }),
        Invalid::PrivateInTheOpen
    );
    assert_eq!(Invalid::PrivateInTheOpen.rule(), "private_in_the_open");
    // Private meshes only: valid.
    let mut body = fixtures::listing_body(
        swapmesh_protocol::signed::author_of(&fixtures::key(1)),
        "u4pru",
        fixtures::listing("x"),
        Timestamp(1_700_000_000),
    );
    body.area = None;
    body.meshes = vec![private, other];
    assert_eq!(swapmesh_protocol::validate::validate_body(&body), Ok(()));
}

#[test]
fn expiry_more_than_a_year_after_creation_is_rejected() {
    assert_eq!(
        rejected(|b| b.expires_at = b.created_at.plus(YEAR + 1)),
        Invalid::ExpiryTooFar { secs: YEAR + 1 }
    );
    let mut body = listing_body();
    body.expires_at = body.created_at.plus(YEAR);
    assert!(matches!(verdict(&body), Ok(Checked::Valid(_))));
}

#[test]
fn expiry_before_creation_is_rejected() {
    assert_eq!(
        rejected(|b| b.expires_at = b.created_at),
        Invalid::ExpiresBeforeCreated
    );
}

#[test]
fn bad_listing_name_is_rejected() {
    assert_eq!(
        listing_rejected(|l| l.d = "Drill".into()),
        Invalid::BadName("Drill".into())
    );
    assert!(matches!(
        listing_rejected(|l| l.d = String::new()),
        Invalid::BadName(_)
    ));
    assert!(matches!(
        listing_rejected(|l| l.d = "a".repeat(65)),
        Invalid::BadName(_)
    ));
}

#[test]
fn empty_or_unordered_kinds_are_rejected() {
    assert_eq!(listing_rejected(|l| l.kinds.clear()), Invalid::BadKinds);
    assert_eq!(
        listing_rejected(|l| l.kinds = vec![DealKind::Share, DealKind::Rent]),
        Invalid::BadKinds
    );
    assert_eq!(
        listing_rejected(|l| l.kinds = vec![DealKind::Rent, DealKind::Rent]),
        Invalid::BadKinds
    );
}

#[test]
fn title_over_140_chars_is_rejected() {
    assert_eq!(
        listing_rejected(|l| l.title = "é".repeat(141)),
        Invalid::BadTitle { chars: 141 }
    );
    assert_eq!(
        listing_rejected(|l| l.title.clear()),
        Invalid::BadTitle { chars: 0 }
    );
    let mut body = listing_body();
    if let Content::Listing(l) = &mut body.content {
        l.title = "é".repeat(140);
    }
    assert!(matches!(verdict(&body), Ok(Checked::Valid(_))));
}

#[test]
fn description_over_8_kib_is_rejected() {
    assert_eq!(
        listing_rejected(|l| l.description = "x".repeat(8 * 1024 + 1)),
        Invalid::DescriptionTooLong { len: 8 * 1024 + 1 }
    );
}

#[test]
fn category_over_64_chars_is_rejected() {
    assert_eq!(
        listing_rejected(|l| l.category = "c".repeat(65)),
        Invalid::CategoryTooLong
    );
}

#[test]
fn more_than_16_tags_is_rejected() {
    assert_eq!(
        listing_rejected(|l| l.tags = (0..17).map(|i| format!("t{i}")).collect()),
        Invalid::TooManyTags { count: 17 }
    );
}

#[test]
fn tag_with_white_space_is_rejected() {
    assert_eq!(
        listing_rejected(|l| l.tags = vec!["two words".into()]),
        Invalid::BadTag("two words".into())
    );
    assert!(matches!(
        listing_rejected(|l| l.tags = vec![String::new()]),
        Invalid::BadTag(_)
    ));
}

#[test]
fn more_than_8_photos_is_rejected() {
    assert_eq!(
        listing_rejected(|l| l.photos = vec![BlobHash([1; 32]); 9]),
        Invalid::TooManyPhotos { count: 9 }
    );
}

#[test]
fn bad_currency_is_rejected() {
    assert_eq!(
        listing_rejected(|l| l.deposit = Some(Money {
            amount: 1,
            currency: *b"eur"
        })),
        Invalid::BadCurrency("eur".into())
    );
}

#[test]
fn negative_amount_is_rejected() {
    assert_eq!(
        listing_rejected(|l| l.price.as_mut().unwrap().money.amount = -1),
        Invalid::NegativeAmount { amount: -1 }
    );
    assert_eq!(
        listing_rejected(|l| l.deposit.as_mut().unwrap().amount = -5),
        Invalid::NegativeAmount { amount: -5 }
    );
}

#[test]
fn offer_to_rent_without_price_is_rejected() {
    assert_eq!(listing_rejected(|l| l.price = None), Invalid::MissingPrice);
    // A want may name no price.
    let mut body = listing_body();
    if let Content::Listing(l) = &mut body.content {
        l.price = None;
        l.purpose = Purpose::Want;
    }
    assert!(matches!(verdict(&body), Ok(Checked::Valid(_))));
}

#[test]
fn unordered_windows_are_rejected() {
    let w = |a: u64, b: u64| Window {
        start: Timestamp(a),
        end: Timestamp(b),
    };
    assert_eq!(
        listing_rejected(|l| l.availability = vec![w(10, 20), w(5, 8)]),
        Invalid::UnorderedWindows
    );
    assert_eq!(
        listing_rejected(|l| l.availability = vec![w(10, 20), w(15, 30)]),
        Invalid::UnorderedWindows
    );
    assert_eq!(
        listing_rejected(|l| l.availability = vec![w(20, 10)]),
        Invalid::UnorderedWindows
    );
}

fn other_body(content: Content) -> RecordBody {
    fixtures::local_body(author_of(&fixtures::key(1)), content, NOW)
}

fn profile() -> Profile {
    Profile {
        name: "Ana".into(),
        bio: "Lives at the corner.".into(),
        contact: vec!["signal: ana.42".into()],
        mail_peers: vec![],
    }
}

#[test]
fn profile_fields_out_of_bounds_are_rejected() {
    assert!(matches!(
        verdict(&other_body(Content::Profile(profile()))),
        Ok(Checked::Valid(_))
    ));
    type Case = (&'static str, fn(&mut Profile));
    let cases: [Case; 4] = [
        ("name", |p| p.name.clear()),
        ("bio", |p| p.bio = "b".repeat(1025)),
        ("contact", |p| p.contact = vec!["c".into(); 5]),
        ("mail_peers", |p| p.mail_peers = vec![AuthorKey([0; 32]); 5]),
    ];
    for (field, mutate) in cases {
        let mut p = profile();
        mutate(&mut p);
        assert_eq!(
            verdict(&other_body(Content::Profile(p))),
            Err(Invalid::BadProfile(field))
        );
    }
}

#[test]
fn self_vouch_is_rejected() {
    let vouch = |subject| Vouch {
        subject,
        claim: VouchClaim::Neighbour,
        confidence: Confidence::High,
        note: String::new(),
    };
    let me = author_of(&fixtures::key(1));
    let you = author_of(&fixtures::key(2));
    assert!(matches!(
        verdict(&other_body(Content::Vouch(vouch(you)))),
        Ok(Checked::Valid(_))
    ));
    assert_eq!(
        verdict(&other_body(Content::Vouch(vouch(me)))),
        Err(Invalid::SelfVouch)
    );
    let mut long = vouch(you);
    long.note = "n".repeat(281);
    assert_eq!(
        verdict(&other_body(Content::Vouch(long))),
        Err(Invalid::NoteTooLong)
    );
}

fn receipt(provider_key: u64, receiver_key: u64) -> Receipt {
    let (p, r) = (fixtures::key(provider_key), fixtures::key(receiver_key));
    let statement = ReceiptStatement {
        agreement: AgreementId([9; 32]),
        deal: DealKind::Share,
        provider: author_of(&p),
        receiver: author_of(&r),
        outcome: Outcome::Completed,
        ended_at: NOW,
        on_time: Some(true),
    };
    Receipt {
        provider_sig: statement.sign(&p),
        receiver_sig: statement.sign(&r),
        statement,
    }
}

#[test]
fn receipt_not_by_a_party_is_rejected() {
    assert!(matches!(
        verdict(&other_body(Content::Receipt(receipt(1, 2)))),
        Ok(Checked::Valid(_))
    ));
    assert_eq!(
        verdict(&other_body(Content::Receipt(receipt(3, 2)))),
        Err(Invalid::BadParties)
    );
    assert_eq!(
        verdict(&other_body(Content::Receipt(receipt(1, 1)))),
        Err(Invalid::BadParties)
    );
}

#[test]
fn receipt_with_a_forged_party_signature_is_rejected() {
    let mut r = receipt(1, 2);
    r.receiver_sig = r.statement.sign(&fixtures::key(3));
    assert_eq!(
        verdict(&other_body(Content::Receipt(r))),
        Err(Invalid::BadReceiptSignature)
    );
}

#[test]
fn review_rating_outside_1_to_5_is_rejected() {
    let review = |rating, text: &str| Review {
        receipt: receipt(1, 2),
        rating,
        text: text.into(),
    };
    assert!(matches!(
        verdict(&other_body(Content::Review(review(5, "great")))),
        Ok(Checked::Valid(_))
    ));
    assert_eq!(
        verdict(&other_body(Content::Review(review(0, "")))),
        Err(Invalid::BadRating(0))
    );
    assert_eq!(
        verdict(&other_body(Content::Review(review(6, "")))),
        Err(Invalid::BadRating(6))
    );
    assert_eq!(
        verdict(&other_body(Content::Review(review(4, &"t".repeat(2049))))),
        Err(Invalid::ReviewTooLong)
    );
    let mut forged = review(4, "");
    forged.receipt.provider_sig = forged.receipt.statement.sign(&fixtures::key(7));
    assert_eq!(
        verdict(&other_body(Content::Review(forged))),
        Err(Invalid::BadReceiptSignature)
    );
}

#[test]
fn newer_format_version_is_ignored() {
    let mut signed = SignedRecord::sign(&listing_body(), &fixtures::key(1));
    signed.body[0] = 3;
    assert_eq!(
        check(signed, NOW),
        Ok(Checked::Ignored(Ignored::NewerVersion { version: 3 }))
    );
}

/// Re-signs body bytes whose first byte (the format version) was changed.
fn with_format(body: &RecordBody, version: u8, key: u64) -> SignedRecord {
    use ed25519_dalek::Signer;
    let mut bytes = body.encode();
    bytes[0] = version;
    let mut msg = swapmesh_protocol::signed::RECORD_DOMAIN.to_vec();
    msg.extend_from_slice(&bytes);
    let sig = fixtures::key(key).sign(&msg);
    SignedRecord { body: bytes, sig }
}

#[test]
fn receipts_and_reviews_are_format_2_and_the_rest_format_1() {
    let receipt = other_body(Content::Receipt(receipt(1, 2)));
    assert_eq!(receipt.encode()[0], 2);
    assert_eq!(listing_body().encode()[0], 1);
    // A listing in format 2 is no format any node writes: rejected.
    assert_eq!(
        check(with_format(&listing_body(), 2, 1), NOW),
        Err(Invalid::WrongFormat {
            kind: RecordKind::Listing,
            version: 2
        })
    );
}

#[test]
fn format_1_receipts_are_rejected() {
    let receipt = other_body(Content::Receipt(receipt(1, 2)));
    assert!(matches!(verdict(&receipt), Ok(Checked::Valid(_))));
    assert_eq!(
        check(with_format(&receipt, 1, 1), NOW),
        Err(Invalid::WrongFormat {
            kind: RecordKind::Receipt,
            version: 1
        })
    );
    let review = other_body(Content::Review(Review {
        receipt: receipt_of(&receipt),
        rating: 5,
        text: String::new(),
    }));
    assert!(matches!(verdict(&review), Ok(Checked::Valid(_))));
    assert!(matches!(
        check(with_format(&review, 1, 1), NOW),
        Err(Invalid::WrongFormat { .. })
    ));
}

fn receipt_of(body: &RecordBody) -> Receipt {
    match &body.content {
        Content::Receipt(r) => r.clone(),
        _ => unreachable!("a receipt body"),
    }
}

#[test]
fn receipt_by_the_non_sequencer_is_rejected() {
    // key 1 wrote it; in receipt(2, 1) key 1 is the receiver, key 2 the provider
    // and sequencer: both signed, but only the sequencer publishes the receipt.
    assert_eq!(
        verdict(&other_body(Content::Receipt(receipt(2, 1)))),
        Err(Invalid::ReceiptNotBySequencer)
    );
    // Either party may review it.
    let review = Review {
        receipt: receipt(2, 1),
        rating: 4,
        text: "fine".into(),
    };
    assert!(matches!(
        verdict(&other_body(Content::Review(review))),
        Ok(Checked::Valid(_))
    ));
}

#[test]
fn unknown_kind_is_ignored() {
    use ed25519_dalek::Signer;
    // The kind code is the second byte; 99 is no kind we know. Re-sign so the
    // signature is valid: an honest node from the future wrote it.
    let key = fixtures::key(1);
    let mut body = listing_body().encode();
    body[1] = 99;
    let mut msg = swapmesh_protocol::signed::RECORD_DOMAIN.to_vec();
    msg.extend_from_slice(&body);
    let sig = key.sign(&msg);
    assert_eq!(
        check(SignedRecord { body, sig }, NOW),
        Ok(Checked::Ignored(Ignored::UnknownKind { code: 99 }))
    );
}

#[test]
fn creation_more_than_10_minutes_ahead_is_ignored() {
    assert!(matches!(
        ignored(|b| {
            b.created_at = NOW.plus(10 * MINUTE + 1);
            b.expires_at = b.created_at.plus(DAY);
        }),
        Ignored::FromTheFuture { .. }
    ));
    let mut body = listing_body();
    body.created_at = NOW.plus(10 * MINUTE);
    body.expires_at = body.created_at.plus(DAY);
    assert!(matches!(verdict(&body), Ok(Checked::Valid(_))));
}

#[test]
fn already_expired_record_is_ignored() {
    assert!(matches!(
        ignored(|b| {
            b.created_at = Timestamp(NOW.0 - 2 * DAY);
            b.expires_at = Timestamp(NOW.0 - DAY);
        }),
        Ignored::Expired { .. }
    ));
}

#[test]
fn invalid_and_expired_is_rejected_not_ignored() {
    let invalid = rejected(|b| {
        b.created_at = Timestamp(NOW.0 - 2 * DAY);
        b.expires_at = Timestamp(NOW.0 - DAY);
        b.area = None;
    });
    assert_eq!(invalid, Invalid::NoPlace);
}

#[test]
fn own_records_are_held_to_the_same_rules() {
    let key = fixtures::key(1);
    let mut body = listing_body();
    assert!(sign_own(&body, &key, NOW).is_ok());
    assert_eq!(
        sign_own(&body, &fixtures::key(2), NOW),
        Err(OwnError::NotOurs)
    );
    body.area = None;
    assert_eq!(
        sign_own(&body, &key, NOW),
        Err(OwnError::Invalid(Invalid::NoPlace))
    );
}

#[test]
fn withdrawn_listing_is_a_valid_tombstone() {
    let mut body = listing_body();
    body.seq = 2;
    if let Content::Listing(l) = &mut body.content {
        l.status = ListingStatus::Withdrawn;
    }
    let v = sign_own(&body, &fixtures::key(1), NOW).unwrap();
    assert!(v.body().is_tombstone());
}

/// Builds a value that its checked constructor would refuse, the way a hostile
/// peer's bytes would decode.
fn serde_json_like<T: serde::de::DeserializeOwned>(s: &str) -> T {
    let bytes = swapmesh_protocol::encoding::encode(s);
    swapmesh_protocol::encoding::decode_prefix(&bytes)
        .unwrap()
        .0
}
