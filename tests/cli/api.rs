//! The API refuses what it must, with the right status and a message, and stores
//! nothing when it refuses.

use std::io::Write;
use std::net::TcpStream;

use serde_json::{Value, json};

use crate::http::{request, request_text};
use crate::kit::Daemon;

/// The node for these tests listens on the memory transport only: the API is what
/// is under test, not the network.
fn daemon() -> (tempfile::TempDir, Daemon) {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), &["--listen", "/memory/0", "--area", "u4pru"]);
    (dir, d)
}

fn listing_count(d: &Daemon) -> usize {
    let (status, body) = request(d, "GET", "/api/v1/listings", None, Some(&d.token()), None);
    assert_eq!(status, 200);
    body["listings"].as_array().unwrap().len()
}

fn error_of(body: &Value) -> &str {
    body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no JSON error in {body}"))
}

#[test]
fn api_refuses_bad_requests_with_the_right_status_and_stores_nothing() {
    let (_dir, d) = daemon();
    let token = d.token();
    let good = json!({"kinds": ["give"], "title": "Sofa"}).to_string();

    // No token, wrong token.
    let (status, body) = request(
        &d,
        "POST",
        "/api/v1/listings",
        None,
        None,
        Some(good.as_bytes()),
    );
    assert_eq!(status, 401);
    assert!(error_of(&body).contains("Bearer"));
    let (status, body) = request(
        &d,
        "POST",
        "/api/v1/listings",
        None,
        Some("0000"),
        Some(good.as_bytes()),
    );
    assert_eq!(status, 401);
    assert!(error_of(&body).contains("wrong"));

    // Another Host: a page from another origin reaching us by DNS rebinding.
    let (status, body) = request(
        &d,
        "POST",
        "/api/v1/listings",
        Some("evil.example:7878"),
        Some(&token),
        Some(good.as_bytes()),
    );
    assert_eq!(status, 403);
    assert!(error_of(&body).contains("evil.example"));

    // A body over the cap.
    let huge = json!({"kinds": ["give"], "title": "Sofa", "description": "x".repeat(100 * 1024)})
        .to_string();
    let (status, body) = request(
        &d,
        "POST",
        "/api/v1/listings",
        None,
        Some(&token),
        Some(huge.as_bytes()),
    );
    assert_eq!(status, 413);
    assert!(error_of(&body).contains("limit"));

    // Malformed JSON.
    let (status, body) = request(
        &d,
        "POST",
        "/api/v1/listings",
        None,
        Some(&token),
        Some(b"{\"kinds\": [\"give\"],"),
    );
    assert_eq!(status, 400);
    assert!(!error_of(&body).is_empty());

    // An unknown field is named.
    let unknown = json!({"kinds": ["give"], "title": "Sofa", "colour": "red"}).to_string();
    let (status, body) = request(
        &d,
        "POST",
        "/api/v1/listings",
        None,
        Some(&token),
        Some(unknown.as_bytes()),
    );
    assert_eq!(status, 422);
    assert!(error_of(&body).contains("colour"), "{body}");

    // A listing that breaks a protocol rule: the rule is named.
    let long = json!({"kinds": ["give"], "title": "t".repeat(141)}).to_string();
    let (status, body) = request(
        &d,
        "POST",
        "/api/v1/listings",
        None,
        Some(&token),
        Some(long.as_bytes()),
    );
    assert_eq!(status, 422);
    assert!(error_of(&body).contains("bad_title"), "{body}");
    let no_price = json!({"kinds": ["rent"], "title": "Drill"}).to_string();
    let (status, body) = request(
        &d,
        "POST",
        "/api/v1/listings",
        None,
        Some(&token),
        Some(no_price.as_bytes()),
    );
    assert_eq!(status, 422);
    assert!(error_of(&body).contains("missing_price"), "{body}");

    // Someone else's listing cannot be changed or withdrawn.
    let other = format!("{}.sofa", "ab".repeat(32));
    let patch = json!({"title": "Mine now"}).to_string();
    let (status, body) = request(
        &d,
        "PATCH",
        &format!("/api/v1/listings/{other}"),
        None,
        Some(&token),
        Some(patch.as_bytes()),
    );
    assert_eq!(status, 403);
    assert!(error_of(&body).contains("another author"));
    let (status, _) = request(
        &d,
        "DELETE",
        &format!("/api/v1/listings/{other}"),
        None,
        Some(&token),
        None,
    );
    assert_eq!(status, 403);

    // A bad query parameter.
    let (status, body) = request(
        &d,
        "GET",
        "/api/v1/listings?area=nowhere",
        None,
        Some(&token),
        None,
    );
    assert_eq!(status, 400);
    assert!(error_of(&body).contains("area"));

    assert_eq!(listing_count(&d), 0, "a refused request stored something");

    // And the good request works.
    let (status, body) = request(
        &d,
        "POST",
        "/api/v1/listings",
        None,
        Some(&token),
        Some(good.as_bytes()),
    );
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["version"], 1);
    assert_eq!(listing_count(&d), 1);
}

#[test]
fn listing_life_cycle_through_the_api() {
    let (_dir, d) = daemon();
    let token = d.token();
    let create = json!({
        "d": "drill", "kinds": ["share", "rent"], "title": "Cordless drill",
        "price": {"amount": 500, "currency": "EUR", "per": "day"},
        "deposit": {"amount": 5000, "currency": "EUR"}, "tags": ["tools"],
        "availability": [{"start": "2030-01-01T00:00:00Z", "end": "2030-02-01T00:00:00Z"}]
    })
    .to_string();
    let (status, created) = request(
        &d,
        "POST",
        "/api/v1/listings",
        None,
        Some(&token),
        Some(create.as_bytes()),
    );
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.ends_with(".drill"));
    assert_eq!(
        created["kinds"],
        json!(["rent", "share"]),
        "kinds are a sorted set"
    );
    assert_eq!(created["availability"][0]["start"], "2030-01-01T00:00:00Z");

    let again = request(
        &d,
        "POST",
        "/api/v1/listings",
        None,
        Some(&token),
        Some(create.as_bytes()),
    );
    assert_eq!(again.0, 409, "a live name cannot be published twice");

    let patch = json!({"title": "Cordless drill, 18 V", "status": "paused"}).to_string();
    let (status, updated) = request(
        &d,
        "PATCH",
        &format!("/api/v1/listings/{id}"),
        None,
        Some(&token),
        Some(patch.as_bytes()),
    );
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["version"], 2);
    assert_eq!(updated["status"], "paused");
    assert_ne!(updated["version_id"], created["version_id"]);

    let (status, found) = request(
        &d,
        "GET",
        "/api/v1/listings?q=drill&kind=rent",
        None,
        Some(&token),
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(found["listings"][0]["id"], id);

    let (status, gone) = request(
        &d,
        "DELETE",
        &format!("/api/v1/listings/{id}"),
        None,
        Some(&token),
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(gone["status"], "withdrawn");
    assert_eq!(listing_count(&d), 0, "withdrawn listings are not listed");
    let (status, _) = request(
        &d,
        "PATCH",
        &format!("/api/v1/listings/{id}"),
        None,
        Some(&token),
        Some(patch.as_bytes()),
    );
    assert_eq!(status, 409, "a withdrawn listing cannot be changed");

    let (status, doc) = request(&d, "GET", "/api/v1/openapi.json", None, Some(&token), None);
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
}

#[test]
fn metrics_are_served_to_token_holders_in_openmetrics_text() {
    let (_dir, d) = daemon();
    let (status, _) = request_text(&d, "GET", "/metrics", None, None, None);
    assert_eq!(status, 401);
    let (status, text) = request_text(&d, "GET", "/metrics", None, Some(&d.token()), None);
    assert_eq!(status, 200);
    assert!(text.contains("swapmesh_peers"), "{text}");
    assert!(text.contains("swapmesh_sync_sessions_total"), "{text}");
    assert!(text.contains("libp2p"), "libp2p metrics are there too");
    assert!(
        text.trim_end().ends_with("# EOF"),
        "OpenMetrics ends with # EOF"
    );
    assert_eq!(text.matches("# EOF").count(), 1);
}

#[test]
fn events_stream_tells_a_subscriber_about_a_new_listing() {
    use std::io::BufRead;
    let (_dir, d) = daemon();
    let token = d.token();
    let mut stream = TcpStream::connect(&d.api).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let head = format!(
        "GET /api/v1/events HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\r\n",
        d.api
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut reader = std::io::BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    assert!(status.contains("200"), "{status}");
    let body = json!({"kinds": ["give"], "title": "Armchair"}).to_string();
    let (code, created) = request(
        &d,
        "POST",
        "/api/v1/listings",
        None,
        Some(&token),
        Some(body.as_bytes()),
    );
    assert_eq!(code, 201);
    let version_id = created["version_id"].as_str().unwrap().to_owned();
    let mut line = String::new();
    // Keep-alive comments arrive every 15 s: bound the wait by a deadline too.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "no record_added event"
        );
        line.clear();
        let n = reader.read_line(&mut line).expect("an event within 20 s");
        assert!(n > 0, "stream ended");
        if let Some(data) = line.trim().strip_prefix("data:") {
            let event: Value = serde_json::from_str(data.trim()).unwrap();
            if event["type"] == "record_added" {
                assert_eq!(event["id"], version_id);
                assert_eq!(
                    event["address"]["d"],
                    created["id"].as_str().unwrap().split('.').nth(1).unwrap()
                );
                break;
            }
        }
    }
}
