//! The real binary inside a namespace: `swapmesh run` as a child process that
//! announces itself with its ready line, and one-shot CLI commands run in the
//! same namespace (each node's API listens on that namespace's 127.0.0.1).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::topology::{Host, SERVER};

/// The binary under test.
pub(crate) fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_swapmesh")
}

/// The port every node listens on, each in its own namespace.
pub(crate) const PORT: u16 = 7879;
/// The homes' area.
pub(crate) const AREA: &str = "u4pru";
/// The server's area, far from the homes': the server does not carry their
/// gossip, so listings have to cross from home to home.
pub(crate) const FAR_AREA: &str = "9q8yy";

/// How long a node may take to print its ready line.
const READY: Duration = Duration::from_secs(60);

/// A running `swapmesh run` in a namespace. Dropped, it is killed; if the test
/// is failing, the end of its log is printed first.
pub(crate) struct NsNode {
    pub(crate) name: &'static str,
    pub(crate) ns: String,
    pub(crate) dir: PathBuf,
    pub(crate) peer: String,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
}

/// A `swapmesh` command line in namespace `ns`: `ip netns exec <ns> swapmesh
/// --data-dir <dir> <args>`.
fn command(ns: &str, dir: &Path, args: &[String]) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns, bin()])
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("SWAPMESH_DATA_DIR")
        .env_remove("SWAPMESH_FAULT");
    c
}

impl NsNode {
    /// The home server on the internet: `--role server` with its public
    /// address as `--external-address`.
    pub(crate) fn server(host: &Host, dir: &Path) -> NsNode {
        let external = format!("/ip4/{}/tcp/{PORT}", host.address);
        NsNode::start(
            "server",
            host,
            dir,
            &[
                "--area",
                FAR_AREA,
                "--role",
                "server",
                "--external-address",
                &external,
            ],
        )
    }

    /// A neighbour at home, a `personal` node that knows only `bootstrap`.
    pub(crate) fn home(name: &'static str, host: &Host, dir: &Path, bootstrap: &str) -> NsNode {
        NsNode::start(name, host, dir, &["--area", AREA, "--bootstrap", bootstrap])
    }

    /// Starts `swapmesh run --listen /ip4/0.0.0.0/tcp/PORT --no-mdns --api
    /// 127.0.0.1:0 <args>` in `host`'s namespace and waits for its ready line.
    pub(crate) fn start(name: &'static str, host: &Host, dir: &Path, args: &[&str]) -> NsNode {
        NsNode::start_on(name, host, dir, PORT, args)
    }

    /// [`NsNode::start`] on another TCP port.
    pub(crate) fn start_on(
        name: &'static str,
        host: &Host,
        dir: &Path,
        port: u16,
        args: &[&str],
    ) -> NsNode {
        let listen = format!("/ip4/0.0.0.0/tcp/{port}");
        // The API on a free port: two nodes may share a namespace.
        let mut all: Vec<String> = [
            "run",
            "--listen",
            &listen,
            "--no-mdns",
            "--api",
            "127.0.0.1:0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        all.extend(args.iter().map(|s| s.to_string()));
        let mut node = NsNode {
            name,
            ns: host.ns.clone(),
            dir: dir.to_owned(),
            peer: String::new(),
            args: all,
            log: dir.with_extension("log"),
            child: None,
        };
        node.launch();
        node
    }

    fn launch(&mut self) {
        assert!(self.child.is_none(), "{} is running", self.name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let mut child = command(&self.ns, &self.dir, &self.args)
            .env(
                "RUST_LOG",
                std::env::var("NAT_RUST_LOG").unwrap_or_else(|_| {
                    "info,libp2p_gossipsub=warn,libp2p_kad=warn,libp2p_swarm=warn".to_owned()
                }),
            )
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("ip netns exec swapmesh starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        // Drains stdout for as long as the node runs, so it never blocks on it.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        self.child = Some(child);
        let line = rx.recv_timeout(READY).unwrap_or_else(|_| {
            panic!(
                "{} printed no ready line within {READY:?}; its log:\n{}",
                self.name,
                self.log_tail(60)
            )
        });
        let rest = line
            .strip_prefix("swapmesh ready: peer ")
            .unwrap_or_else(|| panic!("{}: unexpected first line {line:?}", self.name));
        let peer = rest
            .split_whitespace()
            .next()
            .expect("a peer id")
            .to_owned();
        if !self.peer.is_empty() {
            assert_eq!(self.peer, peer, "{} changed its peer id", self.name);
        }
        self.peer = peer;
    }

    /// `/ip4/<server>/tcp/PORT/p2p/<peer>`: how the homes find the server.
    pub(crate) fn bootstrap_address(&self) -> String {
        format!("/ip4/{SERVER}/tcp/{PORT}/p2p/{}", self.peer)
    }

    /// Stops the node with SIGTERM (it must exit 0 within 30 s), keeping its
    /// data directory.
    pub(crate) fn stop(&mut self) {
        let mut child = self.child.take().expect("the node is running");
        let pid = child.id().to_string();
        // `ip netns exec` execs the binary: the child is swapmesh itself.
        let sent = Command::new("kill").args(["-TERM", &pid]).status();
        assert!(sent.is_ok_and(|s| s.success()), "kill -TERM {pid}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                assert!(status.success(), "{} exited with {status}", self.name);
                return;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{} did not exit within 30 s of SIGTERM", self.name);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts the stopped node again: same namespace, data directory and flags.
    pub(crate) fn restart(&mut self) {
        self.launch();
    }

    /// A CLI command against this node, run in its namespace.
    pub(crate) fn cli(&self, args: &[&str]) -> Output {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        command(&self.ns, &self.dir, &args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .output()
            .expect("ip netns exec swapmesh runs")
    }

    /// Stdout of a CLI command that must succeed.
    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "{}: swapmesh {args:?} failed: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 output")
    }

    /// `status --json`: the API's `GET /api/v1/node`.
    pub(crate) fn status(&self) -> Value {
        serde_json::from_str(&self.ok(&["status", "--json"])).expect("status --json prints JSON")
    }

    /// The `reachability` object of `status --json` (null until the node has one).
    pub(crate) fn reachability(&self) -> Value {
        self.status()["reachability"].clone()
    }

    /// Publishes a listing to give away; returns its id.
    pub(crate) fn publish(&self, title: &str) -> String {
        let out = self.ok(&[
            "listing", "add", "--title", title, "--kind", "give", "--json",
        ]);
        let listing: Value = serde_json::from_str(&out).expect("listing add --json prints JSON");
        listing["id"].as_str().expect("a listing id").to_owned()
    }

    /// The ids of the listings `browse --json` shows in the homes' area.
    pub(crate) fn browse(&self) -> Vec<String> {
        let out = self.ok(&["browse", "--area", AREA, "--json", "--all"]);
        let page: Value = serde_json::from_str(&out).expect("browse --json prints JSON");
        page["listings"]
            .as_array()
            .expect("a listing array")
            .iter()
            .filter_map(|l| l["id"].as_str().map(str::to_owned))
            .collect()
    }

    /// Whether this node lists `id`.
    pub(crate) fn holds(&self, id: &str) -> bool {
        self.browse().iter().any(|i| i == id)
    }

    /// The peer ids this node is connected to.
    pub(crate) fn peers(&self) -> Vec<String> {
        let out = self.ok(&["peers", "--json"]);
        let peers: Value = serde_json::from_str(&out).expect("peers --json prints JSON");
        peers["peers"]
            .as_array()
            .expect("a peer array")
            .iter()
            .filter_map(|p| p.as_str().map(str::to_owned))
            .collect()
    }

    /// The lines of the node's log that contain `word`.
    pub(crate) fn log_lines(&self, word: &str) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(word))
            .map(str::to_owned)
            .collect()
    }

    /// The last `n` lines of the node's log.
    pub(crate) fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl Drop for NsNode {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "--- {} ({}), last lines of its log:\n{}\n---",
                self.name,
                self.ns,
                self.log_tail(40)
            );
        }
    }
}

/// Polls `condition` every second until it holds; fails the test after `limit`.
pub(crate) fn eventually(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !condition() {
        if Instant::now() > deadline {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Polls `check` every second until it gives `Ok`; fails the test after
/// `limit`, saying what it last saw (the `Err`).
pub(crate) fn until<T>(
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        match check() {
            Ok(value) => return value,
            Err(seen) if Instant::now() > deadline => {
                panic!("timed out after {limit:?} waiting for {what}; last seen: {seen}")
            }
            Err(_) => std::thread::sleep(Duration::from_secs(1)),
        }
    }
}
