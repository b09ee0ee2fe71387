//! Listings: an offer of something to swap, rent, lease, share or give, or a want.

use serde::{Deserialize, Serialize};

use crate::ids::BlobHash;
use crate::time::Timestamp;

/// An offer or a want. Replaceable at `(author, Listing, d)`; a newer `seq` wins.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Listing {
    /// The author's stable name for this listing, `[a-z0-9_-]{1,64}`.
    pub d: String,
    /// Offer or want.
    pub purpose: Purpose,
    /// The kinds of deal on offer (or wanted), strictly ascending, at least one.
    pub kinds: Vec<DealKind>,
    /// Up to 140 characters, not empty.
    pub title: String,
    /// Up to 8 KiB.
    pub description: String,
    /// A free-form category such as `tools` (up to 64 characters).
    pub category: String,
    /// Up to 16 tags, each 1–32 characters with no white space.
    pub tags: Vec<String>,
    /// The state the thing is in, for offers.
    pub condition: Option<Condition>,
    /// Up to 8 photos, by the blake3 hash of their blobs.
    pub photos: Vec<BlobHash>,
    /// The price per period; required on offers to rent or lease.
    pub price: Option<Price>,
    /// A deposit asked for while the thing is away.
    pub deposit: Option<Money>,
    /// When the thing can be had: ordered, non-overlapping windows (empty = any time).
    pub availability: Vec<Window>,
    /// Where the listing stands; `Withdrawn` makes this version a tombstone.
    pub status: ListingStatus,
}

/// Offer or want.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Something on offer.
    Offer,
    /// Something wanted.
    Want,
}

/// The kinds of deal. Declared in the order used to sort `Listing::kinds`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DealKind {
    /// Exchange for something else.
    Swap,
    /// Lend for a price per period.
    Rent,
    /// Lend for a long term, for a price per period.
    Lease,
    /// Lend for free.
    Share,
    /// Give away for good.
    Give,
}

/// The state of a thing.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// Unused.
    New,
    /// Used but hardly.
    LikeNew,
    /// Works well, shows use.
    Good,
    /// Works, worn.
    Fair,
    /// For parts or repair.
    Poor,
}

/// Where a listing stands.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ListingStatus {
    /// Open to proposals.
    Active,
    /// Temporarily not open.
    Paused,
    /// Promised in an agreement not yet handed over.
    Reserved,
    /// Away with a borrower.
    OnLoan,
    /// Deleted: this version is a tombstone.
    Withdrawn,
}

/// An amount of money in integer minor units (cents) of an ISO-4217 currency.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Money {
    /// Minor units; never negative in a valid record.
    pub amount: i64,
    /// Three upper-case letters, e.g. `*b"EUR"`.
    pub currency: [u8; 3],
}

/// A price per period.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Price {
    /// The amount per period.
    pub money: Money,
    /// The period.
    pub per: Period,
}

/// A billing period.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// Per hour.
    Hour,
    /// Per day.
    Day,
    /// Per week.
    Week,
    /// Per month.
    Month,
}

/// A time window `[start, end)`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Window {
    /// First second of the window.
    pub start: Timestamp,
    /// First second after the window.
    pub end: Timestamp,
}

impl Listing {
    /// A withdrawn listing is a tombstone.
    pub fn is_withdrawn(&self) -> bool {
        self.status == ListingStatus::Withdrawn
    }
}

impl Money {
    /// The currency code as text.
    pub fn currency_str(&self) -> &str {
        std::str::from_utf8(&self.currency).unwrap_or("???")
    }
}
