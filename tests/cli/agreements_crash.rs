//! Agreements between real processes that die mid-exchange: the fault hooks
//! (`SWAPMESH_FAULT`, debug builds only) abort a node with SIGABRT — no flush on
//! the way out — when an agree response arrives before it is recorded
//! (`agree-after-send`) or after a receiver's commit and flush before it answers
//! (`agree-before-ack`). Whatever side dies at either point, the restarted pair
//! ends with equal chains, one booking and empty outboxes. A receipt signature
//! queued when the chain ended (`receipt-before-send`) waits for a stopped
//! sequencer.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;

use serde_json::{Value, json};
use swapmesh_protocol::{AgreementId, ListingId};
use swapmesh_store::{Store, StoreOptions};

use crate::http::call;
use crate::kit::{Daemon, eventually};

const SIGABRT: i32 = 6;

fn start(dir: &Path, peer: Option<&str>, fault: Option<&str>) -> Daemon {
    let mut args = vec!["--listen", "/ip4/127.0.0.1/tcp/0", "--area", "u4pru"];
    if let Some(peer) = peer {
        args.extend(["--bootstrap", peer]);
    }
    let env: Vec<(&str, &str)> = fault.map(|f| ("SWAPMESH_FAULT", f)).into_iter().collect();
    Daemon::start_env(dir, &args, &env)
}

fn agreement(d: &Daemon, id: &str) -> Value {
    call(d, "GET", &format!("/api/v1/agreements/{id}"), None).json()
}

/// Posts from another thread: the node may die answering.
fn post_and_forget(d: &Daemon, path: &str, body: Value) {
    let (api, dir) = (d.api.clone(), d.dir.clone());
    let token = d.token();
    let path = path.to_owned();
    std::thread::spawn(move || {
        let _ = ureq_post(&api, &token, &path, &body);
        let _ = dir;
    });
}

fn ureq_post(api: &str, token: &str, path: &str, body: &Value) -> Result<(), String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(api).map_err(|e| e.to_string())?;
    let text = body.to_string();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {api}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut out = String::new();
    let _ = stream.read_to_string(&mut out);
    Ok(())
}

fn drill(ana: &Daemon, ben: &Daemon) -> String {
    let listing = call(
        ana,
        "POST",
        "/api/v1/listings",
        Some(&json!({"d": "drill", "kinds": ["rent"], "title": "Drill",
            "price": {"amount": 500, "currency": "EUR", "per": "day"}})),
    );
    assert_eq!(listing.status, 201, "{}", listing.body);
    let id = listing.json()["id"].as_str().unwrap().to_owned();
    eventually("Ben's node to hold the drill", || {
        call(ben, "GET", &format!("/api/v1/listings/{id}"), None).status == 200
    });
    id
}

fn rent_body(listing: &str) -> Value {
    json!({"listing": listing, "kind": "rent",
        "start": "2030-01-01T00:00:00Z", "due": "2030-01-03T00:00:00Z",
        "price": {"amount": 500, "currency": "EUR", "per": "day"}})
}

/// After both nodes stopped: the stored chains, the outboxes and the booking.
fn check_stores(ana_dir: &Path, ben_dir: &Path, id: &str, listing: &str, accepted: bool) {
    let id: AgreementId = id.parse().unwrap();
    let open = |dir: &Path| Store::open(dir.join("db"), StoreOptions::default()).unwrap();
    let (ana, ben) = (open(ana_dir), open(ben_dir));
    let chain = |s: &Store| -> Vec<Vec<u8>> {
        s.agreement_events(&id)
            .unwrap()
            .iter()
            .map(|e| e.encode())
            .collect()
    };
    assert!(!chain(&ana).is_empty());
    assert_eq!(chain(&ana), chain(&ben), "equal chains");
    for s in [&ana, &ben] {
        for peer in s.outbox_peers().unwrap() {
            assert!(s.outbox(&peer).unwrap().is_empty(), "an empty outbox");
        }
        assert!(s.agreement(&id).unwrap().unwrap().pending.is_none());
    }
    let listing: ListingId = listing.parse().unwrap();
    let bookings = ana.calendar(&listing).unwrap().entries().len();
    assert_eq!(bookings, usize::from(accepted), "one booking");
    assert_eq!(ana.agreements().unwrap().len(), 1, "applied once");
}

/// Ben proposes, Ana accepts; `fault` kills `victim` at its point of the
/// exchange that carries one of the two; both restart and settle.
fn one_fault(fault: &str, victim: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let (ana_dir, ben_dir) = (tmp.path().join("ana"), tmp.path().join("ben"));
    let ana = start(&ana_dir, None, None);
    let ben = start(&ben_dir, Some(&ana.bootstrap_address()), None);
    let listing = drill(&ana, &ben);
    let ana_address = ana.bootstrap_address();

    // The exchange that dies: the proposal (Ben sends, Ana receives) when the
    // fault is Ben's sending or Ana's receiving; else the accept.
    let on_proposal = matches!(
        (fault, victim),
        ("agree-after-send", "ben") | ("agree-before-ack", "ana")
    );
    let (mut ana, mut ben) = (Some(ana), Some(ben));
    let restart =
        |slot: &mut Option<Daemon>, dir: &Path, peer: Option<&str>, fault: Option<&str>| {
            if let Some(d) = slot.take() {
                d.terminate();
            }
            *slot = Some(start(dir, peer, fault));
        };
    let ben_peer = |ben: &Option<Daemon>| ben.as_ref().unwrap().bootstrap_address();
    let id;
    if on_proposal {
        if victim == "ben" {
            restart(&mut ben, &ben_dir, Some(&ana_address), Some(fault));
        } else {
            let peer = ben_peer(&ben);
            restart(&mut ana, &ana_dir, Some(&peer), Some(fault));
            let a = ana.as_ref().unwrap();
            eventually("ben to hold the drill again", || {
                call(
                    ben.as_ref().unwrap(),
                    "GET",
                    &format!("/api/v1/listings/{listing}"),
                    None,
                )
                .status
                    == 200
                    && call(a, "GET", "/api/v1/peers", None).status == 200
            });
        }
        post_and_forget(
            ben.as_ref().unwrap(),
            "/api/v1/agreements",
            rent_body(&listing),
        );
        let dead = if victim == "ben" {
            ben.take()
        } else {
            ana.take()
        }
        .unwrap();
        let status = dead.wait_death();
        assert_eq!(
            status.signal(),
            Some(SIGABRT),
            "{victim} died of SIGABRT: {status:?}"
        );
        // Both up again, no faults.
        if victim == "ben" {
            ben = Some(start(&ben_dir, Some(&ana_address), None));
        } else {
            let peer = ben_peer(&ben);
            ana = Some(start(&ana_dir, Some(&peer), None));
        }
        let (a, b) = (ana.as_ref().unwrap(), ben.as_ref().unwrap());
        eventually("the proposal on both nodes, nothing pending", || {
            let list = call(b, "GET", "/api/v1/agreements", None).json();
            list["agreements"].as_array().is_some_and(|l| {
                l.len() == 1 && l[0]["waiting"] == false && l[0]["state"] == "offered"
            }) && call(a, "GET", "/api/v1/agreements", None).json()["agreements"]
                .as_array()
                .is_some_and(|l| l.len() == 1)
        });
        id = call(b, "GET", "/api/v1/agreements", None).json()["agreements"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
    } else {
        let proposed = call(
            ben.as_ref().unwrap(),
            "POST",
            "/api/v1/agreements",
            Some(&rent_body(&listing)),
        );
        assert!(
            proposed.status == 201 || proposed.status == 202,
            "{}",
            proposed.body
        );
        id = proposed.json()["id"].as_str().unwrap().to_owned();
        eventually("the proposal at ana", || {
            agreement(ana.as_ref().unwrap(), &id)["state"] == "offered"
        });
        if victim == "ana" {
            let peer = ben_peer(&ben);
            restart(&mut ana, &ana_dir, Some(&peer), Some(fault));
        } else {
            restart(&mut ben, &ben_dir, Some(&ana_address), Some(fault));
        }
        eventually("the two connected", || {
            call(ana.as_ref().unwrap(), "GET", "/api/v1/peers", None)
                .json()
                .to_string()
                .contains(&ben.as_ref().unwrap().peer)
        });
        post_and_forget(
            ana.as_ref().unwrap(),
            &format!("/api/v1/agreements/{id}/accept"),
            json!({}),
        );
        let dead = if victim == "ben" {
            ben.take()
        } else {
            ana.take()
        }
        .unwrap();
        let status = dead.wait_death();
        assert_eq!(
            status.signal(),
            Some(SIGABRT),
            "{victim} died of SIGABRT: {status:?}"
        );
        if victim == "ben" {
            ben = Some(start(&ben_dir, Some(&ana_address), None));
        } else {
            let peer = ben_peer(&ben);
            ana = Some(start(&ana_dir, Some(&peer), None));
        }
    }
    let (a, b) = (ana.as_ref().unwrap(), ben.as_ref().unwrap());
    if !on_proposal {
        eventually("the accept on both nodes", || {
            agreement(a, &id)["state"] == "accepted" && agreement(b, &id)["state"] == "accepted"
        });
    }
    eventually("both outboxes delivered", || {
        let (at_a, at_b) = (agreement(a, &id), agreement(b, &id));
        at_a["head"] == at_b["head"]
            && at_b["pending"].is_null()
            && at_a["sending"] == 0
            && at_b["sending"] == 0
    });
    ana.take().unwrap().terminate();
    ben.take().unwrap().terminate();
    check_stores(&ana_dir, &ben_dir, &id, &listing, !on_proposal);
}

#[test]
fn killed_between_send_and_ack_loses_nothing_and_applies_nothing_twice() {
    for (fault, victim) in [
        ("agree-after-send", "ben"),
        ("agree-before-ack", "ana"),
        ("agree-after-send", "ana"),
        ("agree-before-ack", "ben"),
    ] {
        one_fault(fault, victim);
    }
}

#[test]
fn pending_event_answers_202_and_lands_when_the_sequencer_returns() {
    let tmp = tempfile::tempdir().unwrap();
    let (ana_dir, ben_dir) = (tmp.path().join("ana"), tmp.path().join("ben"));
    let ana = start(&ana_dir, None, None);
    let ben = start(&ben_dir, Some(&ana.bootstrap_address()), None);
    let listing = drill(&ana, &ben);
    let ben_address = ben.bootstrap_address();
    ana.terminate();

    let proposed = call(
        &ben,
        "POST",
        "/api/v1/agreements",
        Some(&rent_body(&listing)),
    );
    assert_eq!(proposed.status, 202, "{}", proposed.body);
    let body = proposed.json();
    assert_eq!(body["pending"]["event"]["action"], "propose", "{body}");
    let id = body["id"].as_str().unwrap().to_owned();

    let ana = start(&ana_dir, Some(&ben_address), None);
    eventually("the proposal to land at ana", || {
        call(&ana, "GET", &format!("/api/v1/agreements/{id}"), None).status == 200
    });
    eventually("ben to see it in the chain", || {
        let at_ben = agreement(&ben, &id);
        at_ben["pending"].is_null() && at_ben["state"] == "offered"
    });
    assert_eq!(agreement(&ana, &id)["head"], agreement(&ben, &id)["head"]);
}

/// Ben's receipt signature is queued (and flushed) in the commit that ended the
/// chain: Ben dies before sending it, Ana (the sequencer) stops, Ben comes back
/// alone and keeps it; when Ana returns it is sent, and Ana publishes one receipt
/// both nodes hold.
#[test]
fn receipt_sig_waits_in_the_outbox_for_a_stopped_sequencer() {
    let tmp = tempfile::tempdir().unwrap();
    let (ana_dir, ben_dir) = (tmp.path().join("ana"), tmp.path().join("ben"));
    let ana = start(&ana_dir, None, None);
    let ben = start(
        &ben_dir,
        Some(&ana.bootstrap_address()),
        Some("receipt-before-send"),
    );
    let listing = drill(&ana, &ben);
    let proposed = call(
        &ben,
        "POST",
        "/api/v1/agreements",
        Some(&rent_body(&listing)),
    );
    assert!(matches!(proposed.status, 201 | 202), "{}", proposed.body);
    let id = proposed.json()["id"].as_str().unwrap().to_owned();
    eventually("the proposal at Ana's node", || {
        agreement(&ana, &id)["state"] == "offered"
    });
    let accepted = call(
        &ana,
        "POST",
        &format!("/api/v1/agreements/{id}/accept"),
        None,
    );
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    eventually("the accept at Ben's node", || {
        agreement(&ben, &id)["state"] == "accepted"
    });

    // Ben cancels before any handover: the cancel ends the chain, and Ben dies
    // right before sending its receipt signature.
    post_and_forget(&ben, &format!("/api/v1/agreements/{id}/cancel"), json!({}));
    let status = ben.wait_death();
    assert_eq!(status.signal(), Some(SIGABRT), "died at the fault");
    eventually("the cancel at Ana's node", || {
        agreement(&ana, &id)["state"] == "cancelled"
    });
    assert!(
        agreement(&ana, &id)["receipt"].is_null(),
        "nothing signed yet"
    );
    let ana_address = ana.bootstrap_address();
    ana.terminate();

    // Ben alone: the chain ended, the signature waits in its outbox.
    let ben = start(&ben_dir, Some(&ana_address), None);
    let at_ben = agreement(&ben, &id);
    assert_eq!(at_ben["state"], "cancelled");
    assert_eq!(
        at_ben["sending"], 1,
        "the receipt signature waits: {at_ben}"
    );
    // Ana names no mail peer: Ben's node keeps trying her directly.
    assert_eq!(at_ben["delivery"]["state"], "trying", "{at_ben}");
    assert!(at_ben["delivery"]["host"].is_null());
    assert!(at_ben["receipt"].is_null());

    // Ana returns: the signature goes, and one receipt is on both nodes.
    let ana = start(&ana_dir, Some(&ben.bootstrap_address()), None);
    for node in [&ana, &ben] {
        eventually("the receipt", || !agreement(node, &id)["receipt"].is_null());
        let receipt = &agreement(node, &id)["receipt"];
        assert_eq!(receipt["outcome"], "cancelled");
        assert_eq!(receipt["agreement"], id.as_str());
    }
    eventually("Ben's outbox empty", || {
        agreement(&ben, &id)["sending"] == 0
    });
    assert_eq!(agreement(&ben, &id)["delivery"]["state"], "answered");
    let node = call(&ana, "GET", "/api/v1/node", None).json();
    let author = node["author"].as_str().unwrap().to_owned();
    let summary = call(
        &ana,
        "GET",
        &format!("/api/v1/reviews/summary?subject={author}"),
        None,
    );
    assert_eq!(
        summary.json()["receipts"]["cancelled"],
        1,
        "{}",
        summary.body
    );
}
