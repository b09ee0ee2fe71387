//! proptest strategies for every record kind. Values are arbitrary, not valid:
//! encoding must round-trip whatever the content.

use proptest::collection::vec;
use proptest::prelude::*;
use swapmesh_protocol::listing::{
    Condition, DealKind, Listing, ListingStatus, Money, Period, Price, Purpose, Window,
};
use swapmesh_protocol::social::{
    Confidence, Outcome, Profile, Receipt, ReceiptStatement, Review, Vouch, VouchClaim,
};
use swapmesh_protocol::{
    AgreementId, AuthorKey, BlobHash, Content, Geohash, MeshId, RecordBody, Signature, Timestamp,
};

pub(crate) fn author() -> impl Strategy<Value = AuthorKey> {
    any::<[u8; 32]>().prop_map(AuthorKey)
}

fn ts() -> impl Strategy<Value = Timestamp> {
    any::<u64>().prop_map(Timestamp)
}

fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("\\PC{{0,{max}}}")).expect("valid regex")
}

fn money() -> impl Strategy<Value = Money> {
    (any::<i64>(), any::<[u8; 3]>()).prop_map(|(amount, currency)| Money { amount, currency })
}

fn deal_kind() -> impl Strategy<Value = DealKind> {
    prop_oneof![
        Just(DealKind::Swap),
        Just(DealKind::Rent),
        Just(DealKind::Lease),
        Just(DealKind::Share),
        Just(DealKind::Give)
    ]
}

fn sig() -> impl Strategy<Value = Signature> {
    vec(any::<u8>(), 64).prop_map(|b| Signature::from_slice(&b).expect("64 bytes"))
}

pub(crate) fn listing() -> impl Strategy<Value = Listing> {
    let head = (
        "[a-z0-9_-]{1,64}",
        prop_oneof![Just(Purpose::Offer), Just(Purpose::Want)],
        vec(deal_kind(), 0..5),
        text(40),
        text(200),
        text(20),
        vec(text(10), 0..4),
    );
    let tail = (
        proptest::option::of(prop_oneof![
            Just(Condition::New),
            Just(Condition::LikeNew),
            Just(Condition::Good),
            Just(Condition::Fair),
            Just(Condition::Poor)
        ]),
        vec(any::<[u8; 32]>().prop_map(BlobHash), 0..3),
        proptest::option::of((
            money(),
            prop_oneof![
                Just(Period::Hour),
                Just(Period::Day),
                Just(Period::Week),
                Just(Period::Month)
            ],
        )),
        proptest::option::of(money()),
        vec(
            (ts(), ts()).prop_map(|(start, end)| Window { start, end }),
            0..3,
        ),
        prop_oneof![
            Just(ListingStatus::Active),
            Just(ListingStatus::Paused),
            Just(ListingStatus::Reserved),
            Just(ListingStatus::OnLoan),
            Just(ListingStatus::Withdrawn)
        ],
    );
    (head, tail).prop_map(
        |(
            (d, purpose, kinds, title, description, category, tags),
            (condition, photos, price, deposit, availability, status),
        )| Listing {
            d,
            purpose,
            kinds,
            title,
            description,
            category,
            tags,
            condition,
            photos,
            price: price.map(|(money, per)| Price { money, per }),
            deposit,
            availability,
            status,
        },
    )
}

pub(crate) fn profile() -> impl Strategy<Value = Profile> {
    (
        text(30),
        text(100),
        vec(text(20), 0..3),
        vec(author(), 0..3),
    )
        .prop_map(|(name, bio, contact, mail_peers)| Profile {
            name,
            bio,
            contact,
            mail_peers,
        })
}

pub(crate) fn vouch() -> impl Strategy<Value = Vouch> {
    (
        author(),
        prop_oneof![
            Just(VouchClaim::Neighbour),
            Just(VouchClaim::KnownInPerson),
            Just(VouchClaim::DealtWith)
        ],
        prop_oneof![
            Just(Confidence::Revoked),
            Just(Confidence::Low),
            Just(Confidence::Medium),
            Just(Confidence::High)
        ],
        text(50),
    )
        .prop_map(|(subject, claim, confidence, note)| Vouch {
            subject,
            claim,
            confidence,
            note,
        })
}

pub(crate) fn receipt() -> impl Strategy<Value = Receipt> {
    (
        any::<[u8; 32]>().prop_map(AgreementId),
        deal_kind(),
        author(),
        author(),
        prop_oneof![
            Just(Outcome::Completed),
            Just(Outcome::Cancelled),
            Just(Outcome::Resolved)
        ],
        ts(),
        sig(),
        sig(),
    )
        .prop_map(
            |(
                agreement,
                deal,
                provider,
                receiver,
                outcome,
                ended_at,
                provider_sig,
                receiver_sig,
            )| {
                Receipt {
                    statement: ReceiptStatement {
                        agreement,
                        deal,
                        provider,
                        receiver,
                        outcome,
                        ended_at,
                    },
                    provider_sig,
                    receiver_sig,
                }
            },
        )
}

pub(crate) fn review() -> impl Strategy<Value = Review> {
    (receipt(), any::<u8>(), text(100)).prop_map(|(receipt, rating, text)| Review {
        receipt,
        rating,
        text,
    })
}

pub(crate) fn content() -> impl Strategy<Value = Content> {
    prop_oneof![
        listing().prop_map(Content::Listing),
        profile().prop_map(Content::Profile),
        vouch().prop_map(Content::Vouch),
        receipt().prop_map(Content::Receipt),
        review().prop_map(Content::Review),
    ]
}

pub(crate) fn body_with(
    content: impl Strategy<Value = Content>,
) -> impl Strategy<Value = RecordBody> {
    (
        author(),
        any::<u64>(),
        ts(),
        ts(),
        proptest::option::of("[0-9b-hjkmnp-z]{5,6}".prop_map(|s| Geohash::parse_area(&s).unwrap())),
        vec(
            "[a-z0-9]{1,32}".prop_map(|s| MeshId::parse(&s).unwrap()),
            0..4,
        ),
        content,
    )
        .prop_map(
            |(author, seq, created_at, expires_at, area, meshes, content)| RecordBody {
                author,
                seq,
                created_at,
                expires_at,
                area,
                meshes,
                content,
            },
        )
}
