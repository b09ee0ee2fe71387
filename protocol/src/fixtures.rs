//! Ready-made valid records for tests and benchmarks (feature `test-util`).

use ed25519_dalek::SigningKey;

use crate::geo::Geohash;
use crate::ids::AuthorKey;
use crate::listing::{
    Condition, DealKind, Listing, ListingStatus, Money, Period, Price, Purpose, Window,
};
use crate::record::{Content, RecordBody};
use crate::signed::author_of;
use crate::time::{DAY, Timestamp};
use crate::topic::MeshId;
use crate::validate::{Verified, sign_own};

/// A deterministic key from a seed number.
pub fn key(seed: u64) -> SigningKey {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8] = 0x5a;
    SigningKey::from_bytes(&bytes)
}

/// A typical listing (about 300 bytes of body): a drill to rent in Jutland.
pub fn listing(d: &str) -> Listing {
    Listing {
        d: d.to_owned(),
        purpose: Purpose::Offer,
        kinds: vec![DealKind::Rent, DealKind::Share],
        title: "Cordless drill, 18 V, two batteries".to_owned(),
        description: "Bosch drill with two batteries, charger and a box of bits. \
                      Pick up in the evening; please bring it back clean."
            .to_owned(),
        category: "tools".to_owned(),
        tags: vec!["drill".to_owned(), "diy".to_owned(), "bosch".to_owned()],
        condition: Some(Condition::Good),
        photos: vec![],
        price: Some(Price {
            money: Money {
                amount: 500,
                currency: *b"EUR",
            },
            per: Period::Day,
        }),
        deposit: Some(Money {
            amount: 5000,
            currency: *b"EUR",
        }),
        availability: vec![Window {
            start: Timestamp(1_800_000_000),
            end: Timestamp(1_800_000_000 + 30 * DAY),
        }],
        status: ListingStatus::Active,
    }
}

/// A listing body by `author` in `area`, created at `now`, living 30 days.
pub fn listing_body(author: AuthorKey, area: &str, listing: Listing, now: Timestamp) -> RecordBody {
    RecordBody {
        author,
        seq: 1,
        created_at: now,
        expires_at: now.plus(30 * DAY),
        area: Some(Geohash::parse_area(area).expect("fixture area is valid")),
        meshes: vec![],
        content: Content::Listing(listing),
    }
}

/// A body in the `local` mesh only.
pub fn local_body(author: AuthorKey, content: Content, now: Timestamp) -> RecordBody {
    RecordBody {
        author,
        seq: 1,
        created_at: now,
        expires_at: now.plus(30 * DAY),
        area: None,
        meshes: vec![MeshId::local()],
        content,
    }
}

/// A verified typical listing signed by `key`, named `d`, in `area`.
pub fn verified_listing(key: &SigningKey, d: &str, area: &str, now: Timestamp) -> Verified {
    let body = listing_body(author_of(key), area, listing(d), now);
    sign_own(&body, key, now).expect("fixture listing is valid")
}
