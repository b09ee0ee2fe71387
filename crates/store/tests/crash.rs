//! Crash safety, the way sled tests itself: a child process writes records and
//! prints each one only after a durable flush; the parent kills it with SIGKILL at
//! random moments and then checks that every acknowledged write is there and that
//! every index agrees with the records.
//!
//! The child is this test binary run again with an environment switch.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{NOW, Rec, block_on};
use rand::{Rng, SeedableRng, rngs::StdRng};
use swapmesh_protocol::{RecordId, Version, supersedes};
use swapmesh_store::{Store, StoreOptions};

const CHILD_DIR: &str = "SWAPMESH_STORE_CRASH_DIR";
const CHILD_ROUND: &str = "SWAPMESH_STORE_CRASH_ROUND";
const ROUNDS: u64 = 60;
/// Addresses a round writes to: later writes are newer versions of earlier ones.
const NAMES: u64 = 40;

/// What the child acknowledged: the record at (round, name) reached this version.
struct Ack {
    name: String,
    version: Version,
}

fn record(round: u64, i: u64) -> Rec {
    Rec {
        seq: i / NAMES + 1,
        withdrawn: i % 7 == 6,
        title: format!("Thing {i} of round {round}"),
        ..Rec::new(&format!("r{round}-{}", i % NAMES), "u4pru")
    }
}

/// The child: writes until killed, acknowledging after each durable flush.
fn child(dir: &str, round: u64) {
    let store = Store::open(dir, StoreOptions::default()).unwrap();
    let mut out = std::io::stdout().lock();
    writeln!(out, "READY").unwrap();
    out.flush().unwrap();
    let mut i = 0;
    loop {
        let batch: Vec<_> = (i..i + 1 + i % 4)
            .map(|j| record(round, j).sign())
            .collect();
        i += batch.len() as u64;
        for r in &batch {
            store.insert(r, NOW).unwrap();
        }
        block_on(store.flush()).unwrap();
        for r in &batch {
            let l = r.body().listing().unwrap();
            writeln!(out, "ACK {} {} {}", l.d, r.body().seq, r.id()).unwrap();
        }
        out.flush().unwrap();
    }
}

fn parse_ack(line: &str) -> Option<Ack> {
    let mut parts = line.strip_prefix("ACK ")?.split(' ');
    let name = parts.next()?.to_owned();
    let seq = parts.next()?.parse().ok()?;
    let id: RecordId = parts.next()?.parse().ok()?;
    Some(Ack {
        name,
        version: Version { seq, id },
    })
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        let round = std::env::var(CHILD_ROUND).unwrap().parse().unwrap();
        child(&dir, round);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut rng = StdRng::seed_from_u64(0x5eed_c4a5);
    let started = Instant::now();
    let mut total_acks = 0;
    for round in 0..ROUNDS {
        let mut proc = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "acknowledged_writes_survive_sigkill",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIR, dir.path())
            .env(CHILD_ROUND, round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = proc.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut lines = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let line = rx
                .recv_timeout(deadline - Instant::now())
                .unwrap_or_else(|e| panic!("round {round}: child did not report READY: {e}"));
            // libtest may print "test name ... " on the same line first.
            let ready = line.ends_with("READY");
            lines.push(line);
            if ready {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(rng.gen_range(5..120)));
        proc.kill().unwrap(); // SIGKILL on Unix
        proc.wait().unwrap();
        reader.join().unwrap();
        lines.extend(rx.try_iter());

        let acks: Vec<Ack> = lines.iter().filter_map(|l| parse_ack(l)).collect();
        total_acks += acks.len();
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        for ack in &acks {
            let address = Rec {
                ..Rec::new(&ack.name, "u4pru")
            }
            .body()
            .address();
            let current = store.current_version(&address).unwrap();
            let ok = current.is_some_and(|c| c == ack.version || supersedes(c, ack.version));
            assert!(
                ok,
                "round {round}: acknowledged {} v{} lost (now {current:?})",
                ack.name, ack.version.seq
            );
            let stored = store.get(&current.unwrap().id).unwrap();
            assert!(
                stored.is_some(),
                "round {round}: current record of {} missing",
                ack.name
            );
        }
        let c = store.check_consistency().unwrap();
        assert!(c.is_ok(), "round {round}: {c:?}");
        drop(store);
    }
    assert!(
        total_acks > ROUNDS as usize,
        "children acknowledged only {total_acks} writes"
    );
    eprintln!(
        "{ROUNDS} kills, {total_acks} acknowledged writes, {:?}",
        started.elapsed()
    );
}
