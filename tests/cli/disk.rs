//! A full disk, met by the real binary: the node turns degraded, answers every
//! write `503 degraded`, loses nothing it acknowledged, and recovers once
//! there is space again.
//!
//! The data directory is an 8 MiB tmpfs in a mount namespace of its own: a
//! holder process (`unshare --mount`, then `sleep`) keeps it, the node runs
//! in it through `nsenter`, and the test reaches its files through
//! `/proc/<holder>/root`. (A test process with several threads cannot unshare
//! its own mounts, hence the holder.)

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

use crate::http::{author, call, metrics, sample};
use crate::kit::{Daemon, eventually};

/// A process holding a mount namespace with a tmpfs at `dir`; killed on drop.
struct Holder {
    child: Child,
    dir: PathBuf,
}

impl Holder {
    /// `None` where mount namespaces are not permitted (and CI is not set).
    fn start(dir: &Path, size: &str) -> Option<Holder> {
        std::fs::create_dir_all(dir).unwrap();
        let script =
            format!("mount -t tmpfs -o size={size} tmpfs \"$0\" && echo mounted && exec sleep 900");
        let mut child = Command::new("unshare")
            .args([
                "--mount",
                "--propagation",
                "private",
                "--",
                "sh",
                "-c",
                &script,
            ])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("unshare runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        if line.trim() != "mounted" {
            let out = child.wait_with_output().unwrap();
            let why = String::from_utf8_lossy(&out.stderr).into_owned();
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI runs this test for real, but no tmpfs: {why}"
            );
            eprintln!("skipped: a mount namespace is not permitted here ({why})");
            return None;
        }
        Some(Holder {
            child,
            dir: dir.to_owned(),
        })
    }

    /// `path` (inside the data directory) as the test sees it.
    fn outside(&self, name: &str) -> PathBuf {
        let inside = self.dir.strip_prefix("/").unwrap();
        PathBuf::from(format!("/proc/{}/root", self.child.id()))
            .join(inside)
            .join(name)
    }

    /// Starts the node in the namespace; its files are read through `/proc`.
    fn node(&self) -> Daemon {
        let ns = format!("--mount=/proc/{}/ns/mnt", self.child.id());
        let mut d = Daemon::try_start_in(
            &["nsenter", &ns, "--"],
            &self.dir,
            &["--listen", "/memory/0", "--area", "u4pru"],
            &[],
        )
        .unwrap_or_else(|e| panic!("node did not start: {e}"));
        d.dir = self.outside("");
        d
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn listing(name: &str) -> Value {
    // A long description: each write takes room.
    json!({"d": name, "kinds": ["give"], "title": format!("Thing {name}"),
           "description": "x".repeat(1500)})
}

#[test]
fn full_disk_turns_the_node_degraded_and_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(holder) = Holder::start(&tmp.path().join("node"), "8m") else {
        return;
    };
    let d = holder.node();
    let mut acknowledged = Vec::new();
    for i in 0..5 {
        let reply = call(
            &d,
            "POST",
            "/api/v1/listings",
            Some(&listing(&format!("early-{i}"))),
        );
        assert_eq!(reply.status, 201, "{}", reply.body);
        acknowledged.push(reply.json()["id"].as_str().unwrap().to_owned());
    }

    // Fill the disk.
    let mut filler = std::fs::File::create(holder.outside("filler")).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while filler.write_all(&chunk).is_ok() {}
    let _ = filler.flush();

    // Writes go on until one fails: the node turns degraded.
    let mut refused = None;
    for i in 0..400 {
        let reply = call(
            &d,
            "POST",
            "/api/v1/listings",
            Some(&listing(&format!("late-{i}"))),
        );
        match reply.status {
            201 => acknowledged.push(reply.json()["id"].as_str().unwrap().to_owned()),
            _ => {
                refused = Some((reply, format!("late-{i}")));
                break;
            }
        }
    }
    let (refused, failed_name) = refused.expect("a write failed on the full disk");
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert_eq!(refused.json()["code"], "degraded", "{}", refused.body);
    let node = call(&d, "GET", "/api/v1/node", None);
    assert_eq!(node.status, 200, "reads go on: {}", node.body);
    assert_eq!(node.json()["health"]["state"], "degraded", "{}", node.body);
    assert!(node.json()["health"]["reason"].as_str().is_some());
    assert_eq!(sample(&metrics(&d), "swapmesh_degraded"), 1);
    let again = call(
        &d,
        "POST",
        "/api/v1/listings",
        Some(&listing("while-degraded")),
    );
    assert_eq!(
        (again.status, again.json()["code"].clone()),
        (503, json!("degraded"))
    );
    // Reads go on, also after attempts to recover on the full disk.
    eventually("two attempts to recover", || {
        sample(&metrics(&d), "swapmesh_degraded_attempts_total") >= 2
    });
    for id in &acknowledged {
        let read = call(&d, "GET", &format!("/api/v1/listings/{id}"), None);
        assert_eq!(read.status, 200, "{id}: {}", read.body);
    }
    assert_eq!(
        call(&d, "GET", "/api/v1/node", None).json()["health"]["state"],
        "degraded"
    );

    // Space returns: the node reopens its store and recovers.
    drop(filler);
    std::fs::remove_file(holder.outside("filler")).unwrap();
    eventually("the node to recover", || {
        call(&d, "GET", "/api/v1/node", None).json()["health"]["state"] == "ok"
    });
    assert_eq!(sample(&metrics(&d), "swapmesh_degraded"), 0);
    assert_eq!(sample(&metrics(&d), "swapmesh_degraded_recovered_total"), 1);
    let after = call(&d, "POST", "/api/v1/listings", Some(&listing("after")));
    assert_eq!(after.status, 201, "{}", after.body);
    acknowledged.push(after.json()["id"].as_str().unwrap().to_owned());

    // Every acknowledged listing is there after a restart; the refused ones
    // are not.
    assert!(d.terminate().success());
    let d = holder.node();
    for id in &acknowledged {
        let reply = call(&d, "GET", &format!("/api/v1/listings/{id}"), None);
        assert_eq!(reply.status, 200, "{id} was acknowledged: {}", reply.body);
    }
    let author = author(&d);
    for name in ["while-degraded", failed_name.as_str()] {
        let gone = call(
            &d,
            "GET",
            &format!("/api/v1/listings/{author}.{name}"),
            None,
        );
        assert_eq!(
            gone.status, 404,
            "{name} was never acknowledged: {}",
            gone.body
        );
    }
    assert!(d.terminate().success());
}
