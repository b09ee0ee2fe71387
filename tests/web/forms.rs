//! The listing forms with the keyboard alone: create, edit, pause, withdraw,
//! and a refused field shown beside it.

use fantoccini::key::Key;
use serde_json::Value;
use tempfile::tempdir;

use crate::browser::{self, Browser};
use crate::kit::{self, Daemon};

fn k(key: Key) -> String {
    char::from(key).to_string()
}

/// `swapmesh listing list --json`: the node's own listings.
fn own(d: &Daemon) -> Vec<Value> {
    let out = kit::ok(&d.dir, &["listing", "list", "--json"]);
    let v: Value = serde_json::from_str(&out).expect("JSON");
    match v {
        Value::Array(a) => a,
        Value::Object(ref o) => o
            .get("listings")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_else(|| panic!("no listings in {v}")),
        _ => panic!("unexpected {v}"),
    }
}

/// The page shows a form whose `#id` field is focused.
async fn focused(b: &Browser, id: &str) -> bool {
    b.js(&format!(
        "return !!document.activeElement && document.activeElement.id === '{id}'"
    ))
    .await
        == Value::Bool(true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyboard_only_create_edit_pause_withdraw() {
    let Some(_serial) = browser::serial().await else {
        return;
    };
    let test = "keyboard_only_create_edit_pause_withdraw";
    let dir = tempdir().unwrap();
    let d = browser::lone_node(dir.path());
    let b = Browser::desktop(test, &d).await;
    b.sign_in(&d).await;

    // A bad field first: no title. The error stands beside the title field
    // and nothing is published.
    b.goto("/new").await;
    b.find("input[name=kind][value=rent]")
        .await
        .send_keys(" ")
        .await
        .unwrap();
    let price = b.find("#price").await;
    price.send_keys("5.00").await.unwrap();
    price.send_keys(&k(Key::Enter)).await.unwrap();
    b.wait_js(
        "the title's error",
        "return !!document.getElementById('title-error')",
    )
    .await;
    let error = b.text("#title-error").await;
    assert!(!error.trim().is_empty());
    assert_eq!(
        b.find("#title")
            .await
            .attr("aria-describedby")
            .await
            .unwrap()
            .as_deref(),
        Some("title-error")
    );
    // Beside it: the error directly follows the field in its own box.
    assert_eq!(
        b.js("return document.getElementById('title-error').previousElementSibling.id")
            .await,
        Value::from("title")
    );
    // What was typed is kept.
    assert_eq!(
        b.find("#price")
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("5.00")
    );
    b.screenshots("new-error").await;
    assert!(own(&d).is_empty(), "nothing published");

    // Create: type into the fields, space ticks a box, Enter submits.
    b.goto("/new").await;
    let title = b.find("#title").await;
    title.send_keys("Ladder").await.unwrap();
    // Tab moves on from the title to the first kind.
    title.send_keys(&k(Key::Tab)).await.unwrap();
    assert!(
        b.js("var a = document.activeElement; return a.name === 'kind' && a.value === 'swap'")
            .await
            == Value::Bool(true),
        "Tab moves from the title to the first kind"
    );
    b.find("input[name=kind][value=rent]")
        .await
        .send_keys(" ")
        .await
        .unwrap();
    b.find("#price").await.send_keys("5.00").await.unwrap();
    b.find("#per").await.send_keys("day").await.unwrap();
    b.find("#deposit").await.send_keys("20").await.unwrap();
    b.find("#description")
        .await
        .send_keys("Three metres, aluminium.")
        .await
        .unwrap();
    b.find("#tags")
        .await
        .send_keys("tools, garden")
        .await
        .unwrap();
    let title = b.find("#title").await;
    title.send_keys("").await.unwrap();
    assert!(focused(&b, "title").await);
    b.screenshots("new").await;
    title.send_keys(&k(Key::Enter)).await.unwrap();
    b.wait_js(
        "the new listing's page",
        "return /^\\/l\\/[^/]+$/.test(location.pathname) && !!document.querySelector('h1') \
         && document.querySelector('h1').textContent === 'Ladder'",
    )
    .await;
    b.screenshots("listing").await;

    let listings = own(&d);
    assert_eq!(listings.len(), 1, "{listings:?}");
    let l = &listings[0];
    let shown = l.to_string();
    assert_eq!(l["title"], "Ladder", "{shown}");
    assert_eq!(l["description"], "Three metres, aluminium.", "{shown}");
    assert_eq!(l["kinds"], serde_json::json!(["rent"]), "{shown}");
    assert_eq!(l["purpose"], "offer", "{shown}");
    assert_eq!(
        l["price"]["amount"], 500,
        "5.00 typed is 500 stored: {shown}"
    );
    assert_eq!(l["price"]["per"], "day", "{shown}");
    assert_eq!(l["deposit"]["amount"], 2000, "{shown}");
    assert_eq!(l["tags"], serde_json::json!(["tools", "garden"]), "{shown}");
    assert_eq!(l["photos"], serde_json::json!([]), "{shown}");
    assert_eq!(l["status"], "active", "{shown}");
    let id = l["id"].as_str().unwrap().to_owned();

    // Edit from /me: Enter on the Edit link, a new title, Enter.
    b.goto("/me").await;
    b.screenshots("me").await;
    b.find(&format!("a[href='/l/{id}/edit']"))
        .await
        .send_keys(&k(Key::Enter))
        .await
        .unwrap();
    b.wait_js(
        "the edit form",
        "return location.pathname.endsWith('/edit')",
    )
    .await;
    b.screenshots("edit").await;
    let title = b.find("#title").await;
    title.send_keys(&k(Key::End)).await.unwrap();
    title.send_keys(", folding").await.unwrap();
    title.send_keys(&k(Key::Enter)).await.unwrap();
    b.wait_js(
        "the edited listing",
        "return !!document.querySelector('h1') \
         && document.querySelector('h1').textContent === 'Ladder, folding'",
    )
    .await;
    let l = own(&d).remove(0);
    assert_eq!(l["title"], "Ladder, folding", "{l}");
    assert_eq!(l["price"]["amount"], 500, "the price kept: {l}");

    // Pause from /me: Enter on its button.
    b.goto("/me").await;
    b.find(&format!("form[action='/l/{id}/pause'] button"))
        .await
        .send_keys(&k(Key::Enter))
        .await
        .unwrap();
    b.wait_js(
        "the paused listing on /me",
        "var s = document.querySelector('#own .status'); return !!s && s.textContent === 'paused'",
    )
    .await;
    let l = own(&d).remove(0);
    assert_eq!(l["status"], "paused", "{l}");

    // Withdraw from /me.
    b.goto("/me").await;
    b.find(&format!("form[action='/l/{id}/withdraw'] button"))
        .await
        .send_keys(&k(Key::Enter))
        .await
        .unwrap();
    b.wait_js(
        "the withdrawal",
        "return location.pathname === '/me' && document.readyState === 'complete'",
    )
    .await;
    kit::eventually("the listing withdrawn", || {
        own(&d)
            .iter()
            .all(|l| l["status"] == "withdrawn" && l["id"] == id.as_str())
    });
    b.quit().await;
}
