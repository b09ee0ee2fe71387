//! Browsing in the browser: the filters and "More" show exactly what
//! `GET /api/v1/listings` answers; a mesh made on one node's page is joined
//! on another's, and an invite in the address alone joins nothing.

use serde_json::{Value, json};
use tempfile::tempdir;

use crate::browser::{self, Browser};
use crate::http;
use crate::kit::{self, Daemon, eventually};

/// The ids `GET /api/v1/listings?{query}` answers, every page of it.
fn api_ids(d: &Daemon, query: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/listings?limit=7&{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let reply = http::call(d, "GET", &path, None);
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        let page = reply.json();
        ids.extend(
            page["listings"]
                .as_array()
                .expect("listings")
                .iter()
                .map(|l| l["id"].as_str().expect("an id").to_owned()),
        );
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return ids,
        }
    }
}

/// The ids of the cards on the open page, in order.
async fn page_ids(b: &Browser) -> Vec<String> {
    let hrefs = b
        .js(
            "return Array.from(document.querySelectorAll('#listings .card h2 a')) \
               .map(function (a) { return a.getAttribute('href'); })",
        )
        .await;
    hrefs
        .as_array()
        .expect("hrefs")
        .iter()
        .map(|h| h.as_str().unwrap().trim_start_matches("/l/").to_owned())
        .collect()
}

/// Every card from the open page on, following "More" to the end.
async fn all_pages(b: &Browser) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut pages = 1;
    loop {
        b.find("#listings").await;
        ids.extend(page_ids(b).await);
        let more = b
            .js("var a = document.querySelector('#listings a.button'); return a ? a.getAttribute('href') : null")
            .await;
        let Some(href) = more.as_str() else {
            return (ids, pages);
        };
        b.goto(href).await;
        pages += 1;
    }
}

/// Picks `value` in the select `#id`.
async fn pick(b: &Browser, id: &str, value: &str) {
    b.find(&format!("#{id}"))
        .await
        .select_by_value(value)
        .await
        .unwrap_or_else(|e| panic!("#{id} = {value}: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_and_more_match_the_api() {
    let Some(_serial) = browser::serial().await else {
        return;
    };
    let tmp = tempdir().unwrap();
    let d = browser::lone_node(&tmp.path().join("n"));
    // More than a page (24) of offers, and a few wants.
    for i in 0..27 {
        let kinds = if i % 3 == 0 {
            json!(["rent"])
        } else {
            json!(["share"])
        };
        let body = json!({
            "title": format!("Ladder {i}"),
            "kinds": kinds,
            "price": {"amount": 300, "currency": "EUR", "per": "day"},
        });
        let reply = http::call(&d, "POST", "/api/v1/listings", Some(&body));
        assert_eq!(reply.status, 201, "{}", reply.body);
    }
    for i in 0..4 {
        let body = json!({"title": format!("Sofa {i}"), "kinds": ["give"], "purpose": "want"});
        let reply = http::call(&d, "POST", "/api/v1/listings", Some(&body));
        assert_eq!(reply.status, 201, "{}", reply.body);
    }

    let b = Browser::desktop("filters_and_more_match_the_api", &d).await;
    b.sign_in(&d).await;
    let (ids, pages) = all_pages(&b).await;
    assert_eq!(pages, 2, "31 listings are two pages of 24");
    assert_eq!(ids, api_ids(&d, ""), "browse with no filter");

    b.goto("/").await;
    pick(&b, "kind", "rent").await;
    b.find("form.filters button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    b.wait_js(
        "the rent filter applied",
        "return location.search.includes('kind=rent')",
    )
    .await;
    let (ids, _) = all_pages(&b).await;
    assert_eq!(ids.len(), 9);
    assert_eq!(ids, api_ids(&d, "kind=rent"), "kind=rent");

    b.goto("/").await;
    pick(&b, "purpose", "want").await;
    b.find("#q").await.send_keys("sofa").await.unwrap();
    b.find("form.filters button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    b.wait_js(
        "the want filter applied",
        "return location.search.includes('purpose=want')",
    )
    .await;
    let (ids, _) = all_pages(&b).await;
    assert_eq!(ids.len(), 4);
    assert_eq!(ids, api_ids(&d, "purpose=want&q=sofa"), "wants with a word");
    b.screenshots("browse-filtered").await;

    // A bad filter is said beside the form, not a blank page.
    b.goto("/?area=zz").await;
    let error = b.text("p.error").await;
    assert!(error.contains("geohash"), "{error}");
    b.quit().await;
}

/// The named meshes a node is in (`mesh list --json`).
fn meshes(d: &Daemon) -> Vec<Value> {
    let out = kit::ok(&d.dir, &["mesh", "list", "--json"]);
    let v: Value = serde_json::from_str(&out).expect("JSON");
    v["meshes"].as_array().expect("meshes").clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mesh_made_on_one_page_is_joined_on_another() {
    let Some(_serial) = browser::serial().await else {
        return;
    };
    let test = "a_mesh_made_on_one_page_is_joined_on_another";
    let tmp = tempdir().unwrap();
    let lender = browser::neighbour(&tmp.path().join("a"), None);
    let borrower = browser::neighbour(&tmp.path().join("b"), Some(&lender));

    let mine = Browser::desktop(test, &lender).await;
    mine.sign_in(&lender).await;
    mine.goto("/meshes").await;
    mine.find("#name")
        .await
        .send_keys("Elm Street")
        .await
        .unwrap();
    mine.find("form[action='/meshes/create'] button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    mine.wait_js(
        "the new mesh listed",
        "return !!document.querySelector('ul.meshes textarea')",
    )
    .await;
    let made = meshes(&lender);
    assert_eq!(made.len(), 1, "{made:?}");
    let invite = mine
        .js("return document.querySelector('ul.meshes textarea').value")
        .await;
    let invite = invite.as_str().expect("the invite").trim().to_owned();
    mine.screenshots("meshes").await;

    // The invite in the address fills the form in and joins nothing.
    let theirs = Browser::phone(test, &borrower).await;
    theirs.sign_in(&borrower).await;
    let encoded: String = url_encode(&invite);
    theirs.goto(&format!("/meshes?invite={encoded}")).await;
    theirs
        .wait_js(
            "the join form filled in",
            &format!(
                "var t = document.getElementById('invite'); return !!t && t.value.trim() === {}",
                json!(invite)
            ),
        )
        .await;
    theirs.goto(&format!("/meshes/join?invite={encoded}")).await;
    assert!(meshes(&borrower).is_empty(), "a link alone joined a mesh");

    theirs.goto(&format!("/meshes?invite={encoded}")).await;
    theirs
        .find("form[action='/meshes/join'] button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    eventually("the borrower in the mesh", || meshes(&borrower).len() == 1);
    assert_eq!(meshes(&borrower)[0]["id"], made[0]["id"]);
    theirs
        .wait_js(
            "the joined mesh on the borrower's page",
            "return !!document.querySelector('ul.meshes')",
        )
        .await;
    mine.quit().await;
    theirs.quit().await;
}

/// Percent-encodes `text` for a query value.
fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
