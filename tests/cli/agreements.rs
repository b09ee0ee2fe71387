//! Issue 16 end to end: agreements of every kind between real `swapmesh`
//! processes over TCP on 127.0.0.1, through the API alone — each kind to its
//! end state, `next` against what the nodes really take, the code of each
//! illegal step, the list's filters and pages, the event stream, a pending
//! event stopped, and the metrics.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::http::{EventStream, Reply, author, call, metrics, sample, send};
use crate::kit::{Daemon, eventually};

/// The actions that sign an event on a chain, as `next` names them.
const CHAIN_ACTIONS: [&str; 11] = [
    "counter", "accept", "decline", "withdraw", "handover", "return", "confirm", "extend",
    "cancel", "dispute", "resolve",
];

const DAY: u64 = 86_400;

fn rfc3339(secs: u64) -> String {
    humantime::format_rfc3339_seconds(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
        .to_string()
}

fn secs(text: &Value) -> u64 {
    let text = text.as_str().unwrap_or_else(|| panic!("{text} is no time"));
    humantime::parse_rfc3339(text)
        .unwrap()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Publishes a listing of `d` offering `kinds` (with a price per day where a
/// kind needs one) and returns its id.
fn offer(d: &Daemon, name: &str, kinds: &[&str]) -> String {
    let mut body = json!({"d": name, "kinds": kinds, "title": name});
    if kinds.iter().any(|k| *k == "rent" || *k == "lease") {
        body["price"] = json!({"amount": 500, "currency": "EUR", "per": "day"});
    }
    let reply = call(d, "POST", "/api/v1/listings", Some(&body));
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.json()["id"].as_str().unwrap().to_owned()
}

/// Waits for `d` to hold each listing.
fn holds(d: &Daemon, listings: &[&String]) {
    for id in listings {
        eventually(&format!("a node to hold {id}"), || {
            call(d, "GET", &format!("/api/v1/listings/{id}"), None).status == 200
        });
    }
}

fn show(d: &Daemon, id: &str) -> Value {
    let reply = call(d, "GET", &format!("/api/v1/agreements/{id}"), None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

fn post(d: &Daemon, id: &str, action: &str, body: Option<&Value>) -> Reply {
    call(
        d,
        "POST",
        &format!("/api/v1/agreements/{id}/{action}"),
        body,
    )
}

/// Both parties' nodes hold the same chain of `id`, nothing of theirs pending
/// or left to send: their views, which show equal events and state.
fn settle(pair: [&Daemon; 2], id: &str) -> [Value; 2] {
    let mut views = [Value::Null, Value::Null];
    eventually(&format!("both nodes to agree on {id}"), || {
        let a = call(pair[0], "GET", &format!("/api/v1/agreements/{id}"), None);
        let b = call(pair[1], "GET", &format!("/api/v1/agreements/{id}"), None);
        if a.status != 200 || b.status != 200 {
            return false;
        }
        let (a, b) = (a.json(), b.json());
        let quiet = |v: &Value| v["pending"].is_null() && v["sending"] == 0;
        if a["head"] != b["head"] || !quiet(&a) || !quiet(&b) {
            return false;
        }
        views = [a, b];
        true
    });
    let [a, b] = &views;
    assert_eq!(a["events"], b["events"], "equal events on both nodes");
    assert_eq!(a["state"], b["state"], "{id}");
    assert_eq!(a["terms"], b["terms"], "{id}");
    assert_eq!(a["due"], b["due"], "{id}");
    views
}

/// Proposes by `by` (one of `pair`) and returns the agreement id once both
/// nodes have it.
fn propose(by: &Daemon, pair: [&Daemon; 2], body: Value) -> String {
    let reply = call(by, "POST", "/api/v1/agreements", Some(&body));
    assert!(
        reply.status == 201 || reply.status == 202,
        "propose {body}: {} {}",
        reply.status,
        reply.body
    );
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    let [a, _] = settle(pair, &id);
    assert_eq!(a["state"], "offered");
    id
}

/// `by` takes `action` on `id`; both nodes then agree it is in `state`.
/// Returns `by`'s view.
fn step(
    by: &Daemon,
    pair: [&Daemon; 2],
    id: &str,
    action: &str,
    body: Option<Value>,
    state: &str,
) -> Value {
    let reply = post(by, id, action, body.as_ref());
    assert!(
        reply.status == 200 || reply.status == 202,
        "{action} on {id}: {} {}",
        reply.status,
        reply.body
    );
    let views = settle(pair, id);
    assert_eq!(views[0]["state"], state, "after {action}: {}", views[0]);
    let last = views[0]["events"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["action"], action, "{last}");
    if std::ptr::eq(by, pair[0]) {
        views[0].clone()
    } else {
        views[1].clone()
    }
}

/// An ended agreement: the same end state on both nodes, nothing left to do
/// but notes.
fn ended(pair: [&Daemon; 2], id: &str, state: &str) -> Value {
    let views = settle(pair, id);
    for v in &views {
        assert_eq!(v["state"], state, "{v}");
        assert_eq!(v["next"], json!(["note"]), "{v}");
    }
    views[0].clone()
}

fn events(view: &Value) -> &Vec<Value> {
    view["events"].as_array().unwrap()
}

#[test]
fn every_kind_reaches_its_end_state_through_the_api() {
    let tmp = tempfile::tempdir().unwrap();
    let ana = Daemon::neighbour(&tmp.path().join("ana"), None);
    let ben = Daemon::neighbour(&tmp.path().join("ben"), Some(&ana));
    let cleo = Daemon::neighbour(&tmp.path().join("cleo"), Some(&ana));
    let drill = offer(&ana, "drill", &["share", "rent"]);
    let van = offer(&ana, "van", &["lease"]);
    let bike = offer(&ana, "bike", &["swap"]);
    let tent = offer(&ana, "tent", &["swap"]);
    let chair = offer(&ana, "chair", &["give"]);
    let saw = offer(&ana, "saw", &["share"]);
    let kayak = offer(&ben, "kayak", &["swap"]);
    holds(&ben, &[&drill, &bike, &tent, &saw]);
    holds(&cleo, &[&drill, &van]);
    let ab = [&ana, &ben];
    let ac = [&ana, &cleo];
    let eur = |amount: i64| json!({"amount": amount, "currency": "EUR"});

    // Share: handed over, confirmed, given back, confirmed.
    let id = propose(
        &ben,
        ab,
        json!({"listing": drill, "kind": "share",
            "start": "2030-01-01T00:00:00Z", "due": "2030-01-03T00:00:00Z"}),
    );
    step(&ana, ab, &id, "accept", None, "accepted");
    step(&ana, ab, &id, "handover", None, "accepted");
    step(&ben, ab, &id, "confirm", None, "active");
    step(&ben, ab, &id, "return", None, "active");
    step(&ana, ab, &id, "confirm", None, "completed");
    ended(ab, &id, "completed");

    // Rent with a deposit, given back on the return's confirm.
    let id = propose(
        &ben,
        ab,
        json!({"listing": drill, "kind": "rent",
            "start": "2030-02-01T00:00:00Z", "due": "2030-02-03T00:00:00Z",
            "price": {"amount": 500, "currency": "EUR", "per": "day"}, "deposit": eur(5000)}),
    );
    step(&ana, ab, &id, "accept", None, "accepted");
    step(&ana, ab, &id, "handover", None, "accepted");
    step(&ben, ab, &id, "confirm", None, "active");
    step(&ben, ab, &id, "return", None, "active");
    let body = json!({"deposit_returned": eur(5000), "note": "All fine."});
    let done = step(&ana, ab, &id, "confirm", Some(body), "completed");
    let last = events(&done).last().unwrap();
    assert_eq!(last["deposit_returned"], eur(5000), "{last}");
    assert_eq!(last["note"], "All fine.");
    ended(ab, &id, "completed");

    // A lease until notice: the receiver's cancel while active gives notice
    // (the due date becomes the cancel's time plus the notice), then the
    // return and its confirm end it.
    let id = propose(
        &cleo,
        ac,
        json!({"listing": van, "kind": "lease", "start": rfc3339(now() - 3600),
            "price": {"amount": 9000, "currency": "EUR", "per": "month"}, "notice_days": 1}),
    );
    step(&ana, ac, &id, "accept", None, "accepted");
    step(&ana, ac, &id, "handover", None, "accepted");
    let active = step(&cleo, ac, &id, "confirm", None, "active");
    assert!(active["due"].is_null(), "until notice: {active}");
    let noticed = step(&cleo, ac, &id, "cancel", None, "active");
    let cancel = events(&noticed).last().unwrap();
    assert_eq!(
        secs(&noticed["due"]),
        secs(&cancel["at"]) + DAY,
        "the notice shortens the due date to a day after it: {noticed}"
    );
    step(&cleo, ac, &id, "return", None, "active");
    step(&ana, ac, &id, "confirm", None, "completed");
    ended(ac, &id, "completed");

    // A swap for good (no `until`): done once both handovers are confirmed.
    let id = propose(
        &ben,
        ab,
        json!({"listing": bike, "kind": "swap", "offer": "my old guitar",
            "start": "2030-01-10T00:00:00Z"}),
    );
    step(&ana, ab, &id, "accept", None, "accepted");
    step(&ana, ab, &id, "handover", None, "accepted");
    step(&ben, ab, &id, "confirm", None, "active");
    step(&ben, ab, &id, "handover", None, "active");
    let done = step(&ana, ab, &id, "confirm", None, "completed");
    let legs: Vec<&Value> = events(&done)
        .iter()
        .filter(|e| e["action"] == "handover")
        .map(|e| &e["leg"])
        .collect();
    assert_eq!(legs, [&json!("provider"), &json!("receiver")]);
    ended(ab, &id, "completed");

    // A dated swap of the tent for Ben's kayak: both handovers, both returns.
    let id = propose(
        &ben,
        ab,
        json!({"listing": tent, "kind": "swap", "theirs": "kayak",
            "start": "2030-03-01T00:00:00Z", "until": "2030-03-05T00:00:00Z"}),
    );
    assert_eq!(show(&ana, &id)["terms"]["theirs"], kayak.as_str());
    step(&ana, ab, &id, "accept", None, "accepted");
    step(&ana, ab, &id, "handover", None, "accepted");
    step(&ben, ab, &id, "confirm", None, "active");
    step(&ben, ab, &id, "handover", None, "active");
    step(&ana, ab, &id, "confirm", None, "active");
    step(&ben, ab, &id, "return", None, "active");
    step(&ana, ab, &id, "confirm", None, "active");
    step(&ana, ab, &id, "return", None, "active");
    let done = step(&ben, ab, &id, "confirm", None, "completed");
    let legs: Vec<&Value> = events(&done)
        .iter()
        .filter(|e| e["action"] == "return")
        .map(|e| &e["leg"])
        .collect();
    assert_eq!(legs, [&json!("provider"), &json!("receiver")]);
    ended(ab, &id, "completed");

    // A give, proposed by the provider to a neighbour: done on the confirmed
    // handover.
    let id = propose(
        &ana,
        ac,
        json!({"listing": "chair", "kind": "give", "receiver": author(&cleo),
            "from": "2030-01-01T00:00:00Z", "until": "2030-01-08T00:00:00Z"}),
    );
    assert_eq!(show(&ana, &id)["terms"]["listing"], chair.as_str());
    step(&cleo, ac, &id, "accept", None, "accepted");
    step(&ana, ac, &id, "handover", None, "accepted");
    step(&cleo, ac, &id, "confirm", None, "completed");
    ended(ac, &id, "completed");

    // Cancelled before any handover.
    let id = propose(
        &cleo,
        ac,
        json!({"listing": drill, "kind": "rent",
            "start": "2030-07-01T00:00:00Z", "due": "2030-07-03T00:00:00Z",
            "price": {"amount": 500, "currency": "EUR", "per": "day"}}),
    );
    step(&ana, ac, &id, "accept", None, "accepted");
    step(&cleo, ac, &id, "cancel", None, "cancelled");
    ended(ac, &id, "cancelled");

    // Disputes, each ended by a confirmed resolution.
    let share_on_saw = |month: u32| {
        json!({"listing": saw, "kind": "share",
            "start": format!("2030-{month:02}-01T00:00:00Z"),
            "due": format!("2030-{month:02}-03T00:00:00Z")})
    };
    // Returned: disputed while active.
    let id = propose(&ben, ab, share_on_saw(4));
    step(&ana, ab, &id, "accept", None, "accepted");
    step(&ana, ab, &id, "handover", None, "accepted");
    step(&ben, ab, &id, "confirm", None, "active");
    step(&ben, ab, &id, "dispute", None, "disputed");
    let body = json!({"outcome": "returned"});
    step(&ana, ab, &id, "resolve", Some(body), "disputed");
    let done = step(&ben, ab, &id, "confirm", None, "resolved");
    let resolve = &events(&done)[events(&done).len() - 2];
    assert_eq!(resolve["outcome"], "returned", "{resolve}");
    ended(ab, &id, "resolved");
    // Other: disputed before any handover.
    let id = propose(&ben, ab, share_on_saw(5));
    step(&ana, ab, &id, "accept", None, "accepted");
    step(&ana, ab, &id, "dispute", None, "disputed");
    let body = json!({"outcome": "other", "note": "Let's call it even."});
    step(&ben, ab, &id, "resolve", Some(body), "disputed");
    let done = step(&ana, ab, &id, "confirm", None, "resolved");
    let resolve = &events(&done)[events(&done).len() - 2];
    assert_eq!(resolve["outcome"], "other", "{resolve}");
    ended(ab, &id, "resolved");
    // Kept: the receiver keeps the saw.
    let id = propose(&ben, ab, share_on_saw(6));
    step(&ana, ab, &id, "accept", None, "accepted");
    step(&ana, ab, &id, "handover", None, "accepted");
    step(&ben, ab, &id, "confirm", None, "active");
    step(&ana, ab, &id, "dispute", None, "disputed");
    step(
        &ben,
        ab,
        &id,
        "resolve",
        Some(json!({"outcome": "kept"})),
        "disputed",
    );
    let done = step(&ana, ab, &id, "confirm", None, "resolved");
    let resolve = &events(&done)[events(&done).len() - 2];
    assert_eq!(resolve["outcome"], "kept", "{resolve}");
    ended(ab, &id, "resolved");
}

/// The plainest body of `action` on `view`: none, or a changed price (rent)
/// or offer (swap) for a counter, a day after the due date for an extend, and
/// `returned` for a resolve.
fn plain_body(action: &str, view: &Value) -> Option<Value> {
    match action {
        "counter" if view["kind"] == "swap" => Some(json!({"offer": "and a paddle"})),
        "counter" => Some(json!({"price": {"amount": 400, "currency": "EUR", "per": "day"}})),
        "extend" => {
            let due = if view["due"].is_null() {
                now()
            } else {
                secs(&view["due"])
            };
            Some(json!({"due": rfc3339(due + DAY)}))
        }
        "resolve" => Some(json!({"outcome": "returned"})),
        _ => None,
    }
}

/// One step: what `next` holds on each node, and the action taken (by
/// which node, with which body if not the plainest).
type Step<'a> = ([&'a [&'a str]; 2], (usize, &'a str, Option<Value>));

/// At one step of agreement `id`: on both nodes, `next` is as `expected`
/// says, every chain action not in it answers 4xx and changes nothing, and
/// `take` (by `pair[taker]`, with `body` or the plainest one) is in it and
/// succeeds.
fn check_next(
    pair: [&Daemon; 2],
    id: &str,
    expected: [&[&str]; 2],
    take: (usize, &str, Option<Value>),
) {
    let views = settle(pair, id);
    for (side, d) in pair.iter().enumerate() {
        let view = &views[side];
        let next: Vec<&str> = view["next"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        let mut want = expected[side].to_vec();
        want.push("note");
        assert_eq!(next, want, "next on node {side} in {view}");
        for action in CHAIN_ACTIONS.iter().filter(|a| !next.contains(a)) {
            let reply = post(d, id, action, plain_body(action, view).as_ref());
            assert!(
                (400..500).contains(&reply.status),
                "{action}, not in next {next:?}, answered {} {}",
                reply.status,
                reply.body
            );
        }
    }
    // Nothing changed on either node.
    let after = settle(pair, id);
    for side in 0..2 {
        assert_eq!(after[side]["head"], views[side]["head"], "nothing signed");
        assert_eq!(after[side]["events"], views[side]["events"]);
        assert_eq!(after[side]["next"], views[side]["next"]);
    }
    let (taker, action, body) = take;
    assert!(
        expected[taker].contains(&action),
        "{action} is taken but not in next"
    );
    let body = body.or_else(|| plain_body(action, &views[taker]));
    let reply = post(pair[taker], id, action, body.as_ref());
    assert!(
        reply.status == 200 || reply.status == 202,
        "{action}, in next, answered {} {}",
        reply.status,
        reply.body
    );
}

#[test]
fn next_lists_exactly_the_actions_that_succeed() {
    let tmp = tempfile::tempdir().unwrap();
    let ana = Daemon::neighbour(&tmp.path().join("ana"), None);
    let ben = Daemon::neighbour(&tmp.path().join("ben"), Some(&ana));
    let drill = offer(&ana, "drill", &["rent"]);
    let tent = offer(&ana, "tent", &["swap"]);
    offer(&ben, "kayak", &["swap"]);
    holds(&ben, &[&drill, &tent]);
    let pair = [&ana, &ben];
    const ANA: usize = 0;
    const BEN: usize = 1;

    // A rental: a counter, an extension, the deposit given back.
    let id = propose(
        &ben,
        pair,
        json!({"listing": drill, "kind": "rent",
            "start": "2030-01-01T00:00:00Z", "due": "2030-01-03T00:00:00Z",
            "price": {"amount": 500, "currency": "EUR", "per": "day"},
            "deposit": {"amount": 5000, "currency": "EUR"}}),
    );
    let steps: Vec<Step> = vec![
        (
            [&["counter", "accept", "decline"], &["withdraw"]],
            (ANA, "counter", None),
        ),
        (
            [&["withdraw"], &["counter", "accept", "decline"]],
            (BEN, "accept", None),
        ),
        (
            [&["handover", "cancel", "dispute"], &["cancel", "dispute"]],
            (ANA, "handover", None),
        ),
        (
            [&["dispute"], &["confirm", "dispute"]],
            (BEN, "confirm", None),
        ),
        (
            [&["extend", "dispute"], &["return", "extend", "dispute"]],
            (BEN, "extend", None),
        ),
        (
            [
                &["decline", "confirm", "extend", "dispute"],
                &["return", "extend", "dispute"],
            ],
            (ANA, "confirm", None),
        ),
        (
            [&["extend", "dispute"], &["return", "extend", "dispute"]],
            (BEN, "return", None),
        ),
        (
            [&["confirm", "extend", "dispute"], &["dispute"]],
            (
                ANA,
                "confirm",
                Some(json!({"deposit_returned": {"amount": 5000, "currency": "EUR"}})),
            ),
        ),
    ];
    for (expected, take) in steps {
        check_next(pair, &id, expected, take);
    }
    let done = ended(pair, &id, "completed");
    assert_eq!(done["due"], "2030-01-04T00:00:00Z", "extended by a day");
    assert_eq!(done["terms"]["price"]["amount"], 400, "countered");
    for d in pair {
        for action in CHAIN_ACTIONS {
            let reply = post(d, &id, action, plain_body(action, &done).as_ref());
            assert!(
                (400..500).contains(&reply.status),
                "{action}: {}",
                reply.body
            );
        }
    }
    assert_eq!(settle(pair, &id)[0]["events"], done["events"]);

    // A dated swap of the tent for Ben's kayak: two legs each way, an
    // extension declined.
    let id = propose(
        &ben,
        pair,
        json!({"listing": tent, "kind": "swap", "theirs": "kayak",
            "start": "2030-02-01T00:00:00Z", "until": "2030-02-05T00:00:00Z"}),
    );
    let both_return = ["return", "extend", "dispute"].as_slice();
    let steps: Vec<Step> = vec![
        (
            [&["counter", "accept", "decline"], &["withdraw"]],
            (ANA, "accept", None),
        ),
        (
            [
                &["handover", "cancel", "dispute"],
                &["handover", "cancel", "dispute"],
            ],
            (ANA, "handover", None),
        ),
        (
            [&["dispute"], &["handover", "confirm", "dispute"]],
            (BEN, "confirm", None),
        ),
        (
            [
                &["extend", "dispute"],
                &["handover", "return", "extend", "dispute"],
            ],
            (BEN, "handover", None),
        ),
        (
            [&["confirm", "extend", "dispute"], &["dispute"]],
            (ANA, "confirm", None),
        ),
        ([both_return, both_return], (ANA, "extend", None)),
        (
            [
                both_return,
                &["decline", "return", "confirm", "extend", "dispute"],
            ],
            (BEN, "decline", None),
        ),
        ([both_return, both_return], (BEN, "return", None)),
        (
            [&["return", "confirm", "extend", "dispute"], &["dispute"]],
            (ANA, "confirm", None),
        ),
        ([both_return, &["extend", "dispute"]], (ANA, "return", None)),
        (
            [&["dispute"], &["confirm", "extend", "dispute"]],
            (BEN, "confirm", None),
        ),
    ];
    for (expected, take) in steps {
        check_next(pair, &id, expected, take);
    }
    let done = ended(pair, &id, "completed");
    assert_eq!(
        done["due"], "2030-02-05T00:00:00Z",
        "the extension declined"
    );
}

/// A request with the daemon's token and a raw JSON body.
fn raw(d: &Daemon, path: &str, body: &str) -> Reply {
    let token = format!("Bearer {}", d.token());
    send(
        d,
        "POST",
        path,
        &[
            ("Authorization", token.as_str()),
            ("Content-Type", "application/json"),
        ],
        Some(body.as_bytes()),
        false,
    )
}

/// The ids of every agreement `d` lists.
fn all_ids(d: &Daemon) -> Vec<String> {
    let reply = call(d, "GET", "/api/v1/agreements?limit=500", None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let mut ids: Vec<String> = reply.json()["agreements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[track_caller]
fn refused(reply: &Reply, status: u16, code: &str) -> Value {
    assert_eq!(reply.status, status, "{}", reply.body);
    let body = reply.json();
    assert_eq!(body["code"], code, "{body}");
    body
}

#[test]
fn each_illegal_step_answers_its_code() {
    let tmp = tempfile::tempdir().unwrap();
    let ana = Daemon::neighbour(&tmp.path().join("ana"), None);
    let ben = Daemon::neighbour(&tmp.path().join("ben"), Some(&ana));
    let drill = offer(&ana, "drill", &["share", "rent"]);
    holds(&ben, &[&drill]);
    let pair = [&ana, &ben];
    let share = |start: &str, due: &str| {
        json!({"listing": drill, "kind": "share",
            "start": format!("2030-01-{start}T00:00:00Z"), "due": format!("2030-01-{due}T00:00:00Z")})
    };

    // Accepting one's own proposal.
    let first = propose(&ben, pair, share("01", "03"));
    refused(&post(&ben, &first, "accept", None), 409, "not_your_turn");

    // Two proposals for overlapping days: the second accept overlaps the
    // first, and says which period is taken.
    let second = propose(&ben, pair, share("02", "04"));
    step(&ana, pair, &first, "accept", None, "accepted");
    let body = refused(&post(&ana, &second, "accept", None), 409, "overlaps");
    assert_eq!(body["period"]["start"], "2030-01-01T00:00:00Z", "{body}");
    assert_eq!(body["period"]["end"], "2030-01-03T00:00:00Z", "{body}");
    assert_eq!(settle(pair, &second)[0]["state"], "offered");

    // Cancel after a handover, by either party.
    step(&ana, pair, &first, "handover", None, "accepted");
    refused(&post(&ana, &first, "cancel", None), 409, "after_handover");
    refused(&post(&ben, &first, "cancel", None), 409, "after_handover");
    // More of the same kind: nothing open to confirm, an ended agreement.
    refused(
        &post(&ana, &first, "confirm", None),
        409,
        "nothing_to_confirm",
    );
    step(&ben, pair, &second, "withdraw", None, "withdrawn");
    refused(&post(&ana, &second, "decline", None), 409, "finished");

    let heads = |id: &str| settle(pair, id).map(|v| v["head"].clone());
    let before = (heads(&first), all_ids(&ana), all_ids(&ben));

    // Bad terms: a rule of the terms, or a field named.
    let proposals = [
        (share("03", "02"), "invalid_terms", "rule", "empty_period"),
        (
            json!({"listing": drill, "kind": "give",
                "from": "2030-01-01T00:00:00Z", "until": "2030-01-02T00:00:00Z"}),
            "invalid_terms",
            "rule",
            "kind_not_offered",
        ),
        (
            json!({"listing": drill, "kind": "rent",
                "start": "2030-03-01T00:00:00Z", "due": "2030-03-02T00:00:00Z",
                "price": {"amount": -5, "currency": "EUR", "per": "day"}}),
            "invalid_terms",
            "rule",
            "bad_money",
        ),
        (
            json!({"listing": drill, "kind": "rent",
                "start": "2030-03-01T00:00:00Z", "due": "2030-03-02T00:00:00Z"}),
            "missing_field",
            "field",
            "price",
        ),
        (
            {
                let mut s = share("10", "12");
                s["price"] = json!({"amount": 5, "currency": "EUR", "per": "day"});
                s
            },
            "unknown_field",
            "field",
            "price",
        ),
        (
            {
                let mut s = share("10", "12");
                s["colour"] = json!("red");
                s
            },
            "unknown_field",
            "field",
            "colour",
        ),
        (
            {
                let mut s = share("10", "12");
                s["start"] = json!("tomorrow");
                s
            },
            "invalid_field",
            "field",
            "start",
        ),
        (
            {
                let mut s = share("10", "12");
                s["deposit"] = json!({"amount": "fifty", "currency": "EUR"});
                s
            },
            "invalid_field",
            "field",
            "deposit.amount",
        ),
        (
            {
                let mut s = share("10", "12");
                s["deposit"] = json!({"amount": 1.5, "currency": "EUR"});
                s
            },
            "invalid_field",
            "field",
            "deposit.amount",
        ),
    ];
    for (body, code, key, value) in proposals {
        let reply = call(&ben, "POST", "/api/v1/agreements", Some(&body));
        let answer = refused(&reply, 422, code);
        assert_eq!(answer[key], value, "{body}: {answer}");
    }
    let reply = raw(&ben, "/api/v1/agreements", r#"{"listing": "#);
    refused(&reply, 400, "malformed_json");

    // Bad bodies on actions: named, nothing signed.
    let on = |action: &str| format!("/api/v1/agreements/{first}/{action}");
    refused(&raw(&ben, &on("confirm"), "{"), 400, "malformed_json");
    refused(
        &raw(&ana, &on("accept"), r#"{"note": "#),
        400,
        "malformed_json",
    );
    let cases = [
        (
            &ben,
            "extend",
            json!({"due": "soon"}),
            "invalid_field",
            "due",
        ),
        (
            &ben,
            "extend",
            json!({"due": "2030-01-05T00:00:00Z", "colour": 1}),
            "unknown_field",
            "colour",
        ),
        (
            &ben,
            "confirm",
            json!({"deposit_returned": {"amount": "all", "currency": "EUR"}}),
            "invalid_field",
            "deposit_returned.amount",
        ),
        (
            &ben,
            "confirm",
            json!({"deposit_returned": {"amount": 5, "currency": "EUR", "x": 1}}),
            "unknown_field",
            "deposit_returned.x",
        ),
        (
            &ana,
            "resolve",
            json!({"outcome": "maybe"}),
            "invalid_field",
            "outcome",
        ),
        (&ana, "resolve", json!({}), "missing_field", "outcome"),
        (
            &ana,
            "handover",
            json!({"leg": "both"}),
            "invalid_field",
            "leg",
        ),
        (&ben, "note", json!({"txt": "hi"}), "unknown_field", "txt"),
        (
            &ben,
            "counter",
            json!({"due": "2030-13-01T00:00:00Z"}),
            "invalid_field",
            "due",
        ),
    ];
    for (d, action, body, code, field) in cases {
        let reply = post(d, &first, action, Some(&body));
        let answer = refused(&reply, 422, code);
        assert_eq!(answer["field"], field, "{action} {body}: {answer}");
    }
    let after = (heads(&first), all_ids(&ana), all_ids(&ben));
    assert_eq!(after, before, "nothing signed, nothing proposed");

    // An unknown action names the actions.
    let body = refused(
        &post(&ben, &first, "frobnicate", None),
        404,
        "unknown_action",
    );
    assert_eq!(
        body["actions"],
        json!([
            "counter", "accept", "decline", "withdraw", "handover", "return", "confirm", "extend",
            "cancel", "dispute", "resolve", "note"
        ]),
        "{body}"
    );
}

/// The ids of a list page, in order, and its cursor.
fn page(d: &Daemon, query: &str) -> (Vec<Value>, Value) {
    let reply = call(d, "GET", &format!("/api/v1/agreements?{query}"), None);
    assert_eq!(reply.status, 200, "{query}: {}", reply.body);
    let body = reply.json();
    (
        body["agreements"].as_array().unwrap().clone(),
        body["next"].clone(),
    )
}

fn ids_of(query: &str, d: &Daemon) -> Vec<String> {
    let (agreements, next) = page(d, query);
    assert!(next.is_null(), "{query}: one page");
    let mut ids: Vec<String> = agreements
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

fn sorted(ids: &[&String]) -> Vec<String> {
    let mut ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    ids.sort();
    ids
}

#[test]
fn list_filters_by_state_role_and_listing_and_pages() {
    let tmp = tempfile::tempdir().unwrap();
    let ana = Daemon::neighbour(&tmp.path().join("ana"), None);
    let ben = Daemon::neighbour(&tmp.path().join("ben"), Some(&ana));
    let drill = offer(&ana, "drill", &["share"]);
    let ladder = offer(&ben, "ladder", &["share"]);
    holds(&ben, &[&drill]);
    holds(&ana, &[&ladder]);
    let pair = [&ana, &ben];
    let share = |listing: &str, month: u32| {
        json!({"listing": listing, "kind": "share",
            "start": format!("2030-{month:02}-01T00:00:00Z"),
            "due": format!("2030-{month:02}-03T00:00:00Z")})
    };

    // On Ana's drill (Ana provides): accepted, offered, declined.
    let accepted = propose(&ben, pair, share(&drill, 1));
    step(&ana, pair, &accepted, "accept", None, "accepted");
    let offered = propose(&ben, pair, share(&drill, 2));
    let declined = propose(&ben, pair, share(&drill, 3));
    step(&ana, pair, &declined, "decline", None, "declined");
    // On Ben's ladder (Ana receives): offered, accepted.
    let asked = propose(&ana, pair, share(&ladder, 1));
    let lent = propose(&ana, pair, share(&ladder, 2));
    step(&ben, pair, &lent, "accept", None, "accepted");
    let all = [&accepted, &offered, &declined, &asked, &lent];

    assert_eq!(ids_of("", &ana), sorted(&all));
    assert_eq!(ids_of("state=offered", &ana), sorted(&[&offered, &asked]));
    assert_eq!(ids_of("state=accepted", &ana), sorted(&[&accepted, &lent]));
    assert_eq!(ids_of("state=declined", &ana), sorted(&[&declined]));
    assert_eq!(ids_of("state=completed", &ana), sorted(&[]));
    // Nothing is handed over, let alone overdue.
    assert_eq!(ids_of("state=overdue", &ana), sorted(&[]));
    assert_eq!(
        ids_of("role=provider", &ana),
        sorted(&[&accepted, &offered, &declined])
    );
    assert_eq!(ids_of("role=receiver", &ana), sorted(&[&asked, &lent]));
    assert_eq!(ids_of("role=provider", &ben), sorted(&[&asked, &lent]));
    assert_eq!(
        ids_of("state=offered&role=receiver", &ana),
        sorted(&[&asked])
    );
    // A listing by its id, by the name of one's own, or by a short id.
    let drills = sorted(&[&accepted, &offered, &declined]);
    let ladders = sorted(&[&asked, &lent]);
    assert_eq!(ids_of(&format!("listing={drill}"), &ana), drills);
    assert_eq!(ids_of("listing=drill", &ana), drills);
    assert_eq!(ids_of(&format!("listing={}", &drill[..12]), &ben), drills);
    assert_eq!(ids_of(&format!("listing={ladder}"), &ana), ladders);
    assert_eq!(ids_of(&format!("listing={}", &ladder[..10]), &ana), ladders);
    assert_eq!(ids_of("listing=ladder", &ben), ladders);
    assert_eq!(
        ids_of(&format!("listing={ladder}&state=accepted"), &ana),
        sorted(&[&lent])
    );
    // An id prefix of 8 characters or more.
    for id in all {
        let found = ids_of(&format!("id_prefix={}", &id[..8]), &ana);
        assert!(found.contains(id), "{found:?}");
        assert!(found.iter().all(|f| f.starts_with(&id[..8])));
        assert_eq!(
            ids_of(&format!("id_prefix={}", &id[..20]), &ana),
            std::slice::from_ref(id)
        );
    }
    let short = call(
        &ana,
        "GET",
        &format!("/api/v1/agreements?id_prefix={}", &accepted[..7]),
        None,
    );
    refused(&short, 400, "id_prefix_too_short");

    // Pages of two visit each agreement once, the most recently changed first.
    for d in pair {
        let mut seen: Vec<Value> = Vec::new();
        let mut query = "limit=2".to_owned();
        let mut pages = 0;
        loop {
            let (agreements, next) = page(d, &query);
            assert!(agreements.len() <= 2);
            seen.extend(agreements);
            pages += 1;
            match next.as_str() {
                Some(cursor) => query = format!("limit=2&cursor={cursor}"),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        let mut ids: Vec<String> = seen
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_owned())
            .collect();
        let order: Vec<(String, String)> = seen
            .iter()
            .map(|a| {
                (
                    a["updated_at"].as_str().unwrap().to_owned(),
                    a["id"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert!(
            order.windows(2).all(|w| w[0] > w[1]),
            "newest changed first: {order:?}"
        );
        ids.sort();
        assert_eq!(ids, sorted(&all), "each once");
        // A summary shows what every agreement shows.
        for a in &seen {
            for key in ["id", "kind", "state", "role", "next", "listing_id", "other"] {
                assert!(!a[key].is_null(), "{key} in {a}");
            }
        }
    }
    // Bad parameters are named.
    let bad = [
        ("state=lost", 400, "invalid_parameter", "state"),
        ("role=owner", 400, "invalid_parameter", "role"),
        ("limit=0", 400, "invalid_parameter", "limit"),
        ("limit=501", 400, "invalid_parameter", "limit"),
        ("limit=many", 400, "invalid_parameter", "limit"),
        ("cursor=abc", 400, "invalid_parameter", "cursor"),
        ("id_prefix=nothex!!", 400, "invalid_parameter", "id_prefix"),
        ("colour=red", 400, "unknown_parameter", "colour"),
    ];
    for (query, status, code, field) in bad {
        let reply = call(&ana, "GET", &format!("/api/v1/agreements?{query}"), None);
        let body = refused(&reply, status, code);
        assert_eq!(body["field"], field, "{query}: {body}");
    }
    let reply = call(&ana, "GET", "/api/v1/agreements?listing=nothing-here", None);
    assert!(reply.status == 404 || reply.status == 400, "{}", reply.body);
    assert_eq!(reply.json()["field"], "listing", "{}", reply.body);
}

/// The events of `stream` of type `kind` about agreement `id`.
fn about(stream: &EventStream, kind: &str, id: &str) -> Vec<Value> {
    stream
        .of_type(kind)
        .into_iter()
        .filter(|e| e["id"] == id)
        .collect()
}

#[test]
fn agreement_events_reach_the_event_stream() {
    let tmp = tempfile::tempdir().unwrap();
    let ana = Daemon::neighbour(&tmp.path().join("ana"), None);
    let ben = Daemon::neighbour(&tmp.path().join("ben"), Some(&ana));
    let drill = offer(&ana, "drill", &["share"]);
    holds(&ben, &[&drill]);
    let pair = [&ana, &ben];
    let at_ana = EventStream::subscribe(&ana);
    let at_ben = EventStream::subscribe(&ben);

    let id = propose(
        &ben,
        pair,
        json!({"listing": drill, "kind": "share",
            "start": "2030-01-01T00:00:00Z", "due": "2030-01-03T00:00:00Z"}),
    );
    step(&ana, pair, &id, "accept", None, "accepted");
    step(&ana, pair, &id, "handover", None, "accepted");
    let reply = post(&ben, &id, "note", Some(&json!({"text": "Got it, thanks!"})));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let [view, _] = settle(pair, &id);
    let ben_key = author(&ben);

    // One agreement_changed per event, on both nodes, in chain order.
    let expected: Vec<Value> = events(&view)
        .iter()
        .zip(["offered", "accepted", "accepted"])
        .map(|(e, state)| {
            json!({"type": "agreement_changed", "id": id, "event": e["id"],
                "action": e["action"], "state": state})
        })
        .collect();
    assert_eq!(expected.len(), 3);
    for (name, stream) in [("Ana", &at_ana), ("Ben", &at_ben)] {
        eventually(&format!("{name}'s stream to tell each event"), || {
            about(stream, "agreement_changed", &id).len() >= expected.len()
        });
        assert_eq!(
            about(stream, "agreement_changed", &id),
            expected,
            "{name}'s stream"
        );
    }
    // The note reaches Ana's stream, not its writer's.
    eventually("Ana's stream to tell the note", || {
        !about(&at_ana, "agreement_note", &id).is_empty()
    });
    assert_eq!(
        about(&at_ana, "agreement_note", &id),
        [json!({"type": "agreement_note", "id": id, "from": ben_key})]
    );
    assert_eq!(show(&ana, &id)["notes"][0]["text"], "Got it, thanks!");
    assert!(about(&at_ben, "agreement_note", &id).is_empty());
    // Ben's proposal waited for Ana's node: pending, then taken.
    let pending = about(&at_ben, "agreement_pending", &id);
    assert_eq!(
        pending,
        [json!({"type": "agreement_pending", "id": id, "event": id, "action": "propose"})]
    );

    // A proposal for booked days: pending at Ben's, refused by Ana's node.
    let reply = call(
        &ben,
        "POST",
        "/api/v1/agreements",
        Some(&json!({"listing": drill, "kind": "share",
            "start": "2030-01-02T00:00:00Z", "due": "2030-01-04T00:00:00Z"})),
    );
    refused(&reply, 409, "overlaps");
    let mut other = String::new();
    eventually("Ben's stream to tell the pending proposal", || {
        let pending = at_ben.of_type("agreement_pending");
        match pending.iter().find(|e| e["id"] != id.as_str()) {
            Some(late) => {
                assert_eq!(late["action"], "propose", "{late}");
                other = late["id"].as_str().unwrap().to_owned();
                true
            }
            None => false,
        }
    });
    eventually("Ben's stream to tell the refusal", || {
        !about(&at_ben, "agreement_refused", &other).is_empty()
    });
    assert_eq!(
        about(&at_ben, "agreement_refused", &other),
        [json!({"type": "agreement_refused", "id": other, "event": other, "code": "overlaps"})]
    );
    let refused_view = show(&ben, &other);
    assert_eq!(refused_view["refused"], "overlaps");
    // Nothing of it joined a chain anywhere.
    assert!(about(&at_ben, "agreement_changed", &other).is_empty());
    assert!(about(&at_ana, "agreement_changed", &other).is_empty());
    assert_eq!(
        call(&ana, "GET", &format!("/api/v1/agreements/{other}"), None).status,
        404
    );
}

#[test]
fn pending_event_can_be_cancelled_and_shows_its_retries() {
    let tmp = tempfile::tempdir().unwrap();
    let ana_dir = tmp.path().join("ana");
    let ana = Daemon::neighbour(&ana_dir, None);
    let ben = Daemon::neighbour(&tmp.path().join("ben"), Some(&ana));
    let drill = offer(&ana, "drill", &["share"]);
    holds(&ben, &[&drill]);
    assert!(ana.terminate().success());

    // Ana's node is away: Ben's proposal waits for it.
    let reply = call(
        &ben,
        "POST",
        "/api/v1/agreements",
        Some(&json!({"listing": drill, "kind": "share",
            "start": "2030-01-01T00:00:00Z", "due": "2030-01-03T00:00:00Z"})),
    );
    assert_eq!(reply.status, 202, "{}", reply.body);
    let answer = reply.json();
    let id = answer["id"].as_str().unwrap().to_owned();
    assert_eq!(answer["delivered"], false);
    assert_eq!(answer["waiting"], true);
    assert_eq!(
        answer["next"],
        json!(["note"]),
        "nothing to do while waiting"
    );
    let pending = &answer["pending"];
    assert_eq!(pending["event"]["id"], id.as_str(), "{answer}");
    assert_eq!(pending["event"]["action"], "propose");
    assert!(pending["event"]["prev"].is_null());
    assert!(secs(&pending["since"]) <= now());
    for key in ["last_attempt", "next_retry"] {
        assert!(
            pending.get(key).is_some(),
            "{key} is shown, null or not: {pending}"
        );
    }

    // The node keeps trying, backing off.
    let mut first = None;
    eventually("a failed attempt and a retry planned", || {
        let p = &show(&ben, &id)["pending"];
        if p["last_attempt"].is_null() || p["next_retry"].is_null() {
            return false;
        }
        first = Some((secs(&p["last_attempt"]), secs(&p["next_retry"])));
        true
    });
    let (last, next) = first.unwrap();
    assert!(next >= last, "the retry comes after the attempt");
    eventually("another attempt", || {
        let p = &show(&ben, &id)["pending"];
        !p["last_attempt"].is_null()
            && secs(&p["last_attempt"]) > last
            && !p["next_retry"].is_null()
            && secs(&p["next_retry"]) > next
    });
    let gauges = metrics(&ben);
    assert_eq!(sample(&gauges, "swapmesh_agreement_pending"), 1, "{gauges}");
    assert_eq!(sample(&gauges, "swapmesh_agreement_outbox"), 1, "{gauges}");

    // Stopped: nothing pending, nothing to send.
    let reply = call(
        &ben,
        "DELETE",
        &format!("/api/v1/agreements/{id}/pending"),
        None,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let stopped = reply.json();
    assert!(stopped["pending"].is_null(), "{stopped}");
    assert_eq!(stopped["sending"], 0);
    assert_eq!(stopped["waiting"], false);
    let gauges = metrics(&ben);
    assert_eq!(sample(&gauges, "swapmesh_agreement_pending"), 0, "{gauges}");
    assert_eq!(sample(&gauges, "swapmesh_agreement_outbox"), 0, "{gauges}");
    let again = call(
        &ben,
        "DELETE",
        &format!("/api/v1/agreements/{id}/pending"),
        None,
    );
    refused(&again, 409, "out_of_order");

    // Ana's node comes back; a later proposal of Ben's reaches it, the
    // stopped one never does.
    let ana = Daemon::neighbour(&ana_dir, Some(&ben));
    let later = propose(
        &ben,
        [&ana, &ben],
        json!({"listing": drill, "kind": "share",
            "start": "2030-02-01T00:00:00Z", "due": "2030-02-03T00:00:00Z"}),
    );
    assert_eq!(all_ids(&ana), std::slice::from_ref(&later));
    let gone = call(&ana, "GET", &format!("/api/v1/agreements/{id}"), None);
    refused(&gone, 404, "unknown_agreement");
    assert_eq!(all_ids(&ben), sorted(&[&id, &later]));
}

#[test]
fn metrics_count_events_and_refusals() {
    let tmp = tempfile::tempdir().unwrap();
    let ana = Daemon::neighbour(&tmp.path().join("ana"), None);
    let ben = Daemon::neighbour(&tmp.path().join("ben"), Some(&ana));
    let drill = offer(&ana, "drill", &["share"]);
    holds(&ben, &[&drill]);
    let pair = [&ana, &ben];
    let events_of = |text: &str, action: &str| {
        sample(
            text,
            &format!("swapmesh_agreement_events_total{{action=\"{action}\"}}"),
        )
    };
    let refusals = |text: &str, side: &str, code: &str| {
        sample(
            text,
            &format!("swapmesh_agreement_refusals_total{{side=\"{side}\",code=\"{code}\"}}"),
        )
    };
    for d in pair {
        let text = metrics(d);
        assert_eq!(events_of(&text, "propose"), 0, "{text}");
        assert_eq!(sample(&text, "swapmesh_agreement_pending"), 0, "{text}");
        assert_eq!(sample(&text, "swapmesh_agreement_outbox"), 0, "{text}");
    }

    // Two proposals, one accepted and handed over and confirmed, one declined.
    let share = |month: u32| {
        json!({"listing": drill, "kind": "share",
            "start": format!("2030-{month:02}-01T00:00:00Z"),
            "due": format!("2030-{month:02}-03T00:00:00Z")})
    };
    let id = propose(&ben, pair, share(1));
    step(&ana, pair, &id, "accept", None, "accepted");
    step(&ana, pair, &id, "handover", None, "accepted");
    step(&ben, pair, &id, "confirm", None, "active");
    let other = propose(&ben, pair, share(2));
    step(&ana, pair, &other, "decline", None, "declined");
    // One refused: those days are booked.
    let reply = call(&ben, "POST", "/api/v1/agreements", Some(&share(1)));
    refused(&reply, 409, "overlaps");

    for (name, d) in [("Ana", &ana), ("Ben", &ben)] {
        let text = metrics(d);
        for (action, n) in [
            ("propose", 2),
            ("accept", 1),
            ("handover", 1),
            ("confirm", 1),
            ("decline", 1),
            ("return", 0),
        ] {
            assert_eq!(events_of(&text, action), n, "{name}: {action} in {text}");
        }
        assert_eq!(sample(&text, "swapmesh_agreement_pending"), 0, "{name}");
        assert_eq!(sample(&text, "swapmesh_agreement_outbox"), 0, "{name}");
    }
    let (at_ana, at_ben) = (metrics(&ana), metrics(&ben));
    assert_eq!(refusals(&at_ana, "given", "overlaps"), 1, "{at_ana}");
    assert_eq!(refusals(&at_ana, "received", "overlaps"), 0, "{at_ana}");
    assert_eq!(refusals(&at_ben, "received", "overlaps"), 1, "{at_ben}");
    assert_eq!(refusals(&at_ben, "given", "overlaps"), 0, "{at_ben}");

    // Ana's node away: Ben's return waits, pending and in the outbox.
    assert!(ana.terminate().success());
    let reply = post(&ben, &id, "return", None);
    assert_eq!(reply.status, 202, "{}", reply.body);
    let text = metrics(&ben);
    assert_eq!(sample(&text, "swapmesh_agreement_pending"), 1, "{text}");
    assert_eq!(sample(&text, "swapmesh_agreement_outbox"), 1, "{text}");
    assert_eq!(events_of(&text, "return"), 0, "not in the chain yet");
    let reply = post(
        &ben,
        &id,
        "note",
        Some(&json!({"text": "Left it at the gate."})),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let text = metrics(&ben);
    assert_eq!(sample(&text, "swapmesh_agreement_pending"), 1, "{text}");
    assert_eq!(sample(&text, "swapmesh_agreement_outbox"), 2, "{text}");
}

/// The README's walk-through to a completed rental, through the CLI alone.
#[path = "rental.rs"]
pub(crate) mod rental;
