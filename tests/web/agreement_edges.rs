//! The agreement page at its edges: a stale page's action refused with the
//! API's sentence, a hostile page that auto-submits actions, a return that
//! waits for the lender's stopped node and turns done live when it is back,
//! and a hostile note, review and counter-offer that stay inert text.

use serde_json::{Value, json};
use tempfile::tempdir;

use crate::browser::{self, Browser, NARROW};
use crate::hostile::{auto_submit, hostile_site};
use crate::http;
use crate::kit::{self, Daemon, eventually};
use crate::rental::{act, agreement, next_of, shows};

/// A lender with a drill to rent and a borrower bootstrapped from it; the
/// listing id.
fn pair(dir: &std::path::Path) -> (Daemon, Daemon, String) {
    let lender = browser::neighbour(&dir.join("lender"), None);
    let borrower = browser::neighbour(&dir.join("borrower"), Some(&lender));
    eventually("the two nodes connected", || {
        browser::api_peers(&lender) > 0 && browser::api_peers(&borrower) > 0
    });
    let out = kit::ok(
        &lender.dir,
        &[
            "listing",
            "add",
            "--title",
            "Cordless drill",
            "--kind",
            "rent",
            "--price",
            "5",
            "--deposit",
            "50",
            "--json",
        ],
    );
    let id = serde_json::from_str::<Value>(&out).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    eventually("the drill at the borrower", || {
        http::call(&borrower, "GET", &format!("/api/v1/listings/{id}"), None).status == 200
    });
    (lender, borrower, id)
}

/// The borrower proposes a weekend rental by CLI; the agreement id.
fn propose(borrower: &Daemon, listing: &str) -> String {
    let out = kit::ok(
        &borrower.dir,
        &[
            "agreement",
            "propose",
            listing,
            "--kind",
            "rent",
            "--start",
            "+1d",
            "--due",
            "+3d",
            "--price",
            "5",
            "--deposit",
            "50",
            "--json",
        ],
    );
    let v: Value = serde_json::from_str(&out).expect("JSON");
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no agreement id in {v}"))
        .to_owned()
}

/// Takes `steps` (node, action) by CLI, each waiting until the other node
/// has the event.
fn by_cli(lender: &Daemon, borrower: &Daemon, id: &str, steps: &[(&Daemon, &str)]) {
    for (d, action) in steps {
        kit::ok(&d.dir, &["agreement", action, &id[..12]]);
        let other = if std::ptr::eq(*d, lender) {
            borrower
        } else {
            lender
        };
        let chain = events(d, id);
        eventually(&format!("{action} at the other node"), || {
            events(other, id) == chain
        });
    }
}

fn events(d: &Daemon, id: &str) -> usize {
    agreement(d, id)["events"].as_array().unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_page_shows_the_refusal_and_signs_nothing() {
    let Some(_serial) = browser::serial().await else {
        return;
    };
    let test = "a_stale_page_shows_the_refusal_and_signs_nothing";
    let tmp = tempdir().unwrap();
    let (lender, borrower, listing) = pair(tmp.path());
    let id = propose(&borrower, &listing);
    eventually("the proposal at the lender", || {
        http::call(&lender, "GET", &format!("/api/v1/agreements/{id}"), None).status == 200
    });

    let new_tab = Browser::desktop(test, &lender).await;
    let old_tab = Browser::desktop(test, &lender).await;
    new_tab.sign_in(&lender).await;
    old_tab.sign_in(&lender).await;
    for b in [&new_tab, &old_tab] {
        b.goto(&format!("/a/{id}")).await;
        shows(b, &lender, &id, "offered").await;
    }
    // The old tab's decline form is being filled in: the page holds it.
    old_tab
        .find("#decline-note")
        .await
        .send_keys("Sorry, it is lent out.")
        .await
        .unwrap();
    act(&new_tab, "accept").await;
    shows(&new_tab, &lender, &id, "accepted").await;
    let chain = events(&lender, &id);
    assert!(
        !old_tab.text("#actions").await.is_empty() && old_tab.text("#state").await == "offered",
        "the old tab is stale"
    );
    old_tab
        .find("#form-decline button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    old_tab
        .wait_js("the refusal", "return !!document.getElementById('refusal')")
        .await;
    let refusal = old_tab.text("#refusal").await;
    let code = old_tab
        .js("return document.getElementById('refusal').getAttribute('data-code')")
        .await;
    assert!(refusal.ends_with('.'), "a sentence: {refusal}");
    // The API answers the same action with the same code.
    let api = http::call(
        &lender,
        "POST",
        &format!("/api/v1/agreements/{id}/decline"),
        None,
    );
    assert_eq!(api.status, 409, "{}", api.body);
    assert_eq!(code, api.json()["code"], "{refusal}");
    assert_eq!(events(&lender, &id), chain, "nothing signed");
    assert_eq!(agreement(&lender, &id)["state"], "accepted");
    // The refused page is fresh: it offers what the node's next says.
    shows(&old_tab, &lender, &id, "accepted").await;
    old_tab.screenshots("stale-refused").await;
    new_tab.quit().await;
    old_tab.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_page_auto_submitting_actions_signs_nothing() {
    let Some(_serial) = browser::serial().await else {
        return;
    };
    let tmp = tempdir().unwrap();
    let (lender, borrower, listing) = pair(tmp.path());
    let id = propose(&borrower, &listing);
    eventually("the proposal at the lender", || {
        http::call(&lender, "GET", &format!("/api/v1/agreements/{id}"), None).status == 200
    });
    let node = format!("http://{}", lender.api);
    let site = hostile_site(vec![
        (
            "/accept".into(),
            auto_submit(&format!("{node}/a/{id}/accept"), &[("note", "yes")]),
        ),
        (
            "/handover".into(),
            auto_submit(&format!("{node}/a/{id}/handover"), &[("csrf", "guessed")]),
        ),
        (
            "/api-accept".into(),
            auto_submit(&format!("{node}/api/v1/agreements/{id}/accept"), &[]),
        ),
    ]);
    let before = agreement(&lender, &id);
    let b = Browser::desktop(
        "a_hostile_page_auto_submitting_actions_signs_nothing",
        &lender,
    )
    .await;
    b.sign_in(&lender).await;
    for path in ["/accept", "/handover", "/api-accept"] {
        b.goto(&format!("{site}{path}")).await;
        b.wait_js(
            &format!("{path} to land on the node"),
            &format!(
                "return location.origin === {} && document.readyState === 'complete'",
                json!(node)
            ),
        )
        .await;
    }
    let after = agreement(&lender, &id);
    assert_eq!(after["events"], before["events"], "a hostile page signed");
    assert_eq!(after["state"], "offered");
    assert!(
        next_of(&lender, &id).contains(&"accept".to_owned()),
        "the proposal still waits for the lender's answer"
    );
    b.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_return_waits_for_the_stopped_lender_and_turns_done_live() {
    let Some(_serial) = browser::serial().await else {
        return;
    };
    let test = "a_return_waits_for_the_stopped_lender_and_turns_done_live";
    let tmp = tempdir().unwrap();
    let (lender, borrower, listing) = pair(tmp.path());
    let id = propose(&borrower, &listing);
    eventually("the proposal at the lender", || {
        http::call(&lender, "GET", &format!("/api/v1/agreements/{id}"), None).status == 200
    });
    by_cli(
        &lender,
        &borrower,
        &id,
        &[
            (&lender, "accept"),
            (&lender, "handover"),
            (&borrower, "confirm"),
        ],
    );

    let b = Browser::phone(test, &borrower).await;
    b.sign_in(&borrower).await;
    b.goto(&format!("/a/{id}")).await;
    shows(&b, &borrower, &id, "active").await;

    // The lender's node stops; the borrower gives the drill back.
    let lender_dir = lender.dir.clone();
    let address = lender.listening[0].clone();
    lender.terminate();
    act(&b, "return").await;
    b.wait_js(
        "the return waiting for the lender's node",
        "var p = document.getElementById('pending'); return !!p && p.textContent.includes('Gave back')",
    )
    .await;
    assert!(agreement(&borrower, &id)["pending"].is_object());
    b.screenshots("pending").await;
    b.mark().await;

    // The lender's node is back on its address: the return goes through,
    // and the open page shows it without a reload.
    let lender = browser::node(&lender_dir, &["--listen", &address, "--area", "u4pru"]);
    b.wait_js(
        "the return in the chain",
        "return !document.getElementById('pending') \
         && document.getElementById('timeline').textContent.includes('Gave back')",
    )
    .await;
    assert!(b.still_marked().await, "the page was reloaded");
    assert!(agreement(&borrower, &id)["pending"].is_null());
    shows(&b, &borrower, &id, "active").await;
    let _ = lender;
    b.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_note_review_and_counter_stay_inert_at_360px() {
    let Some(_serial) = browser::serial().await else {
        return;
    };
    let test = "a_hostile_note_review_and_counter_stay_inert_at_360px";
    let tmp = tempdir().unwrap();
    let (lender, borrower, listing) = pair(tmp.path());
    let id = propose(&borrower, &listing);
    eventually("the proposal at the lender", || {
        http::call(&lender, "GET", &format!("/api/v1/agreements/{id}"), None).status == 200
    });
    // The lender is hostile: a counter, a note and (after the rental) a
    // review full of markup, an RTL override and a 140-character word.
    let word = "Ж".repeat(140);
    let hostile = format!(
        "\u{202e}<script>window.pwned=1</script><img src=x onerror=\"window.pwned=1\"> {word}"
    );
    let counter = json!({"pickup": format!("<b>{word}</b>"), "note": hostile});
    let reply = http::call(
        &lender,
        "POST",
        &format!("/api/v1/agreements/{id}/counter"),
        Some(&counter),
    );
    assert!(reply.status < 300, "{}", reply.body);
    let reply = http::call(
        &lender,
        "POST",
        &format!("/api/v1/agreements/{id}/note"),
        Some(&json!({"text": hostile})),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    eventually("the counter and the note at the borrower", || {
        let a = agreement(&borrower, &id);
        a["events"].as_array().unwrap().len() == 2 && a["notes"].as_array().unwrap().len() == 1
    });

    let b = Browser::phone(test, &borrower).await;
    b.sign_in(&borrower).await;
    b.viewport(NARROW).await;
    b.goto(&format!("/a/{id}")).await;
    shows(&b, &borrower, &id, "offered").await;
    let timeline = b.text("#timeline").await;
    assert!(
        timeline.contains("<script>window.pwned=1</script>"),
        "{timeline}"
    );
    assert!(b.text("#terms").await.contains(&format!("<b>{word}</b>")));
    let planted = b
        .js("return [typeof window.pwned, document.querySelectorAll('main script, main img, main b').length]")
        .await;
    assert_eq!(
        planted,
        json!(["undefined", 0]),
        "markup from the other node ran"
    );
    let (over, widest) = b.overflow().await;
    assert!(
        over <= 0,
        "the timeline scrolls sideways by {over} px ({widest})"
    );
    b.screenshot("timeline-hostile-360").await;

    // The rental runs its course; the lender's review of the borrower is as
    // hostile, and the borrower's profile shows it as text.
    by_cli(
        &lender,
        &borrower,
        &id,
        &[
            (&borrower, "accept"),
            (&lender, "handover"),
            (&borrower, "confirm"),
            (&borrower, "return"),
            (&lender, "confirm"),
        ],
    );
    eventually("the receipt at the lender", || {
        agreement(&lender, &id)["receipt"].is_object()
    });
    let review = json!({"agreement": id, "rating": 1, "text": hostile});
    let reply = http::call(&lender, "POST", "/api/v1/reviews", Some(&review));
    assert_eq!(reply.status, 201, "{}", reply.body);
    let me = http::call(&borrower, "GET", "/api/v1/node", None).json()["author"]
        .as_str()
        .unwrap()
        .to_owned();
    b.goto(&format!("/p/{me}")).await;
    b.wait_js(
        "the hostile review on the borrower's profile",
        "var h = document.getElementById('history'); return !!h && !!h.querySelector('li.review')",
    )
    .await;
    let history = b.text("#history").await;
    assert!(
        history.contains("<script>window.pwned=1</script>"),
        "{history}"
    );
    let planted = b
        .js("return [typeof window.pwned, document.querySelectorAll('main script, main img').length]")
        .await;
    assert_eq!(planted, json!(["undefined", 0]), "markup from a review ran");
    let (over, widest) = b.overflow().await;
    assert!(
        over <= 0,
        "the profile scrolls sideways by {over} px ({widest})"
    );
    b.screenshot("profile-hostile-360").await;
    b.quit().await;
}

fn key(k: fantoccini::key::Key) -> String {
    char::from(k).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyboard_only_propose_counter_accept_review() {
    use fantoccini::key::Key;
    let Some(_serial) = browser::serial().await else {
        return;
    };
    let test = "keyboard_only_propose_counter_accept_review";
    let tmp = tempdir().unwrap();
    let (lender, borrower, listing) = pair(tmp.path());
    let theirs = Browser::desktop(test, &borrower).await;
    let mine = Browser::desktop(test, &lender).await;
    theirs.sign_in(&borrower).await;
    mine.sign_in(&lender).await;

    // Propose: the form comes filled in; Enter in a field submits it.
    theirs.goto(&format!("/l/{listing}")).await;
    theirs
        .find("#rent-pickup")
        .await
        .send_keys(&format!("By the blue gate{}", key(Key::Enter)))
        .await
        .unwrap();
    theirs
        .wait_js(
            "the agreement page",
            "return location.pathname.startsWith('/a/') && !!document.getElementById('actions')",
        )
        .await;
    let id = theirs.path().await.trim_start_matches("/a/").to_owned();
    eventually("the proposal at the lender", || {
        http::call(&lender, "GET", &format!("/api/v1/agreements/{id}"), None).status == 200
    });

    // Counter: a new price typed, Enter.
    mine.goto(&format!("/a/{id}")).await;
    shows(&mine, &lender, &id, "offered").await;
    let price = mine.find("#rent-price").await;
    price.clear().await.unwrap();
    price
        .send_keys(&format!("4.00{}", key(Key::Enter)))
        .await
        .unwrap();
    eventually("the counter at the borrower", || {
        agreement(&borrower, &id)["events"]
            .as_array()
            .unwrap()
            .len()
            == 2
    });

    // Accept: Enter in its note field.
    shows(&theirs, &borrower, &id, "offered").await;
    theirs
        .find("#accept-note")
        .await
        .send_keys(&format!("Deal{}", key(Key::Enter)))
        .await
        .unwrap();
    shows(&theirs, &borrower, &id, "accepted").await;
    let terms = &agreement(&borrower, &id)["terms"];
    assert_eq!(terms["price"]["amount"], 400);
    assert_eq!(terms["pickup"], "By the blue gate");

    // The rental runs its course by CLI; then the review, by keyboard:
    // space picks a rating, Tab reaches the button, Enter posts.
    by_cli(
        &lender,
        &borrower,
        &id,
        &[
            (&lender, "handover"),
            (&borrower, "confirm"),
            (&borrower, "return"),
            (&lender, "confirm"),
        ],
    );
    theirs
        .wait_js(
            "the review form",
            "return !!document.getElementById('form-review')",
        )
        .await;
    theirs
        .find("#form-review input[name=rating][value='5']")
        .await
        .send_keys(" ")
        .await
        .unwrap();
    let text = theirs.find("#review-text").await;
    text.send_keys("Good drill.").await.unwrap();
    text.send_keys(&key(Key::Tab)).await.unwrap();
    let focused = theirs.client.active_element().await.unwrap();
    assert_eq!(
        focused.text().await.unwrap().trim(),
        "Post review",
        "Tab from the text reaches the button"
    );
    focused.send_keys(&key(Key::Enter)).await.unwrap();
    let author = http::call(&borrower, "GET", "/api/v1/node", None).json()["author"]
        .as_str()
        .unwrap()
        .to_owned();
    eventually("the review published", || {
        let r = http::call(
            &borrower,
            "GET",
            &format!("/api/v1/reviews?author={author}"),
            None,
        )
        .json();
        r["reviews"]
            .as_array()
            .is_some_and(|a| a.len() == 1 && a[0]["rating"] == 5 && a[0]["text"] == "Good drill.")
    });
    mine.quit().await;
    theirs.quit().await;
}
