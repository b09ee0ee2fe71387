//! Runs the real binary: `swapmesh run` as a child process that announces itself
//! with its ready line, and one-shot CLI commands.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The binary under test.
pub(crate) fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_swapmesh")
}

/// A CLI command against a data directory.
pub(crate) fn swapmesh(dir: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("SWAPMESH_DATA_DIR")
        .env("RUST_LOG", "warn")
        .output()
        .expect("the binary runs")
}

/// Stdout of a command that must succeed.
pub(crate) fn ok(dir: &Path, args: &[&str]) -> String {
    let out = swapmesh(dir, args);
    assert!(
        out.status.success(),
        "swapmesh {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Stderr of a command that must fail.
pub(crate) fn fails(dir: &Path, args: &[&str]) -> String {
    let out = swapmesh(dir, args);
    assert!(
        !out.status.success(),
        "swapmesh {args:?} should have failed"
    );
    String::from_utf8(out.stderr).expect("utf-8 output")
}

/// A running `swapmesh run`.
pub(crate) struct Daemon {
    pub(crate) child: Child,
    pub(crate) dir: PathBuf,
    pub(crate) peer: String,
    pub(crate) api: String,
    pub(crate) listening: Vec<String>,
}

/// Extra arguments a test node always runs with: no LAN discovery, and an
/// API port picked by the system unless the test gives `--api` itself.
const BASE_ARGS: &[&str] = &["--no-mdns"];
const BASE_API: &[&str] = &["--api", "127.0.0.1:0"];

impl Daemon {
    /// Starts `swapmesh run` on `dir` with `args` and waits for its ready line.
    pub(crate) fn start(dir: &Path, args: &[&str]) -> Daemon {
        Self::try_start(dir, args).unwrap_or_else(|e| panic!("node did not start: {e}"))
    }

    /// Starts a node; the error is its stderr when it exits before being ready.
    pub(crate) fn try_start(dir: &Path, args: &[&str]) -> Result<Daemon, String> {
        Self::try_start_env(dir, args, &[])
    }

    /// Starts `swapmesh run` with extra environment variables (a fault to inject).
    pub(crate) fn start_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Daemon {
        Self::try_start_env(dir, args, env).unwrap_or_else(|e| panic!("node did not start: {e}"))
    }

    fn try_start_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<Daemon, String> {
        Self::try_start_in(&[], dir, args, env)
    }

    /// Starts `swapmesh run` as the last argument of the command `prefix`
    /// (`nsenter …` to run it in another mount namespace, say).
    pub(crate) fn try_start_in(
        prefix: &[&str],
        dir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Daemon, String> {
        let mut command = match prefix.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(bin());
                c
            }
            None => Command::new(bin()),
        };
        let mut child = command
            .arg("--data-dir")
            .arg(dir)
            .arg("run")
            .args(BASE_ARGS)
            .args(if args.contains(&"--api") {
                &[]
            } else {
                BASE_API
            })
            .args(args)
            .env_remove("SWAPMESH_DATA_DIR")
            .env_remove("SWAPMESH_FAULT")
            .envs(env.iter().copied())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let line = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let out = child.wait_with_output().expect("wait");
                return Err(String::from_utf8_lossy(&out.stderr).into_owned());
            }
        };
        let rest = line
            .strip_prefix("swapmesh ready: peer ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        let words: Vec<&str> = rest.split_whitespace().collect();
        assert_eq!(words[1], "api", "{line}");
        assert_eq!(words[3], "listening", "{line}");
        let api = words[2].trim_start_matches("http://").to_owned();
        Ok(Daemon {
            child,
            dir: dir.to_owned(),
            peer: words[0].to_owned(),
            api,
            listening: words[4..].iter().map(|s| s.to_string()).collect(),
        })
    }

    /// A node listening on a free TCP port of 127.0.0.1 in the test area,
    /// bootstrapped from `bootstrap` if given: a neighbour of the others.
    pub(crate) fn neighbour(dir: &Path, bootstrap: Option<&Daemon>) -> Daemon {
        let mut args = vec!["--listen", "/ip4/127.0.0.1/tcp/0", "--area", "u4pru"];
        let address;
        if let Some(b) = bootstrap {
            address = b.bootstrap_address();
            args.extend(["--bootstrap", address.as_str()]);
        }
        Daemon::start(dir, &args)
    }

    /// A listen address with the peer id, to bootstrap another node from.
    pub(crate) fn bootstrap_address(&self) -> String {
        format!("{}/p2p/{}", self.listening[0], self.peer)
    }

    /// The API token.
    pub(crate) fn token(&self) -> String {
        std::fs::read_to_string(self.dir.join("api-token"))
            .expect("token file")
            .trim()
            .to_owned()
    }

    /// Sends SIGTERM and returns the exit status.
    pub(crate) fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(status.success());
        let exit = wait_timeout(&mut self.child, Duration::from_secs(30));
        std::mem::forget(self);
        exit
    }

    /// Waits (up to 60 s) for the node to die by itself and returns how.
    pub(crate) fn wait_death(mut self) -> std::process::ExitStatus {
        let exit = wait_timeout(&mut self.child, Duration::from_secs(60));
        std::mem::forget(self);
        exit
    }

    /// Kills with SIGKILL (no chance to flush anything more).
    pub(crate) fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::forget(self);
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_timeout(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("process did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Polls `condition` every 200 ms for up to 60 s.
pub(crate) fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !condition() {
        if std::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Writes `n` listings of `cell` named `<prefix>-<i>`, by `authors` fixture
/// keys in turn, into the store of the data dir `dir`, before a daemon first
/// opens it.
pub(crate) fn seed_listings(dir: &Path, n: u64, authors: u64, prefix: &str, cell: &str) {
    use swapmesh_protocol::{Timestamp, fixtures};
    let store = swapmesh_store::Store::open(
        swapmesh_node::DataDir::new(dir).database(),
        swapmesh_store::StoreOptions::default(),
    )
    .unwrap();
    let now = Timestamp::now();
    let records: Vec<_> = (0..n)
        .map(|i| {
            let key = fixtures::key(i % authors);
            fixtures::verified_listing(&key, &format!("{prefix}-{i}"), cell, now)
        })
        .collect();
    store.insert_batch(&records, now).unwrap();
    store.flush_blocking().unwrap();
}
