//! Pages of a search (`browse`, `listing list`, `agreement list`): one page
//! and then the command for the next one, or every page with `--all`.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::args::PageArgs;
use super::text::{print_json, shell_word};
use crate::api::json::{AgreementPage, AgreementSummaryJson, ListingJson, ListingPage};
use crate::client::Client;

/// A page the API answers: its entries and the cursor of the next page.
pub(super) trait Paged: Serialize + DeserializeOwned {
    /// One entry.
    type Entry;
    /// What the entries are, for `no <what>`.
    const WHAT: &'static str;
    /// The entries and the cursor of the next page.
    fn split(self) -> (Vec<Self::Entry>, Option<String>);
    /// Every entry of every page, as one last page.
    fn whole(entries: Vec<Self::Entry>) -> Self;
}

impl Paged for ListingPage {
    type Entry = ListingJson;
    const WHAT: &'static str = "listings";
    fn split(self) -> (Vec<ListingJson>, Option<String>) {
        (self.listings, self.next)
    }
    fn whole(listings: Vec<ListingJson>) -> Self {
        ListingPage {
            listings,
            next: None,
        }
    }
}

impl Paged for AgreementPage {
    type Entry = AgreementSummaryJson;
    const WHAT: &'static str = "agreements";
    fn split(self) -> (Vec<AgreementSummaryJson>, Option<String>) {
        (self.agreements, self.next)
    }
    fn whole(agreements: Vec<AgreementSummaryJson>) -> Self {
        AgreementPage {
            agreements,
            next: None,
        }
    }
}

/// `swapmesh [--data-dir DIR] <words>`, as a person would type it again.
pub(super) fn command_words(data_dir: Option<&std::path::Path>, words: &[&str]) -> String {
    let mut out = vec!["swapmesh".to_owned()];
    if let Some(d) = data_dir {
        out.push("--data-dir".into());
        out.push(shell_word(&d.display().to_string()));
    }
    out.extend(words.iter().map(|w| w.to_string()));
    out.join(" ")
}

/// A search of `path`, one page or all of them, each entry printed as a line.
pub(super) struct Search<P: Paged> {
    /// The API path.
    path: &'static str,
    /// Query parameters.
    filters: Vec<(&'static str, String)>,
    /// The command that was run, without its filters.
    command: String,
    /// The filters as flags, to print the next command.
    shown_filters: Vec<String>,
    /// An entry as a line.
    line: fn(&P::Entry) -> String,
}

impl<P: Paged> Search<P> {
    /// A search of `path` with no filters, printed by `line`.
    pub(super) fn new(path: &'static str, command: String, line: fn(&P::Entry) -> String) -> Self {
        Search {
            path,
            filters: Vec::new(),
            command,
            shown_filters: Vec::new(),
            line,
        }
    }

    /// A query parameter the API always gets, not shown as a flag.
    pub(super) fn fixed(mut self, param: &'static str, value: String) -> Self {
        self.filters.push((param, value));
        self
    }

    /// Query parameters from flags (`param`, `--flag`, value if given); the
    /// next page's command repeats them.
    pub(super) fn flags(mut self, flags: &[(&'static str, &str, &Option<String>)]) -> Self {
        for (param, flag, value) in flags {
            if let Some(v) = value {
                self.filters.push((param, v.clone()));
                self.shown_filters
                    .push(format!("--{flag} {}", shell_word(v)));
            }
        }
        self
    }

    fn page(&self, c: &Client, limit: u16, cursor: Option<&str>) -> anyhow::Result<P> {
        let limit = limit.to_string();
        let mut params: Vec<(&str, &str)> =
            self.filters.iter().map(|(k, v)| (*k, v.as_str())).collect();
        params.push(("limit", &limit));
        if let Some(cursor) = cursor {
            params.push(("cursor", cursor));
        }
        Ok(c.get_with(self.path, &params)?)
    }

    fn print_lines(&self, entries: &[P::Entry]) {
        for e in entries {
            println!("{}", (self.line)(e));
        }
    }

    /// Prints the page `page` asks for, or every page.
    pub(super) fn run(&self, c: &Client, page: &PageArgs, json: bool) -> anyhow::Result<()> {
        if !page.all {
            let found = self.page(c, page.limit, page.cursor.as_deref())?;
            if json {
                print_json(&found);
                return Ok(());
            }
            let (entries, next) = found.split();
            if entries.is_empty() {
                println!("no {}", P::WHAT);
            }
            self.print_lines(&entries);
            if let Some(next) = &next {
                println!("next page: {}", self.next_command(page.limit, next));
            }
            return Ok(());
        }
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let (entries, next) = self.page(c, page.limit, cursor.as_deref())?.split();
            if !json {
                self.print_lines(&entries);
            }
            all.extend(entries);
            match next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        if json {
            print_json(&P::whole(all));
        } else if all.is_empty() {
            println!("no {}", P::WHAT);
        }
        Ok(())
    }

    fn next_command(&self, limit: u16, cursor: &str) -> String {
        let mut words = vec![self.command.clone()];
        words.extend(self.shown_filters.iter().cloned());
        words.push(format!("--limit {limit} --cursor {cursor}"));
        words.join(" ")
    }
}
