//! `listing`, `want` and `browse`: publishing with money as people type it,
//! short ids, and pages that print the command for the next one (or follow
//! them all with `--all`).

use swapmesh_protocol::listing::Purpose;

use super::args::{AddArgs, BrowseArgs, ClientArgs, PageArgs, UpdateArgs};
use super::text::{listing_line, print_json, print_listing, shell_word};
use super::{client, money, resolve};
use crate::api::json::{ListingInput, ListingJson, ListingPage, ListingPatch, NodeJson};
use crate::client::Client;
use crate::data_dir::DataDir;

/// `listing add` and `want add`.
pub(super) fn add(dir: &DataDir, args: AddArgs, purpose: Purpose) -> anyhow::Result<()> {
    let c = client(dir, &args.client)?;
    let (price, deposit) = money::price_and_deposit(
        &c,
        args.price.as_deref(),
        args.per,
        args.deposit.as_deref(),
        args.currency.as_deref(),
    )?;
    let input = ListingInput {
        d: args.name,
        purpose: Some(purpose),
        kinds: args.kinds,
        title: args.title,
        description: args.description,
        category: args.category,
        tags: args.tags,
        condition: args.condition,
        price,
        deposit,
        availability: Vec::new(),
    };
    let listing: ListingJson = c.post("/listings", &input)?;
    show_line(&listing, args.client.json);
    Ok(())
}

/// `listing update`.
pub(super) fn update(dir: &DataDir, args: UpdateArgs) -> anyhow::Result<()> {
    let c = client(dir, &args.client)?;
    let id = resolve::listing(&c, &args.id)?;
    let (price, deposit) = money::price_and_deposit(
        &c,
        args.price.as_deref(),
        args.per,
        args.deposit.as_deref(),
        args.currency.as_deref(),
    )?;
    let patch = ListingPatch {
        title: args.title,
        description: args.description,
        category: args.category,
        status: args.status,
        price,
        deposit,
        ..ListingPatch::default()
    };
    let listing: ListingJson = c.patch(&format!("/listings/{id}"), &patch)?;
    show_line(&listing, args.client.json);
    Ok(())
}

/// `listing show`.
pub(super) fn show(dir: &DataDir, short: &str, args: &ClientArgs) -> anyhow::Result<()> {
    let c = client(dir, args)?;
    let id = resolve::listing(&c, short)?;
    let listing: ListingJson = c.get(&format!("/listings/{id}"))?;
    if args.json {
        print_json(&listing);
    } else {
        print_listing(&listing);
    }
    Ok(())
}

/// `listing withdraw`.
pub(super) fn withdraw(dir: &DataDir, short: &str, args: &ClientArgs) -> anyhow::Result<()> {
    let c = client(dir, args)?;
    let id = resolve::listing(&c, short)?;
    let listing: ListingJson = c.delete(&format!("/listings/{id}"))?;
    if args.json {
        print_json(&listing);
    } else {
        println!("withdrew {}", listing.id);
    }
    Ok(())
}

fn show_line(listing: &ListingJson, json: bool) {
    if json {
        print_json(listing);
    } else {
        println!("{}", listing_line(listing, true));
    }
}

/// `listing list`: our own listings.
pub(super) fn list(
    dir: &DataDir,
    data_dir: Option<&std::path::Path>,
    page: &PageArgs,
    args: &ClientArgs,
) -> anyhow::Result<()> {
    let c = client(dir, args)?;
    let node: NodeJson = c.get("/node")?;
    let search = Search {
        filters: vec![("author", node.author)],
        command: command_words(data_dir, &["listing", "list"]),
        shown_filters: Vec::new(),
        own: true,
    };
    search.run(&c, page, args.json)
}

/// `browse`.
pub(super) fn browse(
    dir: &DataDir,
    data_dir: Option<&std::path::Path>,
    args: &BrowseArgs,
) -> anyhow::Result<()> {
    let c = client(dir, &args.client)?;
    let mut filters = Vec::new();
    let mut shown = Vec::new();
    for (param, flag, value) in [
        ("area", "area", &args.area),
        ("mesh", "mesh", &args.mesh),
        ("kind", "kind", &args.kind),
        ("purpose", "purpose", &args.purpose),
        ("q", "query", &args.query),
        ("author", "author", &args.author),
    ] {
        if let Some(v) = value {
            filters.push((param, v.clone()));
            shown.push(format!("--{flag} {}", shell_word(v)));
        }
    }
    let search = Search {
        filters,
        command: command_words(data_dir, &["browse"]),
        shown_filters: shown,
        own: false,
    };
    search.run(&c, &args.page, args.client.json)
}

/// `swapmesh [--data-dir DIR] <words>`, as a person would type it again.
fn command_words(data_dir: Option<&std::path::Path>, words: &[&str]) -> String {
    let mut out = vec!["swapmesh".to_owned()];
    if let Some(d) = data_dir {
        out.push("--data-dir".into());
        out.push(shell_word(&d.display().to_string()));
    }
    out.extend(words.iter().map(|w| w.to_string()));
    out.join(" ")
}

/// A listing search, one page or all of them.
struct Search {
    /// Query parameters.
    filters: Vec<(&'static str, String)>,
    /// The command that was run, without its filters.
    command: String,
    /// The filters as flags, to print the next command.
    shown_filters: Vec<String>,
    /// Whether every listing is ours (shown by name).
    own: bool,
}

impl Search {
    fn page(&self, c: &Client, limit: u16, cursor: Option<&str>) -> anyhow::Result<ListingPage> {
        let limit = limit.to_string();
        let mut params: Vec<(&str, &str)> =
            self.filters.iter().map(|(k, v)| (*k, v.as_str())).collect();
        params.push(("limit", &limit));
        if let Some(cursor) = cursor {
            params.push(("cursor", cursor));
        }
        Ok(c.get_with("/listings", &params)?)
    }

    fn run(&self, c: &Client, page: &PageArgs, json: bool) -> anyhow::Result<()> {
        if !page.all {
            let found = self.page(c, page.limit, page.cursor.as_deref())?;
            if json {
                print_json(&found);
                return Ok(());
            }
            if found.listings.is_empty() {
                println!("no listings");
            }
            for l in &found.listings {
                println!("{}", listing_line(l, self.own));
            }
            if let Some(next) = &found.next {
                println!("next page: {}", self.next_command(page.limit, next));
            }
            return Ok(());
        }
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let found = self.page(c, page.limit, cursor.as_deref())?;
            if !json {
                for l in &found.listings {
                    println!("{}", listing_line(l, self.own));
                }
            }
            all.extend(found.listings);
            match found.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        if json {
            print_json(&ListingPage {
                listings: all,
                next: None,
            });
        } else if all.is_empty() {
            println!("no listings");
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
