//! Signed trust records for the trust tests.

use swapmesh_protocol::listing::DealKind;
use swapmesh_protocol::signed::author_of;
use swapmesh_protocol::social::{
    Confidence, Outcome, Receipt, ReceiptStatement, Review, Vouch, VouchClaim,
};
use swapmesh_protocol::time::DAY;
use swapmesh_protocol::validate::Checked;
use swapmesh_protocol::{
    AgreementId, Content, Geohash, RecordBody, SignedRecord, SigningKey, Timestamp, Verified, check,
};

pub(super) const NOW: Timestamp = Timestamp(1_800_000_000);

pub(super) fn signed(key: &SigningKey, content: Content) -> Verified {
    let body = RecordBody {
        author: author_of(key),
        seq: 1,
        created_at: NOW,
        expires_at: NOW.plus(300 * DAY),
        area: Some(Geohash::parse_area("u4pru").unwrap()),
        meshes: Vec::new(),
        content,
    };
    match check(SignedRecord::sign(&body, key), NOW) {
        Ok(Checked::Valid(v)) => v,
        other => panic!("a test record does not check: {other:?}"),
    }
}

/// `by` vouches for `subject` with `confidence`.
pub(super) fn vouch(by: &SigningKey, subject: &SigningKey, confidence: Confidence) -> Verified {
    signed(
        by,
        Content::Vouch(Vouch {
            subject: author_of(subject),
            claim: VouchClaim::KnownInPerson,
            confidence,
            note: String::new(),
        }),
    )
}

/// A completed rental of `provider` to `receiver` (agreement `n`): its
/// receipt, and the receiver's review with `rating` if given.
pub(super) fn rental(
    n: u8,
    provider: &SigningKey,
    receiver: &SigningKey,
    rating: Option<u8>,
) -> Vec<Verified> {
    let statement = ReceiptStatement {
        agreement: AgreementId([n; 32]),
        deal: DealKind::Rent,
        provider: author_of(provider),
        receiver: author_of(receiver),
        outcome: Outcome::Completed,
        ended_at: NOW,
        on_time: Some(true),
    };
    let receipt = Receipt {
        provider_sig: statement.sign(provider),
        receiver_sig: statement.sign(receiver),
        statement,
    };
    let mut out = vec![signed(provider, Content::Receipt(receipt.clone()))];
    if let Some(rating) = rating {
        out.push(signed(
            receiver,
            Content::Review(Review {
                receipt,
                rating,
                text: String::new(),
            }),
        ));
    }
    out
}
