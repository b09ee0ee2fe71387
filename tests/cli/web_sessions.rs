//! Signing the web page in with a one-time link, on the real binary: the
//! cookie, the CSRF token and Origin on writes, revoking, and the link's rules.

use tempfile::tempdir;

use crate::http::{Reply, send};
use crate::kit::Daemon;

/// The `Set-Cookie` header of a reply (lower-cased).
fn set_cookie(reply: &Reply) -> Option<String> {
    reply
        .head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie:"))
        .map(|v| v.trim().to_owned())
}

fn link(d: &Daemon) -> String {
    let token = format!("Bearer {}", d.token());
    let reply = send(
        d,
        "POST",
        "/api/v1/login-links",
        &[("Authorization", &token)],
        None,
        false,
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let url = reply.json()["url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with(&format!("http://{}/login?code=", d.api)),
        "{url}"
    );
    url.split_once(&d.api).unwrap().1.to_owned()
}

/// `name=value` of a `Set-Cookie` header.
fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

#[test]
fn a_link_signs_in_once_with_a_strict_http_only_cookie() {
    let dir = tempdir().unwrap();
    let d = Daemon::start(dir.path(), &["--listen", "/memory/0"]);
    let path = link(&d);
    let first = send(&d, "GET", &path, &[], None, false);
    assert_eq!(first.status, 200, "{}", first.body);
    let cookie = set_cookie(&first).expect("a cookie");
    let port = d.api.rsplit(':').next().unwrap();
    assert!(cookie.starts_with(&format!("swapmesh_{port}=")), "{cookie}");
    for attribute in ["httponly", "samesite=strict", "path=/"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    assert!(first.body.contains("url=/"), "moves on to the page");
    assert!(
        first
            .head
            .contains("content-security-policy: default-src 'self'")
    );

    // Used once: the second time it is refused, and sets nothing.
    let again = send(&d, "GET", &path, &[], None, false);
    assert_eq!(again.status, 401);
    assert!(set_cookie(&again).is_none());

    // The cookie reads the API.
    let cookie = pair(&cookie);
    let node = send(
        &d,
        "GET",
        "/api/v1/node",
        &[("Cookie", &cookie)],
        None,
        false,
    );
    assert_eq!(node.status, 200, "{}", node.body);
    // A session makes no links, even with its CSRF token and from its page.
    let me = send(
        &d,
        "GET",
        "/api/v1/web-sessions",
        &[("Cookie", &cookie)],
        None,
        false,
    );
    let csrf = me.json()["csrf_token"].as_str().unwrap().to_owned();
    let origin = format!("http://{}", d.api);
    let more = send(
        &d,
        "POST",
        "/api/v1/login-links",
        &[
            ("Cookie", &cookie),
            ("Origin", &origin),
            ("X-CSRF-Token", &csrf),
        ],
        None,
        false,
    );
    assert_eq!(more.status, 403);
    assert_eq!(more.json()["code"], "bearer_only");
}

#[test]
fn a_session_write_needs_its_csrf_token_and_this_origin() {
    let dir = tempdir().unwrap();
    let d = Daemon::start(dir.path(), &["--listen", "/memory/0"]);
    let signed_in = send(&d, "GET", &link(&d), &[], None, false);
    let cookie = pair(&set_cookie(&signed_in).unwrap());
    let me = send(
        &d,
        "GET",
        "/api/v1/web-sessions",
        &[("Cookie", &cookie)],
        None,
        false,
    );
    assert_eq!(me.json()["via"], "session");
    let csrf = me.json()["csrf_token"].as_str().unwrap().to_owned();
    let origin = format!("http://{}", d.api);
    let body = br#"{"name": "Ana", "bio": "", "contact": []}"#;
    let write = |headers: &[(&str, &str)]| {
        let mut all = vec![
            ("Cookie", cookie.as_str()),
            ("Content-Type", "application/json"),
        ];
        all.extend_from_slice(headers);
        send(&d, "PUT", "/api/v1/profile", &all, Some(body), false)
    };

    let no_token = write(&[("Origin", &origin)]);
    assert_eq!(no_token.status, 403);
    assert_eq!(no_token.json()["code"], "csrf_mismatch");
    let wrong = write(&[("Origin", &origin), ("X-CSRF-Token", "00")]);
    assert_eq!(wrong.json()["code"], "csrf_mismatch");
    let foreign = write(&[("Origin", "http://127.0.0.1:9"), ("X-CSRF-Token", &csrf)]);
    assert_eq!(foreign.status, 403);
    assert_eq!(foreign.json()["code"], "foreign_origin");
    let no_origin = write(&[("X-CSRF-Token", &csrf)]);
    assert_eq!(no_origin.json()["code"], "foreign_origin");
    let author = send(
        &d,
        "GET",
        "/api/v1/node",
        &[("Cookie", &cookie)],
        None,
        false,
    )
    .json()["author"]
        .as_str()
        .unwrap()
        .to_owned();
    let profile_path = format!("/api/v1/profile/{author}");
    let profile = send(
        &d,
        "GET",
        &profile_path,
        &[("Cookie", &cookie)],
        None,
        false,
    );
    assert_eq!(profile.status, 404, "nothing was written: {}", profile.body);

    let ok = write(&[("Origin", &origin), ("X-CSRF-Token", &csrf)]);
    assert!(ok.status < 300, "{} {}", ok.status, ok.body);
    let profile = send(
        &d,
        "GET",
        &profile_path,
        &[("Cookie", &cookie)],
        None,
        false,
    );
    assert_eq!(profile.status, 200, "{}", profile.body);
}

#[test]
fn revoking_signs_every_browser_out_and_the_token_still_works() {
    let dir = tempdir().unwrap();
    let d = Daemon::start(dir.path(), &["--listen", "/memory/0"]);
    let a = pair(&set_cookie(&send(&d, "GET", &link(&d), &[], None, false)).unwrap());
    let b = pair(&set_cookie(&send(&d, "GET", &link(&d), &[], None, false)).unwrap());
    let unused = link(&d);
    let token = format!("Bearer {}", d.token());
    let revoked = send(
        &d,
        "DELETE",
        "/api/v1/web-sessions",
        &[("Authorization", &token)],
        None,
        false,
    );
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert_eq!(revoked.json()["revoked"], 2);
    for cookie in [&a, &b] {
        let r = send(
            &d,
            "GET",
            "/api/v1/node",
            &[("Cookie", cookie)],
            None,
            false,
        );
        assert_eq!(r.status, 401, "{}", r.body);
    }
    assert_eq!(send(&d, "GET", &unused, &[], None, false).status, 401);
    let r = send(
        &d,
        "GET",
        "/api/v1/node",
        &[("Authorization", &token)],
        None,
        false,
    );
    assert_eq!(r.status, 200);
}

#[test]
fn an_expired_link_is_401_and_a_foreign_host_403() {
    let dir = tempdir().unwrap();
    let d = Daemon::start_env(
        dir.path(),
        &["--listen", "/memory/0"],
        &[("SWAPMESH_LOGIN_LINK_TTL", "1")],
    );
    let path = link(&d);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let late = send(&d, "GET", &path, &[], None, false);
    assert_eq!(late.status, 401);
    assert!(late.body.contains("expired"), "{}", late.body);
    let wrong_host = send(
        &d,
        "GET",
        "/login",
        &[("Host", "evil.test:80")],
        None,
        false,
    );
    assert_eq!(wrong_host.status, 403);
    let token = format!("Bearer {}", d.token());
    let unknown = send(
        &d,
        "POST",
        "/api/v1/login-links",
        &[
            ("Authorization", &token),
            ("Content-Type", "application/json"),
        ],
        Some(br#"{"host": "home.test:7878"}"#),
        false,
    );
    assert_eq!(unknown.status, 422);
    assert_eq!(unknown.json()["code"], "unknown_host");
    // The token typed on /login signs in too; a wrong one does not.
    let form = format!("token={}", d.token());
    let typed = send(
        &d,
        "POST",
        "/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some(form.as_bytes()),
        false,
    );
    assert_eq!(typed.status, 200, "{}", typed.body);
    assert!(set_cookie(&typed).is_some());
    let wrong = send(
        &d,
        "POST",
        "/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some(b"token=nope"),
        false,
    );
    assert_eq!(wrong.status, 401);
    assert!(set_cookie(&wrong).is_none());
}

#[test]
fn open_prints_a_link_that_signs_in_and_revoke_signs_it_out() {
    let dir = tempdir().unwrap();
    let d = Daemon::start(dir.path(), &["--listen", "/memory/0"]);
    let out = crate::kit::swapmesh(dir.path(), &["open", "--print", "--qr"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let url = stdout.lines().next().unwrap();
    let path = url
        .strip_prefix(&format!("http://{}", d.api))
        .unwrap_or_else(|| panic!("{url}"));
    assert!(path.starts_with("/login?code="), "{path}");
    assert!(
        stdout.contains('█') || stdout.contains('▀'),
        "a QR code: {stdout}"
    );
    let cookie = pair(&set_cookie(&send(&d, "GET", path, &[], None, false)).unwrap());
    assert_eq!(
        send(
            &d,
            "GET",
            "/api/v1/node",
            &[("Cookie", &cookie)],
            None,
            false
        )
        .status,
        200
    );

    let out = crate::kit::swapmesh(dir.path(), &["web-sessions", "revoke"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("1 web session ended"));
    assert_eq!(
        send(
            &d,
            "GET",
            "/api/v1/node",
            &[("Cookie", &cookie)],
            None,
            false
        )
        .status,
        401
    );

    // A host the API does not answer to makes no link.
    let out = crate::kit::swapmesh(dir.path(), &["open", "--print", "--host", "home.test:1"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("api_hosts"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
