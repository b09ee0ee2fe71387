//! Pages and short ids as a person meets them: `--limit` and `--cursor` with the
//! next command printed, `--all` to the end, and listings named by a name of
//! one's own or by a unique start of their id.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::http::{author, call};
use crate::kit::{Daemon, eventually, fails, ok, seed_listings, swapmesh};
use crate::peer::Peer;

const AREA: &str = "u4pru";

/// The listing ids in lines the CLI printed (`<author-hex>.<name>  v1 …`).
fn ids(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.len() > 65 && w.as_bytes()[64] == b'.')
        .map(str::to_owned)
        .collect()
}

#[test]
fn browse_all_follows_the_cursor() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    // 250 listings of the cell by five authors.
    seed_listings(&dir, 250, 5, "thing", AREA);
    let d = Daemon::start(&dir, &["--listen", "/memory/0", "--area", AREA]);

    let all = ids(&ok(
        &dir,
        &["browse", "--area", AREA, "--limit", "100", "--all"],
    ));
    assert_eq!(all.len(), 250);
    assert_eq!(
        all.iter().collect::<BTreeSet<_>>().len(),
        250,
        "a listing came twice"
    );

    // One page, and the command that prints the next one.
    let first = ok(&dir, &["browse", "--area", AREA, "--limit", "100"]);
    assert_eq!(ids(&first).len(), 100);
    let next = first
        .lines()
        .find_map(|l| l.strip_prefix("next page: "))
        .unwrap_or_else(|| panic!("no next command in {first}"));
    assert!(
        next.contains("--cursor") && next.contains("--area u4pru"),
        "{next}"
    );
    let words: Vec<&str> = next.split_whitespace().collect();
    assert_eq!(words[0], "swapmesh");
    assert_eq!(words[1..3], ["--data-dir", dir.to_str().unwrap()]);
    let second = ok(&dir, &words[3..]);
    assert_eq!(ids(&second).len(), 100);
    assert!(ids(&second).iter().all(|id| !ids(&first).contains(id)));
    assert!(
        !swapmesh(&dir, &["browse", "--all", "--cursor", "00"])
            .status
            .success()
    );

    // Own listings page the same way: 100 of them, what a node keeps of
    // one author's day in a place.
    for i in 0..100 {
        let body =
            json!({"d": format!("mine-{i}"), "kinds": ["give"], "title": format!("Mine {i}")});
        let reply = call(&d, "POST", "/api/v1/listings", Some(&body));
        assert_eq!(reply.status, 201, "{}", reply.body);
    }
    let mine: Value = serde_json::from_str(&ok(
        &dir,
        &["listing", "list", "--limit", "30", "--all", "--json"],
    ))
    .unwrap();
    assert_eq!(mine["listings"].as_array().unwrap().len(), 100);
    assert!(mine["next"].is_null());

    // The next one is over the quota, refused without changing anything.
    let body = json!({"d": "one-too-many", "kinds": ["give"], "title": "Over"});
    let refused = call(&d, "POST", "/api/v1/listings", Some(&body));
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(refused.json()["code"], "over_quota");
    assert_eq!(refused.json()["rule"], "quota_day");
    let author = author(&d);
    let gone = call(
        &d,
        "GET",
        &format!("/api/v1/listings/{author}.one-too-many"),
        None,
    );
    assert_eq!(gone.status, 404, "{}", gone.body);
    assert!(d.terminate().success());
}

#[test]
fn short_ids_resolve_and_ambiguity_is_reported() {
    let peer = Peer::start(AREA);
    let bike = peer.publish(swapmesh_protocol::fixtures::listing("bike"));
    let boat = peer.publish(swapmesh_protocol::fixtures::listing("boat"));
    let theirs = peer.node.author().to_string();

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    let bootstrap = peer.bootstrap_address();
    let d = Daemon::start(
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
    eventually("the neighbour's two listings", || {
        let out = ok(&dir, &["browse", "--area", AREA]);
        out.contains(&bike) && out.contains(&boat)
    });

    // An own listing whose name is also the start of the neighbour's ids.
    let own_name = &theirs[..10];
    ok(
        &dir,
        &[
            "listing",
            "add",
            "--title",
            "Hex-named lamp",
            "--kind",
            "give",
            "--name",
            own_name,
        ],
    );
    let shown = ok(&dir, &["listing", "show", own_name]);
    assert!(
        shown.contains("Hex-named lamp"),
        "the own name must win: {shown}"
    );

    // A longer prefix names both of the neighbour's listings: the candidates.
    let err = fails(&dir, &["listing", "show", &theirs[..12]]);
    assert!(err.contains(&bike) && err.contains(&boat), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");

    // A unique prefix, and the full id, name one listing.
    let unique = format!("{theirs}.bi");
    assert!(ok(&dir, &["listing", "show", &unique]).contains(&bike));
    let boat_json: Value =
        serde_json::from_str(&ok(&dir, &["listing", "show", &boat, "--json"])).unwrap();
    assert_eq!(boat_json["id"], boat);

    // Too short, or naming nothing: one line, non-zero.
    let err = fails(&dir, &["listing", "show", "abc"]);
    assert!(err.contains("at least 8"), "{err}");
    let err = fails(&dir, &["listing", "show", "0000000000"]);
    assert!(err.contains("no listing matches"), "{err}");

    // Short ids work wherever an id is taken; a neighbour's listing stays theirs.
    let updated = ok(&dir, &["listing", "update", own_name, "--status", "paused"]);
    assert!(updated.contains("[paused]"), "{updated}");
    let err = fails(&dir, &["listing", "withdraw", &unique]);
    assert!(err.contains("not_your_listing"), "{err}");
    let withdrawn = ok(&dir, &["listing", "withdraw", own_name]);
    assert!(withdrawn.contains(own_name), "{withdrawn}");
    assert!(d.terminate().success());
}
