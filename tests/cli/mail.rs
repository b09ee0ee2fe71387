//! Mail peers in the profile, as a person sets them through the API, the CLI
//! and the page: named once, kept by every later profile that does not name
//! them (issue 26).

use serde_json::json;

use crate::http::{author, call};
use crate::kit::{Daemon, ok};

#[test]
fn profile_set_keeps_mail_peers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    let d = Daemon::neighbour(&dir, None);
    let me = author(&d);
    let server = "0a".repeat(32);
    let profile = |d: &Daemon| call(d, "GET", &format!("/api/v1/profile/{me}"), None).json();

    let set = call(
        &d,
        "PUT",
        "/api/v1/profile",
        Some(&json!({"name": "Ana", "mail_peers": [server]})),
    );
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(set.json()["mail_peers"], json!([server]));

    // A profile without mail_peers, through the API and the CLI: kept.
    let again = call(
        &d,
        "PUT",
        "/api/v1/profile",
        Some(&json!({"name": "Ana B"})),
    );
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.json()["mail_peers"], json!([server]));
    ok(&dir, &["profile", "set", "--name", "Ana C"]);
    let shown = profile(&d);
    assert_eq!(shown["name"], "Ana C");
    assert_eq!(shown["mail_peers"], json!([server]));

    // Bad ones change nothing; an empty list clears them.
    let five = vec![server.clone(); 5];
    let bad = call(
        &d,
        "PUT",
        "/api/v1/profile",
        Some(&json!({"name": "Ana", "mail_peers": five})),
    );
    assert_eq!(bad.status, 422, "{}", bad.body);
    let bad = call(
        &d,
        "PUT",
        "/api/v1/profile",
        Some(&json!({"name": "Ana", "mail_peers": ["not-a-key"]})),
    );
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert_eq!(profile(&d)["mail_peers"], json!([server]));
    let cleared = call(
        &d,
        "PUT",
        "/api/v1/profile",
        Some(&json!({"name": "Ana", "mail_peers": []})),
    );
    assert_eq!(cleared.json()["mail_peers"], json!([]));
}
