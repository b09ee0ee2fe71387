//! The API's JSON forms (DESIGN §7), every request and response type, each with
//! its OpenAPI schema: authors and ids in lower-case hex, a listing's `id` as
//! `<author-hex>.<d>`, times in RFC 3339 UTC, money as integer minor units with
//! an ISO 4217 code. Inputs refuse unknown fields, so a typo is an error and not
//! a silently dropped value. The conversions to and from records are in
//! `convert`.

use serde::{Deserialize, Serialize};
use swapmesh_protocol::listing::{Condition, DealKind, ListingStatus, Period, Purpose};
use utoipa::ToSchema;

pub use super::error::ErrorCode;
pub use crate::sync::Progress;

/// Money: integer minor units of an ISO 4217 currency (500 EUR is 5.00 EUR).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoneyJson {
    /// Minor units (cents for EUR; yen for JPY).
    #[schema(minimum = 0, example = 5000)]
    pub amount: i64,
    /// ISO 4217 code. On input it must be in the ISO 4217 table; a record
    /// from the network may carry any three upper-case letters.
    #[schema(pattern = "^[A-Z]{3}$", example = "EUR")]
    pub currency: String,
}

/// A price per period.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceJson {
    /// Minor units per period.
    #[schema(minimum = 0, example = 500)]
    pub amount: i64,
    /// ISO 4217 code (see [`MoneyJson::currency`]).
    #[schema(pattern = "^[A-Z]{3}$", example = "EUR")]
    pub currency: String,
    /// The period.
    pub per: Period,
}

/// A time window `[start, end)`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowJson {
    /// RFC 3339.
    #[schema(format = DateTime, example = "2030-01-01T00:00:00Z")]
    pub start: String,
    /// RFC 3339.
    #[schema(format = DateTime, example = "2030-02-01T00:00:00Z")]
    pub end: String,
}

/// A listing as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ListingJson {
    /// `<author-hex>.<d>`, stable across versions.
    pub id: String,
    /// The version (`seq`).
    pub version: u64,
    /// The id of this version (64 hex).
    pub version_id: String,
    /// The author's key (64 hex).
    pub author: String,
    /// Offer or want.
    pub purpose: Purpose,
    /// Deal kinds, a sorted set.
    pub kinds: Vec<DealKind>,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Category.
    pub category: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Condition>,
    /// Photo blob hashes (hex).
    pub photos: Vec<String>,
    /// Price per period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<PriceJson>,
    /// Deposit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deposit: Option<MoneyJson>,
    /// Availability windows (empty: any time).
    pub availability: Vec<WindowJson>,
    /// Where the listing stands (`withdrawn`: a tombstone).
    pub status: ListingStatus,
    /// Area geohash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<String>,
    /// Meshes.
    pub meshes: Vec<String>,
    /// When this version was made (RFC 3339).
    #[schema(format = DateTime)]
    pub created_at: String,
    /// When it expires (RFC 3339).
    #[schema(format = DateTime)]
    pub expires_at: String,
}

/// A page of listings, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ListingPage {
    /// The listings.
    pub listings: Vec<ListingJson>,
    /// The cursor of the next page (pass it as `cursor`), if there is one.
    pub next: Option<String>,
}

/// A new listing, as posted to the API.
#[derive(Debug, Clone, Serialize, Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "d": "drill", "kinds": ["rent", "share"], "title": "Cordless drill",
    "price": {"amount": 500, "currency": "EUR", "per": "day"},
    "deposit": {"amount": 5000, "currency": "EUR"}, "tags": ["tools"]
}))]
pub struct ListingInput {
    /// The name (`[a-z0-9_-]{1,64}`); made from the title when missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^[a-z0-9_-]{1,64}$")]
    pub d: Option<String>,
    /// Offer (default) or want.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<Purpose>,
    /// Deal kinds (at least one).
    #[schema(min_items = 1)]
    pub kinds: Vec<DealKind>,
    /// Title (up to 140 characters).
    #[schema(max_length = 140)]
    pub title: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Category.
    #[serde(default)]
    pub category: String,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Condition>,
    /// Price per period; required on offers to rent or lease.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<PriceJson>,
    /// Deposit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deposit: Option<MoneyJson>,
    /// Availability windows.
    #[serde(default)]
    pub availability: Vec<WindowJson>,
}

/// A change to a listing: only the fields given change.
#[derive(Debug, Clone, Serialize, Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"title": "Cordless drill, 18 V", "status": "paused"}))]
pub struct ListingPatch {
    /// Deal kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kinds: Option<Vec<DealKind>>,
    /// Title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Condition>,
    /// Price per period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<PriceJson>,
    /// Deposit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deposit: Option<MoneyJson>,
    /// Availability windows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability: Option<Vec<WindowJson>>,
    /// active, paused, reserved or on_loan (withdraw with DELETE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ListingStatus>,
}

/// A profile to publish.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Ana", "bio": "Tools and bikes.", "contact": ["signal: ana.01"]}))]
pub struct ProfileInput {
    /// Display name (1-64 characters).
    pub name: String,
    /// About them.
    #[serde(default)]
    pub bio: String,
    /// How to reach them.
    #[serde(default)]
    pub contact: Vec<String>,
}

/// A profile as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ProfileJson {
    /// The author (64 hex).
    pub author: String,
    /// Its version (`seq`).
    pub version: u64,
    /// Display name.
    pub name: String,
    /// About them.
    pub bio: String,
    /// How to reach them.
    pub contact: Vec<String>,
}

/// This node.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct NodeJson {
    /// The libp2p peer id.
    pub peer_id: String,
    /// The author key of its records (64 hex).
    pub author: String,
    /// Addresses it listens on.
    pub listen: Vec<String>,
    /// Its area, if it has one.
    pub area: Option<String>,
    /// The named meshes it is in.
    pub meshes: Vec<String>,
    /// The currency its people price things in (ISO 4217).
    pub currency: String,
    /// The node's version.
    pub version: String,
    /// Seconds since the API started.
    pub uptime_secs: u64,
    /// Catch-up sync: sessions running, records fetched of expected.
    pub sync: Progress,
}

/// Connected peers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct PeersJson {
    /// Their peer ids.
    pub peers: Vec<String>,
}

/// A named mesh.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct MeshJson {
    /// Its id.
    pub id: String,
    /// Its name, if it was created here or joined with an invite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// The named meshes this node is in.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct MeshList {
    /// The meshes.
    pub meshes: Vec<MeshJson>,
}

/// A mesh and an invite to it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct MeshInvite {
    /// Its id.
    pub id: String,
    /// Its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The invite text (`swapmesh:…`), to pass to `POST /meshes/join`.
    pub invite: String,
}

/// A mesh to create.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Elm Street"}))]
pub struct CreateMesh {
    /// A name for people.
    pub name: String,
}

/// An invite to join with.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"invite": "swapmesh:not-a-real-invite"}))]
pub struct JoinMesh {
    /// The invite text (`swapmesh:…`).
    pub invite: String,
}

/// A record's address: its author, kind and name.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct AddressJson {
    /// The author (64 hex).
    pub author: String,
    /// The record kind.
    pub kind: RecordKindJson,
    /// The name (`d`); a listing's id is `<author>.<d>`.
    pub d: String,
}

/// The kinds of record.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordKindJson {
    /// An offer or a want.
    Listing,
    /// Who someone is.
    Profile,
    /// I know this neighbour.
    Vouch,
    /// An agreement ended.
    Receipt,
    /// A party's review.
    Review,
}

/// How a peer was discovered.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DiscoveryJson {
    /// mDNS on the LAN.
    Mdns,
    /// Kademlia: it provides one of our topics.
    TopicProvider,
    /// Another way.
    Other,
}

/// One event of `GET /events` (the JSON of a server-sent event's `data:`
/// line), told apart by `type`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventJson {
    /// A record arrived at an address where we had nothing.
    RecordAdded {
        /// Its address.
        address: AddressJson,
        /// The version's id (64 hex).
        id: String,
    },
    /// A newer version replaced the one we had.
    RecordChanged {
        /// Its address.
        address: AddressJson,
        /// The new version's id.
        id: String,
    },
    /// A listing was withdrawn (its tombstone arrived).
    RecordWithdrawn {
        /// Its address.
        address: AddressJson,
        /// The tombstone's id.
        id: String,
    },
    /// A peer connected.
    PeerUp {
        /// Its peer id.
        peer: String,
    },
    /// A peer disconnected.
    PeerDown {
        /// Its peer id.
        peer: String,
    },
    /// Discovery found a peer.
    PeerDiscovered {
        /// Its peer id.
        peer: String,
        /// How.
        via: DiscoveryJson,
    },
    /// A peer was blocked for misbehaving.
    PeerBlocked {
        /// Its peer id.
        peer: String,
    },
    /// A catch-up sync session made progress.
    SyncProgress {
        /// The peer.
        peer: String,
        /// The topic.
        topic: String,
        /// Records fetched so far.
        fetched: usize,
        /// Records expected.
        expected: usize,
    },
    /// A catch-up sync session ended.
    SyncFinished {
        /// The peer.
        peer: String,
        /// The topic.
        topic: String,
        /// Records fetched and stored.
        fetched: usize,
        /// Records the peer stored from us.
        pushed: usize,
    },
    /// An agreement's chain or state changed on this node.
    AgreementChanged {
        /// The agreement id (64 hex).
        id: String,
        /// Its head event now.
        head: String,
        /// Its phase now (`offered`, `accepted`, `active`, `disputed`,
        /// `completed`, `declined`, `withdrawn`, `cancelled`, `resolved`).
        phase: String,
    },
    /// The other party acknowledged our chain up to `head`.
    AgreementDelivered {
        /// The agreement id.
        id: String,
        /// The head it has.
        head: String,
    },
    /// Our pending event was refused by the provider's node, or dropped when
    /// its offer expired: it will not be in the chain.
    AgreementRefused {
        /// The agreement id.
        id: String,
        /// The event.
        event: String,
        /// Why, as an error code (e.g. `offer_expired`, `overlaps`).
        refusal: String,
    },
    /// The other party sent a note (read it with the agreement).
    AgreementNote {
        /// The agreement id.
        id: String,
    },
    /// This reader was too slow and missed events.
    Lagged {
        /// How many.
        missed: u64,
    },
}

/// Every error: one sentence, a code per case, and details where they help.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ErrorBody {
    /// One sentence a person can act on.
    pub error: String,
    /// What went wrong, for programs (see the `ErrorCode` schema).
    pub code: ErrorCode,
    /// The field or query parameter at fault, when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The protocol rule a record breaks (`invalid_record`), e.g. `bad_title`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}
