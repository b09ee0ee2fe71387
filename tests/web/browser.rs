//! Headless Chromium driven through chromedriver (WebDriver, plain HTTP on
//! loopback), and the nodes the browser tests sign in to.

use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator, elements::Element};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::kit::{self, Daemon};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The narrowest phone the layout must hold at without sideways scrolling.
pub(crate) const NARROW: (u32, u32) = (360, 740);

/// The desktop window.
pub(crate) const DESKTOP: (u32, u32) = (1280, 800);
/// A phone's window.
pub(crate) const PHONE: (u32, u32) = (390, 844);

/// How long a wait on the page may take.
const WAIT: Duration = Duration::from_secs(45);

/// One browser test at a time (under `cargo test`, whose tests share a
/// process; nextest runs them one at a time by its `browser` test group).
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Takes the one-at-a-time lock, or `None` when this machine has no Chromium
/// (then the test is skipped, except under `CI=true` where it fails).
pub(crate) async fn serial() -> Option<tokio::sync::MutexGuard<'static, ()>> {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "no chromium: {CHROMIUM} and {CHROMEDRIVER} are needed under CI=true \
             (apt-get install chromium chromium-driver)"
        );
        eprintln!("skipped: no chromium");
        return None;
    }
    Some(SERIAL.lock().await)
}

/// A node for the browser: its sign-in links live 2 s.
pub(crate) fn node(dir: &Path, args: &[&str]) -> Daemon {
    node_env(dir, args, &[])
}

/// A node for the browser with more environment (`SWAPMESH_API_HOSTS`, …).
pub(crate) fn node_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Daemon {
    let mut all = vec![("SWAPMESH_LOGIN_LINK_TTL", "2")];
    all.extend_from_slice(env);
    Daemon::start_env(dir, args, &all)
}

/// A node alone (in-memory transport).
pub(crate) fn lone_node(dir: &Path) -> Daemon {
    node(dir, &["--listen", "/memory/0"])
}

/// A node on a free TCP port of 127.0.0.1 in the test area, bootstrapped from
/// `bootstrap` if given (as the cli kit's `Daemon::neighbour`).
pub(crate) fn neighbour(dir: &Path, bootstrap: Option<&Daemon>) -> Daemon {
    let mut args = vec!["--listen", "/ip4/127.0.0.1/tcp/0", "--area", "u4pru"];
    let address;
    if let Some(b) = bootstrap {
        address = b.bootstrap_address();
        args.extend(["--bootstrap", address.as_str()]);
    }
    node(dir, &args)
}

/// A fresh one-time sign-in link, as `swapmesh open --print` prints it.
pub(crate) fn login_link(d: &Daemon) -> String {
    let out = kit::ok(&d.dir, &["open", "--print"]);
    let url = out
        .lines()
        .find(|l| l.starts_with("http://"))
        .unwrap_or_else(|| panic!("no link in {out:?}"))
        .trim()
        .to_owned();
    assert!(url.contains("/login?code="), "{url}");
    url
}

/// The peers a node's API lists.
pub(crate) fn api_peers(d: &Daemon) -> usize {
    let token = format!("Bearer {}", d.token());
    let reply = crate::http::send(
        d,
        "GET",
        "/api/v1/peers",
        &[("Authorization", &token)],
        None,
        false,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["peers"].as_array().expect("peers").len()
}

/// A headless Chromium with its own chromedriver and a fresh profile; both
/// are killed when it is dropped, even on a panic.
pub(crate) struct Browser {
    pub(crate) client: Client,
    /// The node it talks to: `http://127.0.0.1:PORT`.
    base: String,
    test: &'static str,
    size: (u32, u32),
    driver: Child,
    _profile: TempDir,
}

impl Browser {
    /// A desktop browser (1280×800) for `test`, pointed at `d`.
    pub(crate) async fn desktop(test: &'static str, d: &Daemon) -> Browser {
        Self::start(test, d, DESKTOP).await
    }

    /// A phone-sized browser (390×844).
    pub(crate) async fn phone(test: &'static str, d: &Daemon) -> Browser {
        Self::start(test, d, PHONE).await
    }

    async fn start(test: &'static str, d: &Daemon, size: (u32, u32)) -> Browser {
        let profile = tempfile::tempdir().expect("profile dir");
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so that Drop ends Chromium with it.
            .process_group(0)
            .spawn()
            .expect("chromedriver starts");
        let mut browser_guard = DriverGuard(Some(driver));
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer within 60 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-default-apps",
                    "--disable-extensions",
                    "--no-first-run",
                    "--no-default-browser-check",
                    "--host-resolver-rules=MAP home.test 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                    format!("--user-data-dir={}", profile.path().display()),
                    format!("--window-size={},{}", size.0, size.1),
                ],
            }),
        );
        let connect = async {
            ClientBuilder::new(HttpConnector::new())
                .capabilities(caps)
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
        };
        let client = tokio::time::timeout(Duration::from_secs(60), connect)
            .await
            .expect("chromium started within 60 s")
            .expect("a WebDriver session");
        let browser = Browser {
            client,
            base: format!("http://{}", d.api),
            test,
            size,
            driver: browser_guard.0.take().expect("driver"),
            _profile: profile,
        };
        browser.viewport(size).await;
        browser
    }

    /// Opens `path` (or a full URL) on the node.
    pub(crate) async fn goto(&self, path: &str) {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        self.client.goto(&url).await.expect("goto");
    }

    /// Signs in with a fresh `swapmesh open --print` link and waits for `/`.
    pub(crate) async fn sign_in(&self, d: &Daemon) {
        self.goto(&login_link(d)).await;
        self.wait_js(
            "the browse page after signing in",
            "return location.pathname === '/' && !!document.querySelector('h1') \
             && document.querySelector('h1').textContent === 'Browse'",
        )
        .await;
    }

    /// The current path.
    pub(crate) async fn path(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("url")
            .path()
            .to_owned()
    }

    /// Runs `script` (a function body) and returns its value.
    pub(crate) async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.expect("script")
    }

    /// Polls `script` (a function body returning a boolean) until it is true.
    pub(crate) async fn wait_js(&self, what: &str, script: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            // A navigation under way may fail a script: try again.
            if let Ok(Value::Bool(true)) = self.client.execute(script, vec![]).await {
                return;
            }
            if Instant::now() > deadline {
                let text = self
                    .js("return document.body ? document.body.innerText : ''")
                    .await;
                panic!("timed out waiting for {what}; the page says {text}");
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// The one element `css` finds (waiting for it to appear).
    pub(crate) async fn find(&self, css: &str) -> Element {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.client.find(Locator::Css(css)).await {
                Ok(e) => return e,
                Err(e) if Instant::now() > deadline => panic!("no {css}: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(150)).await,
            }
        }
    }

    /// The text of the element `css` finds ("" if none).
    pub(crate) async fn text(&self, css: &str) -> String {
        let script = format!(
            "var e = document.querySelector({}); return e ? e.textContent : '';",
            json!(css)
        );
        self.js(&script).await.as_str().unwrap_or("").to_owned()
    }

    /// Sets a marker on `window` that a reload would lose.
    pub(crate) async fn mark(&self) {
        self.js("window.swapmeshTestMarker = 42; return true").await;
    }

    /// Whether the page is still the one `mark` marked (not reloaded).
    pub(crate) async fn still_marked(&self) -> bool {
        self.js("return window.swapmeshTestMarker === 42").await == Value::Bool(true)
    }

    /// The wcag2a and wcag2aa violations axe-core finds on the open page, a
    /// line each (rule, impact, help, the elements); `None` when axe-core is
    /// not installed here (`npm ci --prefix tests/web`; a failure under
    /// `CI=true`).
    pub(crate) async fn axe(&self) -> Option<Vec<String>> {
        let source = axe_source()?;
        if self.js("return typeof window.axe === 'object'").await != Value::Bool(true) {
            // WebDriver's scripts run in the page, above its CSP.
            self.client
                .execute(source, vec![])
                .await
                .expect("axe-core loads");
        }
        let found = self
            .client
            .execute_async(
                "var done = arguments[arguments.length - 1]; \
                 axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] }, \
                                     resultTypes: ['violations'] }) \
                   .then(function (r) { done(r.violations.map(function (v) { \
                       return v.id + ' (' + v.impact + '): ' + v.help + ' at ' + \
                         v.nodes.map(function (n) { return n.target.join(' '); }).join(', '); \
                     })); }, \
                     function (e) { done(['axe failed: ' + e]); });",
                vec![],
            )
            .await
            .expect("axe runs");
        let lines = found.as_array().expect("a list of violations");
        Some(
            lines
                .iter()
                .map(|l| l.as_str().unwrap_or_default().to_owned())
                .collect(),
        )
    }

    /// How far the page is wider than the window (0: no sideways scroll),
    /// and the widest element that sticks out, for the message.
    pub(crate) async fn overflow(&self) -> (i64, String) {
        let v = self
            .js(
                "var d = document.documentElement, w = window.innerWidth, worst = '', most = 0; \
                 document.querySelectorAll('body *').forEach(function (e) { \
                   var r = e.getBoundingClientRect().right; \
                   if (r > w && r > most) { most = r; worst = e.tagName.toLowerCase() + \
                     (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : ''); } }); \
                 return [d.scrollWidth - w, worst];",
            )
            .await;
        (
            v[0].as_i64().unwrap_or(i64::MAX),
            v[1].as_str().unwrap_or_default().to_owned(),
        )
    }

    /// Saves a screenshot of the page at the desktop and the phone sizes,
    /// named by test and `page`, and returns to this browser's size.
    pub(crate) async fn screenshots(&self, page: &str) {
        for (label, size) in [("desktop", DESKTOP), ("phone", PHONE)] {
            self.viewport(size).await;
            self.screenshot(&format!("{page}-{label}")).await;
        }
        self.viewport(self.size).await;
    }

    /// Sizes the window so that the page's viewport is `w`×`h` (the window
    /// counts its frame too).
    pub(crate) async fn viewport(&self, (w, h): (u32, u32)) {
        self.client.set_window_size(w, h).await.expect("resize");
        let inner = self
            .js("return [window.innerWidth, window.innerHeight]")
            .await;
        let dim = |i: usize| inner[i].as_u64().unwrap_or(0) as u32;
        let (iw, ih) = (dim(0), dim(1));
        if (iw, ih) != (w, h) && iw > 0 && ih > 0 {
            let (fw, fh) = (w + w.saturating_sub(iw), h + h.saturating_sub(ih));
            self.client.set_window_size(fw, fh).await.expect("resize");
        }
    }

    /// Saves a screenshot at the current size as `<test>-<name>.png`.
    pub(crate) async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        std::fs::write(dir.join(format!("{}-{name}.png", self.test)), png).expect("write png");
    }

    /// Ends the WebDriver session (Chromium quits), then chromedriver.
    pub(crate) async fn quit(self) {
        let client = self.client.clone();
        let _ = tokio::time::timeout(Duration::from_secs(10), client.close()).await;
        drop(self);
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        kill_group(&mut self.driver);
    }
}

/// Kills chromedriver's process group if the start fails half-way.
struct DriverGuard(Option<Child>);

impl Drop for DriverGuard {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            kill_group(child);
        }
    }
}

/// SIGKILL to the process group led by `child` (chromedriver and the
/// Chromium it started), then reaps it.
fn kill_group(child: &mut Child) {
    let group = format!("-{}", child.id());
    let _ = Command::new("kill")
        .args(["-KILL", "--", &group])
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

/// A port free at the moment (bound, then released).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `$SWAPMESH_SCREENSHOTS` (relative to the workspace root), else
/// `target/screenshots/` of the workspace.
fn screenshot_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    match std::env::var_os("SWAPMESH_SCREENSHOTS") {
        Some(dir) if !dir.is_empty() => root.join(dir),
        _ => root.join("target").join("screenshots"),
    }
}

/// axe-core's script, installed by `npm ci --prefix tests/web` (pinned in
/// `tests/web/package.json`); `None` without it, except under `CI=true`.
fn axe_source() -> Option<&'static str> {
    static SOURCE: OnceLock<Option<String>> = OnceLock::new();
    SOURCE
        .get_or_init(|| {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../tests/web/node_modules/axe-core/axe.min.js");
            match std::fs::read_to_string(&path) {
                Ok(source) => Some(source),
                Err(e) => {
                    assert!(
                        std::env::var("CI").as_deref() != Ok("true"),
                        "no axe-core at {} ({e}): run `npm ci --prefix tests/web`",
                        path.display()
                    );
                    eprintln!("skipped: no axe-core (npm ci --prefix tests/web)");
                    None
                }
            }
        })
        .as_deref()
}
