//! Money as people type and read it: `--price 5` is 500 minor units of EUR and
//! is shown as `5.00 EUR`; the currency's minor digits decide, codes outside the
//! ISO 4217 table are refused on input and shown in minor units when a record
//! from the network carries one.

use serde_json::Value;
use swapmesh_protocol::listing::{Money, Period, Price};

use crate::kit::{Daemon, eventually, fails, ok};
use crate::peer::Peer;

const AREA: &str = "u4pru";

fn count_own(dir: &std::path::Path) -> usize {
    let page: Value = serde_json::from_str(&ok(dir, &["listing", "list", "--json"])).unwrap();
    page["listings"].as_array().unwrap().len()
}

#[test]
fn money_round_trips_as_typed() {
    // A neighbour on a newer build prices in a code this build does not know.
    let peer = Peer::start(AREA);
    let mut odd = swapmesh_protocol::fixtures::listing("odd-money");
    odd.title = "Odd money".into();
    odd.price = Some(Price {
        money: Money {
            amount: 1234,
            currency: *b"XYZ",
        },
        per: Period::Day,
    });
    odd.deposit = None;
    peer.publish(odd);

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    let bootstrap = peer.bootstrap_address();
    let node = Daemon::start(
        &dir,
        &[
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
            "--area",
            AREA,
            "--bootstrap",
            &bootstrap,
        ],
    );

    // 5 → 500 → "5.00 EUR" (EUR: the currency when none is set).
    let out = ok(
        &dir,
        &[
            "listing",
            "add",
            "--title",
            "Drill",
            "--kind",
            "rent",
            "--name",
            "drill",
            "--price",
            "5",
            "--deposit",
            "50.50",
            "--json",
        ],
    );
    let listing: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(listing["price"]["amount"], 500);
    assert_eq!(listing["price"]["currency"], "EUR");
    assert_eq!(listing["deposit"]["amount"], 5050);
    let shown = ok(&dir, &["listing", "show", "drill"]);
    assert!(shown.contains("5.00 EUR per day"), "{shown}");
    assert!(shown.contains("50.50 EUR"), "{shown}");
    let line = ok(&dir, &["listing", "update", "drill", "--price", "4.5"]);
    assert!(line.contains("4.50 EUR per day"), "{line}");

    // Too many decimals, or a code outside the table: one line naming it,
    // nothing published.
    let before = count_own(&dir);
    for (args, named) in [
        (vec!["--price", "5.555"], "5.555"),
        (vec!["--deposit", "1.001"], "1.001"),
        (vec!["--price", "5", "--currency", "XYZ"], "XYZ"),
        (vec!["--price", "five"], "five"),
    ] {
        let mut cmd = vec!["listing", "add", "--title", "Refused", "--kind", "rent"];
        cmd.extend(&args);
        let err = fails(&dir, &cmd);
        assert!(err.contains(named), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    }
    assert_eq!(
        count_own(&dir),
        before,
        "a refused amount published something"
    );

    // JPY has no minor digits: 1000 stays 1000.
    let out = ok(
        &dir,
        &[
            "listing",
            "add",
            "--title",
            "Tent",
            "--kind",
            "rent",
            "--name",
            "tent",
            "--price",
            "1000",
            "--currency",
            "JPY",
            "--json",
        ],
    );
    let listing: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(listing["price"]["amount"], 1000);
    assert!(ok(&dir, &["listing", "show", "tent"]).contains("1000 JPY per day"));
    assert!(
        !fails(
            &dir,
            &[
                "listing",
                "add",
                "--title",
                "T",
                "--kind",
                "rent",
                "--price",
                "1000.5",
                "--currency",
                "JPY"
            ]
        )
        .is_empty()
    );

    // The record in XYZ from the network: kept, and shown in minor units.
    eventually("the neighbour's listing in XYZ", || {
        ok(&dir, &["browse", "--area", AREA]).contains("Odd money")
    });
    let browse = ok(&dir, &["browse", "--area", AREA, "--query", "odd"]);
    assert!(
        browse.contains("1234 XYZ (minor units) per day"),
        "{browse}"
    );
    assert!(node.terminate().success());

    // The `currency` setting is the default of the CLI.
    let jpy = tmp.path().join("jpy");
    ok(&jpy, &["init"]);
    let config = jpy.join("swapmesh.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("currency = \"JPY\"\n");
    std::fs::write(&config, text).unwrap();
    let node = Daemon::start(&jpy, &["--listen", "/memory/0", "--area", AREA]);
    let out = ok(
        &jpy,
        &[
            "listing", "add", "--title", "Kayak", "--kind", "rent", "--price", "1000", "--json",
        ],
    );
    let listing: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(listing["price"]["amount"], 1000);
    assert_eq!(listing["price"]["currency"], "JPY");
    assert!(ok(&jpy, &["status"]).contains("JPY"));
    assert!(node.terminate().success());
}
