//! The tokens of the local API: a weak token file is refused at start, a crash
//! while writing one leaves none, and the metrics token reads `/metrics` and
//! nothing else.

use std::process::Command;

use crate::http::{request, request_text};
use crate::kit::{Daemon, bin, ok};

#[test]
fn empty_or_short_token_file_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    ok(&dir, &["init", "--area", "u4pru"]);
    for weak in ["", "\n", "0123456789abcdef0123456789abcde"] {
        std::fs::write(dir.join("api-token"), weak).unwrap();
        let err = Daemon::try_start(&dir, &["--listen", "/memory/0"])
            .err()
            .unwrap_or_else(|| panic!("a node started with the token {weak:?}"));
        assert!(err.contains("api-token"), "names the file: {err}");
        assert!(err.contains("at least 32"), "says what is needed: {err}");
        assert!(err.contains("delete the file"), "says the fix: {err}");
    }
    // The fix works: with the file gone, the next start writes a whole token.
    std::fs::remove_file(dir.join("api-token")).unwrap();
    let d = Daemon::start(&dir, &["--listen", "/memory/0"]);
    assert_eq!(d.token().len(), 64);
    assert!(d.terminate().success());
}

#[test]
fn a_crash_while_writing_the_token_leaves_no_empty_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    let crashed = Command::new(bin())
        .arg("--data-dir")
        .arg(&dir)
        .args(["init", "--area", "u4pru"])
        .env("SWAPMESH_FAULT", "token-before-rename")
        .output()
        .unwrap();
    assert!(!crashed.status.success(), "the fault hook aborts init");
    assert!(
        !dir.join("api-token").exists(),
        "no token file, rather than an empty or partial one"
    );
    let d = Daemon::start(&dir, &["--listen", "/memory/0"]);
    let token = d.token();
    assert_eq!(token.len(), 64);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(!dir.join("api-token.tmp").exists());
    assert!(d.terminate().success());
}

#[test]
fn metrics_token_reads_metrics_and_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    let d = Daemon::start(&dir, &["--listen", "/memory/0"]);
    let metrics = std::fs::read_to_string(dir.join("metrics-token")).unwrap();
    let metrics = metrics.trim();
    assert_eq!(metrics.len(), 64);
    assert_ne!(metrics, d.token());
    let (status, text) = request_text(&d, "GET", "/metrics", None, Some(metrics), None);
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("swapmesh_peers"));
    for (method, path) in [
        ("GET", "/api/v1/node"),
        ("GET", "/api/v1/listings"),
        ("POST", "/api/v1/listings"),
        ("POST", "/api/v1/login-links"),
    ] {
        let (status, body) = request(&d, method, path, None, Some(metrics), Some(b"{}"));
        assert_eq!(status, 401, "{method} {path}: {body}");
        assert_eq!(body["code"], "wrong_token", "{method} {path}: {body}");
    }
    // The API token still reads everything.
    let token = d.token();
    let (status, _) = request_text(&d, "GET", "/metrics", None, Some(&token), None);
    assert_eq!(status, 200);
    assert!(d.terminate().success());
}
