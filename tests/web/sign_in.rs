//! Signing in with a one-time link, and signing every browser out.

use serde_json::Value;
use tempfile::tempdir;

use crate::browser::{self, Browser};
use crate::kit;

/// The HTTP status of the page the browser shows.
async fn page_status(b: &Browser) -> u64 {
    b.js("var n = performance.getEntriesByType('navigation')[0]; return n ? n.responseStatus : 0")
        .await
        .as_u64()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_signs_in_once() {
    let Some(_serial) = browser::serial().await else {
        return;
    };
    let dir = tempdir().unwrap();
    let d = browser::lone_node(dir.path());
    let first = Browser::desktop("a_link_signs_in_once", &d).await;
    let link = browser::login_link(&d);
    first.goto(&link).await;
    first
        .wait_js(
            "the browse page",
            "return location.pathname === '/' && !!document.querySelector('h1') \
             && document.querySelector('h1').textContent === 'Browse'",
        )
        .await;
    // Signed in: the page names the node's own navigation and a sign-out button.
    assert!(
        first.text("nav.main").await.contains("Mine"),
        "{}",
        first.text("body").await
    );
    // The cookie is HttpOnly: the page's script cannot read it.
    assert_eq!(first.js("return document.cookie").await, Value::from(""));
    let cookies = first.client.get_all_cookies().await.unwrap();
    let port = d.api.rsplit(':').next().unwrap();
    let cookie = cookies
        .iter()
        .find(|c| c.name() == format!("swapmesh_{port}"))
        .unwrap_or_else(|| panic!("no session cookie in {cookies:?}"));
    assert_eq!(cookie.http_only(), Some(true), "{cookie:?}");
    assert_eq!(
        format!("{:?}", cookie.same_site()),
        "Some(Strict)",
        "{cookie:?}"
    );
    first.screenshots("browse").await;

    // The same link in a second, fresh browser: used, so refused.
    let second = Browser::desktop("a_link_signs_in_once", &d).await;
    second.goto(&link).await;
    second
        .wait_js(
            "the refusal",
            "return document.readyState === 'complete' && !!document.body",
        )
        .await;
    assert_eq!(page_status(&second).await, 401);
    let text = second.text("body").await;
    assert!(text.contains("unknown or was used already"), "{text}");
    assert_eq!(second.path().await, "/login");
    assert!(second.client.get_all_cookies().await.unwrap().is_empty());
    second.screenshots("link-used").await;
    second.quit().await;
    first.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_signs_every_browser_out() {
    let Some(_serial) = browser::serial().await else {
        return;
    };
    let dir = tempdir().unwrap();
    let d = browser::lone_node(dir.path());
    let laptop = Browser::desktop("revoking_signs_every_browser_out", &d).await;
    let phone = Browser::phone("revoking_signs_every_browser_out", &d).await;
    laptop.sign_in(&d).await;
    phone.sign_in(&d).await;
    laptop.goto("/status").await;
    phone.goto("/me").await;
    assert_eq!(laptop.path().await, "/status");
    assert_eq!(phone.path().await, "/me");
    laptop.screenshots("status").await;

    kit::ok(&d.dir, &["web-sessions", "revoke"]);

    for b in [&laptop, &phone] {
        b.client.refresh().await.unwrap();
        b.wait_js("the sign-in page", "return location.pathname === '/login'")
            .await;
    }
    laptop.screenshots("login").await;
    // The API token still works.
    let node = crate::http::call(&d, "GET", "/api/v1/node", None);
    assert_eq!(node.status, 200, "{}", node.body);
    phone.quit().await;
    laptop.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_signs_in_by_a_host_in_api_hosts_only() {
    let Some(_serial) = browser::serial().await else {
        return;
    };
    let test = "a_phone_signs_in_by_a_host_in_api_hosts_only";
    let dir = tempdir().unwrap();
    // Listed: `home.test:PORT` (the browser resolves home.test to 127.0.0.1).
    let port = browser::free_port();
    let host = format!("home.test:{port}");
    let api = format!("127.0.0.1:{port}");
    let listed = browser::node_env(
        &dir.path().join("listed"),
        &["--listen", "/memory/0", "--api", &api],
        &[("SWAPMESH_API_HOSTS", &host)],
    );
    // The browser first: a link lives 2 s in these tests.
    let phone = Browser::phone(test, &listed).await;
    let out = kit::ok(&listed.dir, &["open", "--print", "--host", &host]);
    let link = out
        .lines()
        .find(|l| l.starts_with("http://"))
        .unwrap_or_else(|| panic!("no link in {out:?}"))
        .trim()
        .to_owned();
    assert!(
        link.starts_with(&format!("http://{host}/login?code=")),
        "{link}"
    );
    phone.goto(&link).await;
    phone
        .wait_js(
            "the browse page on home.test",
            "return location.pathname === '/' && !!document.querySelector('h1') \
             && document.querySelector('h1').textContent === 'Browse'",
        )
        .await;
    assert_eq!(
        phone.js("return location.host").await,
        Value::from(host.clone())
    );
    phone.screenshot("home-test-phone").await;
    phone.goto(&format!("http://{host}/status")).await;
    phone.find("#peer-count").await;

    // Not listed: no link for that host, and every page and asset is 403.
    let unlisted = browser::lone_node(&dir.path().join("unlisted"));
    let port = unlisted.api.rsplit(':').next().unwrap().to_owned();
    let host = format!("home.test:{port}");
    let refused = kit::fails(&unlisted.dir, &["open", "--print", "--host", &host]);
    assert!(refused.contains("api_hosts"), "{refused}");
    for path in ["/", "/login", "/assets/app.css"] {
        phone.goto(&format!("http://{host}{path}")).await;
        phone
            .wait_js("the answer", "return document.readyState === 'complete'")
            .await;
        assert_eq!(page_status(&phone).await, 403, "{host}{path}");
    }
    phone.quit().await;
}
