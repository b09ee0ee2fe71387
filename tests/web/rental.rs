//! A rental carried out on the page, in two browsers on two nodes: propose,
//! counter, accept, hand over, confirm, give back, confirm, review; at every
//! step each page offers exactly the actions of its node's `next`, and the
//! other page follows live. A third node's page shows the receipt and the
//! review on the borrower's profile.

use std::path::Path;

use serde_json::{Value, json};
use tempfile::tempdir;

use crate::browser::{self, Browser, DESKTOP, NARROW, PHONE};
use crate::http;
use crate::kit::{self, Daemon, eventually};

/// `GET /api/v1/agreements/{id}` on `d`.
pub(crate) fn agreement(d: &Daemon, id: &str) -> Value {
    let reply = http::call(d, "GET", &format!("/api/v1/agreements/{id}"), None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

/// The actions `d`'s API offers on `id`, sorted.
pub(crate) fn next_of(d: &Daemon, id: &str) -> Vec<String> {
    let mut next: Vec<String> = agreement(d, id)["next"]
        .as_array()
        .expect("next")
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    next.sort();
    next
}

/// The action forms the open page offers, sorted.
pub(crate) async fn buttons(b: &Browser) -> Vec<String> {
    let v = b
        .js(
            "return Array.from(document.querySelectorAll('#actions form[data-action]')) \
               .map(function (f) { return f.getAttribute('data-action'); })",
        )
        .await;
    let mut found: Vec<String> = v
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// Waits until `b`'s open agreement page shows state `state` and offers
/// exactly `d`'s `next` on `id`; then asserts it.
pub(crate) async fn shows(b: &Browser, d: &Daemon, id: &str, state: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(45);
    loop {
        let page_state = b.text("#state").await;
        let api = agreement(d, id);
        let api_state = api["state"].as_str().unwrap_or_default().to_owned();
        let next = next_of(d, id);
        let offered = buttons(b).await;
        if page_state == state && api_state == state && offered == next {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the page shows {page_state:?} with {offered:?}; the API {api_state:?} with {next:?}; wanted {state:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Clicks the submit button of the form of `action` and waits for the
/// agreement page to come back without a refusal.
pub(crate) async fn act(b: &Browser, action: &str) {
    b.find(&format!("#form-{action} button[type=submit]"))
        .await
        .click()
        .await
        .unwrap_or_else(|e| panic!("{action}: {e}"));
    b.wait_js(
        &format!("the page after {action}"),
        "return document.readyState === 'complete' && location.pathname.startsWith('/a/') \
         && !!document.getElementById('actions')",
    )
    .await;
    let refusal = b.text("#refusal").await;
    assert!(refusal.is_empty(), "{action} refused: {refusal}");
}

/// The wcag2a/aa violations and any sideways scroll at 360 px of the open
/// page, a line each.
pub(crate) async fn audit(b: &Browser, what: &str, problems: &mut Vec<String>) {
    for size in [DESKTOP, PHONE] {
        b.viewport(size).await;
        if let Some(found) = b.axe().await {
            problems.extend(
                found
                    .into_iter()
                    .map(|v| format!("{what} at {}×{}: {v}", size.0, size.1)),
            );
        }
    }
    b.viewport(NARROW).await;
    let (over, widest) = b.overflow().await;
    if over > 0 {
        problems.push(format!(
            "{what} scrolls sideways at 360 px by {over} px ({widest})"
        ));
    }
}

fn png(path: &Path) {
    image::RgbImage::from_fn(400, 300, |x, _| image::Rgb([40, (x % 200) as u8, 160]))
        .save(path)
        .expect("write png");
}

/// The agreement the open page shows (from its path).
async fn agreement_id(b: &Browser) -> String {
    let path = b.path().await;
    path.strip_prefix("/a/")
        .unwrap_or_else(|| panic!("not an agreement page: {path}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rental_in_two_browsers_from_proposal_to_reviews() {
    let Some(_serial) = browser::serial().await else {
        return;
    };
    let test = "a_rental_in_two_browsers_from_proposal_to_reviews";
    let tmp = tempdir().unwrap();
    let lender = browser::neighbour(&tmp.path().join("lender"), None);
    let borrower = browser::neighbour(&tmp.path().join("borrower"), Some(&lender));
    let watcher = browser::neighbour(&tmp.path().join("watcher"), Some(&lender));
    eventually("three nodes connected", || {
        browser::api_peers(&lender) >= 2 && browser::api_peers(&borrower) >= 1
    });
    kit::ok(&lender.dir, &["profile", "set", "--name", "Ana"]);
    kit::ok(&borrower.dir, &["profile", "set", "--name", "Ben"]);
    let photo = tmp.path().join("drill.png");
    png(&photo);
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
            "--per",
            "day",
            "--deposit",
            "50",
            "--photo",
            photo.to_str().unwrap(),
            "--json",
        ],
    );
    let listing = serde_json::from_str::<Value>(&out).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut problems = Vec::new();

    // The borrower finds it, with its thumbnail, and proposes a rental.
    let theirs = Browser::phone(test, &borrower).await;
    theirs.sign_in(&borrower).await;
    theirs
        .wait_js(
            "the drill's thumbnail",
            "var i = document.querySelector('#listings .card img'); \
             return !!i && i.complete && i.naturalWidth > 0",
        )
        .await;
    theirs.goto(&format!("/l/{listing}")).await;
    theirs.find("form.propose-form[data-kind=rent]").await;
    // Beside the lender, the page says in words how the borrower's node
    // trusts them: here, nobody the borrower knows vouches for them yet.
    let trust = theirs.text("dd.trust").await;
    assert!(
        trust.contains("nobody you know vouches for them") && trust.contains("deal"),
        "{trust}"
    );
    let total = theirs.text("[data-total]").await;
    assert_eq!(
        total, "Total: 10.00 EUR for 2 days",
        "the total beside the price"
    );
    audit(&theirs, "the propose form", &mut problems).await;
    theirs.viewport(PHONE).await;
    theirs.screenshots("propose").await;
    theirs
        .find("form.propose-form[data-kind=rent] button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    theirs
        .wait_js(
            "the new agreement's page",
            "return location.pathname.startsWith('/a/') && !!document.getElementById('actions')",
        )
        .await;
    let id = agreement_id(&theirs).await;
    shows(&theirs, &borrower, &id, "offered").await;
    assert!(
        theirs.text("#terms").await.contains("10.00 EUR for 2 days"),
        "{}",
        theirs.text("#terms").await
    );

    // The lender's inbox shows it live, waiting for them.
    let mine = Browser::desktop(test, &lender).await;
    mine.sign_in(&lender).await;
    mine.goto("/agreements").await;
    mine.mark().await;
    mine.wait_js(
        "the proposal in the lender's inbox",
        &format!("return !!document.querySelector('[data-group=mine] [data-id=\"{id}\"]')"),
    )
    .await;
    audit(&mine, "the inbox", &mut problems).await;
    mine.viewport(DESKTOP).await;
    mine.screenshots("inbox").await;
    mine.goto(&format!("/a/{id}")).await;
    shows(&mine, &lender, &id, "offered").await;
    audit(&mine, "an offered agreement", &mut problems).await;
    mine.viewport(DESKTOP).await;

    // The lender counters at 4 a day; the borrower's open page follows.
    theirs.mark().await;
    let price = mine.find("#rent-price").await;
    price.clear().await.unwrap();
    price.send_keys("4.00").await.unwrap();
    act(&mine, "counter").await;
    shows(&mine, &lender, &id, "offered").await;
    shows(&theirs, &borrower, &id, "offered").await;
    assert!(
        theirs.still_marked().await,
        "the borrower's page was reloaded"
    );
    let timeline = theirs.text("#timeline").await;
    assert!(
        timeline.contains("Price: 5.00 EUR per day → 4.00 EUR per day"),
        "what the counter changed: {timeline}"
    );

    // Accept, hand over, confirm, give back, confirm: each on its page,
    // each shown live on the other.
    let steps: [(&Browser, &Daemon, &str, &str); 5] = [
        (&theirs, &borrower, "accept", "accepted"),
        (&mine, &lender, "handover", "accepted"),
        (&theirs, &borrower, "confirm", "active"),
        (&theirs, &borrower, "return", "active"),
        (&mine, &lender, "confirm", "completed"),
    ];
    for (b, d, action, state) in steps {
        let (other, other_node) = if std::ptr::eq(b, &mine) {
            (&theirs, &borrower)
        } else {
            (&mine, &lender)
        };
        other.mark().await;
        act(b, action).await;
        shows(b, d, &id, state).await;
        shows(other, other_node, &id, state).await;
        assert!(
            other.still_marked().await,
            "the page was reloaded after {action}"
        );
        audit(b, &format!("the agreement after {action}"), &mut problems).await;
        b.viewport(if std::ptr::eq(b, &mine) {
            DESKTOP
        } else {
            PHONE
        })
        .await;
    }
    let deposit = agreement(&lender, &id)["events"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find_map(|e| e["deposit_returned"].as_object().cloned());
    assert_eq!(
        deposit.map(Value::Object),
        Some(json!({"amount": 5000, "currency": "EUR"})),
        "the lender's confirm gave the deposit back"
    );

    // The receipt, then both review.
    for (b, who) in [(&mine, "lender"), (&theirs, "borrower")] {
        b.wait_js(
            &format!("the receipt on the {who}'s page"),
            "return !!document.getElementById('form-review')",
        )
        .await;
    }
    mine.screenshots("completed").await;
    for (b, rating, text) in [
        (&mine, "5", "Careful with the drill, back on time."),
        (&theirs, "4", "Good drill, friendly handover."),
    ] {
        b.find(&format!(
            "#form-review input[name=rating][value='{rating}']"
        ))
        .await
        .click()
        .await
        .unwrap();
        b.find("#review-text").await.send_keys(text).await.unwrap();
        b.find("#form-review button[type=submit]")
            .await
            .click()
            .await
            .unwrap();
        b.wait_js(
            "the review posted",
            "return !!document.querySelector('#form-review') \
             && document.querySelector('#form-review button').textContent.includes('Replace')",
        )
        .await;
    }
    audit(&theirs, "a completed agreement", &mut problems).await;

    // A third node shows the receipt and the lender's review on the
    // borrower's profile.
    let borrower_key = http::call(&borrower, "GET", "/api/v1/node", None).json()["author"]
        .as_str()
        .expect("author")
        .to_owned();
    eventually("the review of the borrower at the third node", || {
        let reply = http::call(
            &watcher,
            "GET",
            &format!("/api/v1/reviews?subject={borrower_key}"),
            None,
        );
        reply.status == 200 && !reply.json()["reviews"].as_array().unwrap().is_empty()
    });
    let third = Browser::desktop(test, &watcher).await;
    third.sign_in(&watcher).await;
    third.goto(&format!("/p/{borrower_key}")).await;
    third
        .wait_js(
            "the receipt and the review",
            "var h = document.getElementById('history'); return !!h \
             && !!h.querySelector('li.receipt') && !!h.querySelector('li.review')",
        )
        .await;
    let history = third.text("#history").await;
    assert!(
        history.contains("Careful with the drill, back on time."),
        "{history}"
    );
    assert!(history.contains("Rated 5 of 5"), "{history}");
    assert!(history.contains("completed"), "{history}");
    let trust = third.text("#trust").await;
    assert!(
        trust.starts_with("Trust, as your node sees it:") && trust.contains("vouches"),
        "{trust}"
    );
    audit(&third, "a profile", &mut problems).await;
    third.viewport(DESKTOP).await;
    third.screenshots("profile").await;

    assert!(
        problems.is_empty(),
        "accessibility and layout problems:\n{}",
        problems.join("\n")
    );
    third.quit().await;
    mine.quit().await;
    theirs.quit().await;
}
