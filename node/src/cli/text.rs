//! What the CLI prints for people: aligned `label  value` blocks, listing and
//! agreement lines, money as people read it, and shell-quoted commands to run
//! next.

use std::time::Duration;

use crate::api::json::{
    ActionJson, AgreementAnswer, AgreementEventJson, AgreementJson, AgreementRole,
    AgreementSummaryJson, DealJson, LegJson, ListingJson, MoneyJson, NodeJson, PendingJson,
    PriceJson, ProfileJson, ReachabilityJson, ReachabilityKind,
};

/// Prints JSON, pretty.
pub(super) fn print_json(value: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("JSON values serialise")
    );
}

/// Prints the API's answer: as JSON with `--json`, else as `text` says it.
pub(super) fn print_as<T: serde::Serialize>(json: bool, value: &T, text: impl FnOnce(&T)) {
    if json {
        print_json(value);
    } else {
        text(value);
    }
}

/// Rows of `label  value`, the values aligned; a row with several values
/// continues on lines of their own under the first.
#[derive(Default)]
pub(super) struct Block {
    rows: Vec<(&'static str, Vec<String>)>,
}

impl Block {
    pub(super) fn row(&mut self, label: &'static str, value: impl Into<String>) -> &mut Self {
        self.rows.push((label, vec![value.into()]));
        self
    }

    /// A row of several values; `none` when there are none.
    pub(super) fn rows(
        &mut self,
        label: &'static str,
        values: impl IntoIterator<Item = String>,
        none: &str,
    ) -> &mut Self {
        let mut values: Vec<String> = values.into_iter().collect();
        if values.is_empty() {
            values.push(none.to_owned());
        }
        self.rows.push((label, values));
        self
    }

    pub(super) fn print(&self) {
        let width = self.rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
        for (label, values) in &self.rows {
            for (i, value) in values.iter().enumerate() {
                let label = if i == 0 { *label } else { "" };
                println!("{label:<width$}  {value}");
            }
        }
    }
}

/// Money as people read it: `5.00 EUR`; a code outside the ISO 4217 table in
/// minor units with its code.
pub(crate) fn money(m: &MoneyJson) -> String {
    match m.to_money() {
        Some(money) => money.display(),
        None => format!("{} {} (minor units)", m.amount, m.currency),
    }
}

/// A price: `5.00 EUR per day`.
pub(crate) fn price(p: &PriceJson) -> String {
    format!("{} per {}", money(&p.money()), name_of(&p.per))
}

/// The text form of an enum value (its serde name, e.g. `on_loan`).
pub(crate) fn name_of<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// One line per listing: id, version, what, title, price, status. A listing
/// of ours (`own`) is shown by its name, which is how it is named back.
pub(super) fn listing_line(l: &ListingJson, own: bool) -> String {
    let price = l
        .price
        .as_ref()
        .map(|p| format!(", {}", price(p)))
        .unwrap_or_default();
    let kinds: Vec<String> = l.kinds.iter().map(name_of).collect();
    let id = match l.id.split_once('.') {
        Some((_, name)) if own => name,
        _ => l.id.as_str(),
    };
    format!(
        "{}  v{}  {} {}: {}{}  [{}]",
        id,
        l.version,
        name_of(&l.purpose),
        kinds.join("/"),
        l.title,
        price,
        name_of(&l.status)
    )
}

/// A listing in full.
pub(super) fn print_listing(l: &ListingJson) {
    let mut b = Block::default();
    b.row("id", &l.id)
        .row("title", &l.title)
        .row(
            "what",
            format!(
                "{} to {}",
                name_of(&l.purpose),
                l.kinds.iter().map(name_of).collect::<Vec<_>>().join(", ")
            ),
        )
        .row("status", name_of(&l.status));
    if let Some(p) = &l.price {
        b.row("price", price(p));
    }
    if let Some(d) = &l.deposit {
        b.row("deposit", money(d));
    }
    if let Some(c) = &l.condition {
        b.row("condition", name_of(c));
    }
    if !l.category.is_empty() {
        b.row("category", &l.category);
    }
    if !l.tags.is_empty() {
        b.row("tags", l.tags.join(", "));
    }
    if !l.description.is_empty() {
        b.rows("description", l.description.lines().map(str::to_owned), "");
    }
    if !l.photos.is_empty() {
        b.rows("photos", l.photos.iter().cloned(), "");
    }
    b.rows(
        "available",
        l.availability
            .iter()
            .map(|w| format!("{} to {}", w.start, w.end)),
        "any time",
    )
    .row("where", place(l.area.as_deref(), &l.meshes))
    .row("author", &l.author)
    .row("version", format!("{} ({})", l.version, l.version_id))
    .row("published", &l.created_at)
    .row("expires", &l.expires_at)
    .print();
}

fn place(area: Option<&str>, meshes: &[String]) -> String {
    let mut parts = Vec::new();
    if let Some(a) = area {
        parts.push(format!("area {a}"));
    }
    if !meshes.is_empty() {
        parts.push(format!("meshes {}", meshes.join(", ")));
    }
    parts.join(", ")
}

/// `status`.
pub(super) fn print_node(n: &NodeJson) {
    let sync = if n.sync.running > 0 {
        format!(
            "catching up: {} of {} records fetched",
            n.sync.fetched, n.sync.expected
        )
    } else {
        format!(
            "idle ({} records fetched since start)",
            n.sync.fetched_total
        )
    };
    let mut b = Block::default();
    b.row("peer id", &n.peer_id)
        .row("author", &n.author)
        .row(
            "area",
            n.area.as_deref().unwrap_or("none (LAN mesh `local`)"),
        )
        .rows("meshes", n.meshes.iter().cloned(), "none")
        .rows("listening", n.listen.iter().cloned(), "nowhere")
        .row("currency", &n.currency)
        .row("version", &n.version)
        .row(
            "uptime",
            humantime::format_duration(Duration::from_secs(n.uptime_secs)).to_string(),
        )
        .row("sync", sync)
        .row("reachable", reachable_text(&n.reachability))
        .row("health", health_text(&n.health))
        .row("store", store_text(&n.store))
        .row("clock", clock_text(&n.clock))
        .print();
}

/// `agrees with peers`, or how far it is off and what that costs.
fn clock_text(c: &crate::skew::ClockJson) -> String {
    use crate::skew::ClockState;
    let off = humantime::format_duration(Duration::from_secs(
        c.offset_secs.unwrap_or(0).unsigned_abs(),
    ));
    match c.state {
        ClockState::Ok => format!("agrees with {} peers' records", c.authors),
        ClockState::Unknown => "not compared yet (too few peers' records)".to_owned(),
        ClockState::Behind => format!(
            "BEHIND its peers' by {off} ({} authors): their new records are ignored; set the system clock",
            c.authors
        ),
        ClockState::Ahead => format!(
            "AHEAD of its peers' by {off} ({} authors): they ignore this node's new records; set the system clock",
            c.authors
        ),
    }
}

/// `12.3 MiB of records, budget 1024 MiB`, and the cells dropped for it.
fn store_text(s: &crate::api::json::StoreJson) -> String {
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let mut text = format!(
        "{:.1} MiB of records, budget {:.0} MiB",
        mib(s.record_bytes),
        mib(s.budget_bytes)
    );
    if !s.dropped_cells.is_empty() {
        text.push_str(&format!(
            "; over it, no longer listening to {}",
            s.dropped_cells.join(", ")
        ));
    }
    text
}

/// `ok`, or `degraded since …: why`.
fn health_text(h: &crate::health::HealthJson) -> String {
    match (&h.since, &h.reason) {
        (Some(since), Some(reason)) => format!("DEGRADED since {since}: {reason}"),
        _ => "ok".to_owned(),
    }
}

/// `direct at …`, `relayed through …`, or `unreachable: why`.
fn reachable_text(r: &ReachabilityJson) -> String {
    match r.kind {
        ReachabilityKind::Direct => format!("direct at {}", r.addresses.join(", ")),
        ReachabilityKind::Relayed => format!("relayed through {}", r.relays.join(", ")),
        ReachabilityKind::Unreachable => format!(
            "unreachable: {}",
            r.reason.as_deref().unwrap_or("no confirmed address")
        ),
    }
}

/// `profile show`.
pub(super) fn print_profile(p: &ProfileJson) {
    let mut b = Block::default();
    b.row("name", &p.name).row("author", &p.author);
    if !p.bio.is_empty() {
        b.rows("bio", p.bio.lines().map(str::to_owned), "");
    }
    b.rows("contact", p.contact.iter().cloned(), "none")
        .row("version", p.version.to_string())
        .print();
}

/// An agreement id as it is shown, and typed back: its first 8 characters.
pub(super) fn short_id(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// The actions one may take next, `note` last.
fn next_text(next: &[String]) -> String {
    if next.is_empty() {
        "nothing".to_owned()
    } else {
        next.join(", ")
    }
}

/// The state, with what the clock says of it: `active (overdue)`.
fn state_text(a: &AgreementSummaryJson) -> String {
    let mut words = vec![a.state.clone()];
    if a.overdue {
        words.push("(overdue)".into());
    }
    if a.expired {
        words.push("(offer expired)".into());
    }
    words.join(" ")
}

/// Which side we are on, in words.
fn role_text(role: AgreementRole) -> &'static str {
    match role {
        AgreementRole::Provider => "you provide",
        AgreementRole::Receiver => "you receive",
    }
}

/// One line per agreement: short id, state, kind, side, title, due, and
/// what may come next.
pub(super) fn agreement_line(a: &AgreementSummaryJson) -> String {
    let due = a
        .due
        .as_ref()
        .map(|d| format!(", due {d}"))
        .unwrap_or_default();
    let waiting = if a.waiting {
        " [waiting for the provider's node]"
    } else {
        ""
    };
    format!(
        "{}  {}  {} ({}): {}{due}{waiting}  next: {}",
        short_id(&a.id),
        state_text(a),
        name_of(&a.kind),
        role_text(a.role),
        a.title,
        next_text(&a.next)
    )
}

/// What an action did, in one line: `handed over 9c41d2e0 (Cordless drill):
/// active; next: dispute, note`, or that it waits for the provider's node.
pub(super) fn acted_line(done: &str, answer: &AgreementAnswer) -> String {
    let a = &answer.agreement.summary;
    if answer.agreement.pending.is_some() {
        return format!(
            "{done} {} ({}): pending, the provider's node has not taken it yet; yours keeps sending it",
            short_id(&a.id),
            a.title
        );
    }
    let unsent = if answer.delivered {
        ""
    } else {
        " (the other node does not have it yet; yours keeps sending it)"
    };
    state_line(done, a, unsent)
}

/// `<done> 9c41d2e0 (Cordless drill): offered<aside>; next: …`.
pub(super) fn state_line(done: &str, a: &AgreementSummaryJson, aside: &str) -> String {
    format!(
        "{done} {} ({}): {}{aside}; next: {}",
        short_id(&a.id),
        a.title,
        state_text(a),
        next_text(&a.next)
    )
}

/// The terms of a deal, a part a line: `rent from … to …`, `price 5.00 EUR
/// per day`, `deposit 50.00 EUR`.
fn deal_parts(deal: &DealJson) -> Vec<String> {
    let mut parts = Vec::new();
    let mut opt = |label: &str, value: Option<String>| {
        if let Some(v) = value {
            parts.push(format!("{label} {v}"));
        }
    };
    match deal {
        DealJson::Share {
            start,
            due,
            deposit,
        } => {
            opt("share from", Some(format!("{start} to {due}")));
            opt("deposit", deposit.as_ref().map(money));
        }
        DealJson::Rent {
            start,
            due,
            price: p,
            deposit,
            cancel_before,
        } => {
            opt("rent from", Some(format!("{start} to {due}")));
            opt("price", Some(price(p)));
            opt("deposit", deposit.as_ref().map(money));
            opt("cancel before", cancel_before.clone());
        }
        DealJson::Lease {
            start,
            end,
            price: p,
            notice_days,
        } => {
            let end = end.as_deref().unwrap_or("notice");
            opt("lease from", Some(format!("{start} until {end}")));
            opt("price", Some(price(p)));
            opt("notice", Some(format!("{notice_days} days")));
        }
        DealJson::Swap {
            theirs,
            offer,
            start,
            until,
            ..
        } => {
            let until = until.as_deref().unwrap_or("for good");
            opt("swap from", Some(format!("{start} until {until}")));
            opt("for listing", theirs.clone());
            opt("for", (!offer.is_empty()).then(|| format!("{offer:?}")));
        }
        DealJson::Give { from, until } => {
            opt("give, pickup from", Some(format!("{from} to {until}")));
        }
    }
    parts
}

/// The name of an action, as its route and `next` say it.
fn action_name(action: &ActionJson) -> String {
    serde_json::to_value(action)
        .ok()
        .and_then(|v| v["action"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Whose item a leg is.
fn leg_text(leg: LegJson) -> &'static str {
    match leg {
        LegJson::Provider => "the provider's item",
        LegJson::Receiver => "the receiver's item",
    }
}

/// What an event does, with its own fields: `confirm return, deposit
/// returned 50.00 EUR`.
fn event_text(action: &ActionJson, events: &[AgreementEventJson]) -> String {
    let name = action_name(action);
    match action {
        ActionJson::Propose { terms } | ActionJson::Counter { terms } => {
            format!("{name}: {}", deal_parts(&terms.deal).join(", "))
        }
        ActionJson::Handover { leg } | ActionJson::Return { leg } => {
            format!("{name} of {}", leg_text(*leg))
        }
        ActionJson::Confirm {
            of,
            deposit_returned,
        } => {
            let what = events
                .iter()
                .find(|e| &e.id == of)
                .map(|e| action_name(&e.action))
                .unwrap_or_else(|| short_id(of).to_owned());
            let deposit = deposit_returned
                .as_ref()
                .map(|m| format!(", deposit returned {}", money(m)))
                .unwrap_or_default();
            format!("{name} {what}{deposit}")
        }
        ActionJson::Extend { due } => format!("{name} to {due}"),
        ActionJson::Resolve { outcome } => format!("{name}: {}", name_of(outcome)),
        _ => name,
    }
}

/// `me` or `them`.
fn who(signer: &str, me: &str) -> &'static str {
    if signer == me { "me  " } else { "them" }
}

/// An event: `at  me|them  what — "note"`.
fn event_line(e: &AgreementEventJson, me: &str, events: &[AgreementEventJson]) -> String {
    let note = if e.note.is_empty() {
        String::new()
    } else {
        format!(" — {:?}", e.note)
    };
    format!(
        "{}  {}  {}{note}",
        e.at,
        who(&e.signer, me),
        event_text(&e.action, events)
    )
}

/// Our event that waits for the provider's node, and how sending it goes.
fn pending_text(p: &PendingJson) -> String {
    let last = p.last_attempt.as_deref().unwrap_or("not yet");
    let next = p
        .next_retry
        .as_deref()
        .unwrap_or("as soon as the provider's node is seen");
    format!(
        "{} since {}; last try {last}; next try {next}",
        action_name(&p.event.action),
        p.since
    )
}

/// An agreement in full.
pub(super) fn print_agreement(a: &AgreementJson) {
    let s = &a.summary;
    let me = match s.role {
        AgreementRole::Provider => &a.terms.provider,
        AgreementRole::Receiver => &a.terms.receiver,
    };
    let mut b = Block::default();
    b.row("id", &s.id)
        .row("listing", format!("{} ({})", s.title, s.listing_id))
        .row("state", state_text(s))
        .row("kind", name_of(&s.kind))
        .row(
            "role",
            format!("{} ({})", name_of(&s.role), role_text(s.role)),
        )
        .row("other party", &s.other)
        .rows("terms", deal_parts(&a.terms.deal), "");
    if let Some(p) = &a.terms.pickup {
        b.row("pickup", p);
    }
    if s.state == "offered" {
        b.row("offer expires", &a.terms.offer_expires);
    }
    if let Some(due) = &s.due {
        let overdue = if s.overdue { " (overdue)" } else { "" };
        b.row("due", format!("{due}{overdue}"));
    }
    b.rows(
        "events",
        a.events.iter().map(|e| event_line(e, me, &a.events)),
        "none",
    )
    .rows(
        "notes",
        a.notes
            .iter()
            .map(|n| format!("{}  {}  {}", n.at, who(&n.from, me), n.text)),
        "none",
    );
    if let Some(p) = &a.pending {
        b.row("pending", pending_text(p));
    }
    if a.sending > 0 {
        b.row("sending", format!("{} to the other node", a.sending));
    }
    if let Some(code) = &a.refused {
        b.row("refused", code);
    }
    b.row("next", next_text(&s.next)).print();
}

/// A word as a shell reads it: quoted unless it is plain.
pub(super) fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b',' | b'/' | b':' | b'=')
        });
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_word("u4pru"), "u4pru");
        assert_eq!(shell_word("cargo bike"), "'cargo bike'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }

    #[test]
    fn money_outside_the_table_is_shown_in_minor_units() {
        let eur = MoneyJson {
            amount: 500,
            currency: "EUR".into(),
        };
        assert_eq!(money(&eur), "5.00 EUR");
        let xyz = MoneyJson {
            amount: 1234,
            currency: "XYZ".into(),
        };
        assert_eq!(money(&xyz), "1234 XYZ (minor units)");
    }
}
