//! Helpers shared by the integration tests: records built field by field and
//! signed with a few fixed keys (listings, and receipts and reviews whose
//! statements both parties really sign).
#![allow(dead_code, unreachable_pub)]

use swapmesh_protocol::fixtures;
use swapmesh_protocol::listing::{DealKind, ListingStatus, Purpose};
use swapmesh_protocol::signed::author_of;
use swapmesh_protocol::social::{Outcome, Receipt, ReceiptStatement, Review};
use swapmesh_protocol::{
    AgreementId, AuthorKey, Content, Geohash, MeshId, RecordBody, Timestamp, Verified, sign_own,
};

/// The clock of most tests.
pub const NOW: Timestamp = Timestamp(1_700_000_000);

/// A listing to build and sign.
#[derive(Clone, Debug)]
pub struct Rec {
    pub key: u64,
    pub d: String,
    pub seq: u64,
    pub created_at: u64,
    pub expires_at: u64,
    pub area: Option<String>,
    pub meshes: Vec<String>,
    pub withdrawn: bool,
    pub purpose: Purpose,
    pub kinds: Vec<DealKind>,
    pub title: String,
    pub tags: Vec<String>,
    pub category: String,
}

impl Rec {
    /// A drill for rent in `area` by key 1, named `d`, version 1, living 30 days.
    pub fn new(d: &str, area: &str) -> Self {
        Self {
            key: 1,
            d: d.to_owned(),
            seq: 1,
            created_at: NOW.0,
            expires_at: NOW.0 + 30 * 86_400,
            area: Some(area.to_owned()),
            meshes: vec![],
            withdrawn: false,
            purpose: Purpose::Offer,
            kinds: vec![DealKind::Rent, DealKind::Share],
            title: "Cordless drill, 18 V".to_owned(),
            tags: vec!["drill".to_owned()],
            category: "tools".to_owned(),
        }
    }

    pub fn author(&self) -> AuthorKey {
        author_of(&fixtures::key(self.key))
    }

    pub fn body(&self) -> RecordBody {
        let mut listing = fixtures::listing(&self.d);
        listing.purpose = self.purpose;
        listing.kinds = self.kinds.clone();
        listing.title = self.title.clone();
        listing.tags = self.tags.clone();
        listing.category = self.category.clone();
        if self.withdrawn {
            listing.status = ListingStatus::Withdrawn;
        }
        RecordBody {
            author: self.author(),
            seq: self.seq,
            created_at: Timestamp(self.created_at),
            expires_at: Timestamp(self.expires_at),
            area: self
                .area
                .as_deref()
                .map(|a| Geohash::parse_area(a).expect("test area")),
            meshes: self
                .meshes
                .iter()
                .map(|m| MeshId::parse(m).expect("test mesh"))
                .collect(),
            content: Content::Listing(listing),
        }
    }

    /// Signs it as of its own creation time.
    pub fn sign(&self) -> Verified {
        sign_own(
            &self.body(),
            &fixtures::key(self.key),
            Timestamp(self.created_at),
        )
        .expect("test record is valid")
    }
}

/// Runs a future to completion on this thread.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

/// A receipt of agreement `[agreement; 32]` between fixture keys `provider` and
/// `receiver`, both really signing the statement.
pub fn receipt(provider: u64, receiver: u64, agreement: u8, ended_at: Timestamp) -> Receipt {
    let (p, r) = (fixtures::key(provider), fixtures::key(receiver));
    let statement = ReceiptStatement {
        agreement: AgreementId([agreement; 32]),
        deal: DealKind::Rent,
        provider: author_of(&p),
        receiver: author_of(&r),
        outcome: Outcome::Completed,
        ended_at,
        on_time: Some(true),
    };
    Receipt {
        provider_sig: statement.sign(&p),
        receiver_sig: statement.sign(&r),
        statement,
    }
}

/// A receipt or review to sign: by fixture key `key`, in the `local` mesh.
#[derive(Clone, Debug)]
pub struct Social {
    pub key: u64,
    pub seq: u64,
    pub created_at: u64,
    pub expires_at: u64,
    pub content: Content,
}

impl Social {
    /// The receipt, published by its provider at `created_at`, living 30 days.
    pub fn receipt(receipt: Receipt, provider: u64, created_at: u64) -> Self {
        Self {
            key: provider,
            seq: 1,
            created_at,
            expires_at: created_at + 30 * 86_400,
            content: Content::Receipt(receipt),
        }
    }

    /// Fixture key `key`'s review of the other party of `receipt`, version 1,
    /// written at `created_at`, living 30 days.
    pub fn review(receipt: Receipt, key: u64, rating: u8, created_at: u64) -> Self {
        Self {
            key,
            seq: 1,
            created_at,
            expires_at: created_at + 30 * 86_400,
            content: Content::Review(Review {
                receipt,
                rating,
                text: format!("{rating} stars"),
            }),
        }
    }

    pub fn author(&self) -> AuthorKey {
        author_of(&fixtures::key(self.key))
    }

    /// Signs it as of its own creation time.
    pub fn sign(&self) -> Verified {
        let body = RecordBody {
            author: self.author(),
            seq: self.seq,
            created_at: Timestamp(self.created_at),
            expires_at: Timestamp(self.expires_at),
            area: None,
            meshes: vec![MeshId::local()],
            content: self.content.clone(),
        };
        sign_own(&body, &fixtures::key(self.key), Timestamp(self.created_at))
            .expect("test receipt or review is valid")
    }
}

/// Opens the database in `dir` with sled itself, waiting for the store's lock.
pub fn raw_sled(dir: &std::path::Path) -> sled::Db {
    // sled reports a held lock as WouldBlock, or (usually) wrapped in an
    // `Other` error naming the lock; its flusher thread may hold the lock a
    // moment after the store is dropped, longer on a loaded machine.
    for _ in 0..400 {
        match sled::Config::new().path(dir).use_compression(false).open() {
            Ok(db) => return db,
            Err(sled::Error::Io(e))
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.to_string().starts_with("could not acquire lock") =>
            {
                std::thread::sleep(std::time::Duration::from_millis(25))
            }
            Err(e) => panic!("{e}"),
        }
    }
    panic!("the store's lock was not released")
}
