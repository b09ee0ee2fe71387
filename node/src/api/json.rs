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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
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
    /// Its author's trust from where you stand (`GET /trust/{author}` says
    /// why); `null` only where a listing is shown outside the API.
    pub trust: Option<TrustJson>,
}

/// A page of listings, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
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
    /// Photos by hash (64 hex, from `POST /blobs`), at most 8; each must be
    /// held here.
    #[serde(default)]
    #[schema(max_items = 8)]
    pub photos: Vec<String>,
    /// The meshes to publish in (ids of meshes this node is in, at most 4),
    /// instead of the default: the area plus the node's open meshes. A
    /// private mesh gets a listing only when named here, and the listing then
    /// goes nowhere else (naming the area or an open mesh beside it is 422
    /// `invalid_record`, rule `private_in_the_open`). Kept by updates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_items = 4)]
    pub meshes: Option<Vec<String>>,
    /// Whether the listing also goes to the node's area. Default: true,
    /// unless `meshes` names a private mesh (nothing meant for the street
    /// leaks to the area; true is then refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<bool>,
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
    /// Photos by hash (64 hex), at most 8, each held here: replaces the list
    /// (`[]` removes every photo).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_items = 8)]
    pub photos: Option<Vec<String>>,
}

/// A photo's bytes as `GET /blobs/{hash}` serves them: always a JPEG (only the
/// document names this type).
#[derive(Debug, Clone, ToSchema)]
#[schema(value_type = String, format = Binary, content_media_type = "image/jpeg")]
pub struct JpegBytes(pub Vec<u8>);

/// A photo as stored by `POST /blobs`: normalised (upright, metadata
/// stripped, at most 1600 px, a JPEG of at most 512 KiB).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct BlobJson {
    /// Its name: blake3 of the stored JPEG (64 hex); put it in a listing's `photos`.
    #[schema(example = "5e0c4bd3c8e3ab2ad5e1f4e8e8f3d6a1f0f1b5a9c1d2e3f4a5b6c7d8e9f0a1b2")]
    pub hash: String,
    /// Width in pixels, upright.
    pub width: u32,
    /// Height in pixels, upright.
    pub height: u32,
    /// Size of the stored JPEG in bytes.
    pub bytes: u64,
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
    /// Up to 4 nodes (author keys, 64 hex) that keep mail for you, e.g. your
    /// home server. Left out, the ones your current profile names are kept.
    #[serde(default)]
    pub mail_peers: Option<Vec<String>>,
}

/// A profile as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
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
    /// The nodes that keep mail for them (author keys, 64 hex).
    pub mail_peers: Vec<String>,
    /// Their trust from where you stand.
    pub trust: Option<TrustJson>,
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
    /// How others reach this node from outside its LAN.
    pub reachability: ReachabilityJson,
    /// Whether it takes writes: `degraded` while its disk is full or failing
    /// (every write is then answered `503 degraded`).
    pub health: crate::health::HealthJson,
    /// What its store holds against its budget.
    pub store: StoreJson,
    /// Its clock against its peers': `behind` or `ahead` when fresh records
    /// from several authors are off by more than the 10-minute bound.
    pub clock: crate::skew::ClockJson,
}

/// A node's store against its budget.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct StoreJson {
    /// Bytes of records held (as signed; the database takes a few times that).
    pub record_bytes: u64,
    /// The budget (`store_budget`): over it the node stops listening to its
    /// farthest cell.
    pub budget_bytes: u64,
    /// Neighbour cells no longer listened to, to keep within the budget, in
    /// the order they were dropped.
    pub dropped_cells: Vec<String>,
}

/// How others reach a node from outside its LAN.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ReachabilityJson {
    /// `direct` (at a confirmed external address), `relayed` (through relays
    /// holding a reservation for it) or `unreachable`.
    pub kind: ReachabilityKind,
    /// The confirmed addresses (direct) or the addresses through the relays
    /// (relayed).
    pub addresses: Vec<String>,
    /// The relays holding a reservation (peer ids), when relayed.
    pub relays: Vec<String>,
    /// Why it is unreachable (e.g. no relay known).
    pub reason: Option<String>,
}

/// How a node is reachable.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReachabilityKind {
    /// At a confirmed external address.
    Direct,
    /// Through relays.
    Relayed,
    /// Not from outside its LAN.
    Unreachable,
}

/// Connected peers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct PeersJson {
    /// Their peer ids.
    pub peers: Vec<String>,
}

/// The blocked peers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct BlockedPeersJson {
    /// Each blocked peer, by peer id.
    pub blocked: Vec<BlockedPeerJson>,
}

/// A blocked peer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct BlockedPeerJson {
    /// Its peer id.
    pub peer: String,
    /// Why: `misbehaviour: <what>` (e.g. `misbehaviour: invalid_record`), or
    /// `requested`.
    pub reason: String,
    /// When its block ends (RFC 3339), or `null`: until unblocked.
    pub until: Option<String>,
}

/// A peer unblocked.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct UnblockedJson {
    /// Its peer id.
    pub unblocked: String,
}

/// A named mesh.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct MeshJson {
    /// Its id (`p` and 31 hex characters for a private mesh).
    pub id: String,
    /// Its name, if it was created here or joined with an invite (a private
    /// mesh's name travels only inside its invites).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Open (anyone with the id may read and post) or private (only holders
    /// of an invite: its gossip is sealed, its sync and photos go only to
    /// proven members).
    pub kind: MeshKindJson,
    /// Whether this node announces the mesh's (opaque) topic in Kademlia, so
    /// members can find each other beyond the invite's addresses.
    pub discoverable: bool,
}

/// Whether a mesh is open or private.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MeshKindJson {
    /// Anyone who knows the id may read and post.
    Open,
    /// Only holders of an invite may read and post.
    Private,
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
    /// Open or private: a private mesh's invite carries its key, so whoever
    /// holds the invite can read and post.
    pub kind: MeshKindJson,
    /// Whether the mesh's members announce its topic in Kademlia (carried by
    /// a private mesh's invite to those who join with it).
    pub discoverable: bool,
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
    /// An open mesh (anyone who knows its id may join, read and post) instead
    /// of a private one (the default: only holders of an invite).
    #[serde(default)]
    pub open: bool,
    /// Whether members announce a private mesh's (opaque) topic in Kademlia,
    /// so they can find each other beyond the invite's addresses (default
    /// true; an open mesh always is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discoverable: Option<bool>,
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
    /// A peer was charged for misbehaving.
    PeerCharged {
        /// Its peer id.
        peer: String,
        /// What it did: `invalid_record`, `oversize_frame`, `malformed_frame`,
        /// `flooding` or `held_push`.
        misbehaviour: String,
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
    /// An event joined an agreement's chain on this node.
    AgreementChanged {
        /// The agreement id (64 hex).
        id: String,
        /// The event, now the head (64 hex).
        event: String,
        /// What it did (`propose`, `accept`, `handover`, …).
        action: String,
        /// Where the agreement stands now (`offered`, `accepted`, `active`,
        /// `disputed`, `completed`, `declined`, `withdrawn`, `cancelled`,
        /// `resolved`).
        state: String,
    },
    /// The other party's node acknowledged our chain up to `head`.
    AgreementDelivered {
        /// The agreement id.
        id: String,
        /// The head it has.
        head: String,
    },
    /// An event of ours waits for the provider's node, which this node keeps
    /// sending it to.
    AgreementPending {
        /// The agreement id.
        id: String,
        /// The event.
        event: String,
        /// What it does.
        action: String,
    },
    /// Our pending event was refused by the provider's node, or dropped when
    /// its offer expired: it will not be in the chain.
    AgreementRefused {
        /// The agreement id.
        id: String,
        /// The event.
        event: String,
        /// Why, as an error code (e.g. `offer_expired`, `overlaps`).
        code: String,
    },
    /// An item is overdue: handed over, not returned `overdue_grace` after the
    /// due date. Once per due date.
    AgreementOverdue {
        /// The agreement id.
        id: String,
        /// The due date passed.
        #[schema(format = DateTime)]
        due: String,
    },
    /// The other party sent a note (read it with the agreement).
    AgreementNote {
        /// The agreement id.
        id: String,
        /// Who wrote it (64 hex).
        from: String,
    },
    /// The receipt of one of this node's agreements was published (by this
    /// node as the provider) or came back from the provider's node.
    ReceiptPublished {
        /// The agreement id.
        agreement: String,
        /// The receipt record's id (64 hex).
        record: String,
    },
    /// A review was stored here: ours, or one from the network.
    ReviewAdded {
        /// The review record's id (64 hex).
        record: String,
        /// Its author (64 hex).
        author: String,
        /// Whom it reviews (64 hex).
        subject: String,
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
    /// The protocol rule a record (`invalid_record`, e.g. `bad_title`) or terms
    /// (`invalid_terms`, e.g. `empty_period`) break.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The period of the item already held or booked (`overlaps`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<SpanJson>,
    /// Why the other party's node refused (`refused`), e.g. `too_old`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    /// The actions an agreement takes (`unknown_action`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions: Option<Vec<String>>,
}

/// A window `[start, end)` that may be open-ended (`end: null`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct SpanJson {
    /// RFC 3339.
    #[schema(format = DateTime, example = "2030-01-01T00:00:00Z")]
    pub start: String,
    /// RFC 3339; `null` for ever.
    #[schema(format = DateTime, example = "2030-01-08T00:00:00Z")]
    pub end: Option<String>,
}

/// `Some` whenever the field is in the body, so that `null` (clear it) and a
/// missing field (keep it) differ.
fn present<'de, T, D>(de: D) -> Result<Option<T>, D::Error>
where
    T: Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    T::deserialize(de).map(Some)
}

/// A proposal on a listing: another's (this node receives) or ours (to a
/// `receiver`). `kind` says which terms apply; a term of another kind is
/// refused. Times are RFC 3339; money is minor units.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "listing": "0101010101010101010101010101010101010101010101010101010101010101.drill",
    "kind": "rent", "start": "2030-01-01T09:00:00Z", "due": "2030-01-03T09:00:00Z",
    "price": {"amount": 500, "currency": "EUR", "per": "day"},
    "deposit": {"amount": 5000, "currency": "EUR"},
    "pickup": "by the blue gate", "note": "Two days, if I may."
}))]
pub struct ProposeInput {
    /// The listing: its id `<author-hex>.<d>`, the name of one of ours, or a
    /// unique start of its id (at least 8 characters), as `GET
    /// /listings?id_prefix=` takes it.
    pub listing: String,
    /// The version agreed on (64 hex); the one this node holds unless given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// The kind of deal: which of the terms below apply.
    pub kind: DealKind,
    /// share, rent, lease, swap (required): when the thing changes hands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub start: Option<String>,
    /// share, rent (required): when it is due back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub due: Option<String>,
    /// lease: when it ends; leave it out for a lease that runs until notice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub end: Option<String>,
    /// give (required): the start of the pickup window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub from: Option<String>,
    /// give (required): the end of the pickup window; swap: when both items
    /// come back (leave it out to swap for good).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub until: Option<String>,
    /// rent, lease (required): the price per period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<PriceJson>,
    /// share, rent: a deposit held while the thing is away.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deposit: Option<MoneyJson>,
    /// rent: after this, only the provider may cancel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub cancel_before: Option<String>,
    /// lease (required): days between a notice and the end (at most 366).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice_days: Option<u16>,
    /// swap: one of our listings given in exchange (its id or name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theirs: Option<String>,
    /// swap: what we give, in words (at most 280 characters); a swap names
    /// `theirs`, an `offer` or both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer: Option<String>,
    /// On a listing of ours (required there, refused elsewhere): whom we
    /// propose to (64 hex).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver: Option<String>,
    /// Where to meet (at most 280 characters); it never leaves the two nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pickup: Option<String>,
    /// When the offer lapses unanswered: 7 days from now unless given, at most 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub offer_expires: Option<String>,
    /// A word to the other party (at most 1 KiB).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// New terms in answer to the current ones: the terms given replace the
/// current ones, the rest stay; `null` takes an optional term away (`deposit`,
/// `cancel_before`, a lease's `end`, a swap's `until`, `pickup`). The kind,
/// the listing, the parties and a swap's `theirs` cannot change.
#[derive(Debug, Clone, Serialize, Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "price": {"amount": 400, "currency": "EUR", "per": "day"},
    "deposit": null, "note": "4 a day, and no deposit between neighbours?"
}))]
pub struct CounterInput {
    /// The agreement's kind, if given: another kind is `invalid_terms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<DealKind>,
    /// share, rent, lease, swap: when the thing changes hands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub start: Option<String>,
    /// share, rent: when it is due back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub due: Option<String>,
    /// lease: when it ends (`null`: until notice).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub end: Option<Option<String>>,
    /// give: the start of the pickup window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub from: Option<String>,
    /// give: the end of the pickup window; swap: when both items come back
    /// (`null`: for good).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub until: Option<Option<String>>,
    /// rent, lease: the price per period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<PriceJson>,
    /// share, rent: the deposit (`null`: none).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<MoneyJson>)]
    pub deposit: Option<Option<MoneyJson>>,
    /// rent: after this, only the provider may cancel (`null`: any time).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub cancel_before: Option<Option<String>>,
    /// lease: days of notice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice_days: Option<u16>,
    /// swap: what the receiver gives, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer: Option<String>,
    /// Where to meet (`null`: not said).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub pickup: Option<Option<String>>,
    /// When the countered offer lapses: 7 days from now unless given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub offer_expires: Option<String>,
    /// A word to the other party (at most 1 KiB).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// A word to go with an accept, decline or withdraw; the body may be left out.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"note": "See you Saturday."}))]
pub struct NoteInput {
    /// A word to the other party (at most 1 KiB).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// The deal of a version of the terms, by kind (`kind`), with the protocol's
/// names for its terms.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DealJson {
    /// Lend for free.
    Share {
        /// When the thing is handed over.
        #[schema(format = DateTime)]
        start: String,
        /// When it is due back.
        #[schema(format = DateTime)]
        due: String,
        /// A deposit, if any.
        deposit: Option<MoneyJson>,
    },
    /// Lend for a price per period.
    Rent {
        /// When the thing is handed over.
        #[schema(format = DateTime)]
        start: String,
        /// When it is due back.
        #[schema(format = DateTime)]
        due: String,
        /// The price per period.
        price: PriceJson,
        /// A deposit, if any.
        deposit: Option<MoneyJson>,
        /// After this, only the provider may cancel.
        #[schema(format = DateTime)]
        cancel_before: Option<String>,
    },
    /// Lend for a long term for a price per period.
    Lease {
        /// When the lease starts.
        #[schema(format = DateTime)]
        start: String,
        /// When it ends; `null` runs until notice.
        #[schema(format = DateTime)]
        end: Option<String>,
        /// The price per period.
        price: PriceJson,
        /// Days between a notice and the end.
        notice_days: u16,
    },
    /// Exchange.
    Swap {
        /// The receiver's listing given in exchange (`<author-hex>.<d>`), if any.
        theirs: Option<String>,
        /// The version of it (64 hex).
        theirs_version_id: Option<String>,
        /// What the receiver gives, in words.
        offer: String,
        /// When the items change hands.
        #[schema(format = DateTime)]
        start: String,
        /// When both come back; `null` swaps for good.
        #[schema(format = DateTime)]
        until: Option<String>,
    },
    /// Give away for good.
    Give {
        /// The start of the pickup window.
        #[schema(format = DateTime)]
        from: String,
        /// Its end.
        #[schema(format = DateTime)]
        until: String,
    },
}

/// A version of the terms: the deal (its `kind` and terms, as a proposal
/// takes them) and what every kind has.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct TermsJson {
    /// The deal.
    #[serde(flatten)]
    pub deal: DealJson,
    /// The provider's listing (`<author-hex>.<d>`).
    pub listing: String,
    /// The version agreed on (64 hex).
    pub version_id: String,
    /// Who provides the thing and sequences the chain (64 hex).
    pub provider: String,
    /// Who receives it (64 hex).
    pub receiver: String,
    /// Where to meet.
    pub pickup: Option<String>,
    /// An accept or counter signed at or after this is late.
    #[schema(format = DateTime)]
    pub offer_expires: String,
}

/// Whose item a handover or return is about.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LegJson {
    /// The provider's item (the listing).
    Provider,
    /// The receiver's item, in a swap.
    Receiver,
}

/// How a dispute ended.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResolutionJson {
    /// The items came back.
    Returned,
    /// The receiver keeps what it has.
    Kept,
    /// Something else, said in the notes.
    Other,
}

/// What an event does: `action` names it, its own fields stand beside it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ActionJson {
    /// The first terms.
    Propose {
        /// The terms proposed.
        terms: TermsJson,
    },
    /// New terms in answer to the current ones.
    Counter {
        /// The terms countered with.
        terms: TermsJson,
    },
    /// The current terms, by their hash.
    Accept {
        /// The hash of the terms accepted (64 hex).
        terms_hash: String,
    },
    /// No to the current terms, or to an open extend or resolve.
    Decline,
    /// The signer of the current terms takes them back.
    Withdraw,
    /// A leg's item was handed over.
    Handover {
        /// Whose item.
        leg: LegJson,
    },
    /// A leg's item came back.
    Return {
        /// Whose item.
        leg: LegJson,
    },
    /// The other party's open act happened.
    Confirm {
        /// The event confirmed (64 hex).
        of: String,
        /// On the confirm of a return: the deposit given back.
        deposit_returned: Option<MoneyJson>,
    },
    /// A new due date, for the other party to confirm.
    Extend {
        /// The new due date.
        #[schema(format = DateTime)]
        due: String,
    },
    /// Ends before any handover; on an active lease, gives notice.
    Cancel,
    /// Something went wrong.
    Dispute,
    /// How a dispute ends, for the other party to confirm.
    Resolve {
        /// The outcome.
        outcome: ResolutionJson,
    },
}

/// One signed event of an agreement, shown from its signed bytes alone: both
/// parties' nodes show the same events.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct AgreementEventJson {
    /// Its id: blake3 of its signed body (64 hex).
    pub id: String,
    /// The event before it (64 hex); `null` on the proposal.
    pub prev: Option<String>,
    /// Who signed it (64 hex).
    pub signer: String,
    /// When it was signed.
    #[schema(format = DateTime)]
    pub at: String,
    /// What it does (`action`) and the action's own fields.
    #[serde(flatten)]
    pub action: ActionJson,
    /// The signer's word to the other party.
    pub note: String,
    /// The signer's ed25519 signature (128 hex).
    pub sig: String,
}

/// Our event waiting for the provider's node, and how sending it goes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct PendingJson {
    /// The event.
    pub event: AgreementEventJson,
    /// When it was signed and queued.
    #[schema(format = DateTime)]
    pub since: String,
    /// When this node last tried to deliver it since it started (`null`: not yet).
    #[schema(format = DateTime)]
    pub last_attempt: Option<String>,
    /// When it tries again, if it is waiting to (`null`: it tries as soon as
    /// the provider's node is seen).
    #[schema(format = DateTime)]
    pub next_retry: Option<String>,
}

/// A note beside the chain.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct NoteJson {
    /// Who wrote it (64 hex).
    pub from: String,
    /// When.
    #[schema(format = DateTime)]
    pub at: String,
    /// What it says.
    pub text: String,
}

/// Which side of an agreement this node is on.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgreementRole {
    /// The listing is ours: we provide, and our node sequences the chain.
    Provider,
    /// We receive.
    Receiver,
}

/// What every agreement shows, in a list or alone.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct AgreementSummaryJson {
    /// The agreement id: the first proposal's event id (64 hex).
    pub id: String,
    /// The kind of deal.
    pub kind: DealKind,
    /// Where it stands: `offered`, `accepted`, `active`, `disputed`,
    /// `completed`, `declined`, `withdrawn`, `cancelled` or `resolved`.
    #[schema(example = "offered")]
    pub state: String,
    /// This node's side.
    pub role: AgreementRole,
    /// The actions this node may take now, each a route
    /// `POST /agreements/{id}/<action>`: of `counter`, `accept`, `decline`,
    /// `withdraw`, `handover`, `return`, `confirm`, `extend`, `cancel`,
    /// `dispute`, `resolve`, and `note` (unless the provider's node refused the
    /// proposal: then none). While an event of ours waits, only `note`.
    #[schema(example = json!(["accept", "counter", "decline", "note"]))]
    pub next: Vec<String>,
    /// The provider's listing (`<author-hex>.<d>`).
    pub listing_id: String,
    /// Its title, as the kept copy says.
    pub title: String,
    /// The other party (64 hex).
    pub other: String,
    /// When the things are due back, if they come back.
    #[schema(format = DateTime)]
    pub due: Option<String>,
    /// Handed over and not returned an hour (`overdue_grace`) after the due
    /// date, at this node's time (derived, never signed).
    pub overdue: bool,
    /// Offered, and the offer lapsed unanswered at this node's time (derived,
    /// never signed).
    pub expired: bool,
    /// Whether an event of ours waits for the provider's node.
    pub waiting: bool,
    /// When the last event was signed.
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// An agreement as this node has it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct AgreementJson {
    /// What every agreement shows.
    #[serde(flatten)]
    pub summary: AgreementSummaryJson,
    /// The current terms.
    pub terms: TermsJson,
    /// Their hash, which an accept names (64 hex).
    pub terms_hash: String,
    /// The copy of the listing version the proposal named, as both nodes keep it.
    pub listing: ListingJson,
    /// The last event of the chain (64 hex).
    pub head: String,
    /// The chain, in order.
    pub events: Vec<AgreementEventJson>,
    /// Our event waiting for the provider's node to append it, if any.
    pub pending: Option<PendingJson>,
    /// Notes beside the chain, oldest first.
    pub notes: Vec<NoteJson>,
    /// Why the provider's node refused our first proposal (a refusal code such
    /// as `overlaps` or `offer_expired`): the agreement never started.
    pub refused: Option<String>,
    /// How many messages of this agreement (events, notes) this node still has to
    /// deliver to the other party's node; 0 when it has everything of ours.
    pub sending: usize,
    /// How those messages reach the other party's node: directly, or left
    /// with its mail host while it is offline.
    pub delivery: DeliveryJson,
    /// The receipt both parties signed, once it ended and the receipt is here.
    pub receipt: Option<ReceiptJson>,
    /// The other party's trust from where you stand.
    pub other_trust: Option<TrustJson>,
}

/// How an agreement's messages of ours reach the other party's node.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct DeliveryJson {
    /// `answered`: nothing of ours waits for the other node; `trying`: the
    /// node tries to reach it directly; `in_mailbox`: the message waits with
    /// the other party's mail host (direct tries go on).
    pub state: DeliveryState,
    /// `in_mailbox`: the mail host's author key (64 hex).
    pub host: Option<String>,
    /// `in_mailbox`: when the host took it.
    #[schema(format = DateTime)]
    pub since: Option<String>,
}

/// Where an agreement's messages of ours are.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Nothing of ours waits for the other node.
    Answered,
    /// Trying to reach the other node directly.
    Trying,
    /// Left with the other party's mail host.
    InMailbox,
}

/// An agreement after an action of ours.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct AgreementAnswer {
    /// The agreement.
    #[serde(flatten)]
    pub agreement: AgreementJson,
    /// Whether the other node has our event: as the receiver, the provider's
    /// node appended it; as the provider, the receiver's node acknowledged it
    /// within the wait. `false` on a 202, and when the wait ran out (the node
    /// keeps sending it).
    pub delivered: bool,
}

/// A page of agreements, the most recently changed first.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct AgreementPage {
    /// The agreements.
    pub agreements: Vec<AgreementSummaryJson>,
    /// The cursor of the next page (pass it as `cursor`), if there is one.
    pub next: Option<String>,
}

/// `handover` and `return`: in a swap, whose item (by default the one that is
/// this node's to hand over, or to give back). The body may be left out.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"note": "Handed over at the gate."}))]
pub struct LegInput {
    /// Whose item: `provider` (the listing) or, in a swap, `receiver`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leg: Option<LegJson>,
    /// A word to the other party (at most 1 KiB).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// `confirm`: the other party's open act happened. The body may be left out.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"deposit_returned": {"amount": 5000, "currency": "EUR"}, "note": "All fine, thanks!"}))]
pub struct ConfirmInput {
    /// The event confirmed (64 hex); by default the other party's open act.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub of: Option<String>,
    /// On the confirm of a return: the deposit given back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deposit_returned: Option<MoneyJson>,
    /// A word to the other party (at most 1 KiB).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// `extend`: a new due date, later than the current one, for the other party
/// to confirm.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"due": "2030-01-05T09:00:00Z", "note": "Two more days?"}))]
pub struct ExtendInput {
    /// The new due date (RFC 3339).
    #[schema(format = DateTime)]
    pub due: String,
    /// A word to the other party (at most 1 KiB).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// `resolve`: how a dispute ends, for the other party to confirm.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"outcome": "returned", "note": "It came back, a bit scratched."}))]
pub struct ResolveInput {
    /// `returned`, `kept` or `other`.
    pub outcome: ResolutionJson,
    /// A word to the other party (at most 1 KiB).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// `note`: a message beside the chain, signed, kept by both nodes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"text": "I'll be 10 minutes late."}))]
pub struct NoteText {
    /// The message (at most 1 KiB).
    pub text: String,
}

/// How an agreement ended, as its receipt says.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeJson {
    /// Carried out as agreed.
    Completed,
    /// Cancelled after it was accepted.
    Cancelled,
    /// Disputed, then resolved by both.
    Resolved,
}

/// What both parties signed when an agreement ended: no terms, no pickup, no
/// deposit.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct StatementJson {
    /// The agreement id (64 hex).
    pub agreement: String,
    /// The kind of deal.
    pub kind: DealKind,
    /// Who provided the thing (64 hex).
    pub provider: String,
    /// Who received it (64 hex).
    pub receiver: String,
    /// How it ended.
    pub outcome: OutcomeJson,
    /// When it ended.
    #[schema(format = DateTime)]
    pub ended_at: String,
    /// Whether the last return came by the due date; `null` without a return.
    pub on_time: Option<bool>,
}

/// A receipt record: the statement and both parties' signatures, published by
/// the provider's node.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ReceiptJson {
    /// The record id (64 hex).
    pub id: String,
    /// What both signed.
    #[serde(flatten)]
    pub statement: StatementJson,
    /// When it was published.
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// A review: one party's rating of the other, with the receipt it embeds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct ReviewJson {
    /// The record id of this version (64 hex).
    pub id: String,
    /// The agreement reviewed (64 hex).
    pub agreement: String,
    /// Who wrote it (64 hex).
    pub author: String,
    /// Whom it reviews: the other party (64 hex).
    pub subject: String,
    /// 1 to 5.
    pub rating: u8,
    /// What the author says.
    pub text: String,
    /// The version (a new review of the same agreement replaces the old one).
    pub version: u64,
    /// When this version was written.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// The receipt it embeds.
    pub receipt: StatementJson,
    /// Its author's trust from where you stand.
    pub trust: Option<TrustJson>,
}

/// A review of the other party of one of our ended agreements.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"agreement": "0202020202020202020202020202020202020202020202020202020202020202", "rating": 5, "text": "Drill in perfect shape, friendly handover."}))]
pub struct ReviewInput {
    /// The agreement (64 hex); it must have ended with a receipt.
    pub agreement: String,
    /// 1 to 5.
    pub rating: u8,
    /// At most 2 KiB.
    #[serde(default)]
    pub text: String,
}

/// A page of reviews, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct ReviewPage {
    /// The reviews.
    pub reviews: Vec<ReviewJson>,
    /// The cursor of the next page (pass it as `cursor`), if there is one.
    pub next: Option<String>,
}

/// Receipts of a party by outcome.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, Default)]
pub struct OutcomeCounts {
    /// Completed.
    pub completed: usize,
    /// Cancelled after acceptance.
    pub cancelled: usize,
    /// Disputed and resolved.
    pub resolved: usize,
}

/// What this node holds about a party.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct ReviewSummaryJson {
    /// The party (64 hex).
    pub subject: String,
    /// Its receipts, by outcome.
    pub receipts: OutcomeCounts,
    /// Receipts whose return came by the due date…
    pub on_time: usize,
    /// …out of those with a return (`on_time` known).
    pub returns: usize,
    /// Reviews of it.
    pub reviews: usize,
    /// Their mean rating; `null` without reviews.
    pub mean_rating: Option<f64>,
}

/// Ask for a sign-in link.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"host": "home.test:7878"}))]
pub struct LoginLinkInput {
    /// The `host:port` the link names: one of the API's addresses (the served
    /// address, its loopback names, `api_hosts`); default the request's Host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// A one-time sign-in link for the web page.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"url": "http://127.0.0.1:7878/login?code=0f1e2d3c4b5a69788796a5b4c3d2e1f0", "expires_in_secs": 600}))]
pub struct LoginLinkJson {
    /// Open it once, within `expires_in_secs`, to sign the browser in.
    pub url: String,
    /// Seconds it stays valid.
    pub expires_in_secs: u64,
}

/// Web sessions ended.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"revoked": 2}))]
pub struct RevokedJson {
    /// How many sessions ended.
    pub revoked: usize,
}

/// How the caller is signed in.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"via": "session", "csrf_token": "8c1f0e2d3b4a59687766554433221100"}))]
pub struct WebSessionJson {
    /// `bearer` (the API token) or `session` (the web page's cookie).
    pub via: String,
    /// With a session: the token its writes carry in `X-CSRF-Token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
}

/// What a vouch claims.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VouchClaimJson {
    /// Lives nearby.
    Neighbour,
    /// Known in person.
    KnownInPerson,
    /// Has dealt with them well.
    DealtWith,
}

/// How sure a voucher is.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConfidenceJson {
    /// Taken back (only in answers; revoke with `DELETE /vouches/{subject}`).
    Revoked,
    /// Somewhat (weight 1).
    Low,
    /// Fairly (weight 2).
    Medium,
    /// Fully (weight 3).
    High,
}

/// `POST /vouches`: vouch for someone.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"subject": "0707070707070707070707070707070707070707070707070707070707070707", "claim": "known_in_person", "confidence": "high", "note": "my neighbour for ten years"}))]
pub struct VouchInput {
    /// Who (their author key, 64 hex); never yourself.
    pub subject: String,
    /// What you claim.
    pub claim: VouchClaimJson,
    /// How sure you are: `low`, `medium` or `high`.
    pub confidence: ConfidenceJson,
    /// Up to 280 characters, public.
    #[serde(default)]
    pub note: String,
}

/// A vouch: public, signed by its author, lives a year and is renewed by its
/// author's node until revoked.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct VouchJson {
    /// The record id.
    pub id: String,
    /// Who vouches.
    pub author: String,
    /// For whom.
    pub subject: String,
    /// What they claim.
    pub claim: VouchClaimJson,
    /// How sure they are.
    pub confidence: ConfidenceJson,
    /// The note.
    pub note: String,
    /// The version at its address.
    pub version: u64,
    /// When this version was made (RFC 3339).
    pub created_at: String,
    /// When it expires unless renewed (RFC 3339).
    pub expires_at: String,
}

/// Live vouches held here.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct VouchList {
    /// In (author, subject) order.
    pub vouches: Vec<VouchJson>,
}

/// A person, by key and (when their profile is held) name.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct PersonJson {
    /// Author key (64 hex).
    pub author: String,
    /// Their profile's name, if held.
    pub name: Option<String>,
}

/// Reviews by people you know.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct RatingKnownJson {
    /// Their mean rating (1–5), if any.
    pub mean: Option<f64>,
    /// How many.
    pub count: u32,
}

/// Someone's trust as this node computes it from where its owner stands.
/// Others' nodes compute their own and may differ.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct TrustJson {
    /// Whose.
    pub author: String,
    /// Parts per million of all trust, from you (personalised PageRank over
    /// vouches, receipts and reviews).
    pub score: u32,
    /// Vouch hops from you (1: you vouch for them); `null` beyond 6.
    pub distance: Option<u8>,
    /// Up to 3 people you vouch for who vouch for them, highest score first.
    pub vouched_by: Vec<PersonJson>,
    /// Their agreements whose receipts are held here.
    pub deals: u32,
    /// Of those, the ones with someone within 2 vouch hops of you.
    pub deals_known: u32,
    /// Reviews of them by people within 2 vouch hops of you.
    pub rating_known: RatingKnownJson,
}

/// One of someone's deals, as `GET /trust` explains it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct TrustDealJson {
    /// The agreement (64 hex).
    pub agreement: String,
    /// The other party.
    pub with: PersonJson,
    /// `completed`, `cancelled` or `resolved`.
    pub outcome: OutcomeJson,
    /// Whether it counts in `deals_known`.
    pub known: bool,
    /// Why, in words.
    pub why: String,
}

/// A review of someone, as `GET /trust` explains it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct TrustReviewJson {
    /// The agreement reviewed (64 hex).
    pub agreement: String,
    /// Who wrote it.
    pub by: PersonJson,
    /// 1 to 5.
    pub rating: u8,
    /// Whether it counts in `rating_known`.
    pub counted: bool,
    /// Why, in words.
    pub why: String,
}

/// Someone's trust from where you stand, and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema)]
pub struct TrustExplainedJson {
    /// The figures.
    pub trust: TrustJson,
    /// Up to 3 shortest vouch paths from you to them: each lists the people
    /// from the one you vouch for to them.
    pub paths: Vec<Vec<PersonJson>>,
    /// Their deals whose receipts are held here.
    pub deals: Vec<TrustDealJson>,
    /// Reviews of them held here.
    pub reviews: Vec<TrustReviewJson>,
}

/// `POST /blocks`: block someone for yourself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"author": "0909090909090909090909090909090909090909090909090909090909090909"}))]
pub struct BlockInput {
    /// Their author key (64 hex); never yourself.
    pub author: String,
}

/// The people you block.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct BlockList {
    /// In key order, with their names where a profile is held (a blocked
    /// author's profile is hidden elsewhere, not here).
    pub blocks: Vec<PersonJson>,
}

/// `POST /mailbox/admitted`: keep mail for someone (on a node whose
/// `mailbox` is `allowed`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"author": "0909090909090909090909090909090909090909090909090909090909090909"}))]
pub struct MailboxAdmitInput {
    /// Their author key (64 hex).
    pub author: String,
}

/// One recipient's mail kept here.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct MailboxRecipientJson {
    /// Who it is for.
    #[serde(flatten)]
    pub person: PersonJson,
    /// Envelopes kept.
    pub envelopes: u32,
    /// Their bytes.
    pub bytes: u64,
    /// When the oldest was stored.
    #[schema(format = DateTime)]
    pub oldest: Option<String>,
}

/// What a mailbox keeps at most.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct MailboxQuotasJson {
    /// Envelopes per recipient.
    pub recipient_envelopes: u32,
    /// Bytes per recipient.
    pub recipient_bytes: u64,
    /// Envelopes per sender.
    pub sender_envelopes: u32,
    /// Bytes per sender.
    pub sender_bytes: u64,
}

/// The mailbox this node keeps for its neighbours, as its operator sees it:
/// who writes to whom, when and how much; never what.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct MailboxJson {
    /// Whether this node keeps mail for others (`mailbox = "allowed"`; the
    /// default on `role = "server"`).
    pub enabled: bool,
    /// The people admitted, in key order.
    pub admitted: Vec<PersonJson>,
    /// The mail kept, by recipient.
    pub recipients: Vec<MailboxRecipientJson>,
    /// The quotas.
    pub quotas: MailboxQuotasJson,
}
