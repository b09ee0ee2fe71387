//! Validation: a pure function from bytes and `now` to one of three outcomes
//! (DESIGN §3).
//!
//! - rejected ([`Invalid`]): never stored or forwarded, the sender is penalised;
//! - ignored ([`Ignored`]): not stored or forwarded, nobody penalised (an honest
//!   node with a newer format, a skewed clock or an old copy);
//! - valid ([`Verified`]): the only way to get a record the store will take.
//!
//! Order of checks: the format version first (a newer format cannot be read at all),
//! then the signature, then the kind, the canonical form and the rules, and the
//! clock last, so an invalid record is rejected even when it is also stale.

use ed25519_dalek::{SigningKey, VerifyingKey};
use thiserror::Error;

use crate::encoding::DecodeError;
use crate::ids::{AuthorKey, RecordId, is_valid_name};
use crate::listing::{DealKind, Listing, Money, Purpose};
use crate::record::{Content, Decoded, FORMAT_VERSION, RecordBody, RecordKind};
use crate::signed::{MAX_BODY, SignedRecord, author_of, signing_bytes};
use crate::social::{Profile, Receipt, Review, Vouch};
use crate::time::{MINUTE, Timestamp, YEAR};
use crate::topic::MeshId;

/// How far ahead of `now` a creation time may be before the record is ignored.
pub const MAX_CLOCK_SKEW: u64 = 10 * MINUTE;
/// How long after its creation a record may expire.
pub const MAX_LIFETIME: u64 = YEAR;
/// Most characters in a listing title.
pub const MAX_TITLE_CHARS: usize = 140;
/// Most bytes in a listing description.
pub const MAX_DESCRIPTION: usize = 8 * 1024;
/// Most characters in a category.
pub const MAX_CATEGORY_CHARS: usize = 64;
/// Most tags on a listing.
pub const MAX_TAGS: usize = 16;
/// Most characters in a tag.
pub const MAX_TAG_CHARS: usize = 32;
/// Most photos on a listing.
pub const MAX_PHOTOS: usize = 8;
/// Most meshes on a record.
pub const MAX_MESHES: usize = 4;
/// Most availability windows on a listing.
pub const MAX_WINDOWS: usize = 32;
/// Most characters in a profile name.
pub const MAX_NAME_CHARS: usize = 64;
/// Most bytes in a profile bio.
pub const MAX_BIO: usize = 1024;
/// Most contact hints (and mail peers) on a profile.
pub const MAX_CONTACTS: usize = 4;
/// Most characters in a contact hint.
pub const MAX_CONTACT_CHARS: usize = 128;
/// Most characters in a vouch note.
pub const MAX_NOTE_CHARS: usize = 280;
/// Most bytes in a review text.
pub const MAX_REVIEW_TEXT: usize = 2 * 1024;

/// Why a record is rejected. Each variant names the rule it breaks.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Invalid {
    /// The bytes are not a canonical encoding.
    #[error("malformed record: {0}")]
    Malformed(#[from] DecodeError),
    /// A kind in a format version not its own (a format-1 receipt or review;
    /// none was ever written).
    #[error("{kind:?} records are not written in format {version}")]
    WrongFormat {
        /// The kind.
        kind: RecordKind,
        /// The format version found.
        version: u16,
    },
    /// The body is larger than 32 KiB.
    #[error("record body of {len} bytes is over the 32 KiB limit")]
    BodyTooLarge {
        /// Body length.
        len: usize,
    },
    /// The author is not a valid ed25519 public key.
    #[error("author is not a valid ed25519 public key")]
    BadAuthorKey,
    /// The signature does not verify (`verify_strict`) for the author.
    #[error("signature does not verify for the author")]
    BadSignature,
    /// A record must have an area or a mesh.
    #[error("record has neither an area nor a mesh")]
    NoPlace,
    /// The area is not 5–6 geohash characters.
    #[error("area {0:?} is not a geohash of 5-6 characters")]
    BadGeohash(String),
    /// A mesh id is not `[a-z0-9]{{1,32}}`.
    #[error("mesh id {0:?} is not 1-32 of a-z and 0-9")]
    BadMeshId(String),
    /// More than 4 meshes, or one named twice.
    #[error("meshes must be at most 4 distinct ids, got {count}")]
    BadMeshes {
        /// How many were given.
        count: usize,
    },
    /// A record in a private mesh names an area or an open mesh too: it would
    /// travel in the clear, where anyone could sign one and so post into the
    /// private mesh through an open topic.
    #[error("a record in a private mesh may name no area and no open mesh")]
    PrivateInTheOpen,
    /// `expires_at` is not after `created_at`.
    #[error("expires at or before it was created")]
    ExpiresBeforeCreated,
    /// `expires_at` is more than a year after `created_at`.
    #[error("expires {secs} s after creation, more than a year")]
    ExpiryTooFar {
        /// Lifetime asked for.
        secs: u64,
    },
    /// The listing name breaks `[a-z0-9_-]{{1,64}}`.
    #[error("listing name {0:?} is not 1-64 of a-z, 0-9, '_' and '-'")]
    BadName(String),
    /// No deal kinds, or not strictly ascending (a set has one spelling).
    #[error("deal kinds must be a non-empty set in ascending order")]
    BadKinds,
    /// The title is empty or longer than 140 characters.
    #[error("title must be 1-140 characters, got {chars}")]
    BadTitle {
        /// Characters in the title.
        chars: usize,
    },
    /// The description is over 8 KiB.
    #[error("description of {len} bytes is over 8 KiB")]
    DescriptionTooLong {
        /// Its length.
        len: usize,
    },
    /// The category is over 64 characters.
    #[error("category is over 64 characters")]
    CategoryTooLong,
    /// More than 16 tags.
    #[error("{count} tags, at most 16")]
    TooManyTags {
        /// How many.
        count: usize,
    },
    /// A tag is empty, too long, or has white space or control characters.
    #[error("tag {0:?} must be 1-32 characters without white space")]
    BadTag(String),
    /// More than 8 photos.
    #[error("{count} photos, at most 8")]
    TooManyPhotos {
        /// How many.
        count: usize,
    },
    /// A currency is not three upper-case letters.
    #[error("currency {0:?} is not three upper-case letters (ISO 4217)")]
    BadCurrency(String),
    /// An amount is negative.
    #[error("amount {amount} is negative")]
    NegativeAmount {
        /// The amount.
        amount: i64,
    },
    /// An offer to rent or lease has no price.
    #[error("an offer to rent or lease needs a price")]
    MissingPrice,
    /// Availability windows are empty, out of order or overlapping, or too many.
    #[error("availability windows must be non-empty, ordered and not overlapping (at most 32)")]
    UnorderedWindows,
    /// A profile field breaks its size rule.
    #[error("profile {0} is out of bounds")]
    BadProfile(&'static str),
    /// A vouch names its own author.
    #[error("a vouch cannot name its own author")]
    SelfVouch,
    /// A vouch note is over 280 characters.
    #[error("vouch note is over 280 characters")]
    NoteTooLong,
    /// A receipt's parties are the same key, or the author is not a party.
    #[error("receipt parties must be two different keys and include the author")]
    BadParties,
    /// A receipt authored by anyone but its provider, the agreement's sequencer.
    #[error("a receipt is authored by its provider, the agreement's sequencer")]
    ReceiptNotBySequencer,
    /// A receipt signature does not verify.
    #[error("a party's receipt signature does not verify")]
    BadReceiptSignature,
    /// A rating is not 1 to 5.
    #[error("rating {0} is not 1 to 5")]
    BadRating(u8),
    /// A review text is over 2 KiB.
    #[error("review text is over 2 KiB")]
    ReviewTooLong,
}

impl Invalid {
    /// A short stable name of the rule, for metrics and logs.
    pub fn rule(&self) -> &'static str {
        match self {
            Invalid::Malformed(_) => "malformed",
            Invalid::WrongFormat { .. } => "wrong_format",
            Invalid::BodyTooLarge { .. } => "body_too_large",
            Invalid::BadAuthorKey => "bad_author_key",
            Invalid::BadSignature => "bad_signature",
            Invalid::NoPlace => "no_place",
            Invalid::BadGeohash(_) => "bad_geohash",
            Invalid::BadMeshId(_) => "bad_mesh_id",
            Invalid::BadMeshes { .. } => "bad_meshes",
            Invalid::PrivateInTheOpen => "private_in_the_open",
            Invalid::ExpiresBeforeCreated => "expires_before_created",
            Invalid::ExpiryTooFar { .. } => "expiry_too_far",
            Invalid::BadName(_) => "bad_name",
            Invalid::BadKinds => "bad_kinds",
            Invalid::BadTitle { .. } => "bad_title",
            Invalid::DescriptionTooLong { .. } => "description_too_long",
            Invalid::CategoryTooLong => "category_too_long",
            Invalid::TooManyTags { .. } => "too_many_tags",
            Invalid::BadTag(_) => "bad_tag",
            Invalid::TooManyPhotos { .. } => "too_many_photos",
            Invalid::BadCurrency(_) => "bad_currency",
            Invalid::NegativeAmount { .. } => "negative_amount",
            Invalid::MissingPrice => "missing_price",
            Invalid::UnorderedWindows => "unordered_windows",
            Invalid::BadProfile(_) => "bad_profile",
            Invalid::SelfVouch => "self_vouch",
            Invalid::NoteTooLong => "note_too_long",
            Invalid::BadParties => "bad_parties",
            Invalid::ReceiptNotBySequencer => "receipt_not_by_sequencer",
            Invalid::BadReceiptSignature => "bad_receipt_signature",
            Invalid::BadRating(_) => "bad_rating",
            Invalid::ReviewTooLong => "review_too_long",
        }
    }
}

/// Why a record is ignored without blame.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ignored {
    /// Written in a newer format than this node reads.
    #[error("record format {version} is newer than {FORMAT_VERSION}")]
    NewerVersion {
        /// The format version found.
        version: u16,
    },
    /// A record kind this node does not know.
    #[error("unknown record kind {code}")]
    UnknownKind {
        /// The kind code found.
        code: u8,
    },
    /// Created more than 10 minutes after `now` (the author's clock is ahead).
    #[error("created at {created_at:?}, more than 10 minutes after now ({now:?})")]
    FromTheFuture {
        /// Claimed creation time.
        created_at: Timestamp,
        /// Our clock.
        now: Timestamp,
    },
    /// Already expired at `now`.
    #[error("expired at {expires_at:?} (now {now:?})")]
    Expired {
        /// Its expiry.
        expires_at: Timestamp,
        /// Our clock.
        now: Timestamp,
    },
}

impl Ignored {
    /// A short stable name of the reason, for metrics and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            Ignored::NewerVersion { .. } => "newer_version",
            Ignored::UnknownKind { .. } => "unknown_kind",
            Ignored::FromTheFuture { .. } => "from_the_future",
            Ignored::Expired { .. } => "expired",
        }
    }
}

/// A record that passed verification and validation. Only [`check`] and
/// [`sign_own`] build one, so nothing downstream can store an unchecked record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    signed: SignedRecord,
    body: RecordBody,
    id: RecordId,
}

impl Verified {
    /// The signed record.
    pub fn signed(&self) -> &SignedRecord {
        &self.signed
    }
    /// The decoded body.
    pub fn body(&self) -> &RecordBody {
        &self.body
    }
    /// The record id.
    pub fn id(&self) -> RecordId {
        self.id
    }
    /// The signed record, consuming the wrapper.
    pub fn into_signed(self) -> SignedRecord {
        self.signed
    }
}

/// A valid record or the reason it is ignored; `Err` means rejected.
// The valid record is moved once, straight into the store; boxing it would cost an
// allocation per record on the hot ingest path for no gain.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// Valid: store it.
    Valid(Verified),
    /// Ignored: drop it, blame nobody.
    Ignored(Ignored),
}

impl Checked {
    /// The verified record, if valid.
    pub fn valid(self) -> Option<Verified> {
        match self {
            Checked::Valid(v) => Some(v),
            Checked::Ignored(_) => None,
        }
    }
}

/// Decodes wire bytes of a [`SignedRecord`] and checks it.
pub fn check_bytes(bytes: &[u8], now: Timestamp) -> Result<Checked, Invalid> {
    check(SignedRecord::decode(bytes)?, now)
}

/// Verifies and validates a signed record at time `now`.
pub fn check(signed: SignedRecord, now: Timestamp) -> Result<Checked, Invalid> {
    check_with(signed, now, true)
}

/// [`check`] without the signature check: a fault hook, for the tests that
/// show what verification protects (a node runs it only under
/// `SWAPMESH_FAULT=no-validation`, which only debug builds read). Never call
/// it on a path that stores what others sent.
#[doc(hidden)]
pub fn check_unverified(signed: SignedRecord, now: Timestamp) -> Result<Checked, Invalid> {
    check_with(signed, now, false)
}

fn check_with(signed: SignedRecord, now: Timestamp, verify: bool) -> Result<Checked, Invalid> {
    let body = &signed.body;
    if body.len() > MAX_BODY {
        return Err(Invalid::BodyTooLarge { len: body.len() });
    }
    let version = RecordBody::peek_version(body)?;
    if version > FORMAT_VERSION {
        return Ok(Checked::Ignored(Ignored::NewerVersion { version }));
    }
    let (header, used) = RecordBody::decode_header(body)?;
    if header.version == 0 {
        // Version 0 was never a format.
        return Err(Invalid::Malformed(DecodeError::Malformed(
            "format version 0".to_owned(),
        )));
    }
    if let Some(kind) = RecordKind::from_code(header.kind)
        && kind.format() != header.version
    {
        return Err(Invalid::WrongFormat {
            kind,
            version: header.version,
        });
    }
    let key = VerifyingKey::from_bytes(&header.author.0).map_err(|_| Invalid::BadAuthorKey)?;
    if verify {
        key.verify_strict(&signing_bytes(body), &signed.sig)
            .map_err(|_| Invalid::BadSignature)?;
    }
    let body = match RecordBody::decode_rest(header, used, body)? {
        Decoded::Body(body) => body,
        Decoded::UnknownKind(code) => return Ok(Checked::Ignored(Ignored::UnknownKind { code })),
    };
    validate_body(&body)?;
    if let Some(ignored) = clock_check(&body, now) {
        return Ok(Checked::Ignored(ignored));
    }
    let id = signed.id();
    Ok(Checked::Valid(Verified { signed, body, id }))
}

/// Signs a body of our own and holds it to the same rules as anyone's, so the node
/// never publishes what its peers would reject. A body that would be ignored at
/// `now` (expired, or dated in the future) is an error too.
pub fn sign_own(body: &RecordBody, key: &SigningKey, now: Timestamp) -> Result<Verified, OwnError> {
    if body.author != author_of(key) {
        return Err(OwnError::NotOurs);
    }
    let signed = SignedRecord::sign(body, key);
    match check(signed, now)? {
        Checked::Valid(v) => Ok(v),
        Checked::Ignored(why) => Err(OwnError::WouldBeIgnored(why)),
    }
}

/// Why a record of our own cannot be published.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OwnError {
    /// It breaks a validation rule.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// Peers would ignore it.
    #[error("peers would ignore it: {0}")]
    WouldBeIgnored(Ignored),
    /// The body names another author.
    #[error("the record's author is not this node's key")]
    NotOurs,
}

fn clock_check(body: &RecordBody, now: Timestamp) -> Option<Ignored> {
    if body.created_at.secs() > now.secs().saturating_add(MAX_CLOCK_SKEW) {
        return Some(Ignored::FromTheFuture {
            created_at: body.created_at,
            now,
        });
    }
    if body.expires_at <= now {
        return Some(Ignored::Expired {
            expires_at: body.expires_at,
            now,
        });
    }
    None
}

/// The rules that do not depend on the clock or on the signature.
pub fn validate_body(body: &RecordBody) -> Result<(), Invalid> {
    if body.area.is_none() && body.meshes.is_empty() {
        return Err(Invalid::NoPlace);
    }
    if let Some(area) = &body.area
        && !area.is_valid_area()
    {
        return Err(Invalid::BadGeohash(area.as_str().to_owned()));
    }
    if let Some(bad) = body.meshes.iter().find(|m| !m.is_valid()) {
        return Err(Invalid::BadMeshId(bad.as_str().to_owned()));
    }
    let count = body.meshes.len();
    let distinct = body
        .meshes
        .iter()
        .enumerate()
        .all(|(i, m)| !body.meshes[..i].contains(m));
    if count > MAX_MESHES || !distinct {
        return Err(Invalid::BadMeshes { count });
    }
    if body.meshes.iter().any(MeshId::is_private)
        && (body.area.is_some() || body.meshes.iter().any(|m| !m.is_private()))
    {
        return Err(Invalid::PrivateInTheOpen);
    }
    if body.expires_at <= body.created_at {
        return Err(Invalid::ExpiresBeforeCreated);
    }
    let lifetime = body.expires_at.secs() - body.created_at.secs();
    if lifetime > MAX_LIFETIME {
        return Err(Invalid::ExpiryTooFar { secs: lifetime });
    }
    match &body.content {
        Content::Listing(l) => validate_listing(l),
        Content::Profile(p) => validate_profile(p),
        Content::Vouch(v) => validate_vouch(v, &body.author),
        Content::Receipt(r) => {
            validate_receipt(r, &body.author)?;
            if body.author != r.statement.provider {
                return Err(Invalid::ReceiptNotBySequencer);
            }
            Ok(())
        }
        Content::Review(r) => validate_review(r, &body.author),
    }
}

fn validate_listing(l: &Listing) -> Result<(), Invalid> {
    if !is_valid_name(&l.d) {
        return Err(Invalid::BadName(l.d.clone()));
    }
    if l.kinds.is_empty() || !l.kinds.windows(2).all(|w| w[0] < w[1]) {
        return Err(Invalid::BadKinds);
    }
    let chars = l.title.chars().count();
    if chars == 0 || chars > MAX_TITLE_CHARS {
        return Err(Invalid::BadTitle { chars });
    }
    if l.description.len() > MAX_DESCRIPTION {
        return Err(Invalid::DescriptionTooLong {
            len: l.description.len(),
        });
    }
    if l.category.chars().count() > MAX_CATEGORY_CHARS {
        return Err(Invalid::CategoryTooLong);
    }
    if l.tags.len() > MAX_TAGS {
        return Err(Invalid::TooManyTags {
            count: l.tags.len(),
        });
    }
    if let Some(bad) = l.tags.iter().find(|t| !is_valid_tag(t)) {
        return Err(Invalid::BadTag(bad.clone()));
    }
    if l.photos.len() > MAX_PHOTOS {
        return Err(Invalid::TooManyPhotos {
            count: l.photos.len(),
        });
    }
    for money in l.price.iter().map(|p| &p.money).chain(l.deposit.iter()) {
        validate_money(money)?;
    }
    let lends_for_money = l.kinds.contains(&DealKind::Rent) || l.kinds.contains(&DealKind::Lease);
    if l.purpose == Purpose::Offer && lends_for_money && l.price.is_none() {
        return Err(Invalid::MissingPrice);
    }
    let windows_ok = l.availability.len() <= MAX_WINDOWS
        && l.availability.iter().all(|w| w.start < w.end)
        && l.availability.windows(2).all(|p| p[0].end <= p[1].start);
    if !windows_ok {
        return Err(Invalid::UnorderedWindows);
    }
    Ok(())
}

fn is_valid_tag(tag: &str) -> bool {
    (1..=MAX_TAG_CHARS).contains(&tag.chars().count())
        && !tag.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn validate_money(money: &Money) -> Result<(), Invalid> {
    if !money.currency.iter().all(u8::is_ascii_uppercase) {
        return Err(Invalid::BadCurrency(
            String::from_utf8_lossy(&money.currency).into_owned(),
        ));
    }
    if money.amount < 0 {
        return Err(Invalid::NegativeAmount {
            amount: money.amount,
        });
    }
    Ok(())
}

fn validate_profile(p: &Profile) -> Result<(), Invalid> {
    let name = p.name.chars().count();
    if name == 0 || name > MAX_NAME_CHARS {
        return Err(Invalid::BadProfile("name"));
    }
    if p.bio.len() > MAX_BIO {
        return Err(Invalid::BadProfile("bio"));
    }
    if p.contact.len() > MAX_CONTACTS
        || p.contact
            .iter()
            .any(|c| c.is_empty() || c.chars().count() > MAX_CONTACT_CHARS)
    {
        return Err(Invalid::BadProfile("contact"));
    }
    if p.mail_peers.len() > MAX_CONTACTS {
        return Err(Invalid::BadProfile("mail_peers"));
    }
    Ok(())
}

fn validate_vouch(v: &Vouch, author: &AuthorKey) -> Result<(), Invalid> {
    if v.subject == *author {
        return Err(Invalid::SelfVouch);
    }
    if v.note.chars().count() > MAX_NOTE_CHARS {
        return Err(Invalid::NoteTooLong);
    }
    Ok(())
}

fn validate_receipt(r: &Receipt, author: &AuthorKey) -> Result<(), Invalid> {
    let s = &r.statement;
    if s.provider == s.receiver || r.other_party(author).is_none() {
        return Err(Invalid::BadParties);
    }
    if !r.signatures_valid() {
        return Err(Invalid::BadReceiptSignature);
    }
    Ok(())
}

fn validate_review(r: &Review, author: &AuthorKey) -> Result<(), Invalid> {
    if !(1..=5).contains(&r.rating) {
        return Err(Invalid::BadRating(r.rating));
    }
    if r.text.len() > MAX_REVIEW_TEXT {
        return Err(Invalid::ReviewTooLong);
    }
    validate_receipt(&r.receipt, author)
}
