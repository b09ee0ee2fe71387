//! Every page of the web page passes axe-core's wcag2a and wcag2aa rules at
//! the desktop and the phone sizes, and none scrolls sideways at 360 px:
//! filled in (a listing with a photo, a mesh, a profile) and in its error
//! states (a refused form, a bad filter, a listing not held).

use std::path::Path;

use serde_json::Value;
use tempfile::tempdir;

use crate::browser::{self, Browser, DESKTOP, NARROW, PHONE};
use crate::kit;

/// Checks the open page (`what`) at each size; the problems, a line each.
async fn audit(b: &Browser, what: &str, problems: &mut Vec<String>) {
    for size in [DESKTOP, PHONE] {
        b.viewport(size).await;
        match b.axe().await {
            Some(found) => problems.extend(
                found
                    .into_iter()
                    .map(|v| format!("{what} at {}×{}: {v}", size.0, size.1)),
            ),
            None => return,
        }
    }
    b.viewport(NARROW).await;
    let (over, widest) = b.overflow().await;
    if over > 0 {
        problems.push(format!(
            "{what} scrolls sideways at 360 px by {over} px (widest: {widest})"
        ));
    }
    b.viewport(DESKTOP).await;
}

/// Opens `path` and waits for its `<h1>` to read `heading`.
async fn open(b: &Browser, path: &str, heading: &str) {
    b.goto(path).await;
    b.wait_js(
        &format!("{path} with its heading {heading:?}"),
        &format!(
            "var h = document.querySelector('h1'); return !!h && h.textContent.trim() === {}",
            serde_json::json!(heading)
        ),
    )
    .await;
}

fn png(path: &Path) {
    image::RgbImage::from_fn(320, 240, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 120])
    })
    .save(path)
    .expect("write png");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_passes_axe_and_fits_a_narrow_phone() {
    let Some(_serial) = browser::serial().await else {
        return;
    };
    let tmp = tempdir().unwrap();
    let d = browser::neighbour(&tmp.path().join("n"), None);
    let photo = tmp.path().join("drill.png");
    png(&photo);
    let out = kit::ok(
        &d.dir,
        &[
            "listing",
            "add",
            "--title",
            "Cordless drill",
            "--kind",
            "rent",
            "--price",
            "5",
            "--per",
            "day",
            "--deposit",
            "50",
            "--description",
            "Two batteries, a case and a set of bits.",
            "--photo",
            photo.to_str().unwrap(),
            "--json",
        ],
    );
    let listing: Value = serde_json::from_str(&out).expect("JSON");
    let id = listing["id"].as_str().expect("an id").to_owned();
    kit::ok(&d.dir, &["mesh", "create", "Elm Street"]);
    kit::ok(
        &d.dir,
        &[
            "profile",
            "set",
            "--name",
            "Ana",
            "--bio",
            "Tools and bikes.",
            "--contact",
            "signal: ana.01",
        ],
    );

    let b = Browser::desktop("every_page_passes_axe_and_fits_a_narrow_phone", &d).await;
    let mut problems = Vec::new();
    b.goto("/login").await;
    b.find("form").await;
    audit(&b, "/login", &mut problems).await;
    b.sign_in(&d).await;
    let pages = [
        ("/".to_owned(), "Browse"),
        ("/?kind=nonsense".to_owned(), "Browse"),
        (format!("/l/{id}"), "Cordless drill"),
        ("/l/nothing-here".to_owned(), "Not found"),
        ("/new".to_owned(), "New listing"),
        (format!("/l/{id}/edit"), "Edit: Cordless drill"),
        ("/me".to_owned(), "Mine"),
        ("/meshes".to_owned(), "Meshes"),
        ("/status".to_owned(), "Status"),
    ];
    for (path, heading) in &pages {
        open(&b, path, heading).await;
        audit(&b, path, &mut problems).await;
    }

    // The forms with their refusals beside the fields.
    open(&b, "/new", "New listing").await;
    b.find("form.listing-form button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    b.find("form.listing-form p.error").await;
    audit(&b, "/new refused", &mut problems).await;
    open(&b, "/me", "Mine").await;
    b.find("#name").await.clear().await.unwrap();
    b.find(".profile-form button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    b.find("#name-error").await;
    audit(&b, "/me refused", &mut problems).await;
    b.screenshots("me-refused").await;

    assert!(
        problems.is_empty(),
        "accessibility and layout problems:\n{}",
        problems.join("\n")
    );
    b.quit().await;
}
