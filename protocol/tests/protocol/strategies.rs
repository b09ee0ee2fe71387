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
        proptest::option::of(any::<bool>()),
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
                on_time,
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
                        on_time,
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

/// A listing that keeps every rule: the arbitrary one with its kinds sorted and
/// deduplicated, a title, valid tags, euros, a price when it lends for money, and
/// ordered windows.
fn valid_listing() -> impl Strategy<Value = Listing> {
    (listing(), vec(0u64..1_000_000, 0..6)).prop_map(|(mut l, mut edges)| {
        l.kinds.sort();
        l.kinds.dedup();
        if l.kinds.is_empty() {
            l.kinds.push(DealKind::Share);
        }
        if l.title.is_empty() {
            l.title.push('x');
        }
        l.tags
            .retain(|t| !t.is_empty() && !t.chars().any(|c| c.is_whitespace() || c.is_control()));
        let euros = |m: &mut Money| {
            m.amount &= i64::MAX;
            m.currency = *b"EUR";
        };
        if let Some(p) = &mut l.price {
            euros(&mut p.money);
        }
        if let Some(d) = &mut l.deposit {
            euros(d);
        }
        let lends = l.kinds.contains(&DealKind::Rent) || l.kinds.contains(&DealKind::Lease);
        if lends && l.price.is_none() {
            l.price = Some(Price {
                money: Money {
                    amount: 500,
                    currency: *b"EUR",
                },
                per: Period::Day,
            });
        }
        edges.sort();
        edges.dedup();
        l.availability = edges
            .chunks_exact(2)
            .map(|w| Window {
                start: Timestamp(w[0]),
                end: Timestamp(w[1]),
            })
            .collect();
        l
    })
}

/// Content that keeps every rule of its kind (listings, profiles, vouches; the
/// receipt kinds need real signatures and have their own tests).
pub(crate) fn valid_content() -> impl Strategy<Value = Content> {
    prop_oneof![
        valid_listing().prop_map(Content::Listing),
        profile().prop_map(|mut p| {
            if p.name.is_empty() {
                p.name.push('n');
            }
            p.contact.retain(|c| !c.is_empty());
            Content::Profile(p)
        }),
        vouch().prop_map(Content::Vouch),
    ]
}

/// A body created near `now` (up to a month before, a minute after), living at
/// most a year, with an area and distinct meshes: every header rule holds at `now`.
pub(crate) fn body_near(
    now: Timestamp,
    content: impl Strategy<Value = Content>,
) -> impl Strategy<Value = RecordBody> {
    (
        author(),
        any::<u64>(),
        0..30 * 24 * 3600u64,
        0..60u64,
        1..=swapmesh_protocol::validate::MAX_LIFETIME,
        "[0-9b-hjkmnp-z]{5,6}".prop_map(|s| Geohash::parse_area(&s).unwrap()),
        proptest::collection::btree_set(
            "[a-z0-9]{1,32}".prop_map(|s| MeshId::parse(&s).unwrap()),
            0..4,
        ),
        content,
    )
        .prop_map(
            move |(author, seq, before, after, lifetime, area, meshes, content)| {
                let created_at = Timestamp(now.0 - before + after);
                RecordBody {
                    author,
                    seq,
                    created_at,
                    // Expired records are ignored, not valid: live at `now`.
                    expires_at: created_at.plus(lifetime).max(now.plus(1)),
                    area: Some(area),
                    meshes: meshes.into_iter().collect(),
                    content,
                }
            },
        )
}
