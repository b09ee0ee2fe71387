//! Terms on the page: how they read (dates in UTC, money as typed, a rent's
//! total for its period), and the terms form that proposing and countering
//! share. The form's fields become the API's own inputs ([`ProposeInput`],
//! [`CounterInput`]), which the same checks then take or refuse.

use swapmesh_protocol::Currency;
use swapmesh_protocol::listing::{DealKind, Period};

use crate::api::json::{
    CounterInput, DealJson, ListingJson, MoneyJson, PriceJson, ProposeInput, TermsJson,
};
use crate::cli::text::{money, name_of, price};

/// An amount as a form field holds it: `5.00` (no currency).
pub(super) fn typed(m: &MoneyJson) -> String {
    m.to_money()
        .map(|x| x.display())
        .and_then(|t| t.split(' ').next().map(str::to_owned))
        .unwrap_or_default()
}

/// A time as the page shows it: `2026-12-05 10:00 UTC`.
pub(super) fn when(rfc3339: &str) -> String {
    match rfc3339.get(..16) {
        Some(head) if rfc3339.len() >= 19 => format!("{} UTC", head.replace('T', " ")),
        _ => rfc3339.to_owned(),
    }
}

/// A time as a `datetime-local` field holds it (`2026-12-05T10:00`, UTC).
fn field_time(rfc3339: &str) -> String {
    rfc3339.get(..16).unwrap_or_default().to_owned()
}

/// A typed time as the API takes it: `YYYY-MM-DDTHH:MM` (a `datetime-local`
/// field) and `YYYY-MM-DD` are UTC; anything else goes as typed, for the API
/// to refuse or take.
fn api_time(typed: &str) -> Option<String> {
    let t = typed.trim().replacen(' ', "T", 1);
    let t = t.as_str();
    match t.len() {
        0 => None,
        10 => Some(format!("{t}T00:00:00Z")),
        16 => Some(format!("{t}:00Z")),
        _ => Some(t.to_owned()),
    }
}

/// Seconds in a period (a month is 30 days).
fn period_secs(per: Period) -> u64 {
    match per {
        Period::Hour => 3_600,
        Period::Day => 86_400,
        Period::Week => 7 * 86_400,
        Period::Month => 30 * 86_400,
    }
}

/// A rent's total for its period, begun periods counted whole: `15.00 EUR
/// for 3 days`.
pub(super) fn total(p: &PriceJson, start: &str, due: &str) -> Option<String> {
    let secs = |t: &str| {
        humantime::parse_rfc3339_weak(t)
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs())
    };
    let span = secs(due)?.checked_sub(secs(start)?)?;
    let periods = span.div_ceil(period_secs(p.per)).max(1);
    let amount = p.amount.checked_mul(i64::try_from(periods).ok()?)?;
    let sum = MoneyJson {
        amount,
        currency: p.currency.clone(),
    };
    let unit = name_of(&p.per);
    let unit = if periods == 1 {
        unit
    } else {
        format!("{unit}s")
    };
    Some(format!("{} for {periods} {unit}", money(&sum)))
}

/// The terms as label and value lines.
pub(super) fn lines(t: &TermsJson) -> Vec<(&'static str, String)> {
    let deposit = |d: &Option<MoneyJson>| d.as_ref().map_or("none".to_owned(), money);
    let mut lines = match &t.deal {
        DealJson::Share {
            start,
            due,
            deposit: d,
        } => vec![
            ("From", when(start)),
            ("Due back", when(due)),
            ("Deposit", deposit(d)),
        ],
        DealJson::Rent {
            start,
            due,
            price: p,
            deposit: d,
            cancel_before,
        } => {
            let mut v = vec![
                ("From", when(start)),
                ("Due back", when(due)),
                ("Price", price(p)),
            ];
            if let Some(total) = total(p, start, due) {
                v.push(("Total", total));
            }
            v.push(("Deposit", deposit(d)));
            if let Some(c) = cancel_before {
                v.push(("Free to cancel until", when(c)));
            }
            v
        }
        DealJson::Lease {
            start,
            end,
            price: p,
            notice_days,
        } => vec![
            ("From", when(start)),
            ("Until", end.as_deref().map_or("notice".to_owned(), when)),
            ("Price", price(p)),
            ("Notice", format!("{notice_days} days")),
        ],
        DealJson::Swap {
            theirs,
            offer,
            start,
            until,
            ..
        } => {
            let mut v = vec![("From", when(start))];
            v.push((
                "Until",
                until.as_deref().map_or("for good".to_owned(), when),
            ));
            if let Some(theirs) = theirs {
                v.push(("In exchange", format!("listing {theirs}")));
            }
            if !offer.is_empty() {
                v.push(("Offered", offer.clone()));
            }
            v
        }
        DealJson::Give { from, until } => {
            vec![("Pick up from", when(from)), ("Pick up by", when(until))]
        }
    };
    if let Some(pickup) = &t.pickup {
        lines.push(("Pickup", pickup.clone()));
    }
    lines
}

/// What changed from `before` to `after`, a line each (`Price: 5.00 EUR per
/// day → 4.00 EUR per day`).
pub(super) fn changes(before: &TermsJson, after: &TermsJson) -> Vec<String> {
    let old = lines(before);
    let new = lines(after);
    let mut changed: Vec<String> = new
        .iter()
        .filter_map(
            |(label, value)| match old.iter().find(|(l, _)| l == label) {
                Some((_, was)) if was == value => None,
                Some((_, was)) => Some(format!("{label}: {was} → {value}")),
                None => Some(format!("{label}: {value} (new)")),
            },
        )
        .collect();
    changed.extend(
        old.iter()
            .filter(|(l, _)| !new.iter().any(|(n, _)| n == l))
            .map(|(label, was)| format!("{label}: {was} → none")),
    );
    changed
}

/// The terms form as typed (proposing and countering): every field a kind
/// may use; the page shows those of its kind.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub(super) struct TermsForm {
    pub(super) kind: String,
    pub(super) start: String,
    pub(super) due: String,
    pub(super) end: String,
    pub(super) from: String,
    pub(super) until: String,
    pub(super) price: String,
    pub(super) per: String,
    pub(super) deposit: String,
    pub(super) cancel_before: String,
    pub(super) notice_days: String,
    pub(super) theirs: String,
    pub(super) offer: String,
    pub(super) pickup: String,
    pub(super) note: String,
}

/// A field of the form the page could not read, with why.
#[derive(Debug, Clone)]
pub(super) struct FieldError {
    pub(super) field: &'static str,
    pub(super) message: String,
}

impl TermsForm {
    /// A fresh form for `kind` on `listing`: its price and deposit filled
    /// in, and times to start from: tomorrow 10:00 UTC, back two days later
    /// (a give's pickup window: a week).
    pub(super) fn for_listing(l: &ListingJson, kind: DealKind, now: u64) -> Self {
        let day = 86_400;
        let start = (now / day + 1) * day + 10 * 3_600;
        let at = |secs: u64| {
            field_time(
                &humantime::format_rfc3339_seconds(
                    std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs),
                )
                .to_string(),
            )
        };
        let (from, until) = match kind {
            DealKind::Give => (at(start), at(start + 7 * day)),
            _ => (String::new(), String::new()),
        };
        let due = match kind {
            DealKind::Share | DealKind::Rent => at(start + 2 * day),
            _ => String::new(),
        };
        let start = match kind {
            DealKind::Give => String::new(),
            _ => at(start),
        };
        let amount = typed;
        Self {
            kind: name_of(&kind),
            price: l
                .price
                .as_ref()
                .map(|p| amount(&p.money()))
                .unwrap_or_default(),
            per: l
                .price
                .as_ref()
                .map(|p| name_of(&p.per))
                .unwrap_or_else(|| "day".to_owned()),
            deposit: l.deposit.as_ref().map(amount).unwrap_or_default(),
            notice_days: match kind {
                DealKind::Lease => "30".to_owned(),
                _ => String::new(),
            },
            start,
            due,
            from,
            until,
            ..Self::default()
        }
    }

    /// The form filled in from the current terms (to counter them).
    pub(super) fn of_terms(t: &TermsJson) -> Self {
        let amount = typed;
        let opt = |t: &Option<String>| t.as_deref().map(field_time).unwrap_or_default();
        let mut form = Self {
            pickup: t.pickup.clone().unwrap_or_default(),
            ..Self::default()
        };
        match &t.deal {
            DealJson::Share {
                start,
                due,
                deposit,
            } => {
                form.kind = "share".into();
                form.start = field_time(start);
                form.due = field_time(due);
                form.deposit = deposit.as_ref().map(amount).unwrap_or_default();
            }
            DealJson::Rent {
                start,
                due,
                price,
                deposit,
                cancel_before,
            } => {
                form.kind = "rent".into();
                form.start = field_time(start);
                form.due = field_time(due);
                form.price = amount(&price.money());
                form.per = name_of(&price.per);
                form.deposit = deposit.as_ref().map(amount).unwrap_or_default();
                form.cancel_before = opt(cancel_before);
            }
            DealJson::Lease {
                start,
                end,
                price,
                notice_days,
            } => {
                form.kind = "lease".into();
                form.start = field_time(start);
                form.end = opt(end);
                form.price = amount(&price.money());
                form.per = name_of(&price.per);
                form.notice_days = notice_days.to_string();
            }
            DealJson::Swap {
                offer,
                start,
                until,
                theirs,
                ..
            } => {
                form.kind = "swap".into();
                form.start = field_time(start);
                form.until = opt(until);
                form.offer = offer.clone();
                form.theirs = theirs.clone().unwrap_or_default();
            }
            DealJson::Give { from, until } => {
                form.kind = "give".into();
                form.from = field_time(from);
                form.until = field_time(until);
            }
        }
        form
    }

    /// Is this the form of `kind`?
    pub(super) fn is(&self, kind: &str) -> bool {
        self.kind == kind
    }

    fn money(
        &self,
        field: &'static str,
        text: &str,
        currency: Currency,
    ) -> Result<Option<MoneyJson>, FieldError> {
        if text.trim().is_empty() {
            return Ok(None);
        }
        let amount = currency.parse_amount(text.trim()).map_err(|e| FieldError {
            field,
            message: format!("{e}"),
        })?;
        Ok(Some(MoneyJson {
            amount,
            currency: currency.code().to_owned(),
        }))
    }

    fn price(&self, currency: Currency) -> Result<Option<PriceJson>, FieldError> {
        let Some(m) = self.money("price", &self.price, currency)? else {
            return Ok(None);
        };
        let per = serde_json::from_value::<Period>(serde_json::Value::String(
            if self.per.is_empty() {
                "day"
            } else {
                &self.per
            }
            .to_owned(),
        ))
        .map_err(|_| FieldError {
            field: "price",
            message: "Per hour, day, week or month.".into(),
        })?;
        Ok(Some(PriceJson {
            amount: m.amount,
            currency: m.currency,
            per,
        }))
    }

    fn notice(&self) -> Result<Option<u16>, FieldError> {
        let t = self.notice_days.trim();
        if t.is_empty() {
            return Ok(None);
        }
        t.parse().map(Some).map_err(|_| FieldError {
            field: "notice_days",
            message: format!("{t:?} is not a number of days."),
        })
    }

    fn text(t: &str) -> Option<String> {
        let t = t.trim();
        (!t.is_empty()).then(|| t.to_owned())
    }

    /// The proposal of this form on `listing`, amounts typed in `currency`.
    pub(super) fn propose_input(
        &self,
        listing: &str,
        currency: Currency,
    ) -> Result<ProposeInput, FieldError> {
        let kind = serde_json::from_value::<DealKind>(serde_json::Value::String(self.kind.clone()))
            .map_err(|_| FieldError {
                field: "kind",
                message: "Pick one of the listing's kinds.".into(),
            })?;
        Ok(ProposeInput {
            listing: listing.to_owned(),
            version_id: None,
            kind,
            start: api_time(&self.start),
            due: api_time(&self.due),
            end: api_time(&self.end),
            from: api_time(&self.from),
            until: api_time(&self.until),
            price: self.price(currency)?,
            deposit: self.money("deposit", &self.deposit, currency)?,
            cancel_before: api_time(&self.cancel_before),
            notice_days: self.notice()?,
            theirs: Self::text(&self.theirs),
            offer: Self::text(&self.offer),
            receiver: None,
            pickup: Self::text(&self.pickup),
            offer_expires: None,
            note: self.note.trim().to_owned(),
        })
    }

    /// A counter to `current`: only what the form changed; an optional term
    /// emptied is taken away.
    pub(super) fn counter_input(
        &self,
        current: &TermsJson,
        currency: Currency,
    ) -> Result<CounterInput, FieldError> {
        let was = Self::of_terms(current);
        let changed = |now: &str, before: &str| now.trim() != before.trim();
        let time = |now: &str, before: &str| {
            if changed(now, before) {
                api_time(now)
            } else {
                None
            }
        };
        // An optional time: emptied → null, changed → the new one.
        let optional_time = |now: &str, before: &str| {
            if !changed(now, before) {
                None
            } else {
                Some(api_time(now))
            }
        };
        let mut input = CounterInput {
            start: time(&self.start, &was.start),
            due: time(&self.due, &was.due),
            from: time(&self.from, &was.from),
            end: optional_time(&self.end, &was.end),
            note: self.note.trim().to_owned(),
            ..CounterInput::default()
        };
        match current.deal {
            DealJson::Swap { .. } => input.until = optional_time(&self.until, &was.until),
            _ => input.until = time(&self.until, &was.until).map(Some),
        }
        if changed(&self.price, &was.price) || changed(&self.per, &was.per) {
            input.price = self.price(currency)?;
        }
        if changed(&self.deposit, &was.deposit) {
            input.deposit = Some(self.money("deposit", &self.deposit, currency)?);
        }
        input.cancel_before = optional_time(&self.cancel_before, &was.cancel_before);
        if changed(&self.notice_days, &was.notice_days) {
            input.notice_days = self.notice()?;
        }
        if changed(&self.offer, &was.offer) {
            input.offer = Some(self.offer.trim().to_owned());
        }
        if changed(&self.pickup, &was.pickup) {
            input.pickup = Some(Self::text(&self.pickup));
        }
        Ok(input)
    }
}
