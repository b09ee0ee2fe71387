//! Vouches and trust as a person meets them, through the API and the CLI of a
//! real node: vouch, see it count, revoke it, and browse only people near you.

use serde_json::json;
use swapmesh_protocol::signed::author_of;
use swapmesh_protocol::social::{Confidence, Vouch, VouchClaim};
use swapmesh_protocol::time::DAY;
use swapmesh_protocol::validate::Checked;
use swapmesh_protocol::{Content, Geohash, RecordBody, SignedRecord, Timestamp, check, fixtures};

use crate::http::{author, call};
use crate::kit::{Daemon, ok, seed_listings};

/// Writes a vouch of fixture key `by` for fixture key `subject` into the
/// store of `dir`, before the daemon first opens it.
fn seed_vouch(dir: &std::path::Path, by: u64, subject: u64) {
    let now = Timestamp::now();
    let key = fixtures::key(by);
    let body = RecordBody {
        author: author_of(&key),
        seq: 1,
        created_at: now,
        expires_at: now.plus(300 * DAY),
        area: Some(Geohash::parse_area("u4pru").unwrap()),
        meshes: Vec::new(),
        content: Content::Vouch(Vouch {
            subject: author_of(&fixtures::key(subject)),
            claim: VouchClaim::KnownInPerson,
            confidence: Confidence::High,
            note: String::new(),
        }),
    };
    let Ok(Checked::Valid(vouch)) = check(SignedRecord::sign(&body, &key), now) else {
        panic!("the seeded vouch does not check");
    };
    let store = swapmesh_store::Store::open(
        swapmesh_node::DataDir::new(dir).database(),
        swapmesh_store::StoreOptions::default(),
    )
    .unwrap();
    store.insert_batch(&[vouch], now).unwrap();
    store.flush_blocking().unwrap();
}

fn key_hex(n: u64) -> String {
    author_of(&fixtures::key(n)).to_string()
}

#[test]
fn vouch_and_revoke_round_trip_through_the_api_and_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    seed_listings(&dir, 1, 1, "lamp", "u4pru");
    let d = Daemon::neighbour(&dir, None);
    let friend = key_hex(0);

    // The CLI vouches (a start of the key names the person).
    let said = ok(
        &dir,
        &[
            "vouch",
            "add",
            &friend[..12],
            "--confidence",
            "high",
            "--note",
            "next door",
        ],
    );
    assert!(said.contains(&format!("vouched for {friend}")), "{said}");
    let listed = ok(&dir, &["vouch", "list"]);
    assert!(
        listed.contains("known in person, high") && listed.contains(&friend[..8]),
        "{listed}"
    );

    // The API shows it, and it counts.
    let me = author(&d);
    let vouches = call(&d, "GET", &format!("/api/v1/vouches?author={me}"), None).json();
    assert_eq!(
        vouches["vouches"][0]["subject"],
        friend.as_str(),
        "{vouches}"
    );
    let trust = call(&d, "GET", &format!("/api/v1/trust/{friend}"), None).json();
    assert_eq!(trust["trust"]["distance"], 1, "{trust}");
    assert!(trust["trust"]["score"].as_u64().unwrap() > 0, "{trust}");
    assert_eq!(trust["paths"][0][0]["author"], friend.as_str(), "{trust}");
    let shown = ok(&dir, &["trust", &friend[..12]]);
    assert!(shown.contains("you vouch for them"), "{shown}");
    let listing = call(&d, "GET", "/api/v1/listings", None).json();
    assert_eq!(listing["listings"][0]["trust"]["distance"], 1, "{listing}");

    // Revoked through the API: out of the graph and the list.
    let revoked = call(&d, "DELETE", &format!("/api/v1/vouches/{friend}"), None);
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert_eq!(revoked.json()["confidence"], "revoked");
    let trust = call(&d, "GET", &format!("/api/v1/trust/{friend}"), None).json();
    assert_eq!(
        trust["trust"]["distance"],
        serde_json::Value::Null,
        "{trust}"
    );
    assert_eq!(trust["trust"]["score"], 0, "{trust}");
    assert!(ok(&dir, &["vouch", "list"]).contains("no vouches"));
    let shown = ok(&dir, &["trust", &friend[..12]]);
    assert!(
        shown.contains("nobody you know vouches for them"),
        "{shown}"
    );
    assert!(shown.contains("none within 6 vouch hops"), "{shown}");

    // Wrong calls change nothing.
    let again = call(&d, "DELETE", &format!("/api/v1/vouches/{friend}"), None);
    assert_eq!(again.status, 404, "{}", again.body);
    assert_eq!(again.json()["code"], "vouch_not_found");
    let body = json!({"subject": me, "claim": "neighbour", "confidence": "high"});
    let myself = call(&d, "POST", "/api/v1/vouches", Some(&body));
    assert_eq!(myself.status, 422, "{}", myself.body);
    let vouches = call(&d, "GET", &format!("/api/v1/vouches?author={me}"), None).json();
    assert_eq!(vouches["vouches"], json!([]));
}

#[test]
fn max_distance_filters_browse() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    // Three people with a listing each; the first vouches for the second.
    seed_listings(&dir, 3, 3, "tool", "u4pru");
    seed_vouch(&dir, 0, 1);
    let d = Daemon::neighbour(&dir, None);
    ok(
        &dir,
        &["vouch", "add", &key_hex(0), "--confidence", "medium"],
    );

    let authors = |query: &str| -> Vec<String> {
        let page = call(&d, "GET", &format!("/api/v1/listings{query}"), None);
        assert_eq!(page.status, 200, "{}", page.body);
        let mut found: Vec<String> = page.json()["listings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["author"].as_str().unwrap().to_owned())
            .collect();
        found.sort();
        found
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(
        authors(""),
        sorted(vec![key_hex(0), key_hex(1), key_hex(2)])
    );
    assert_eq!(authors("?max_distance=1"), vec![key_hex(0)]);
    assert_eq!(
        authors("?max_distance=2"),
        sorted(vec![key_hex(0), key_hex(1)])
    );
    assert_eq!(
        call(&d, "GET", "/api/v1/listings?max_distance=4", None).status,
        400
    );

    let text = ok(&dir, &["browse", "--max-distance", "1"]);
    assert!(text.contains(&key_hex(0)), "{text}");
    assert!(
        !text.contains(&key_hex(1)) && !text.contains(&key_hex(2)),
        "{text}"
    );
}
