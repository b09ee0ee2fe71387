//! `listing`, `want` and `browse`: publishing with money as people type it
//! and photos from files (`photos`), short ids, and pages (`pages`).

use swapmesh_protocol::listing::Purpose;

use super::args::{AddArgs, BrowseArgs, ClientArgs, PageArgs, UpdateArgs};
use super::pages::{Search, command_words};
use super::text::{listing_line, print_as, print_json, print_listing};
use super::{client, money, photos, resolve};
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
    let mut input = ListingInput {
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
        photos: Vec::new(),
        meshes: if args.meshes.is_empty() {
            None
        } else {
            Some(
                args.meshes
                    .iter()
                    .map(|m| resolve::mesh(&c, m))
                    .collect::<anyhow::Result<_>>()?,
            )
        },
        area: args.no_area.then_some(false),
    };
    for path in &args.photos {
        input
            .photos
            .push(photos::upload(&c, path, args.client.json)?.hash);
    }
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
    let photos = if args.photos.is_empty() && args.remove_photos.is_empty() {
        None
    } else {
        Some(new_photos(&c, &id, &args)?)
    };
    let patch = ListingPatch {
        title: args.title,
        description: args.description,
        category: args.category,
        status: args.status,
        price,
        deposit,
        photos,
        ..ListingPatch::default()
    };
    let listing: ListingJson = c.patch(&format!("/listings/{id}"), &patch)?;
    show_line(&listing, args.client.json);
    Ok(())
}

/// The listing's photos after `--remove-photo` (each checked before anything
/// is uploaded) and `--photo` (uploaded, then added after the others).
fn new_photos(c: &Client, id: &str, args: &UpdateArgs) -> anyhow::Result<Vec<String>> {
    let current: ListingJson = c.get(&format!("/listings/{id}"))?;
    let mut gone = Vec::new();
    for given in &args.remove_photos {
        gone.push(photos::named(&current.photos, given)?.clone());
    }
    let mut kept: Vec<String> = current
        .photos
        .into_iter()
        .filter(|h| !gone.contains(h))
        .collect();
    for path in &args.photos {
        let hash = photos::upload(c, path, args.client.json)?.hash;
        if !kept.contains(&hash) {
            kept.push(hash);
        }
    }
    Ok(kept)
}

/// `listing show`.
pub(super) fn show(dir: &DataDir, short: &str, args: &ClientArgs) -> anyhow::Result<()> {
    let c = client(dir, args)?;
    let id = resolve::listing(&c, short)?;
    let listing: ListingJson = c.get(&format!("/listings/{id}"))?;
    print_as(args.json, &listing, print_listing);
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
    print_as(json, listing, |l| println!("{}", listing_line(l, true)));
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
    let command = command_words(data_dir, &["listing", "list"]);
    Search::<ListingPage>::new("/listings", command, |l| listing_line(l, true))
        .fixed("author", node.author)
        .run(&c, page, args.json)
}

/// `browse`.
pub(super) fn browse(
    dir: &DataDir,
    data_dir: Option<&std::path::Path>,
    args: &BrowseArgs,
) -> anyhow::Result<()> {
    let c = client(dir, &args.client)?;
    let command = command_words(data_dir, &["browse"]);
    let max_distance = args.max_distance.map(|d| d.to_string());
    Search::<ListingPage>::new("/listings", command, |l| listing_line(l, false))
        .flags(&[
            ("area", "area", &args.area),
            ("mesh", "mesh", &args.mesh),
            ("kind", "kind", &args.kind),
            ("purpose", "purpose", &args.purpose),
            ("q", "query", &args.query),
            ("author", "author", &args.author),
            ("max_distance", "max-distance", &max_distance),
        ])
        .run(&c, &args.page, args.client.json)
}
