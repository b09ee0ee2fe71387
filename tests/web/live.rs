//! The open page follows the network without a reload: listings, photos and
//! peers, between two real nodes over TCP on 127.0.0.1.

use std::path::Path;

use serde_json::{Value, json};
use tempfile::tempdir;

use crate::browser::{self, Browser};
use crate::kit::{self, Daemon, eventually};

/// Waits until `b` (a node bootstrapped from `a`) is connected to it.
fn connected(a: &Daemon, b: &Daemon) {
    eventually("the two nodes connected", || {
        browser::api_peers(a) > 0 && browser::api_peers(b) > 0
    });
}

/// JS: whether `#listings` names `title`.
fn listed(title: &str) -> String {
    format!(
        "var l = document.getElementById('listings'); return !!l && l.textContent.includes({});",
        json!(title)
    )
}

/// Adds a listing with the CLI; its id.
fn add(dir: &Path, title: &str) -> String {
    let out = kit::ok(
        dir,
        &[
            "listing", "add", "--title", title, "--kind", "rent", "--price", "5", "--per", "day",
            "--json",
        ],
    );
    let listing: Value = serde_json::from_str(&out).expect("JSON");
    listing["id"].as_str().expect("an id").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_appears_and_goes_live_without_reload() {
    let Some(_serial) = browser::serial().await else {
        return;
    };
    let tmp = tempdir().unwrap();
    let lender = browser::neighbour(&tmp.path().join("a"), None);
    let borrower = browser::neighbour(&tmp.path().join("b"), Some(&lender));
    connected(&lender, &borrower);
    let b = Browser::desktop("a_listing_appears_and_goes_live_without_reload", &borrower).await;
    b.sign_in(&borrower).await;
    assert!(!b.js(&listed("Hedge trimmer")).await.as_bool().unwrap());
    b.mark().await;

    let id = add(&lender.dir, "Hedge trimmer");
    b.wait_js("the new listing on the open page", &listed("Hedge trimmer"))
        .await;
    assert!(b.still_marked().await, "the page was reloaded");
    assert!(
        b.text("#live-note").await.starts_with("Updated"),
        "announced through aria-live"
    );
    b.screenshots("browse-live").await;

    kit::ok(&lender.dir, &["listing", "withdraw", &id]);
    b.wait_js(
        "the withdrawn listing gone from the open page",
        &format!("return !(function(){{{}}})()", listed("Hedge trimmer")),
    )
    .await;
    assert!(b.still_marked().await, "the page was reloaded");
    b.quit().await;
}

/// Writes a `w`×`h` PNG of one colour.
fn png(path: &Path, w: u32, h: u32, rgb: [u8; 3]) {
    image::RgbImage::from_pixel(w, h, image::Rgb(rgb))
        .save(path)
        .expect("write png");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browsers_see_the_lenders_photos() {
    let Some(_serial) = browser::serial().await else {
        return;
    };
    let test = "two_browsers_see_the_lenders_photos";
    let tmp = tempdir().unwrap();
    let lender = browser::neighbour(&tmp.path().join("a"), None);
    let borrower = browser::neighbour(&tmp.path().join("b"), Some(&lender));
    connected(&lender, &borrower);
    let one = tmp.path().join("one.png");
    let two = tmp.path().join("two.png");
    png(&one, 640, 480, [200, 60, 30]);
    png(&two, 480, 640, [30, 90, 200]);

    let theirs = Browser::phone(test, &borrower).await;
    theirs.sign_in(&borrower).await;
    theirs.mark().await;

    let mine = Browser::desktop(test, &lender).await;
    mine.sign_in(&lender).await;
    mine.goto("/new").await;
    mine.find("#title").await.send_keys("Drill").await.unwrap();
    mine.find("input[name=kind][value=rent]")
        .await
        .click()
        .await
        .unwrap();
    mine.find("#price").await.send_keys("5.00").await.unwrap();
    let files = format!("{}\n{}", one.display(), two.display());
    mine.find("#photo").await.send_keys(&files).await.unwrap();
    mine.screenshots("new-with-photos").await;
    mine.find("form.listing-form button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    mine.wait_js(
        "the published listing",
        "return location.pathname.startsWith('/l/') \
         && document.querySelectorAll('.photos img').length === 2",
    )
    .await;

    // The borrower's open page shows the card with its thumbnail, unreloaded.
    theirs
        .wait_js(
            "the thumbnail on the borrower's page",
            "var i = document.querySelector('#listings .card img'); \
             return !!i && i.complete && i.naturalWidth > 0",
        )
        .await;
    assert!(theirs.still_marked().await, "the page was reloaded");
    theirs.screenshots("browse-thumbnail").await;
    let href = theirs
        .js("return document.querySelector('#listings .card h2 a').getAttribute('href')")
        .await;
    theirs.goto(href.as_str().expect("a link")).await;
    theirs
        .wait_js(
            "both photos at full size",
            "var i = document.querySelectorAll('.photos img'); \
             return i.length === 2 && Array.from(i).every(function (p) { \
               return p.complete && p.naturalWidth > 0; })",
        )
        .await;
    let widths = theirs
        .js("return Array.from(document.querySelectorAll('.photos img')).map(function (p) { return p.naturalWidth; })")
        .await;
    assert!(
        widths
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w.as_u64().unwrap() > 96),
        "full size, not thumbnails: {widths}"
    );
    theirs.screenshots("listing-photos").await;
    mine.quit().await;
    theirs.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_peers_drop_live() {
    let Some(_serial) = browser::serial().await else {
        return;
    };
    let tmp = tempdir().unwrap();
    let lender = browser::neighbour(&tmp.path().join("a"), None);
    let borrower = browser::neighbour(&tmp.path().join("b"), Some(&lender));
    connected(&lender, &borrower);
    let b = Browser::desktop("status_peers_drop_live", &lender).await;
    b.sign_in(&lender).await;
    b.goto("/status").await;
    let shown: usize = b.text("#peer-count").await.trim().parse().expect("a count");
    assert_eq!(shown, browser::api_peers(&lender));
    assert!(shown >= 1);
    b.screenshots("status").await;
    b.mark().await;

    borrower.terminate();
    b.wait_js(
        "the peer count to drop",
        "var c = document.getElementById('peer-count'); return !!c && c.textContent.trim() === '0'",
    )
    .await;
    assert!(b.still_marked().await, "the page was reloaded");
    assert_eq!(browser::api_peers(&lender), 0);
    b.quit().await;
}
