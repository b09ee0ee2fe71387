//! Between the agreement forms of [`super::json`] and the protocol's: the deal
//! a proposal or counter describes, checked at the edge against its kind (a
//! term of another kind is refused, a missing one named), and what the API
//! shows of an agreement, its terms and its events.

use swapmesh_protocol::agreement::{Action, Deal, Leg, Resolution, Terms};
use swapmesh_protocol::listing::{DealKind, Money, Price};
use swapmesh_protocol::{ListingId, Timestamp};

use super::convert::{money, parse_rfc3339, phase_name, price, rfc3339};
use super::error::{ApiError, ErrorCode};
use super::json::{
    ActionJson, AgreementEventJson, AgreementJson, AgreementRole, AgreementSummaryJson,
    CounterInput, DealJson, LegJson, ListingJson, MoneyJson, NoteJson, PendingJson, PriceJson,
    ProposeInput, ResolutionJson, TermsJson,
};
use crate::agree::{AgreementSummary, AgreementView, EventSummary};

/// The terms a kind of deal takes, by the protocol's names.
fn terms_of(kind: DealKind) -> &'static [&'static str] {
    match kind {
        DealKind::Share => &["start", "due", "deposit"],
        DealKind::Rent => &["start", "due", "price", "deposit", "cancel_before"],
        DealKind::Lease => &["start", "end", "price", "notice_days"],
        DealKind::Swap => &["theirs", "offer", "start", "until"],
        DealKind::Give => &["from", "until"],
    }
}

/// The API's name of a kind of deal.
pub(super) fn kind_name(kind: DealKind) -> &'static str {
    match kind {
        DealKind::Swap => "swap",
        DealKind::Rent => "rent",
        DealKind::Lease => "lease",
        DealKind::Share => "share",
        DealKind::Give => "give",
    }
}

fn time(field: &str, text: &str) -> Result<Timestamp, ApiError> {
    parse_rfc3339(text).map_err(|e| ApiError::field(ErrorCode::InvalidField, field, e))
}

fn opt_time(field: &str, text: Option<&String>) -> Result<Option<Timestamp>, ApiError> {
    text.map(|t| time(field, t)).transpose()
}

/// A term that may be taken away: `None` keeps it, `Some(None)` clears it.
fn opt_opt_time(
    field: &str,
    text: Option<&Option<String>>,
) -> Result<Option<Option<Timestamp>>, ApiError> {
    text.map(|t| opt_time(field, t.as_ref())).transpose()
}

/// The terms of a deal a body gives, parsed, before they are checked against
/// a kind. `None`: not given; `Some(None)`: given as `null` (a counter takes
/// the term away).
#[derive(Debug, Default)]
struct Given {
    start: Option<Timestamp>,
    due: Option<Timestamp>,
    end: Option<Option<Timestamp>>,
    from: Option<Timestamp>,
    until: Option<Option<Timestamp>>,
    price: Option<Price>,
    deposit: Option<Option<Money>>,
    cancel_before: Option<Option<Timestamp>>,
    notice_days: Option<u16>,
    offer: Option<String>,
    /// The names of the terms in the body, in the order of the form.
    names: Vec<&'static str>,
}

impl Given {
    fn note_names(&mut self, theirs: bool) {
        let present = [
            ("start", self.start.is_some()),
            ("due", self.due.is_some()),
            ("end", self.end.is_some()),
            ("from", self.from.is_some()),
            ("until", self.until.is_some()),
            ("price", self.price.is_some()),
            ("deposit", self.deposit.is_some()),
            ("cancel_before", self.cancel_before.is_some()),
            ("notice_days", self.notice_days.is_some()),
            ("theirs", theirs),
            ("offer", self.offer.is_some()),
        ];
        self.names = present
            .into_iter()
            .filter(|(_, given)| *given)
            .map(|(name, _)| name)
            .collect();
    }

    /// Refuses a term that `kind` does not take (`unknown_field`, naming it).
    fn only(&self, kind: DealKind) -> Result<(), ApiError> {
        let takes = terms_of(kind);
        match self.names.iter().find(|name| !takes.contains(name)) {
            None => Ok(()),
            Some(name) => Err(ApiError::field(
                ErrorCode::UnknownField,
                name,
                format!(
                    "a {} has no term `{name}` (it takes {})",
                    kind_name(kind),
                    takes.join(", ")
                ),
            )),
        }
    }
}

/// A required term (`missing_field`, naming it).
fn need<T>(kind: DealKind, name: &str, value: Option<T>) -> Result<T, ApiError> {
    value.ok_or_else(|| {
        ApiError::field(
            ErrorCode::MissingField,
            name,
            format!("a {} needs `{name}`", kind_name(kind)),
        )
    })
}

impl ProposeInput {
    /// The deal this proposal describes: only the terms of its kind, the
    /// required ones given. A swap's `theirs` is the node's to fill in from
    /// the listing named.
    pub(super) fn deal(&self) -> Result<Deal, ApiError> {
        let mut given = Given {
            start: opt_time("start", self.start.as_ref())?,
            due: opt_time("due", self.due.as_ref())?,
            end: opt_time("end", self.end.as_ref())?.map(Some),
            from: opt_time("from", self.from.as_ref())?,
            until: opt_time("until", self.until.as_ref())?.map(Some),
            price: self.price.as_ref().map(price).transpose()?,
            deposit: self
                .deposit
                .as_ref()
                .map(|m| money("deposit", m))
                .transpose()?
                .map(Some),
            cancel_before: opt_time("cancel_before", self.cancel_before.as_ref())?.map(Some),
            notice_days: self.notice_days,
            offer: self.offer.clone(),
            names: Vec::new(),
        };
        given.note_names(self.theirs.is_some());
        let kind = self.kind;
        given.only(kind)?;
        Ok(match kind {
            DealKind::Share => Deal::Share {
                start: need(kind, "start", given.start)?,
                due: need(kind, "due", given.due)?,
                deposit: given.deposit.flatten(),
            },
            DealKind::Rent => Deal::Rent {
                start: need(kind, "start", given.start)?,
                due: need(kind, "due", given.due)?,
                price: need(kind, "price", given.price)?,
                deposit: given.deposit.flatten(),
                cancel_before: given.cancel_before.flatten(),
            },
            DealKind::Lease => Deal::Lease {
                start: need(kind, "start", given.start)?,
                end: given.end.flatten(),
                price: need(kind, "price", given.price)?,
                notice_days: need(kind, "notice_days", given.notice_days)?,
            },
            DealKind::Swap => Deal::Swap {
                theirs: None,
                offer: given.offer.unwrap_or_default(),
                start: need(kind, "start", given.start)?,
                until: given.until.flatten(),
            },
            DealKind::Give => Deal::Give {
                from: need(kind, "from", given.from)?,
                until: need(kind, "until", given.until.flatten())?,
            },
        })
    }
}

/// A counter checked against the agreement's kind: the change it makes to the
/// current terms, whatever they are when the node signs it.
#[derive(Debug)]
pub(super) struct Countered {
    given: Given,
    pickup: Option<Option<String>>,
    offer_expires: Timestamp,
}

impl CounterInput {
    /// Checks the counter against the agreement's `kind`: no other kind, no
    /// term of another kind, no `null` for a term the kind needs. The countered
    /// offer lapses at `offer_expires` if given, else at `default_expiry`.
    pub(super) fn check(
        &self,
        kind: DealKind,
        default_expiry: Timestamp,
    ) -> Result<Countered, ApiError> {
        if let Some(other) = self.kind.filter(|k| *k != kind) {
            return Err(ApiError::new(
                ErrorCode::InvalidTerms,
                format!(
                    "a counter keeps the kind: this agreement is a {}, not a {}",
                    kind_name(kind),
                    kind_name(other)
                ),
            )
            .with_rule("counter_changes_deal"));
        }
        let mut given = Given {
            start: opt_time("start", self.start.as_ref())?,
            due: opt_time("due", self.due.as_ref())?,
            end: opt_opt_time("end", self.end.as_ref())?,
            from: opt_time("from", self.from.as_ref())?,
            until: opt_opt_time("until", self.until.as_ref())?,
            price: self.price.as_ref().map(price).transpose()?,
            deposit: self
                .deposit
                .as_ref()
                .map(|m| m.as_ref().map(|m| money("deposit", m)).transpose())
                .transpose()?,
            cancel_before: opt_opt_time("cancel_before", self.cancel_before.as_ref())?,
            notice_days: self.notice_days,
            offer: self.offer.clone(),
            names: Vec::new(),
        };
        given.note_names(false);
        given.only(kind)?;
        if kind == DealKind::Give && given.until == Some(None) {
            return Err(ApiError::field(
                ErrorCode::InvalidField,
                "until",
                "a give's pickup window needs an end (leave `until` out to keep it)",
            ));
        }
        Ok(Countered {
            given,
            pickup: self.pickup.clone(),
            offer_expires: opt_time("offer_expires", self.offer_expires.as_ref())?
                .unwrap_or(default_expiry),
        })
    }
}

impl Countered {
    /// Applies the counter to the current terms.
    pub(super) fn apply(self, terms: &mut Terms) {
        fn set<T>(term: &mut T, value: Option<T>) {
            if let Some(v) = value {
                *term = v;
            }
        }
        let g = self.given;
        match &mut terms.deal {
            Deal::Share {
                start,
                due,
                deposit,
            } => {
                set(start, g.start);
                set(due, g.due);
                set(deposit, g.deposit);
            }
            Deal::Rent {
                start,
                due,
                price,
                deposit,
                cancel_before,
            } => {
                set(start, g.start);
                set(due, g.due);
                set(price, g.price);
                set(deposit, g.deposit);
                set(cancel_before, g.cancel_before);
            }
            Deal::Lease {
                start,
                end,
                price,
                notice_days,
            } => {
                set(start, g.start);
                set(end, g.end);
                set(price, g.price);
                set(notice_days, g.notice_days);
            }
            Deal::Swap {
                offer,
                start,
                until,
                ..
            } => {
                set(offer, g.offer);
                set(start, g.start);
                set(until, g.until);
            }
            Deal::Give { from, until } => {
                set(from, g.from);
                set(until, g.until.flatten());
            }
        }
        set(&mut terms.pickup, self.pickup);
        terms.offer_expires = self.offer_expires;
    }
}

/// The listings an agreement names, by leg: the provider's and, in a swap, the
/// receiver's `theirs`.
type Items = [Option<ListingId>; 2];

fn item(items: &Items, leg: Leg) -> Option<String> {
    items[leg.index()].as_ref().map(ToString::to_string)
}

impl DealJson {
    fn of(deal: &Deal, items: &Items) -> Self {
        match deal.clone() {
            Deal::Share {
                start,
                due,
                deposit,
            } => DealJson::Share {
                start: rfc3339(start),
                due: rfc3339(due),
                deposit: deposit.map(MoneyJson::from),
            },
            Deal::Rent {
                start,
                due,
                price,
                deposit,
                cancel_before,
            } => DealJson::Rent {
                start: rfc3339(start),
                due: rfc3339(due),
                price: PriceJson::from(price),
                deposit: deposit.map(MoneyJson::from),
                cancel_before: cancel_before.map(rfc3339),
            },
            Deal::Lease {
                start,
                end,
                price,
                notice_days,
            } => DealJson::Lease {
                start: rfc3339(start),
                end: end.map(rfc3339),
                price: PriceJson::from(price),
                notice_days,
            },
            Deal::Swap {
                theirs,
                offer,
                start,
                until,
            } => DealJson::Swap {
                theirs: theirs.and_then(|_| item(items, Leg::Receiver)),
                theirs_version_id: theirs.map(|id| id.to_string()),
                offer,
                start: rfc3339(start),
                until: until.map(rfc3339),
            },
            Deal::Give { from, until } => DealJson::Give {
                from: rfc3339(from),
                until: rfc3339(until),
            },
        }
    }
}

impl TermsJson {
    fn of(terms: &Terms, items: &Items) -> Self {
        Self {
            deal: DealJson::of(&terms.deal, items),
            listing: item(items, Leg::Provider).unwrap_or_default(),
            version_id: terms.listing.to_string(),
            provider: terms.provider.to_string(),
            receiver: terms.receiver.to_string(),
            pickup: terms.pickup.clone(),
            offer_expires: rfc3339(terms.offer_expires),
        }
    }
}

impl From<Leg> for LegJson {
    fn from(leg: Leg) -> Self {
        match leg {
            Leg::Provider => LegJson::Provider,
            Leg::Receiver => LegJson::Receiver,
        }
    }
}

impl From<Resolution> for ResolutionJson {
    fn from(r: Resolution) -> Self {
        match r {
            Resolution::Returned => ResolutionJson::Returned,
            Resolution::Kept => ResolutionJson::Kept,
            Resolution::Other => ResolutionJson::Other,
        }
    }
}

impl ActionJson {
    fn of(action: &Action, items: &Items) -> Self {
        match action {
            Action::Propose { terms, .. } => ActionJson::Propose {
                terms: TermsJson::of(terms, items),
            },
            Action::Counter { terms } => ActionJson::Counter {
                terms: TermsJson::of(terms, items),
            },
            Action::Accept { terms } => ActionJson::Accept {
                terms_hash: terms.to_string(),
            },
            Action::Decline => ActionJson::Decline,
            Action::Withdraw => ActionJson::Withdraw,
            Action::Handover { leg } => ActionJson::Handover { leg: (*leg).into() },
            Action::Return { leg } => ActionJson::Return { leg: (*leg).into() },
            Action::Confirm {
                of,
                deposit_returned,
            } => ActionJson::Confirm {
                of: of.to_string(),
                deposit_returned: deposit_returned.map(MoneyJson::from),
            },
            Action::Extend { due } => ActionJson::Extend { due: rfc3339(*due) },
            Action::Cancel => ActionJson::Cancel,
            Action::Dispute => ActionJson::Dispute,
            Action::Resolve { outcome } => ActionJson::Resolve {
                outcome: (*outcome).into(),
            },
        }
    }
}

impl AgreementEventJson {
    fn of(event: &EventSummary, items: &Items) -> Self {
        Self {
            id: event.id.to_string(),
            prev: event.prev.map(|p| p.to_string()),
            signer: event.signer.to_string(),
            at: rfc3339(event.at),
            action: ActionJson::of(&event.action, items),
            note: event.note.clone(),
            sig: hex::encode(event.sig.to_bytes()),
        }
    }
}

impl AgreementSummaryJson {
    /// What every agreement shows, from this node's side.
    pub(super) fn of(s: &AgreementSummary) -> Self {
        let state = &s.state;
        let title = state
            .listing
            .decode_trusted()
            .ok()
            .and_then(|b| b.listing().map(|l| l.title.clone()))
            .unwrap_or_default();
        Self {
            id: state.id.to_string(),
            kind: state.terms.deal.kind(),
            state: phase_name(state.phase).to_owned(),
            role: if state.terms.provider == s.me {
                AgreementRole::Provider
            } else {
                AgreementRole::Receiver
            },
            next: s.derived.next.iter().map(|a| (*a).to_owned()).collect(),
            listing_id: item(&state.items, Leg::Provider).unwrap_or_default(),
            title,
            other: state.terms.other(&s.me).to_string(),
            due: state.due.map(rfc3339),
            overdue: s.derived.overdue,
            expired: s.derived.expired,
            waiting: s.waiting,
            updated_at: rfc3339(state.head_at),
        }
    }
}

impl AgreementJson {
    /// What the API shows of an agreement.
    pub(crate) fn of(view: &AgreementView) -> Self {
        let state = &view.state;
        let items = &state.items;
        let listing = state
            .listing
            .decode_trusted()
            .ok()
            .and_then(|body| ListingJson::from_body(state.listing.id(), &body))
            .expect("an agreement keeps the listing copy its proposal checked");
        Self {
            summary: AgreementSummaryJson::of(&view.summary()),
            terms: TermsJson::of(&state.terms, items),
            terms_hash: state.terms_hash.to_string(),
            listing,
            head: state.head().to_string(),
            events: view
                .events
                .iter()
                .map(|e| AgreementEventJson::of(e, items))
                .collect(),
            pending: view.pending.as_ref().map(|p| PendingJson {
                event: AgreementEventJson::of(&p.event, items),
                since: rfc3339(p.event.at),
                last_attempt: p.last_attempt.map(rfc3339),
                next_retry: p.next_retry.map(rfc3339),
            }),
            notes: view
                .notes
                .iter()
                .map(|n| NoteJson {
                    from: n.from.to_string(),
                    at: rfc3339(n.at),
                    text: n.text.clone(),
                })
                .collect(),
            refused: view.refused.map(|r| r.code().to_owned()),
            sending: view.sending,
            delivery: super::json::DeliveryJson::of(view.delivery),
            receipt: view.receipt.as_ref().and_then(super::json::ReceiptJson::of),
            other_trust: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use swapmesh_protocol::agreement::SignedEvent;
    use swapmesh_protocol::fixtures::chain::{Chain, Side};
    use swapmesh_protocol::signed::author_of;
    use swapmesh_protocol::time::DAY;

    use super::*;
    use crate::api::extract::parse_json;

    fn propose(body: serde_json::Value) -> Result<Deal, ApiError> {
        parse_json::<ProposeInput>(body.to_string().as_bytes())?.deal()
    }

    fn field_of(e: &ApiError) -> (&str, ErrorCode) {
        (e.body().field.as_deref().unwrap_or(""), e.code())
    }

    #[test]
    fn a_proposal_takes_the_terms_of_its_kind_by_the_protocols_names() {
        let deal = propose(serde_json::json!({
            "listing": "drill", "kind": "rent",
            "start": "2030-01-01T09:00:00Z", "due": "2030-01-03T09:00:00Z",
            "price": {"amount": 500, "currency": "EUR", "per": "day"},
            "cancel_before": "2029-12-31T09:00:00Z"
        }))
        .unwrap();
        let Deal::Rent {
            start,
            due,
            price,
            deposit,
            cancel_before,
        } = deal
        else {
            panic!("{deal:?}")
        };
        assert_eq!(rfc3339(start), "2030-01-01T09:00:00Z");
        assert_eq!(due.secs() - start.secs(), 2 * DAY);
        assert_eq!(price.money.amount, 500);
        assert_eq!(deposit, None);
        assert!(cancel_before.is_some());

        let lease = propose(serde_json::json!({
            "listing": "flat", "kind": "lease", "start": "2030-01-01T00:00:00Z",
            "price": {"amount": 90000, "currency": "EUR", "per": "month"}, "notice_days": 30
        }))
        .unwrap();
        assert!(matches!(
            lease,
            Deal::Lease {
                end: None,
                notice_days: 30,
                ..
            }
        ));
        let swap = propose(serde_json::json!({
            "listing": "drill", "kind": "swap", "theirs": "ladder",
            "start": "2030-01-01T00:00:00Z"
        }))
        .unwrap();
        assert!(matches!(
            swap,
            Deal::Swap {
                until: None,
                theirs: None,
                ..
            }
        ));
        let give = propose(serde_json::json!({
            "listing": "sofa", "kind": "give",
            "from": "2030-01-01T00:00:00Z", "until": "2030-01-02T00:00:00Z"
        }))
        .unwrap();
        assert!(matches!(give, Deal::Give { .. }));
    }

    #[test]
    fn a_proposal_names_the_term_at_fault() {
        let share = |extra: serde_json::Value| {
            let mut body = serde_json::json!({
                "listing": "drill", "kind": "share",
                "start": "2030-01-01T00:00:00Z", "due": "2030-01-02T00:00:00Z"
            });
            for (k, v) in extra.as_object().unwrap() {
                body[k] = v.clone();
            }
            propose(body).unwrap_err()
        };
        let e = share(serde_json::json!({"notice_days": 3}));
        assert_eq!(field_of(&e), ("notice_days", ErrorCode::UnknownField));
        assert!(format!("{e:?}").contains("start, due, deposit"), "{e:?}");
        let e = share(serde_json::json!({"due": "next week"}));
        assert_eq!(field_of(&e), ("due", ErrorCode::InvalidField));
        let e = share(serde_json::json!({"deposit": {"amount": 10, "currency": "XYZ"}}));
        assert_eq!(
            field_of(&e),
            ("deposit.currency", ErrorCode::UnknownCurrency)
        );
        let e = share(serde_json::json!({"deposit": {"amount": "ten", "currency": "EUR"}}));
        assert_eq!(field_of(&e), ("deposit.amount", ErrorCode::InvalidField));
        let e = share(serde_json::json!({"colour": "red"}));
        assert_eq!(field_of(&e), ("colour", ErrorCode::UnknownField));
        let e = propose(serde_json::json!({
            "listing": "drill", "kind": "rent",
            "start": "2030-01-01T00:00:00Z", "due": "2030-01-02T00:00:00Z"
        }))
        .unwrap_err();
        assert_eq!(field_of(&e), ("price", ErrorCode::MissingField));
        let e = propose(serde_json::json!({"listing": "drill", "kind": "gift"})).unwrap_err();
        assert_eq!(field_of(&e), ("kind", ErrorCode::InvalidField));
    }

    fn counter(terms: &mut Terms, body: serde_json::Value) -> Result<(), ApiError> {
        let input: CounterInput = parse_json(body.to_string().as_bytes())?;
        let expiry = Timestamp(2_000_000_000);
        input.check(terms.deal.kind(), expiry)?.apply(terms);
        Ok(())
    }

    #[test]
    fn a_counter_changes_the_terms_it_gives_and_clears_those_given_as_null() {
        let chain = Chain::new();
        let mut terms = chain.terms(DealKind::Rent, fixtures_time());
        let before = terms.clone();
        counter(
            &mut terms,
            serde_json::json!({
                "price": {"amount": 400, "currency": "EUR", "per": "day"},
                "deposit": null, "pickup": null, "kind": "rent"
            }),
        )
        .unwrap();
        let Deal::Rent {
            price,
            deposit,
            cancel_before,
            start,
            ..
        } = &terms.deal
        else {
            panic!()
        };
        assert_eq!(price.money.amount, 400);
        assert_eq!(*deposit, None);
        assert_eq!(*cancel_before, before.deal.cancel_before(), "kept");
        assert_eq!(*start, before.deal.start(), "kept");
        assert_eq!(terms.pickup, None);
        assert_eq!(terms.offer_expires, Timestamp(2_000_000_000));
        assert_eq!(terms.listing, before.listing);

        let e = counter(&mut terms, serde_json::json!({"kind": "share"})).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidTerms);
        assert_eq!(e.body().rule.as_deref(), Some("counter_changes_deal"));
        let e = counter(&mut terms, serde_json::json!({"notice_days": 3})).unwrap_err();
        assert_eq!(field_of(&e), ("notice_days", ErrorCode::UnknownField));
        let e = counter(&mut terms, serde_json::json!({"theirs": "x"})).unwrap_err();
        assert_eq!(field_of(&e), ("theirs", ErrorCode::UnknownField));

        let mut give = chain.terms(DealKind::Give, fixtures_time());
        let e = counter(&mut give, serde_json::json!({"until": null})).unwrap_err();
        assert_eq!(field_of(&e), ("until", ErrorCode::InvalidField));
        let mut swap = chain.terms(DealKind::Swap, fixtures_time());
        counter(&mut swap, serde_json::json!({"until": null})).unwrap();
        assert_eq!(swap.deal.due(), None, "a swap for good");
    }

    fn fixtures_time() -> Timestamp {
        swapmesh_protocol::fixtures::chain::LISTED.plus(DAY)
    }

    fn summary(signed: &SignedEvent) -> EventSummary {
        EventSummary::of(signed).unwrap()
    }

    fn derived(expired: bool, next: &[&'static str]) -> crate::agree::Derived {
        crate::agree::Derived {
            next: next.to_vec(),
            overdue: false,
            expired,
        }
    }

    #[test]
    fn an_agreement_shows_its_terms_events_and_side() {
        let at = fixtures_time();
        let chain = Chain::accepted(DealKind::Swap, at);
        let view = AgreementView {
            state: chain.agreement().clone(),
            pending: None,
            events: chain.events.iter().map(|e| summary(e.signed())).collect(),
            notes: Vec::new(),
            refused: None,
            me: author_of(chain.key(Side::Receiver)),
            sending: 0,
            delivery: crate::agree::Delivery::Answered,
            receipt: None,
            derived: derived(false, &["cancel", "dispute", "note"]),
        };
        let json = serde_json::to_value(AgreementJson::of(&view)).unwrap();
        assert_eq!(json["role"], "receiver");
        assert_eq!(json["state"], "accepted");
        assert_eq!(json["kind"], "swap");
        assert_eq!(
            json["next"],
            serde_json::json!(["cancel", "dispute", "note"])
        );
        assert_eq!(json["title"], "Cordless drill, 18 V, two batteries");
        assert_eq!(json["listing"]["id"], json["listing_id"]);
        assert_eq!(json["listing"]["version_id"], json["terms"]["version_id"]);
        assert_eq!(json["expired"], false);
        assert_eq!(json["id"], chain.agreement().id.to_string());
        assert_eq!(json["head"], chain.events[1].id().to_string());
        let terms = &json["terms"];
        assert_eq!(terms["kind"], "swap");
        assert_eq!(terms["offer"], "my ladder");
        let provider = author_of(chain.key(Side::Provider));
        let receiver = author_of(chain.key(Side::Receiver));
        assert_eq!(terms["listing"], format!("{provider}.drill"));
        assert_eq!(terms["theirs"], format!("{receiver}.ladder"));
        assert_eq!(terms["theirs_version_id"], chain.theirs.id().to_string());
        assert_eq!(terms["version_id"], chain.listing.id().to_string());
        assert_eq!(terms["pickup"], "by the blue gate");
        assert_eq!(json["events"][0]["action"], "propose");
        assert!(json["events"][0]["prev"].is_null());
        assert_eq!(json["events"][0]["terms"]["kind"], "swap");
        assert_eq!(json["events"][1]["action"], "accept");
        assert_eq!(json["events"][1]["prev"], json["events"][0]["id"]);
        assert_eq!(
            json["events"][1]["sig"],
            hex::encode(chain.events[1].signed().sig.to_bytes())
        );
        assert_eq!(
            json["events"][1]["terms_hash"],
            chain.agreement().terms_hash.to_string()
        );
        assert_eq!(json["events"][1]["signer"], provider.to_string());
        assert!(json["pending"].is_null());
        assert!(json["refused"].is_null());

        // The provider's view of an offer that lapsed.
        let offered = {
            let mut c = Chain::new();
            let terms = c.terms(DealKind::Rent, at);
            c.act(Side::Receiver, c.proposal(terms), at).unwrap();
            c
        };
        let view = AgreementView {
            state: offered.agreement().clone(),
            pending: None,
            events: offered.events.iter().map(|e| summary(e.signed())).collect(),
            notes: Vec::new(),
            refused: None,
            me: author_of(offered.key(Side::Provider)),
            sending: 1,
            delivery: crate::agree::Delivery::InMailbox {
                host: swapmesh_protocol::AuthorKey([7; 32]),
                since: at,
            },
            receipt: None,
            derived: derived(true, &["decline", "note"]),
        };
        let json = serde_json::to_value(AgreementJson::of(&view)).unwrap();
        assert_eq!(json["role"], "provider");
        assert_eq!(json["expired"], true);
        assert_eq!(json["delivery"]["state"], "in_mailbox");
        assert_eq!(json["delivery"]["host"], "07".repeat(32));
        assert_eq!(
            json["delivery"]["since"],
            super::super::convert::rfc3339(at)
        );
        assert_eq!(json["terms"]["price"]["per"], "day");
        assert_eq!(json["terms"]["deposit"]["amount"], 5000);
        // The answer types read back what they write, so a client can use them.
        let back: AgreementJson = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(back).unwrap(), json);
    }
}
