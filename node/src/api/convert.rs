//! Between the JSON forms of [`super::json`] and records: what the API shows
//! of a record, and the records (or changes) an input describes, checked at the
//! edge so that nothing is signed unless the whole input is well-formed.

use std::time::{Duration, UNIX_EPOCH};
use swapmesh_protocol::agreement::Phase;

use swapmesh_net::Discovery;
use swapmesh_protocol::listing::{
    Condition, DealKind, Listing, ListingStatus, Money, Price, Purpose, Window,
};
use swapmesh_protocol::social::Profile;
use swapmesh_protocol::{
    Address, AuthorKey, BlobHash, Content, Currency, ListingId, RecordBody, RecordId, RecordKind,
    Timestamp,
};
use swapmesh_store::StoredRecord;

use super::error::{ApiError, ErrorCode};
use super::json::{
    AddressJson, DiscoveryJson, EventJson, ListingInput, ListingJson, ListingPatch, MoneyJson,
    PriceJson, ProfileInput, ProfileJson, ReachabilityJson, ReachabilityKind, RecordKindJson,
    WindowJson,
};
use crate::NodeEvent;

impl super::json::DeliveryJson {
    /// The API's form of how an agreement's messages go.
    pub(crate) fn of(delivery: crate::agree::Delivery) -> Self {
        use super::json::DeliveryState;
        use crate::agree::Delivery;
        match delivery {
            Delivery::Answered => Self {
                state: DeliveryState::Answered,
                host: None,
                since: None,
            },
            Delivery::Trying => Self {
                state: DeliveryState::Trying,
                host: None,
                since: None,
            },
            Delivery::InMailbox { host, since } => Self {
                state: DeliveryState::InMailbox,
                host: Some(host.to_string()),
                since: Some(rfc3339(since)),
            },
        }
    }
}

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

impl ListingJson {
    /// What the API shows of a listing version (`id` is the version's id), if
    /// the body is a listing. A publish answers with the version it stored
    /// without reading the store again.
    pub fn from_body(id: RecordId, body: &RecordBody) -> Option<Self> {
        let Content::Listing(l) = &body.content else {
            return None;
        };
        Some(Self {
            id: ListingId {
                author: body.author,
                d: l.d.clone(),
            }
            .to_string(),
            version: body.seq,
            version_id: id.to_string(),
            author: body.author.to_string(),
            purpose: l.purpose,
            kinds: l.kinds.clone(),
            title: l.title.clone(),
            description: l.description.clone(),
            category: l.category.clone(),
            tags: l.tags.clone(),
            condition: l.condition,
            photos: l.photos.iter().map(ToString::to_string).collect(),
            price: l.price.map(PriceJson::from),
            deposit: l.deposit.map(MoneyJson::from),
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
            trust: None,
        })
    }

    /// What the API shows of a stored listing, if the record is one.
    pub fn from_record(record: &StoredRecord) -> Option<Self> {
        Self::from_body(record.id, &record.body)
    }
}

impl MoneyJson {
    /// The money as records carry it and people read it (`5.00 EUR`; a code
    /// outside the ISO 4217 table in minor units with its code).
    pub fn to_money(&self) -> Option<Money> {
        Some(Money {
            amount: self.amount,
            currency: self.currency.as_bytes().try_into().ok()?,
        })
    }
}

impl PriceJson {
    /// The price's money (see [`MoneyJson::to_money`]).
    pub fn money(&self) -> MoneyJson {
        MoneyJson {
            amount: self.amount,
            currency: self.currency.clone(),
        }
    }
}

impl From<Money> for MoneyJson {
    fn from(m: Money) -> Self {
        Self {
            amount: m.amount,
            currency: m.currency_str().to_owned(),
        }
    }
}

impl From<Price> for PriceJson {
    fn from(p: Price) -> Self {
        Self {
            amount: p.money.amount,
            currency: p.money.currency_str().to_owned(),
            per: p.per,
        }
    }
}

/// A currency code on input: only codes of the ISO 4217 table.
fn currency(field: &str, code: &str) -> Result<[u8; 3], ApiError> {
    Currency::from_code(code)
        .map(|c| c.code_bytes())
        .map_err(|e| ApiError::field(ErrorCode::UnknownCurrency, field, e))
}

/// Money on input, in field `field` (a currency in the ISO 4217 table).
pub(super) fn money(field: &str, m: &MoneyJson) -> Result<Money, ApiError> {
    Ok(Money {
        amount: m.amount,
        currency: currency(&format!("{field}.currency"), &m.currency)?,
    })
}

/// A price on input, in field `price` (see [`money`]).
pub(super) fn price(p: &PriceJson) -> Result<Price, ApiError> {
    Ok(Price {
        money: money("price", &p.money())?,
        per: p.per,
    })
}

fn windows(ws: &[WindowJson]) -> Result<Vec<Window>, ApiError> {
    let field = |e: String| ApiError::field(ErrorCode::InvalidField, "availability", e);
    ws.iter()
        .map(|w| {
            Ok(Window {
                start: parse_rfc3339(&w.start).map_err(field)?,
                end: parse_rfc3339(&w.end).map_err(field)?,
            })
        })
        .collect()
}

/// Photo hashes on input (64 lower-case hex each), in field `photos`. Whether
/// each is held here, and how many there may be, is checked when the listing
/// is signed (`missing_photo`, `invalid_record` with `too_many_photos`).
fn photos(hashes: &[String]) -> Result<Vec<BlobHash>, ApiError> {
    hashes
        .iter()
        .enumerate()
        .map(|(i, text)| {
            text.parse().map_err(|_| {
                ApiError::field(
                    ErrorCode::InvalidField,
                    &format!("photos[{i}]"),
                    format!("{text:?} is not a photo hash (64 lower-case hex characters)"),
                )
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
    /// is signed; currencies must be in the ISO 4217 table).
    pub fn into_listing(self) -> Result<Listing, ApiError> {
        Ok(Listing {
            d: self.d.unwrap_or_else(|| name_from_title(&self.title)),
            purpose: self.purpose.unwrap_or(Purpose::Offer),
            kinds: kind_set(self.kinds),
            price: self.price.as_ref().map(price).transpose()?,
            deposit: self
                .deposit
                .as_ref()
                .map(|m| money("deposit", m))
                .transpose()?,
            availability: windows(&self.availability)?,
            title: self.title,
            description: self.description,
            category: self.category,
            tags: self.tags,
            condition: self.condition,
            photos: photos(&self.photos)?,
            status: ListingStatus::Active,
        })
    }
}

impl ListingPatch {
    /// Converts every given field, so that nothing is signed unless the whole
    /// change is well-formed.
    pub fn resolve(self) -> Result<ResolvedPatch, ApiError> {
        if self.status == Some(ListingStatus::Withdrawn) {
            return Err(ApiError::field(
                ErrorCode::InvalidField,
                "status",
                "withdraw a listing with DELETE, not by setting its status",
            ));
        }
        if matches!(
            self.status,
            Some(ListingStatus::Reserved | ListingStatus::OnLoan)
        ) {
            return Err(ApiError::field(
                ErrorCode::InvalidField,
                "status",
                "reserved and on_loan follow the listing's agreements; set active or paused",
            ));
        }
        Ok(ResolvedPatch {
            kinds: self.kinds.map(kind_set),
            price: self.price.as_ref().map(price).transpose()?,
            deposit: self
                .deposit
                .as_ref()
                .map(|m| money("deposit", m))
                .transpose()?,
            availability: self.availability.as_deref().map(windows).transpose()?,
            photos: self.photos.as_deref().map(photos).transpose()?,
            title: self.title,
            description: self.description,
            category: self.category,
            tags: self.tags,
            condition: self.condition,
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
    photos: Option<Vec<BlobHash>>,
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
        set(&mut l.photos, self.photos);
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

impl ProfileInput {
    /// The profile to publish for `node`: without `mail_peers`, the ones its
    /// current profile names are kept (a form that does not show them must
    /// not clear them).
    pub(crate) fn into_profile(self, node: &crate::Node) -> Result<Profile, ApiError> {
        let mail_peers = match self.mail_peers {
            Some(keys) => {
                if keys.len() > 4 {
                    return Err(ApiError::field(
                        ErrorCode::InvalidField,
                        "mail_peers",
                        "at most 4 mail peers",
                    ));
                }
                keys.iter()
                    .map(|k| {
                        k.parse::<AuthorKey>().map_err(|_| {
                            ApiError::field(
                                ErrorCode::InvalidField,
                                "mail_peers",
                                format!("{k:?} is not an author key (64 hex)"),
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?
            }
            None => node
                .profile(node.author())?
                .map(|(_, p)| p.mail_peers)
                .unwrap_or_default(),
        };
        Ok(Profile {
            name: self.name,
            bio: self.bio,
            contact: self.contact,
            mail_peers,
        })
    }
}

impl ProfileJson {
    /// What the API shows of `author`'s profile at `version`.
    pub fn of(author: AuthorKey, version: u64, p: &Profile) -> Self {
        Self {
            author: author.to_string(),
            version,
            name: p.name.clone(),
            bio: p.bio.clone(),
            contact: p.contact.clone(),
            mail_peers: p.mail_peers.iter().map(ToString::to_string).collect(),
            trust: None,
        }
    }
}

impl From<RecordKind> for RecordKindJson {
    fn from(kind: RecordKind) -> Self {
        match kind {
            RecordKind::Listing => RecordKindJson::Listing,
            RecordKind::Profile => RecordKindJson::Profile,
            RecordKind::Vouch => RecordKindJson::Vouch,
            RecordKind::Receipt => RecordKindJson::Receipt,
            RecordKind::Review => RecordKindJson::Review,
        }
    }
}

impl From<&Address> for AddressJson {
    fn from(a: &Address) -> Self {
        Self {
            author: a.author.to_string(),
            kind: a.kind.into(),
            d: a.d.clone(),
        }
    }
}

impl From<&NodeEvent> for EventJson {
    fn from(event: &NodeEvent) -> Self {
        match event {
            NodeEvent::RecordAdded { address, id } => EventJson::RecordAdded {
                address: address.into(),
                id: id.to_string(),
            },
            NodeEvent::RecordChanged { address, id } => EventJson::RecordChanged {
                address: address.into(),
                id: id.to_string(),
            },
            NodeEvent::RecordWithdrawn { address, id } => EventJson::RecordWithdrawn {
                address: address.into(),
                id: id.to_string(),
            },
            NodeEvent::PeerUp { peer } => EventJson::PeerUp {
                peer: peer.to_string(),
            },
            NodeEvent::PeerDown { peer } => EventJson::PeerDown {
                peer: peer.to_string(),
            },
            NodeEvent::PeerDiscovered { peer, via } => EventJson::PeerDiscovered {
                peer: peer.to_string(),
                via: match via {
                    Discovery::Mdns => DiscoveryJson::Mdns,
                    Discovery::TopicProvider { .. } => DiscoveryJson::TopicProvider,
                    _ => DiscoveryJson::Other,
                },
            },
            NodeEvent::PeerCharged { peer, misbehaviour } => EventJson::PeerCharged {
                peer: peer.to_string(),
                misbehaviour: misbehaviour.name().to_owned(),
            },
            NodeEvent::PeerBlocked { peer } => EventJson::PeerBlocked {
                peer: peer.to_string(),
            },
            NodeEvent::SyncProgress {
                peer,
                topic,
                fetched,
                expected,
            } => EventJson::SyncProgress {
                peer: peer.to_string(),
                topic: topic.as_str().to_owned(),
                fetched: *fetched,
                expected: *expected,
            },
            NodeEvent::SyncFinished {
                peer,
                topic,
                fetched,
                pushed,
            } => EventJson::SyncFinished {
                peer: peer.to_string(),
                topic: topic.as_str().to_owned(),
                fetched: *fetched,
                pushed: *pushed,
            },
            NodeEvent::AgreementChanged {
                id,
                event,
                action,
                phase,
            } => EventJson::AgreementChanged {
                id: id.to_string(),
                event: event.to_string(),
                action: (*action).to_owned(),
                state: phase_name(*phase).to_owned(),
            },
            NodeEvent::AgreementDelivered { id, head } => EventJson::AgreementDelivered {
                id: id.to_string(),
                head: head.to_string(),
            },
            NodeEvent::AgreementPending { id, event, action } => EventJson::AgreementPending {
                id: id.to_string(),
                event: event.to_string(),
                action: (*action).to_owned(),
            },
            NodeEvent::AgreementRefused { id, event, refusal } => EventJson::AgreementRefused {
                id: id.to_string(),
                event: event.to_string(),
                code: refusal.code().to_owned(),
            },
            NodeEvent::AgreementOverdue { id, due } => EventJson::AgreementOverdue {
                id: id.to_string(),
                due: rfc3339(*due),
            },
            NodeEvent::AgreementNote { id, from } => EventJson::AgreementNote {
                id: id.to_string(),
                from: from.to_string(),
            },
            NodeEvent::ReceiptPublished { agreement, record } => EventJson::ReceiptPublished {
                agreement: agreement.to_string(),
                record: record.to_string(),
            },
            NodeEvent::ReviewAdded {
                record,
                author,
                subject,
            } => EventJson::ReviewAdded {
                record: record.to_string(),
                author: author.to_string(),
                subject: subject.to_string(),
            },
        }
    }
}

/// The API's name of a phase.
pub(crate) fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Offered => "offered",
        Phase::Accepted => "accepted",
        Phase::Active => "active",
        Phase::Disputed => "disputed",
        Phase::Completed => "completed",
        Phase::Declined => "declined",
        Phase::Withdrawn => "withdrawn",
        Phase::Cancelled => "cancelled",
        Phase::Resolved => "resolved",
    }
}

impl From<swapmesh_net::Reachability> for ReachabilityJson {
    fn from(r: swapmesh_net::Reachability) -> Self {
        let text = |v: Vec<swapmesh_net::Multiaddr>| v.iter().map(ToString::to_string).collect();
        match r {
            swapmesh_net::Reachability::Direct { addresses } => Self {
                kind: ReachabilityKind::Direct,
                addresses: text(addresses),
                relays: Vec::new(),
                reason: None,
            },
            swapmesh_net::Reachability::Relayed { relays, addresses } => Self {
                kind: ReachabilityKind::Relayed,
                addresses: text(addresses),
                relays: relays.iter().map(ToString::to_string).collect(),
                reason: None,
            },
            swapmesh_net::Reachability::Unreachable { reason } => Self {
                kind: ReachabilityKind::Unreachable,
                addresses: Vec::new(),
                relays: Vec::new(),
                reason: Some(reason),
            },
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
    fn owners_set_only_active_and_paused_in_a_patch() {
        for status in [
            ListingStatus::Reserved,
            ListingStatus::OnLoan,
            ListingStatus::Withdrawn,
        ] {
            let patch = ListingPatch {
                status: Some(status),
                ..ListingPatch::default()
            };
            let Err(err) = patch.resolve() else {
                panic!("{status:?} is refused");
            };
            assert_eq!(err.code(), ErrorCode::InvalidField, "{status:?}");
        }
        for status in [ListingStatus::Active, ListingStatus::Paused] {
            let patch = ListingPatch {
                status: Some(status),
                ..ListingPatch::default()
            };
            assert!(patch.resolve().is_ok(), "{status:?}");
        }
    }

    #[test]
    fn names_from_titles_are_valid() {
        for title in ["Cordless drill, 18 V!", "", "ÅÄÖ", &"long ".repeat(40)] {
            let d = name_from_title(title);
            assert!(swapmesh_protocol::ids::is_valid_name(&d), "{d}");
        }
    }

    #[test]
    fn currencies_outside_the_table_are_refused_on_input() {
        let input = |code: &str| ListingInput {
            kinds: vec![DealKind::Rent],
            title: "Drill".into(),
            price: Some(PriceJson {
                amount: 500,
                currency: code.into(),
                per: swapmesh_protocol::listing::Period::Day,
            }),
            ..ListingInput::default()
        };
        assert!(input("EUR").into_listing().is_ok());
        let e = input("XYZ").into_listing().unwrap_err();
        assert_eq!(e.code(), ErrorCode::UnknownCurrency);
    }

    #[test]
    fn events_serialise_from_their_types() {
        let event = NodeEvent::RecordAdded {
            address: Address {
                author: AuthorKey([1; 32]),
                kind: RecordKind::Listing,
                d: "drill".into(),
            },
            id: RecordId([2; 32]),
        };
        let json = serde_json::to_value(EventJson::from(&event)).unwrap();
        assert_eq!(json["type"], "record_added");
        assert_eq!(json["address"]["kind"], "listing");
        assert_eq!(json["address"]["d"], "drill");
        assert_eq!(json["id"], RecordId([2; 32]).to_string());
    }
}
