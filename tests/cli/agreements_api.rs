//! Agreements between two real nodes over TCP on 127.0.0.1, through the API:
//! a proposal by a short id reaches the provider's node, its accept comes
//! back, the provider's node refuses a proposal for days already booked, and
//! what is wrong is named.

use serde_json::json;

use crate::http::{Reply, call};
use crate::kit::{Daemon, eventually};

fn agreement(d: &Daemon, id: &str) -> Reply {
    call(d, "GET", &format!("/api/v1/agreements/{id}"), None)
}

#[test]
fn a_proposal_by_short_id_is_accepted_across_nodes_and_booked_days_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let ana = Daemon::neighbour(&tmp.path().join("ana"), None);
    let ben = Daemon::neighbour(&tmp.path().join("ben"), Some(&ana));

    let listing = call(
        &ana,
        "POST",
        "/api/v1/listings",
        Some(
            &json!({"d": "drill", "kinds": ["share", "rent"], "title": "Drill",
            "price": {"amount": 500, "currency": "EUR", "per": "day"}}),
        ),
    );
    assert_eq!(listing.status, 201, "{}", listing.body);
    let listing_id = listing.json()["id"].as_str().unwrap().to_owned();
    eventually("Ben's node to hold Ana's drill", || {
        call(&ben, "GET", &format!("/api/v1/listings/{listing_id}"), None).status == 200
    });

    // What is wrong is named, and nothing is sent.
    let bad = call(
        &ben,
        "POST",
        "/api/v1/agreements",
        Some(&json!({"listing": &listing_id[..12], "kind": "rent",
            "start": "2030-01-01T00:00:00Z", "due": "2030-01-03T00:00:00Z"})),
    );
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert_eq!(bad.json()["code"], "missing_field");
    assert_eq!(bad.json()["field"], "price");
    let unknown = agreement(&ben, &"0".repeat(64));
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    assert_eq!(unknown.json()["code"], "unknown_agreement");

    // Ben proposes by a short id: Ana's node sequences the chain.
    let proposed = call(
        &ben,
        "POST",
        "/api/v1/agreements",
        Some(&json!({"listing": &listing_id[..12], "kind": "share",
            "start": "2030-01-01T00:00:00Z", "due": "2030-01-03T00:00:00Z",
            "pickup": "by the blue gate", "note": "For the weekend?"})),
    );
    assert!(
        proposed.status == 201 || proposed.status == 202,
        "{}",
        proposed.body
    );
    let body = proposed.json();
    assert_eq!(body["role"], "receiver");
    assert_eq!(body["terms"]["listing"], listing_id.as_str());
    assert_eq!(body["terms"]["pickup"], "by the blue gate");
    if proposed.status == 201 {
        assert_eq!(body["delivered"], true, "{body}");
        assert!(body["pending"].is_null(), "{body}");
    } else {
        assert_eq!(body["pending"]["event"]["action"], "propose", "{body}");
    }
    let id = body["id"].as_str().unwrap().to_owned();

    eventually("Ana's node to have the proposal", || {
        agreement(&ana, &id).status == 200
    });
    let at_ana = agreement(&ana, &id).json();
    assert_eq!(at_ana["role"], "provider");
    assert_eq!(at_ana["state"], "offered");
    assert_eq!(at_ana["events"][0]["note"], "For the weekend?");
    assert_eq!(at_ana["terms"], body["terms"]);

    // Only Ana can accept; she does, and Ben's node learns it.
    let early = call(
        &ben,
        "POST",
        &format!("/api/v1/agreements/{id}/accept"),
        None,
    );
    assert_eq!(early.status, 409, "{}", early.body);
    let accepted = call(
        &ana,
        "POST",
        &format!("/api/v1/agreements/{id}/accept"),
        Some(&json!({"note": "Sure."})),
    );
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    assert_eq!(accepted.json()["state"], "accepted");
    eventually("Ben's node to see it accepted", || {
        agreement(&ben, &id).json()["state"] == "accepted"
    });
    let at_ben = agreement(&ben, &id).json();
    assert_eq!(at_ben["events"][1]["action"], "accept");
    assert_eq!(at_ben["events"][1]["note"], "Sure.");
    assert_eq!(at_ben["head"], accepted.json()["head"]);

    // Those days are booked now: Ana's node refuses another proposal for them,
    // and Ben's answer says which period is taken.
    let again = call(
        &ben,
        "POST",
        "/api/v1/agreements",
        Some(&json!({"listing": &listing_id, "kind": "share",
            "start": "2030-01-02T00:00:00Z", "due": "2030-01-04T00:00:00Z",
            "note": "And the day after?"})),
    );
    assert_eq!(again.status, 409, "{}", again.body);
    let refusal = again.json();
    assert_eq!(refusal["code"], "overlaps", "{refusal}");
    assert_eq!(refusal["period"]["start"], "2030-01-01T00:00:00Z");
    assert_eq!(refusal["period"]["end"], "2030-01-03T00:00:00Z");
}
