//! The web page over real HTTP on the real binary (the browser tests drive
//! Chromium; these pin what the server promises whatever the browser): no
//! session sends the browser to `/login`, pages are escaped and carry their
//! security headers, a form without its CSRF token changes nothing.

use tempfile::tempdir;

use crate::http::{Reply, send};
use crate::kit::{Daemon, ok};

/// Signs in with a fresh link; returns the `Cookie` header value.
pub(crate) fn sign_in(d: &Daemon) -> String {
    let token = format!("Bearer {}", d.token());
    let reply = send(
        d,
        "POST",
        "/api/v1/login-links",
        &[("Authorization", &token)],
        None,
        false,
    );
    let url = reply.json()["url"].as_str().unwrap().to_owned();
    let path = url.split_once(&d.api).unwrap().1.to_owned();
    let signed_in = send(d, "GET", &path, &[], None, false);
    signed_in
        .head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie:"))
        .unwrap()
        .trim()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

fn header<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
    reply
        .head
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(str::trim)
}

#[test]
fn no_session_sends_the_browser_to_login_and_the_assets_are_public() {
    let dir = tempdir().unwrap();
    let d = Daemon::start(dir.path(), &["--listen", "/memory/0"]);
    for path in ["/", "/status", "/l/whatever"] {
        let r = send(&d, "GET", path, &[], None, false);
        assert_eq!(r.status, 303, "{path}");
        assert_eq!(header(&r, "location"), Some("/login"), "{path}");
    }
    let stale = send(
        &d,
        "GET",
        "/",
        &[("Cookie", &format!("swapmesh_1={}", "0".repeat(64)))],
        None,
        false,
    );
    assert_eq!(stale.status, 303);
    let css = send(&d, "GET", "/assets/app.css", &[], None, false);
    assert_eq!(css.status, 200);
    assert!(css.content_type().starts_with("text/css"));
    let wrong_host = send(
        &d,
        "GET",
        "/assets/app.js",
        &[("Host", "evil.test")],
        None,
        false,
    );
    assert_eq!(wrong_host.status, 403);
    let wrong_host = send(&d, "GET", "/", &[("Host", "evil.test")], None, false);
    assert_eq!(wrong_host.status, 403);
}

#[test]
fn a_hostile_listing_is_inert_text_on_the_page() {
    let dir = tempdir().unwrap();
    let d = Daemon::start(dir.path(), &["--listen", "/memory/0", "--area", "u4pru"]);
    ok(
        dir.path(),
        &[
            "listing",
            "add",
            "--title",
            "<script>alert(1)</script><img src=x onerror=alert(2)>",
            "--kind",
            "give",
        ],
    );
    let cookie = sign_in(&d);
    let page = send(&d, "GET", "/", &[("Cookie", &cookie)], None, false);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(!page.body.contains("<script>alert"), "{}", page.body);
    assert!(!page.body.contains("<img src=x"), "{}", page.body);
    assert!(
        page.body.contains("&#60;script&#62;alert(1)"),
        "{}",
        page.body
    );
    assert_eq!(
        header(&page, "content-security-policy"),
        Some("default-src 'self'; frame-ancestors 'none'")
    );
    assert_eq!(header(&page, "referrer-policy"), Some("same-origin"));
    assert_eq!(header(&page, "x-frame-options"), Some("deny"));
    // The listing's own page too.
    let listing: serde_json::Value =
        serde_json::from_str(&ok(dir.path(), &["listing", "list", "--json"])).unwrap();
    let id = listing[0]["id"]
        .as_str()
        .or_else(|| listing["listings"][0]["id"].as_str())
        .unwrap()
        .to_owned();
    let one = send(
        &d,
        "GET",
        &format!("/l/{id}"),
        &[("Cookie", &cookie)],
        None,
        false,
    );
    assert_eq!(one.status, 200, "{}", one.body);
    assert!(!one.body.contains("<script>alert"));
    let missing = send(&d, "GET", "/l/nope", &[("Cookie", &cookie)], None, false);
    assert_eq!(missing.status, 404);
}

#[test]
fn a_form_without_its_csrf_token_or_from_another_origin_changes_nothing() {
    let dir = tempdir().unwrap();
    let d = Daemon::start(dir.path(), &["--listen", "/memory/0"]);
    let cookie = sign_in(&d);
    let origin = format!("http://{}", d.api);
    let form = [
        ("Cookie", cookie.as_str()),
        ("Origin", origin.as_str()),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    let no_token = send(&d, "POST", "/status/revoke", &form, Some(b"csrf="), false);
    assert_eq!(no_token.status, 403);
    let wrong = send(
        &d,
        "POST",
        "/status/revoke",
        &form,
        Some(b"csrf=00112233"),
        false,
    );
    assert_eq!(wrong.status, 403);
    let status = send(&d, "GET", "/status", &[("Cookie", &cookie)], None, false);
    assert_eq!(status.status, 200, "still signed in");
    let csrf = status
        .body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let body = format!("csrf={csrf}");
    let foreign = [
        ("Cookie", cookie.as_str()),
        ("Origin", "http://127.0.0.1:9"),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    let r = send(
        &d,
        "POST",
        "/status/revoke",
        &foreign,
        Some(body.as_bytes()),
        false,
    );
    assert_eq!(r.status, 403);
    assert_eq!(
        send(&d, "GET", "/status", &[("Cookie", &cookie)], None, false).status,
        200
    );
    // With its token, from its page: every session ends.
    let r = send(
        &d,
        "POST",
        "/status/revoke",
        &form,
        Some(body.as_bytes()),
        false,
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        send(&d, "GET", "/status", &[("Cookie", &cookie)], None, false).status,
        303
    );
}

/// The CSRF token a page's forms carry.
pub(crate) fn csrf_of(page: &Reply) -> String {
    page.body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn a_listing_made_edited_paused_and_withdrawn_on_the_page_is_what_the_cli_sees() {
    let dir = tempdir().unwrap();
    let d = Daemon::start(dir.path(), &["--listen", "/memory/0", "--area", "u4pru"]);
    let cookie = sign_in(&d);
    let origin = format!("http://{}", d.api);
    let form_headers = [
        ("Cookie", cookie.as_str()),
        ("Origin", origin.as_str()),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    let new = send(&d, "GET", "/new", &[("Cookie", &cookie)], None, false);
    assert_eq!(new.status, 200);
    let csrf = csrf_of(&new);
    let list = || -> serde_json::Value {
        serde_json::from_str(&ok(dir.path(), &["listing", "list", "--json"])).unwrap()
    };
    let listings = |v: &serde_json::Value| -> Vec<serde_json::Value> {
        v.as_array()
            .cloned()
            .or_else(|| v["listings"].as_array().cloned())
            .unwrap_or_default()
    };

    // A bad field is shown beside it, and nothing is published.
    let bad = format!("csrf={csrf}&purpose=offer&title=&kind=rent&price=5&per=day");
    let r = send(
        &d,
        "POST",
        "/new",
        &form_headers,
        Some(bad.as_bytes()),
        false,
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("id=\"title-error\""), "{}", r.body);
    assert!(r.body.contains("aria-invalid=\"true\""));
    let bad = format!("csrf={csrf}&purpose=offer&title=Drill&kind=rent&price=5.001&per=day");
    let r = send(
        &d,
        "POST",
        "/new",
        &form_headers,
        Some(bad.as_bytes()),
        false,
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("id=\"price-error\""), "{}", r.body);
    assert!(listings(&list()).is_empty());

    // 5.00 typed, 500 stored.
    let good = format!(
        "csrf={csrf}&purpose=offer&title=Cordless+drill&kind=rent&kind=share&price=5.00&per=day&deposit=50&tags=tools%2C+diy"
    );
    let r = send(
        &d,
        "POST",
        "/new",
        &form_headers,
        Some(good.as_bytes()),
        false,
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let all = listings(&list());
    assert_eq!(all.len(), 1);
    let l = &all[0];
    assert_eq!(l["title"], "Cordless drill");
    assert_eq!(l["price"]["amount"], 500);
    assert_eq!(l["price"]["per"], "day");
    assert_eq!(l["deposit"]["amount"], 5000);
    assert_eq!(l["kinds"], serde_json::json!(["rent", "share"]));
    assert_eq!(l["tags"], serde_json::json!(["tools", "diy"]));
    let id = l["id"].as_str().unwrap().to_owned();

    // Edit keeps the rest; pause, resume, withdraw.
    let edit = send(
        &d,
        "GET",
        &format!("/l/{id}/edit"),
        &[("Cookie", &cookie)],
        None,
        false,
    );
    assert_eq!(edit.status, 200);
    assert!(edit.body.contains("value=\"5.00\""), "{}", edit.body);
    let changed = format!(
        "csrf={csrf}&purpose=offer&title=Cordless+drill%2C+18+V&kind=rent&price=4&per=day&deposit=50&tags=tools"
    );
    let r = send(
        &d,
        "POST",
        &format!("/l/{id}/edit"),
        &form_headers,
        Some(changed.as_bytes()),
        false,
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let l = &listings(&list())[0];
    assert_eq!(l["title"], "Cordless drill, 18 V");
    assert_eq!(l["price"]["amount"], 400);
    assert_eq!(l["version"], 2);
    let token = format!("csrf={csrf}");
    let r = send(
        &d,
        "POST",
        &format!("/l/{id}/pause"),
        &form_headers,
        Some(token.as_bytes()),
        false,
    );
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(listings(&list())[0]["status"], "paused");
    send(
        &d,
        "POST",
        &format!("/l/{id}/pause"),
        &form_headers,
        Some(token.as_bytes()),
        false,
    );
    assert_eq!(listings(&list())[0]["status"], "active");
    let me = send(&d, "GET", "/me", &[("Cookie", &cookie)], None, false);
    assert!(me.body.contains("Cordless drill, 18 V"));
    let r = send(
        &d,
        "POST",
        &format!("/l/{id}/withdraw"),
        &form_headers,
        Some(token.as_bytes()),
        false,
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let api = crate::http::call(&d, "GET", &format!("/api/v1/listings/{id}"), None);
    assert_eq!(api.json()["status"], "withdrawn", "{}", api.body);
    // Another author's listing, or a made-up id, is not ours to edit.
    let other = format!("/l/{}.x/edit", "ab".repeat(32));
    assert_eq!(
        send(&d, "GET", &other, &[("Cookie", &cookie)], None, false).status,
        404
    );
}

#[test]
fn a_mesh_made_on_one_page_is_joined_on_another_and_a_link_alone_joins_nothing() {
    let dirs = [tempdir().unwrap(), tempdir().unwrap()];
    let tcp = ["--listen", "/ip4/127.0.0.1/tcp/0"];
    let lender = Daemon::start(dirs[0].path(), &tcp);
    let borrower = Daemon::start(dirs[1].path(), &tcp);
    let form = |d: &Daemon, cookie: &str, path: &str, body: String| {
        let origin = format!("http://{}", d.api);
        send(
            d,
            "POST",
            path,
            &[
                ("Cookie", cookie),
                ("Origin", &origin),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            Some(body.as_bytes()),
            false,
        )
    };
    let lc = sign_in(&lender);
    let page = send(&lender, "GET", "/meshes", &[("Cookie", &lc)], None, false);
    assert_eq!(page.status, 200);
    let csrf = csrf_of(&page);
    let r = form(
        &lender,
        &lc,
        "/meshes/create",
        format!("csrf={csrf}&name=Elm+Street"),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let page = send(&lender, "GET", "/meshes", &[("Cookie", &lc)], None, false);
    assert!(page.body.contains("Elm Street"));
    let invite = page
        .body
        .split("readonly rows=\"4\">")
        .nth(1)
        .unwrap()
        .split("</textarea>")
        .next()
        .unwrap()
        .to_owned();
    assert!(invite.starts_with("swapmesh"), "{invite}");
    let qr_path = page
        .body
        .split("class=\"qr\" src=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&#38;", "&");
    let qr = send(&lender, "GET", &qr_path, &[("Cookie", &lc)], None, false);
    assert_eq!(qr.status, 200, "{qr_path}");
    assert!(qr.content_type().starts_with("image/svg+xml"));

    let bc = sign_in(&borrower);
    // The link alone fills the form in and joins nothing.
    let encoded = swapmesh_node::client::encode_query(&invite);
    let linked = send(
        &borrower,
        "GET",
        &format!("/meshes?invite={encoded}"),
        &[("Cookie", &bc)],
        None,
        false,
    );
    assert_eq!(linked.status, 200);
    assert!(linked.body.contains(&invite), "the form is filled in");
    let meshes = crate::http::call(&borrower, "GET", "/api/v1/meshes", None);
    assert_eq!(meshes.json()["meshes"], serde_json::json!([]));
    // The form posted from the page joins.
    let csrf = csrf_of(&linked);
    let r = form(
        &borrower,
        &bc,
        "/meshes/join",
        format!("csrf={csrf}&invite={encoded}"),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let meshes = crate::http::call(&borrower, "GET", "/api/v1/meshes", None);
    assert_eq!(
        meshes.json()["meshes"][0]["name"],
        "Elm Street",
        "{}",
        meshes.body
    );
    // And leaving.
    let id = meshes.json()["meshes"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = form(
        &borrower,
        &bc,
        "/meshes/leave",
        format!("csrf={csrf}&mesh={id}"),
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let meshes = crate::http::call(&borrower, "GET", "/api/v1/meshes", None);
    assert_eq!(meshes.json()["meshes"], serde_json::json!([]));
}

/// A multipart body: text fields, then files named `photo`.
fn multipart(fields: &[(&str, &str)], photos: &[Vec<u8>]) -> (String, Vec<u8>) {
    let boundary = "swapmeshboundary7f3a";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    for (i, bytes) in photos.iter().enumerate() {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"p{i}.png\"\r\nContent-Type: image/png\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[test]
fn photos_are_added_on_the_page_reordered_and_removed() {
    let dir = tempdir().unwrap();
    let d = Daemon::start(dir.path(), &["--listen", "/memory/0", "--area", "u4pru"]);
    let cookie = sign_in(&d);
    let origin = format!("http://{}", d.api);
    let csrf = csrf_of(&send(
        &d,
        "GET",
        "/new",
        &[("Cookie", &cookie)],
        None,
        false,
    ));
    let post = |path: &str, fields: &[(&str, &str)], photos: &[Vec<u8>]| {
        let (content_type, body) = multipart(fields, photos);
        send(
            &d,
            "POST",
            path,
            &[
                ("Cookie", &cookie),
                ("Origin", &origin),
                ("Content-Type", &content_type),
            ],
            Some(&body),
            false,
        )
    };
    let base = [
        ("csrf", csrf.as_str()),
        ("purpose", "offer"),
        ("title", "Tent"),
        ("kind", "share"),
    ];
    // The CSRF token must come first: a form that puts a file before it is refused.
    let (content_type, mut body) = multipart(&[], &[crate::photos::small_png(1)]);
    let tail = multipart(&base, &[]).1;
    body.truncate(body.len() - "--swapmeshboundary7f3a--\r\n".len());
    body.extend_from_slice(&tail);
    let r = send(
        &d,
        "POST",
        "/new",
        &[
            ("Cookie", &cookie),
            ("Origin", &origin),
            ("Content-Type", &content_type),
        ],
        Some(&body),
        false,
    );
    assert_eq!(r.status, 403, "{}", r.body);
    // Not an image: shown beside the photos, nothing published.
    let r = post("/new", &base, &[b"not an image".to_vec()]);
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("id=\"photos-error\""), "{}", r.body);
    let listings = crate::http::call(&d, "GET", "/api/v1/listings?area=u4pru", None);
    assert_eq!(listings.json()["listings"], serde_json::json!([]));

    let r = post(
        "/new",
        &base,
        &[
            crate::photos::small_png(1),
            crate::photos::small_png(2),
            crate::photos::small_png(3),
        ],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let listing =
        crate::http::call(&d, "GET", "/api/v1/listings?area=u4pru", None).json()["listings"][0]
            .clone();
    let id = listing["id"].as_str().unwrap().to_owned();
    let photos: Vec<String> = listing["photos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(photos.len(), 3);
    let shown = send(
        &d,
        "GET",
        &format!("/l/{id}"),
        &[("Cookie", &cookie)],
        None,
        false,
    );
    for hash in &photos {
        assert!(
            shown.body.contains(&format!("/api/v1/blobs/{hash}")),
            "full size on the page"
        );
    }

    // The third photo first, the first removed, one more added at the end.
    let place = format!("photo_place_{}", photos[2]);
    let mut fields = base.to_vec();
    fields.extend([
        ("photo_keep", photos[0].as_str()),
        ("photo_keep", photos[1].as_str()),
        ("photo_keep", photos[2].as_str()),
        (place.as_str(), "1"),
        ("photo_remove", photos[0].as_str()),
    ]);
    let r = post(
        &format!("/l/{id}/edit"),
        &fields,
        &[crate::photos::small_png(4)],
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let after = crate::http::call(&d, "GET", &format!("/api/v1/listings/{id}"), None).json();
    let order: Vec<&str> = after["photos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    assert_eq!(order.len(), 3, "{order:?}");
    assert_eq!(&order[..2], &[photos[2].as_str(), photos[1].as_str()]);
    assert!(!order.contains(&photos[0].as_str()));
    // The browse page shows the first photo's thumbnail.
    let browse = send(&d, "GET", "/", &[("Cookie", &cookie)], None, false);
    assert!(
        browse
            .body
            .contains(&format!("/api/v1/blobs/{}?size=thumb", photos[2])),
        "{}",
        browse.body
    );
}

#[test]
fn signing_out_needs_the_pages_token() {
    let dir = tempdir().unwrap();
    let d = Daemon::start(dir.path(), &["--listen", "/memory/0"]);
    let cookie = sign_in(&d);
    let form = [
        ("Cookie", cookie.as_str()),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    let forged = send(&d, "POST", "/logout", &form, Some(b"csrf=00"), false);
    assert_eq!(forged.status, 403);
    let status = send(&d, "GET", "/status", &[("Cookie", &cookie)], None, false);
    assert_eq!(status.status, 200, "still signed in");
    let body = format!("csrf={}", csrf_of(&status));
    let out = send(&d, "POST", "/logout", &form, Some(body.as_bytes()), false);
    assert_eq!(out.status, 200, "{}", out.body);
    assert_eq!(
        send(&d, "GET", "/status", &[("Cookie", &cookie)], None, false).status,
        303
    );
}

#[test]
fn the_profile_saved_on_me_is_what_the_cli_shows_and_a_bad_name_changes_nothing() {
    let dir = tempdir().unwrap();
    let d = Daemon::start(dir.path(), &["--listen", "/memory/0"]);
    let cookie = sign_in(&d);
    let origin = format!("http://{}", d.api);
    let form = [
        ("Cookie", cookie.as_str()),
        ("Origin", origin.as_str()),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    let me = send(&d, "GET", "/me", &[("Cookie", &cookie)], None, false);
    assert_eq!(me.status, 200);
    let csrf = csrf_of(&me);
    let post = |body: String| {
        send(
            &d,
            "POST",
            "/me/profile",
            &form,
            Some(body.as_bytes()),
            false,
        )
    };

    // Without the token: refused, nothing published.
    let r = post("name=Ana".to_owned());
    assert_eq!(r.status, 403);
    let none = crate::kit::swapmesh(&d.dir, &["profile", "show", "--json"]);
    assert!(!none.status.success(), "a profile was published");

    let r = post(format!(
        "csrf={csrf}&name=+Ana+&bio=Tools+and+bikes.&contact=signal%3A+ana.01%0D%0A%0D%0Aphone%3A+0123"
    ));
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(header(&r, "location"), Some("/me"));
    let shown: serde_json::Value =
        serde_json::from_str(&ok(&d.dir, &["profile", "show", "--json"])).unwrap();
    assert_eq!(shown["name"], "Ana");
    assert_eq!(shown["bio"], "Tools and bikes.");
    assert_eq!(
        shown["contact"],
        serde_json::json!(["signal: ana.01", "phone: 0123"])
    );
    let version = shown["version"].clone();
    // The page shows it back in the form.
    let me = send(&d, "GET", "/me", &[("Cookie", &cookie)], None, false);
    assert!(
        me.body.contains(r#"name="name" value="Ana""#),
        "{}",
        me.body
    );

    // A name over 64 characters: said beside the field, nothing published.
    let r = post(format!("csrf={csrf}&name={}", "A".repeat(65)));
    assert_eq!(r.status, 422);
    assert!(r.body.contains(r#"id="name-error""#), "{}", r.body);
    assert!(r.body.contains("1 to 64 characters"), "{}", r.body);
    let after: serde_json::Value =
        serde_json::from_str(&ok(&d.dir, &["profile", "show", "--json"])).unwrap();
    assert_eq!(after["version"], version);
    assert_eq!(after["name"], "Ana");
}

#[test]
fn a_new_listing_on_the_page_may_go_only_to_a_private_mesh() {
    let dir = tempdir().unwrap();
    let d = Daemon::start(dir.path(), &["--listen", "/memory/0", "--area", "u4pru"]);
    let cookie = sign_in(&d);
    let origin = format!("http://{}", d.api);
    let form_headers = [
        ("Cookie", cookie.as_str()),
        ("Origin", origin.as_str()),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    let listings = || -> Vec<serde_json::Value> {
        let v: serde_json::Value =
            serde_json::from_str(&ok(dir.path(), &["listing", "list", "--json"])).unwrap();
        v.as_array()
            .cloned()
            .or_else(|| v["listings"].as_array().cloned())
            .unwrap_or_default()
    };
    // In no private mesh, the form offers no choice.
    let new = send(&d, "GET", "/new", &[("Cookie", &cookie)], None, false);
    assert!(!new.body.contains("name=\"place\""), "{}", new.body);

    let created: serde_json::Value =
        serde_json::from_str(&ok(dir.path(), &["mesh", "create", "Elm Street", "--json"])).unwrap();
    let mesh = created["id"].as_str().unwrap().to_owned();
    let new = send(&d, "GET", "/new", &[("Cookie", &cookie)], None, false);
    assert!(
        new.body.contains("Only Elm Street (private)"),
        "{}",
        new.body
    );
    let csrf = csrf_of(&new);

    // A place that is no mesh of ours: refused beside the field, nothing published.
    let bad = format!("csrf={csrf}&purpose=offer&title=Ladder&kind=share&place=nosuchmesh0");
    let r = send(
        &d,
        "POST",
        "/new",
        &form_headers,
        Some(bad.as_bytes()),
        false,
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(listings().is_empty());

    let good = format!("csrf={csrf}&purpose=offer&title=Ladder&kind=share&place={mesh}");
    let r = send(
        &d,
        "POST",
        "/new",
        &form_headers,
        Some(good.as_bytes()),
        false,
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let all = listings();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["meshes"], serde_json::json!([mesh]));
    assert!(all[0]["area"].is_null(), "{:?}", all[0]);
    // By default the page publishes in the area.
    let plain = format!("csrf={csrf}&purpose=offer&title=Drill&kind=share&place=");
    let r = send(
        &d,
        "POST",
        "/new",
        &form_headers,
        Some(plain.as_bytes()),
        false,
    );
    assert_eq!(r.status, 303, "{}", r.body);
    let drill = listings()
        .into_iter()
        .find(|l| l["title"] == "Drill")
        .expect("the drill");
    assert_eq!(drill["area"], "u4pru");
    assert_eq!(drill["meshes"], serde_json::json!([]));
}
