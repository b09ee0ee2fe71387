//! A rental through the CLI alone, between three real nodes on 127.0.0.1: the
//! README's walk-through, each command on the node of the person who runs it.
//! Ana offers her drill, Ben proposes, Ana counters, Ben accepts, the drill
//! goes and comes back with the deposit; a third node sees the listing
//! reserved, on loan and active again. A bad short id or amount is one line,
//! a non-zero exit, and changes nothing.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::kit::{Daemon, eventually, fails, ok, swapmesh};

/// How every node of the walk-through runs.
const NODE: [&str; 4] = ["--listen", "/ip4/127.0.0.1/tcp/0", "--area", "u4pru"];

/// The agreement `short` as `dir`'s node shows it, if it has it.
fn agreement_at(dir: &Path, short: &str) -> Option<Value> {
    let out = swapmesh(dir, &["agreement", "show", short, "--json"]);
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).expect("agreement show --json is JSON"))
}

/// The agreement `short` as `dir`'s node shows it.
fn agreement(dir: &Path, short: &str) -> Value {
    agreement_at(dir, short).expect("the node has the agreement")
}

/// Waits until `dir`'s node lets its owner take `action` on `short`.
fn until_next(dir: &Path, short: &str, action: &str) {
    eventually(&format!("{action} to be next at {}", dir.display()), || {
        agreement_at(dir, short).is_some_and(|a| {
            a["next"]
                .as_array()
                .is_some_and(|next| next.iter().any(|n| n == action))
        })
    });
}

/// Waits until `dir`'s node shows `listing` with `status`.
fn until_status(dir: &Path, listing: &str, status: &str) {
    eventually(&format!("the drill to be {status}"), || {
        let text = swapmesh(dir, &["listing", "show", listing, "--json"]);
        let listing: Value = serde_json::from_slice(&text.stdout).unwrap_or(Value::Null);
        listing["status"] == status
    });
}

/// Runs `args` on `dir`'s node; its one line must start with `done`.
fn acts(dir: &Path, args: &[&str], done: &str) -> String {
    let line = ok(dir, args);
    assert!(line.starts_with(done), "{args:?} printed {line:?}");
    assert_eq!(line.lines().count(), 1, "{line}");
    line
}

/// Three nodes after the README's walk-through: Ana rented her drill to Ben
/// and it came back; Cas watched.
pub(crate) struct Walk {
    /// Ana's, Ben's and Cas's nodes.
    pub(crate) nodes: Vec<Daemon>,
    /// Their data directories.
    pub(crate) ana: PathBuf,
    pub(crate) ben: PathBuf,
    pub(crate) cas: PathBuf,
    /// The agreement, by the short id the CLI printed.
    pub(crate) short: String,
    _tmp: tempfile::TempDir,
}

/// Runs the README's walk-through to a completed rental, checking each step.
pub(crate) fn completed_rental() -> Walk {
    let tmp = tempfile::tempdir().unwrap();
    let (ana_dir, ben_dir, cas_dir) = (
        tmp.path().join("ana"),
        tmp.path().join("ben"),
        tmp.path().join("cas"),
    );
    let ana_node = Daemon::start(&ana_dir, &NODE);
    let boot = ana_node.bootstrap_address();
    let from_ana: Vec<&str> = NODE.iter().copied().chain(["--bootstrap", &boot]).collect();
    let nodes = vec![
        ana_node,
        Daemon::start(&ben_dir, &from_ana),
        Daemon::start(&cas_dir, &from_ana),
    ];
    let (ana, ben, cas) = (ana_dir.as_path(), ben_dir.as_path(), cas_dir.as_path());

    // Ana offers her drill; Ben finds it and names it by the start of its id.
    ok(
        ana,
        &[
            "listing",
            "add",
            "--title",
            "Cordless drill",
            "--kind",
            "rent",
            "--kind",
            "share",
            "--price",
            "5",
            "--per",
            "day",
            "--deposit",
            "50",
            "--tag",
            "tools",
        ],
    );
    let mut found = String::new();
    eventually("Ben to find the drill", || {
        found = ok(ben, &["browse", "--area", "u4pru", "--query", "drill"]);
        found.contains("Cordless drill")
    });
    let listing = found.split_whitespace().next().unwrap().to_owned();
    let drill = &listing[..8];
    until_status(cas, &listing, "active");

    // Ben proposes a rental from now; it waits at most for Ana's node.
    let proposed = acts(
        ben,
        &[
            "agreement",
            "propose",
            drill,
            "--kind",
            "rent",
            "--start",
            "now",
            "--due",
            "+3d",
            "--price",
            "5",
            "--deposit",
            "50",
            "--pickup",
            "by the blue gate",
            "--note",
            "For the weekend?",
        ],
        "proposed ",
    );
    let short = proposed.split_whitespace().nth(1).unwrap().to_owned();
    let short = short.as_str();
    until_next(ana, short, "counter");

    // A short id too short, or an amount with too many decimals: one line,
    // a non-zero exit, and nothing sent.
    for (args, names) in [
        (
            ["agreement", "counter", &short[..6], "--price", "4"],
            "at least 8",
        ),
        (
            ["agreement", "counter", short, "--price", "4.555"],
            "--price",
        ),
    ] {
        let error = fails(ana, &args);
        assert_eq!(error.lines().count(), 1, "{error}");
        assert!(error.contains(names), "{error}");
    }
    let before = agreement(ana, short);
    assert_eq!(before["events"].as_array().unwrap().len(), 1, "{before}");
    assert_eq!(before["terms"]["price"]["amount"], 500, "{before}");

    // Ana counters with 4 a day; Ben accepts; the drill is reserved.
    acts(
        ana,
        &[
            "agreement",
            "counter",
            short,
            "--price",
            "4",
            "--note",
            "4 a day is fine",
        ],
        "countered ",
    );
    until_next(ben, short, "accept");
    acts(ben, &["agreement", "accept", short], "accepted ");
    until_status(cas, &listing, "reserved");

    // Ana hands it over and Ben confirms: on loan.
    until_next(ana, short, "handover");
    acts(ana, &["agreement", "handover", short], "handed over ");
    until_status(cas, &listing, "on_loan");
    until_next(ben, short, "confirm");
    acts(ben, &["agreement", "confirm", short], "confirmed ");

    // Ben gives it back; Ana confirms with the deposit returned: active again.
    until_next(ben, short, "return");
    acts(ben, &["agreement", "return", short], "gave back ");
    until_next(ana, short, "confirm");
    let last = acts(
        ana,
        &["agreement", "confirm", short, "--deposit-returned", "50"],
        "confirmed ",
    );
    assert!(last.contains(": completed;"), "{last}");
    until_status(cas, &listing, "active");
    let short = short.to_owned();
    Walk {
        nodes,
        ana: ana_dir,
        ben: ben_dir,
        cas: cas_dir,
        short,
        _tmp: tmp,
    }
}

#[test]
fn rental_through_the_cli_with_a_counter_offer_completes() {
    let walk = completed_rental();
    let (ana, ben, short) = (walk.ana.as_path(), walk.ben.as_path(), walk.short.as_str());

    // Both nodes hold the same completed chain; Ben's shows it in words.
    eventually("Ben's node to see it completed", || {
        agreement(ben, short)["state"] == "completed"
    });
    let (at_ana, at_ben) = (agreement(ana, short), agreement(ben, short));
    assert_eq!(at_ana["state"], "completed");
    assert_eq!(at_ana["events"], at_ben["events"]);
    assert_eq!(at_ana["terms"]["price"]["amount"], 400, "{at_ana}");
    let shown = ok(ben, &["agreement", "show", short]);
    for words in [
        "price 4.00 EUR per day",
        "deposit returned 50.00 EUR",
        "\"4 a day is fine\"",
    ] {
        assert!(shown.contains(words), "{words:?} not in\n{shown}");
    }
    let listed = ok(ben, &["agreement", "list", "--state", "completed"]);
    assert!(
        listed.starts_with(&format!("{short}  completed  rent")),
        "{listed}"
    );
}
