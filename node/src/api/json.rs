//! The API's JSON forms (DESIGN §7): authors and ids in lower-case hex, a listing's
//! `id` as `<author-hex>.<d>`, times in RFC 3339 UTC, money as integer minor units
//! with an ISO-4217 code. Inputs refuse unknown fields, so a typo is an error and
//! not a silently dropped value.

use std::time::{Duration, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use swapmesh_protocol::listing::{
    Condition, DealKind, Listing, ListingStatus, Money, Period, Price, Purpose, Window,
};
use swapmesh_protocol::social::Profile;
use swapmesh_protocol::{Content, ListingId, Timestamp};
use swapmesh_store::StoredRecord;

/// A time as RFC 3339 UTC text.
pub fn rfc3339(t: Timestamp) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(t.secs())).to_string()
}

/// Parses RFC 3339 text.
pub fn parse_rfc3339(s: &str) -> Result<Timestamp, String> {
    let t = humantime::parse_rfc3339_weak(s)
        .map_err(|e| format!("{s:?} is not an RFC 3339 time ({e})"))?;
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map_err(|_| format!("{s:?} is before 1970"))?
        .as_secs();
    Ok(Timestamp(secs))
}

/// Money in JSON.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MoneyJson {
    /// Minor units (cents).
    pub amount: i64,
    /// ISO 4217, e.g. "EUR".
    pub currency: String,
}

/// A price in JSON.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PriceJson {
    /// Minor units per period.
    pub amount: i64,
    /// ISO 4217.
    pub currency: String,
    /// hour, day, week or month.
    pub per: Period,
}

/// A time window in JSON.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct WindowJson {
    /// RFC 3339.
    pub start: String,
    /// RFC 3339.
    pub end: String,
}

/// A listing as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ListingJson {
    /// `<author-hex>.<d>`, stable across versions.
    pub id: String,
    /// The version (`seq`).
    pub version: u64,
    /// The id of this version (64 hex).
    pub version_id: String,
    /// The author's key (64 hex).
    pub author: String,
    /// offer or want.
    pub purpose: Purpose,
    /// Deal kinds.
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<Condition>,
    /// Photo blob hashes (hex).
    pub photos: Vec<String>,
    /// Price per period.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<PriceJson>,
    /// Deposit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deposit: Option<MoneyJson>,
    /// Availability windows.
    pub availability: Vec<WindowJson>,
    /// active, paused, reserved, on_loan or withdrawn.
    pub status: ListingStatus,
    /// Area geohash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub area: Option<String>,
    /// Meshes.
    pub meshes: Vec<String>,
    /// When this version was made.
    pub created_at: String,
    /// When it expires.
    pub expires_at: String,
}

impl ListingJson {
    /// The JSON form of a stored listing, if the record is a listing.
    pub fn from_record(record: &StoredRecord) -> Option<Self> {
        let Content::Listing(l) = &record.body.content else {
            return None;
        };
        let body = &record.body;
        Some(Self {
            id: ListingId {
                author: body.author,
                d: l.d.clone(),
            }
            .to_string(),
            version: body.seq,
            version_id: record.id.to_string(),
            author: body.author.to_string(),
            purpose: l.purpose,
            kinds: l.kinds.clone(),
            title: l.title.clone(),
            description: l.description.clone(),
            category: l.category.clone(),
            tags: l.tags.clone(),
            condition: l.condition,
            photos: l.photos.iter().map(ToString::to_string).collect(),
            price: l.price.map(|p| PriceJson {
                amount: p.money.amount,
                currency: p.money.currency_str().to_owned(),
                per: p.per,
            }),
            deposit: l.deposit.map(|m| MoneyJson {
                amount: m.amount,
                currency: m.currency_str().to_owned(),
            }),
            availability: l
                .availability
                .iter()
                .map(|w| WindowJson {
                    start: rfc3339(w.start),
                    end: rfc3339(w.end),
                })
                .collect(),
            status: l.status,
            area: body.area.as_ref().map(ToString::to_string),
            meshes: body.meshes.iter().map(ToString::to_string).collect(),
            created_at: rfc3339(body.created_at),
            expires_at: rfc3339(body.expires_at),
        })
    }
}

/// A new listing, as posted to the API.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ListingInput {
    /// The name (`[a-z0-9_-]{1,64}`); made from the title when missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d: Option<String>,
    /// offer (default) or want.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<Purpose>,
    /// Deal kinds (at least one).
    pub kinds: Vec<DealKind>,
    /// Title.
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
    /// Price per period.
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
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
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

/// A field whose JSON value does not convert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field.
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

impl FieldError {
    fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

fn currency(field: &'static str, code: &str) -> Result<[u8; 3], FieldError> {
    let bytes: [u8; 3] = code
        .as_bytes()
        .try_into()
        .map_err(|_| FieldError::new(field, format!("currency {code:?} is not 3 letters")))?;
    Ok(bytes)
}

fn money(field: &'static str, m: &MoneyJson) -> Result<Money, FieldError> {
    Ok(Money {
        amount: m.amount,
        currency: currency(field, &m.currency)?,
    })
}

fn price(p: &PriceJson) -> Result<Price, FieldError> {
    Ok(Price {
        money: Money {
            amount: p.amount,
            currency: currency("price", &p.currency)?,
        },
        per: p.per,
    })
}

fn windows(ws: &[WindowJson]) -> Result<Vec<Window>, FieldError> {
    ws.iter()
        .map(|w| {
            Ok(Window {
                start: parse_rfc3339(&w.start).map_err(|e| FieldError::new("availability", e))?,
                end: parse_rfc3339(&w.end).map_err(|e| FieldError::new("availability", e))?,
            })
        })
        .collect()
}

/// Kinds as the protocol wants them: a set in ascending order.
fn kind_set(mut kinds: Vec<DealKind>) -> Vec<DealKind> {
    kinds.sort();
    kinds.dedup();
    kinds
}

/// A name made from a title: lower-case words joined by '-', plus a random suffix
/// so two listings with one title do not collide.
fn name_from_title(title: &str) -> String {
    let mut slug = String::new();
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.len() >= 40 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-');
    let suffix = hex::encode(rand::random::<[u8; 3]>());
    if slug.is_empty() {
        format!("item-{suffix}")
    } else {
        format!("{slug}-{suffix}")
    }
}

impl ListingInput {
    /// The listing this input describes (the protocol's rules are checked when it
    /// is signed).
    pub fn into_listing(self) -> Result<Listing, FieldError> {
        Ok(Listing {
            d: self.d.unwrap_or_else(|| name_from_title(&self.title)),
            purpose: self.purpose.unwrap_or(Purpose::Offer),
            kinds: kind_set(self.kinds),
            title: self.title,
            description: self.description,
            category: self.category,
            tags: self.tags,
            condition: self.condition,
            photos: Vec::new(),
            price: self.price.as_ref().map(price).transpose()?,
            deposit: self
                .deposit
                .as_ref()
                .map(|m| money("deposit", m))
                .transpose()?,
            availability: windows(&self.availability)?,
            status: ListingStatus::Active,
        })
    }
}

impl ListingPatch {
    /// Converts every given field, so that nothing is signed unless the whole
    /// change is well-formed.
    pub fn resolve(self) -> Result<ResolvedPatch, FieldError> {
        if self.status == Some(ListingStatus::Withdrawn) {
            return Err(FieldError::new(
                "status",
                "withdraw a listing with DELETE, not by setting its status",
            ));
        }
        Ok(ResolvedPatch {
            kinds: self.kinds.map(kind_set),
            title: self.title,
            description: self.description,
            category: self.category,
            tags: self.tags,
            condition: self.condition,
            price: self.price.as_ref().map(price).transpose()?,
            deposit: self
                .deposit
                .as_ref()
                .map(|m| money("deposit", m))
                .transpose()?,
            availability: self.availability.as_deref().map(windows).transpose()?,
            status: self.status,
        })
    }
}

/// A checked change to a listing.
#[derive(Debug, Clone)]
pub struct ResolvedPatch {
    kinds: Option<Vec<DealKind>>,
    title: Option<String>,
    description: Option<String>,
    category: Option<String>,
    tags: Option<Vec<String>>,
    condition: Option<Condition>,
    price: Option<Price>,
    deposit: Option<Money>,
    availability: Option<Vec<Window>>,
    status: Option<ListingStatus>,
}

impl ResolvedPatch {
    /// Applies the change.
    pub fn apply(self, l: &mut Listing) {
        fn set<T>(field: &mut T, value: Option<T>) {
            if let Some(v) = value {
                *field = v;
            }
        }
        set(&mut l.kinds, self.kinds);
        set(&mut l.title, self.title);
        set(&mut l.description, self.description);
        set(&mut l.category, self.category);
        set(&mut l.tags, self.tags);
        set(&mut l.availability, self.availability);
        set(&mut l.status, self.status);
        if self.condition.is_some() {
            l.condition = self.condition;
        }
        if self.price.is_some() {
            l.price = self.price;
        }
        if self.deposit.is_some() {
            l.deposit = self.deposit;
        }
    }
}

/// A profile in JSON (input and output).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProfileJson {
    /// Display name.
    pub name: String,
    /// About them.
    #[serde(default)]
    pub bio: String,
    /// How to reach them.
    #[serde(default)]
    pub contact: Vec<String>,
}

impl From<&Profile> for ProfileJson {
    fn from(p: &Profile) -> Self {
        Self {
            name: p.name.clone(),
            bio: p.bio.clone(),
            contact: p.contact.clone(),
        }
    }
}

impl From<ProfileJson> for Profile {
    fn from(p: ProfileJson) -> Self {
        Profile {
            name: p.name,
            bio: p.bio,
            contact: p.contact,
            mail_peers: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_as_rfc3339() {
        let t = Timestamp(1_800_000_000);
        assert_eq!(rfc3339(t), "2027-01-15T08:00:00Z");
        assert_eq!(parse_rfc3339(&rfc3339(t)), Ok(t));
        assert!(parse_rfc3339("tomorrow").is_err());
    }

    #[test]
    fn names_from_titles_are_valid() {
        for title in ["Cordless drill, 18 V!", "", "ÅÄÖ", &"long ".repeat(40)] {
            let d = name_from_title(title);
            assert!(swapmesh_protocol::ids::is_valid_name(&d), "{d}");
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = serde_json::from_str::<ListingInput>(
            r#"{"kinds":["give"],"title":"x","colour":"red"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
    }
}
