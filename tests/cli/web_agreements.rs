//! The agreement pages over real HTTP on real binaries: what the server
//! promises whatever the browser. An action the chain does not allow, posted
//! by hand with a valid CSRF token, meets the API's refusal and signs
//! nothing; bad terms are said beside their field and nothing is proposed.

use serde_json::Value;
use tempfile::tempdir;

use crate::http::{Reply, call, send};
use crate::kit::{Daemon, eventually, ok};
use crate::web_pages::{csrf_of, sign_in};

/// Posts `body` (URL-encoded) to `path` as the node's own page would.
fn post_form(d: &Daemon, cookie: &str, path: &str, body: &str) -> Reply {
    let origin = format!("http://{}", d.api);
    let headers = [
        ("Cookie", cookie),
        ("Origin", origin.as_str()),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    send(d, "POST", path, &headers, Some(body.as_bytes()), false)
}

/// A lender with a drill to rent, a borrower who holds it; the listing id.
fn pair(dir: &std::path::Path) -> (Daemon, Daemon, String) {
    let lender = Daemon::neighbour(&dir.join("lender"), None);
    let borrower = Daemon::neighbour(&dir.join("borrower"), Some(&lender));
    let out = ok(
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
        call(&borrower, "GET", &format!("/api/v1/listings/{id}"), None).status == 200
    });
    (lender, borrower, id)
}

/// The borrower proposes a rental of `listing` from tomorrow for two days by
/// CLI; the agreement id.
fn propose(borrower: &Daemon, listing: &str) -> String {
    let out = ok(
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
            "--json",
        ],
    );
    let answer: Value = serde_json::from_str(&out).expect("JSON");
    answer["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no agreement id in {answer}"))
        .to_owned()
}

fn agreement(d: &Daemon, id: &str) -> Value {
    let reply = call(d, "GET", &format!("/api/v1/agreements/{id}"), None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

#[test]
fn an_action_not_in_next_posted_by_hand_meets_the_apis_refusal_and_signs_nothing() {
    let dir = tempdir().unwrap();
    let (lender, borrower, listing) = pair(dir.path());
    let id = propose(&borrower, &listing);
    eventually("the proposal at the lender", || {
        call(&lender, "GET", &format!("/api/v1/agreements/{id}"), None).status == 200
    });
    let cookie = sign_in(&lender);
    let page = send(
        &lender,
        "GET",
        &format!("/a/{id}"),
        &[("Cookie", &cookie)],
        None,
        false,
    );
    assert_eq!(page.status, 200);
    let csrf = csrf_of(&page);
    // The page offers exactly next: here accept, counter, decline, note.
    let next = agreement(&lender, &id)["next"].clone();
    for action in next.as_array().unwrap() {
        let action = action.as_str().unwrap();
        assert!(
            page.body.contains(&format!("data-action=\"{action}\"")),
            "{action} missing"
        );
    }
    assert!(!page.body.contains("data-action=\"handover\""));
    let before = agreement(&lender, &id);

    let r = post_form(
        &lender,
        &cookie,
        &format!("/a/{id}/handover"),
        &format!("csrf={csrf}"),
    );
    let api = call(
        &lender,
        "POST",
        &format!("/api/v1/agreements/{id}/handover"),
        None,
    );
    assert_eq!(api.status, 409, "{}", api.body);
    assert_eq!(r.status, 409, "{}", r.body);
    let code = api.json()["code"].as_str().unwrap().to_owned();
    assert!(
        r.body.contains(&format!("data-code=\"{code}\"")),
        "the page names the API's code {code}: {}",
        r.body
    );
    // An action that is no route at all.
    let r = post_form(
        &lender,
        &cookie,
        &format!("/a/{id}/frobnicate"),
        &format!("csrf={csrf}"),
    );
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(
        r.body.contains("data-code=\"unknown_action\""),
        "{}",
        r.body
    );
    // The borrower's own proposal is not theirs to accept.
    let cookie_b = sign_in(&borrower);
    let page_b = send(
        &borrower,
        "GET",
        &format!("/a/{id}"),
        &[("Cookie", &cookie_b)],
        None,
        false,
    );
    let r = post_form(
        &borrower,
        &cookie_b,
        &format!("/a/{id}/accept"),
        &format!("csrf={}", csrf_of(&page_b)),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(
        agreement(&lender, &id)["events"],
        before["events"],
        "nothing signed"
    );
    assert_eq!(agreement(&borrower, &id)["events"], before["events"]);
}

#[test]
fn bad_terms_are_said_beside_their_field_and_nothing_is_proposed() {
    let dir = tempdir().unwrap();
    let (_lender, borrower, listing) = pair(dir.path());
    let cookie = sign_in(&borrower);
    let page = send(
        &borrower,
        "GET",
        &format!("/l/{listing}"),
        &[("Cookie", &cookie)],
        None,
        false,
    );
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("class=\"propose-form\""),
        "{}",
        page.body
    );
    let csrf = csrf_of(&page);
    let path = format!("/l/{listing}/propose");
    let form = |fields: &str| format!("csrf={csrf}&kind=rent&per=day&{fields}");

    // Due before start.
    let r = post_form(
        &borrower,
        &cookie,
        &path,
        &form("start=2030-01-10T10:00&due=2030-01-09T10:00&price=5.00&deposit=50.00"),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("id=\"refusal\""), "{}", r.body);
    // A price with too many decimals: beside the price field.
    let r = post_form(
        &borrower,
        &cookie,
        &path,
        &form("start=2030-01-10T10:00&due=2030-01-12T10:00&price=5.555&deposit=50.00"),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body.contains("id=\"rent-price\" name=\"price\" value=\"5.555\" inputmode=\"decimal\" aria-invalid=\"true\""),
        "{}",
        r.body
    );
    // A deposit in another currency than the listing's.
    let r = post_form(
        &borrower,
        &cookie,
        &path,
        &form("start=2030-01-10T10:00&due=2030-01-12T10:00&price=5.00&deposit=50.00+XXX"),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("aria-invalid=\"true\""), "{}", r.body);
    let list = call(&borrower, "GET", "/api/v1/agreements", None).json();
    assert_eq!(
        list["agreements"],
        serde_json::json!([]),
        "nothing proposed"
    );

    // The same form with good terms proposes, and the page moves on to it.
    let r = post_form(
        &borrower,
        &cookie,
        &path,
        &form("start=2030-01-10T10:00&due=2030-01-12T10:00&price=5.00&deposit=50.00"),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let list = call(&borrower, "GET", "/api/v1/agreements", None).json();
    let id = list["agreements"][0]["id"].as_str().unwrap();
    assert_eq!(
        r.head
            .lines()
            .find_map(|l| l.strip_prefix("location:"))
            .map(str::trim),
        Some(format!("/a/{id}").as_str())
    );
    let terms = &agreement(&borrower, id)["terms"];
    assert_eq!(terms["price"]["amount"], 500);
    assert_eq!(terms["deposit"]["amount"], 5000);
    assert_eq!(terms["start"], "2030-01-10T10:00:00Z");
}

/// The agreement ids an inbox page shows, in order.
fn inbox_ids(page: &Reply) -> Vec<String> {
    page.body
        .split("class=\"card agreement-card\" data-id=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect()
}

#[test]
fn a_pending_proposal_is_marked_and_stopped_on_the_page_and_the_inbox_filters_as_the_api() {
    let dir = tempdir().unwrap();
    let (lender, borrower, listing) = pair(dir.path());
    // With the lender's node stopped, the proposal waits for it.
    lender.terminate();
    let id = propose(&borrower, &listing);
    assert!(agreement(&borrower, &id)["pending"].is_object());

    let cookie = sign_in(&borrower);
    let get = |path: &str| send(&borrower, "GET", path, &[("Cookie", &cookie)], None, false);
    // The inbox shows what the API lists, filter for filter.
    for query in [
        "",
        "state=offered",
        "role=receiver",
        "role=provider",
        "state=completed",
    ] {
        let page = get(&format!("/agreements?{query}"));
        assert_eq!(page.status, 200, "{query}: {}", page.body);
        let api = call(
            &borrower,
            "GET",
            &format!("/api/v1/agreements?{query}"),
            None,
        )
        .json();
        let want: Vec<String> = api["agreements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(inbox_ids(&page), want, "{query}");
    }
    let bad = get("/agreements?state=lost");
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("unknown state"), "{}", bad.body);

    // The agreement page marks the waiting proposal and stops sending it.
    let page = get(&format!("/a/{id}"));
    assert!(
        page.body.contains("Waiting for their node"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Stop sending it"), "{}", page.body);
    let r = post_form(
        &borrower,
        &cookie,
        &format!("/a/{id}/pending/stop"),
        &format!("csrf={}", csrf_of(&page)),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(agreement(&borrower, &id)["pending"].is_null());
    assert!(!get(&format!("/a/{id}")).body.contains("Stop sending it"));
}
