//! Hostile input in the signed-in browser: another page on 127.0.0.1 (same
//! site as the node, so SameSite alone would not stop it) that posts forms,
//! calls the API with credentials, loads writes as images and frames the node;
//! and a hostile listing and profile from another node, which must stay inert
//! text and keep the layout at 360 px.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use serde_json::{Value, json};
use tempfile::tempdir;

use crate::browser::{self, Browser, NARROW};
use crate::http;
use crate::kit::{self, Daemon, eventually};

/// Serves `pages` (path → HTML) on a free port of 127.0.0.1 from a thread
/// that lives as long as the test process; returns its origin.
pub(crate) fn hostile_site(pages: Vec<(String, String)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let origin = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut first = String::new();
            if reader.read_line(&mut first).is_err() {
                continue;
            }
            // The rest of the head; the pages are all GETs.
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let path = first.split_whitespace().nth(1).unwrap_or("/");
            let (status, body) = match pages.iter().find(|(p, _)| p == path) {
                Some((_, html)) => ("200 OK", html.as_str()),
                None => ("404 Not Found", "no such page"),
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    origin
}

/// A page that posts a form with `fields` to `action` as soon as it loads.
pub(crate) fn auto_submit(action: &str, fields: &[(&str, &str)]) -> String {
    let inputs: String = fields
        .iter()
        .map(|(k, v)| format!(r#"<input name="{k}" value="{v}">"#))
        .collect();
    format!(
        r#"<!doctype html><form id="f" method="post" action="{action}">{inputs}</form>
<script>document.getElementById('f').submit();</script>"#
    )
}

/// What the node holds that a hostile page could change: own listings (id,
/// status, version), meshes, and whether `b` is still signed in.
fn holdings(d: &Daemon) -> (Value, Value) {
    let listings: Value =
        serde_json::from_str(&kit::ok(&d.dir, &["listing", "list", "--json"])).expect("JSON");
    let meshes: Value =
        serde_json::from_str(&kit::ok(&d.dir, &["mesh", "list", "--json"])).expect("JSON");
    (listings, meshes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_page_on_another_port_changes_and_reads_nothing() {
    let Some(_serial) = browser::serial().await else {
        return;
    };
    let tmp = tempdir().unwrap();
    let d = browser::neighbour(&tmp.path().join("n"), None);
    let out = kit::ok(
        &d.dir,
        &[
            "listing", "add", "--title", "Ladder", "--kind", "share", "--json",
        ],
    );
    let id = serde_json::from_str::<Value>(&out).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    kit::ok(&d.dir, &["mesh", "create", "Elm Street"]);
    let mesh = serde_json::from_str::<Value>(&kit::ok(&d.dir, &["mesh", "list", "--json"]))
        .unwrap()["meshes"][0]["id"]
        .as_str()
        .expect("a mesh id")
        .to_owned();
    let before = holdings(&d);

    let node = format!("http://{}", d.api);
    let posts = [
        (
            "/post-new",
            format!("{node}/new"),
            vec![("purpose", "offer"), ("title", "Planted"), ("kind", "give")],
        ),
        (
            "/post-withdraw",
            format!("{node}/l/{id}/withdraw"),
            vec![("csrf", "guessed")],
        ),
        (
            "/post-leave",
            format!("{node}/meshes/leave"),
            vec![("mesh", mesh.as_str())],
        ),
        ("/post-revoke", format!("{node}/status/revoke"), vec![]),
        ("/post-logout", format!("{node}/logout"), vec![]),
        (
            "/post-api",
            format!("{node}/api/v1/listings"),
            vec![("title", "Planted")],
        ),
    ];
    let mut pages: Vec<(String, String)> = posts
        .iter()
        .map(|(path, action, fields)| (path.to_string(), auto_submit(action, fields)))
        .collect();
    let fetches = format!(
        r#"<!doctype html><script>
var n = {node};
function r(label, p) {{ return p.then(function (x) {{ return label + ':' + x; }},
                                     function () {{ return label + ':blocked'; }}); }}
window.results = null;
Promise.all([
  r('post', fetch(n + '/api/v1/listings', {{ method: 'POST', credentials: 'include',
      headers: {{ 'Content-Type': 'text/plain' }},
      body: JSON.stringify({{ title: 'Planted', kinds: ['give'] }}) }}).then(function (x) {{ return x.status; }})),
  r('post-no-cors', fetch(n + '/api/v1/listings', {{ method: 'POST', credentials: 'include', mode: 'no-cors',
      headers: {{ 'Content-Type': 'text/plain' }},
      body: JSON.stringify({{ title: 'Planted', kinds: ['give'] }}) }}).then(function (x) {{ return x.type; }})),
  r('read-api', fetch(n + '/api/v1/listings', {{ credentials: 'include' }}).then(function (x) {{ return x.text(); }})),
  r('read-page', fetch(n + '/me', {{ credentials: 'include' }}).then(function (x) {{ return x.text(); }})),
  r('delete', fetch(n + '/api/v1/web-sessions', {{ method: 'DELETE', credentials: 'include' }}).then(function (x) {{ return x.status; }}))
]).then(function (all) {{ window.results = all; }});
</script>"#,
        node = json!(node)
    );
    pages.push(("/fetch".into(), fetches));
    pages.push((
        "/img".into(),
        format!(
            r#"<!doctype html><img src="{node}/logout"><img src="{node}/status/revoke">
<img src="{node}/l/{id}/withdraw"><img src="{node}/meshes/leave?mesh={mesh}">
<img src="{node}/l/{id}/pause"><script>window.addEventListener('load', function () {{ window.loaded = true; }});</script>"#
        ),
    ));
    pages.push((
        "/frame".into(),
        format!(
            r#"<!doctype html><iframe id="x" src="{node}/me" width="600" height="400"></iframe>
<script>window.addEventListener('load', function () {{ window.loaded = true; }});</script>"#
        ),
    ));
    let site = hostile_site(pages);

    let b = Browser::desktop(
        "a_hostile_page_on_another_port_changes_and_reads_nothing",
        &d,
    )
    .await;
    b.sign_in(&d).await;

    // Each auto-submitted form lands on the node's refusal.
    for (path, _, _) in &posts {
        b.goto(&format!("{site}{path}")).await;
        b.wait_js(
            &format!("{path} to land on the node"),
            &format!(
                "return location.origin === {} && document.readyState === 'complete'",
                json!(node)
            ),
        )
        .await;
        let body = b.js("return document.body.innerText").await;
        assert!(
            !body.as_str().unwrap_or("").contains("Planted"),
            "{path}: {body}"
        );
    }

    b.goto(&format!("{site}/fetch")).await;
    b.wait_js("the fetches", "return Array.isArray(window.results)")
        .await;
    let results = b.js("return window.results").await;
    for r in results.as_array().unwrap() {
        let r = r.as_str().unwrap();
        // Nothing is read (the browser hides every answer from another
        // origin); the no-cors post is sent, its answer opaque, and refused.
        assert!(
            r.ends_with(":blocked") || r == "post-no-cors:opaque",
            "the hostile page got {r}"
        );
    }

    b.goto(&format!("{site}/img")).await;
    b.wait_js("the images tried", "return window.loaded === true")
        .await;

    b.goto(&format!("{site}/frame")).await;
    b.wait_js("the frame tried", "return window.loaded === true")
        .await;
    b.client.enter_frame(0).await.expect("the frame");
    let framed = b
        .js("return document.body ? document.body.innerText : ''")
        .await;
    let here = b.js("return location.href").await;
    b.client.enter_parent_frame().await.expect("back");
    assert!(
        !framed.as_str().unwrap_or("").contains("Mine"),
        "the node's page showed in a frame at {here}: {framed}"
    );

    // Nothing changed, and this browser is still signed in.
    assert_eq!(holdings(&d), before, "a hostile page changed the node");
    b.goto("/me").await;
    b.wait_js(
        "/me, still signed in",
        "return location.pathname === '/me' && !!document.querySelector('h1') \
         && document.querySelector('h1').textContent === 'Mine'",
    )
    .await;
    b.quit().await;
}

/// 140 characters without a space.
fn long_word() -> String {
    "Ω".repeat(140)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_listing_and_profile_stay_inert_text_at_360px() {
    let Some(_serial) = browser::serial().await else {
        return;
    };
    let tmp = tempdir().unwrap();
    let hostile = browser::neighbour(&tmp.path().join("h"), None);
    let reader = browser::neighbour(&tmp.path().join("r"), Some(&hostile));
    eventually("the two nodes connected", || {
        browser::api_peers(&hostile) > 0 && browser::api_peers(&reader) > 0
    });
    let word = long_word();
    let name = "\u{202e}<script>window.pwned=1</script>";
    let profile = json!({
        "name": name,
        "bio": format!("<img src=x onerror=\"window.pwned=1\"> {word}"),
        "contact": ["javascript:window.pwned=1", format!("\u{202e}{}", "x".repeat(120))],
    });
    let reply = http::call(&hostile, "PUT", "/api/v1/profile", Some(&profile));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let title = format!(
        "\u{202e}<img src=x onerror=window.pwned=1>{}",
        "W".repeat(105)
    );
    assert_eq!(title.chars().count(), 140);
    let listing = json!({
        "title": title,
        "kinds": ["give"],
        "description": format!("<script>window.pwned=1</script> {word}"),
    });
    let reply = http::call(&hostile, "POST", "/api/v1/listings", Some(&listing));
    assert_eq!(reply.status, 201, "{}", reply.body);
    let id = reply.json()["id"].as_str().expect("an id").to_owned();
    let author = &id[..64];
    eventually("the hostile listing and profile at the reader", || {
        http::call(&reader, "GET", &format!("/api/v1/listings/{id}"), None).status == 200
            && http::call(&reader, "GET", &format!("/api/v1/profile/{author}"), None).status == 200
    });

    let b = Browser::phone(
        "a_hostile_listing_and_profile_stay_inert_text_at_360px",
        &reader,
    )
    .await;
    b.sign_in(&reader).await;
    b.viewport(NARROW).await;
    b.wait_js(
        "the hostile card",
        "var l = document.getElementById('listings'); return !!l && l.querySelectorAll('.card').length === 1",
    )
    .await;
    let card_title = b.text("#listings .card h2").await;
    assert_eq!(card_title, title, "the title is shown as text, exactly");
    let (over, widest) = b.overflow().await;
    assert!(over <= 0, "browse scrolls sideways by {over} px ({widest})");
    b.screenshot("browse-hostile-360").await;

    b.goto(&format!("/l/{id}")).await;
    b.find("dl.facts").await;
    assert_eq!(b.text("h1").await, title);
    let shown = b.js("return document.body.innerText").await;
    let shown = shown.as_str().unwrap();
    for text in [
        "<script>window.pwned=1</script>",
        "javascript:window.pwned=1",
        "<img src=x onerror=\"window.pwned=1\">",
    ] {
        assert!(shown.contains(text), "{text:?} is not shown as text");
    }
    let planted = b
        .js("return [typeof window.pwned, \
                     document.querySelectorAll('main script, main img, main iframe').length, \
                     document.querySelectorAll('a[href^=\"javascript\"]').length]")
        .await;
    assert_eq!(
        planted,
        json!(["undefined", 0, 0]),
        "markup from the record ran"
    );
    let (over, widest) = b.overflow().await;
    assert!(
        over <= 0,
        "the listing scrolls sideways by {over} px ({widest})"
    );
    b.screenshot("listing-hostile-360").await;
    b.quit().await;
}
