//! Mail peers in the profile, as a person sets them through the API, the CLI
//! and the page: named once, kept by every later profile that does not name
//! them (issue 26).

use serde_json::json;

use crate::http::{author, call};
use crate::kit::{Daemon, fails, ok};

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

/// A node's two names for one fixture key: its author key (64 hex) and its
/// peer id, each derived on its own path from the secret key.
fn names(seed: u64) -> (String, String) {
    let key = swapmesh_protocol::fixtures::key(seed);
    let author = swapmesh_protocol::signed::author_of(&key).to_string();
    let peer = swapmesh_net::identity::Keypair::ed25519_from_bytes(key.to_bytes())
        .expect("an ed25519 secret key")
        .public()
        .to_peer_id()
        .to_string();
    (author, peer)
}

#[test]
fn profile_mail_peer_add_remove_list() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    let d = Daemon::neighbour(&dir, None);
    let me = author(&d);
    let profile = || {
        let reply = call(&d, "GET", &format!("/api/v1/profile/{me}"), None);
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()
    };
    let listed = || -> Vec<String> {
        ok(&dir, &["profile", "mail-peer", "list"])
            .lines()
            .map(str::to_owned)
            .collect()
    };
    let (a, _) = names(1);
    let (b, b_peer) = names(2);
    let (c, _) = names(3);
    let (e, e_peer) = names(4);
    assert!(b_peer.starts_with("12D3KooW"), "{b_peer}");

    // No profile yet: none to list, and adding one says to publish it first.
    assert_eq!(listed(), ["no mail peers (you have no profile yet)"]);
    let err = fails(&dir, &["profile", "mail-peer", "add", &a]);
    assert!(err.contains("swapmesh profile set --name"), "{err}");
    let none = call(&d, "GET", &format!("/api/v1/profile/{me}"), None);
    assert_eq!(none.status, 404, "{}", none.body);

    ok(
        &dir,
        &[
            "profile",
            "set",
            "--name",
            "Ana",
            "--bio",
            "Tools and bikes",
            "--contact",
            "signal: ana.01",
        ],
    );
    assert_eq!(listed(), ["no mail peers"]);

    // By author key, by peer id (the same key), and this node's own peer id.
    ok(&dir, &["profile", "mail-peer", "add", &a]);
    ok(&dir, &["profile", "mail-peer", "add", &b_peer]);
    ok(&dir, &["profile", "mail-peer", "add", &d.peer]);
    assert_eq!(listed(), [a.clone(), b.clone(), me.clone()]);
    let shown = profile();
    assert_eq!(shown["mail_peers"], json!([a, b, me]));
    assert_eq!(shown["name"], "Ana");
    assert_eq!(shown["bio"], "Tools and bikes");
    assert_eq!(shown["contact"], json!(["signal: ana.01"]));

    // Adding one already named, in either form or case, publishes nothing.
    ok(
        &dir,
        &["profile", "mail-peer", "add", &a.to_ascii_uppercase()],
    );
    ok(&dir, &["profile", "mail-peer", "add", &b]);
    assert_eq!(profile(), shown);

    // Removing one, by its peer id here, keeps the others and the rest.
    let out = ok(&dir, &["profile", "mail-peer", "remove", &b_peer]);
    assert!(out.contains(&b), "{out}");
    let shown = profile();
    assert_eq!(shown["mail_peers"], json!([a, me]));
    assert_eq!(shown["name"], "Ana");
    assert_eq!(shown["bio"], "Tools and bikes");
    assert_eq!(shown["contact"], json!(["signal: ana.01"]));
    assert_eq!(listed(), [a.clone(), me.clone()]);

    // Up to 4; `--json` prints the profile as the API shows it.
    ok(&dir, &["profile", "mail-peer", "add", &c]);
    let out = ok(&dir, &["profile", "mail-peer", "add", &e_peer, "--json"]);
    let out: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(out["mail_peers"], json!([a, me, c, e]));
    let full = profile();
    assert_eq!(full, out);

    // Refusals change nothing: a fifth, one not named, a malformed key.
    let (fifth, _) = names(5);
    let err = fails(&dir, &["profile", "mail-peer", "add", &fifth]);
    assert!(err.contains("at most 4"), "{err}");
    let err = fails(&dir, &["profile", "mail-peer", "remove", &b]);
    assert!(err.contains("not one of your mail peers"), "{err}");
    for bad in ["not-a-key", &a[..63], "12D3KooWnotapeerid"] {
        let err = fails(&dir, &["profile", "mail-peer", "add", bad]);
        assert!(err.contains("neither an author key"), "{bad}: {err}");
        let err = fails(&dir, &["profile", "mail-peer", "remove", bad]);
        assert!(err.contains("neither an author key"), "{bad}: {err}");
    }
    assert_eq!(profile(), full);
    assert_eq!(listed(), [a.clone(), me.clone(), c.clone(), e.clone()]);

    // `profile set` keeps them; removing every one leaves none.
    ok(&dir, &["profile", "set", "--name", "Ana B"]);
    assert_eq!(profile()["mail_peers"], json!([a, me, c, e]));
    for k in [&a, &me, &c, &e] {
        ok(&dir, &["profile", "mail-peer", "remove", k]);
    }
    assert_eq!(profile()["mail_peers"], json!([]));
    assert_eq!(listed(), ["no mail peers"]);
}

#[test]
fn mailbox_allow_deny_list_status() {
    let tmp = tempfile::tempdir().unwrap();
    let (server_dir, home_dir) = (tmp.path().join("server"), tmp.path().join("home"));
    let server = Daemon::start(
        &server_dir,
        &[
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
            "--area",
            "u4pru",
            "--role",
            "server",
        ],
    );
    let home = Daemon::neighbour(&home_dir, Some(&server));
    let (server_key, home_key) = (author(&server), author(&home));

    // The neighbour names the server; its operator admits them by peer id.
    ok(&home_dir, &["profile", "set", "--name", "Ana"]);
    ok(&home_dir, &["profile", "mail-peer", "add", &server.peer]);
    assert_eq!(
        ok(&home_dir, &["profile", "mail-peer", "list"]).trim(),
        server_key
    );
    let allowed = ok(&server_dir, &["mailbox", "allow", &home.peer]);
    assert!(allowed.contains(&home_key[..8]), "{allowed}");
    let listed = ok(&server_dir, &["mailbox", "list"]);
    assert!(listed.contains(&home_key), "{listed}");
    let status = ok(&server_dir, &["mailbox", "status"]);
    assert!(status.contains("allowed"), "{status}");
    let mailbox = call(&server, "GET", "/api/v1/mailbox", None).json();
    assert_eq!(mailbox["enabled"], true);
    assert_eq!(mailbox["admitted"][0]["author"], home_key.as_str());
    assert_eq!(mailbox["recipients"], json!([]));
    assert_eq!(mailbox["quotas"]["recipient_envelopes"], 256);
    assert_eq!(mailbox["quotas"]["sender_bytes"], 1024 * 1024);
    let status: serde_json::Value =
        serde_json::from_str(&ok(&server_dir, &["mailbox", "status", "--json"])).unwrap();
    assert_eq!(status, mailbox);

    // Denied: no longer listed (twice: not admitted); a bad key changes nothing.
    ok(&server_dir, &["mailbox", "deny", &home_key]);
    let again = fails(&server_dir, &["mailbox", "deny", &home_key]);
    assert!(again.contains("does not admit"), "{again}");
    assert!(ok(&server_dir, &["mailbox", "list"]).contains("nobody"));
    let bad = fails(&server_dir, &["mailbox", "allow", "not-a-key"]);
    assert!(bad.contains("neither an author key"), "{bad}");
    let bad = call(
        &server,
        "POST",
        "/api/v1/mailbox/admitted",
        Some(&json!({"author": "nope"})),
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(bad.json()["code"], "invalid_author");
    assert_eq!(
        call(&server, "GET", "/api/v1/mailbox", None).json()["admitted"],
        json!([])
    );

    // A personal node keeps no mail, and says so.
    let off = crate::kit::swapmesh(&home_dir, &["mailbox", "allow", &server_key]);
    assert!(off.status.success());
    assert!(
        String::from_utf8_lossy(&off.stderr).contains("keeps no mail"),
        "{off:?}"
    );
    assert_eq!(
        call(&home, "GET", "/api/v1/mailbox", None).json()["enabled"],
        false
    );
}
