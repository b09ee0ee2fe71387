//! What the CLI prints for people: aligned `label  value` blocks, listing lines,
//! money as people read it, and shell-quoted commands to run next.

use std::time::Duration;

use crate::api::json::{ListingJson, MoneyJson, NodeJson, PriceJson, ProfileJson};

/// Prints JSON, pretty.
pub(super) fn print_json(value: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("JSON values serialise")
    );
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
pub(super) fn money(m: &MoneyJson) -> String {
    match m.to_money() {
        Some(money) => money.display(),
        None => format!("{} {} (minor units)", m.amount, m.currency),
    }
}

/// A price: `5.00 EUR per day`.
pub(super) fn price(p: &PriceJson) -> String {
    format!("{} per {}", money(&p.money()), name_of(&p.per))
}

/// The text form of an enum value (its serde name, e.g. `on_loan`).
pub(super) fn name_of<T: serde::Serialize>(value: &T) -> String {
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
        .print();
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
