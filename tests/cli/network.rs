//! Several real `swapmesh` processes on 127.0.0.1 over TCP, driven through the CLI.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::kit::{Daemon, eventually, ok};

const AREA: &str = "u4pru";

fn start(dir: &Path, bootstrap: Option<&Daemon>) -> Daemon {
    let mut args = vec!["--listen", "/ip4/127.0.0.1/tcp/0", "--area", AREA];
    let address;
    if let Some(b) = bootstrap {
        address = b.bootstrap_address();
        args.extend(["--bootstrap", address.as_str()]);
    }
    Daemon::start(dir, &args)
}

/// (id, title, version) of every listing `browse --json` shows on a node.
fn browse(dir: &Path) -> BTreeSet<(String, String, u64)> {
    let out = ok(dir, &["browse", "--area", AREA, "--json"]);
    let page: Value = serde_json::from_str(&out).expect("browse --json prints JSON");
    page["listings"]
        .as_array()
        .expect("a listing array")
        .iter()
        .map(|l| {
            (
                l["id"].as_str().unwrap().to_owned(),
                l["title"].as_str().unwrap().to_owned(),
                l["version"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn add(dir: &Path, title: &str) -> String {
    add_with(dir, title, &[])
}

/// [`add`] with more arguments (`--mesh ID`, `--area`, …).
fn add_with(dir: &Path, title: &str, more: &[&str]) -> String {
    let mut args = vec![
        "listing", "add", "--title", title, "--kind", "give", "--json",
    ];
    args.extend_from_slice(more);
    let out = ok(dir, &args);
    let listing: Value = serde_json::from_str(&out).unwrap();
    listing["id"].as_str().unwrap().to_owned()
}

#[test]
fn listing_added_on_the_first_of_three_nodes_reaches_the_third_with_its_updates_and_withdrawal() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs: Vec<_> = (0..3).map(|i| tmp.path().join(format!("n{i}"))).collect();
    let first = start(&dirs[0], None);
    let second = start(&dirs[1], Some(&first));
    let third = start(&dirs[2], Some(&second));

    let id = add(&dirs[0], "Cargo bike");
    eventually("the third node to list it", || {
        browse(&dirs[2]).iter().any(|(i, _, _)| *i == id)
    });
    ok(
        &dirs[0],
        &[
            "listing",
            "update",
            &id,
            "--title",
            "Cargo bike, with rain cover",
        ],
    );
    eventually("the update to reach the third node", || {
        browse(&dirs[2]).contains(&(id.clone(), "Cargo bike, with rain cover".to_owned(), 2))
    });
    ok(&dirs[0], &["listing", "withdraw", &id]);
    eventually("the withdrawal to reach the third node", || {
        !browse(&dirs[2]).iter().any(|(i, _, _)| *i == id)
    });
    let shown = ok(&dirs[2], &["listing", "show", &id, "--json"]);
    assert!(shown.contains("\"withdrawn\""), "{shown}");

    for node in [third, second, first] {
        assert!(node.terminate().success(), "SIGTERM must exit 0");
    }
}

#[test]
fn node_killed_with_sigkill_still_has_every_listing_it_acknowledged() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    let node = start(&dir, None);
    let ids: BTreeSet<String> = (0..15).map(|i| add(&dir, &format!("Thing {i}"))).collect();
    node.kill9();
    let node = start(&dir, None);
    let out = ok(&dir, &["listing", "list", "--json"]);
    let page: Value = serde_json::from_str(&out).unwrap();
    let listed: BTreeSet<String> = page["listings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, ids, "an acknowledged listing was lost");
    assert!(node.terminate().success());
}

#[test]
fn node_stopped_while_neighbours_changed_listings_lists_exactly_what_they_list_after_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs: Vec<_> = (0..3).map(|i| tmp.path().join(format!("n{i}"))).collect();
    let first = start(&dirs[0], None);
    let second = start(&dirs[1], Some(&first));
    let third = start(&dirs[2], Some(&first));
    let kept = add(&dirs[0], "Ladder");
    let changed = add(&dirs[1], "Tent");
    let gone = add(&dirs[0], "Sofa");
    eventually("the third node to list all three", || {
        browse(&dirs[2]).len() == 3
    });

    // The third node goes away; its neighbours carry on without it.
    assert!(third.terminate().success());
    ok(
        &dirs[1],
        &["listing", "update", &changed, "--title", "Tent for four"],
    );
    ok(&dirs[0], &["listing", "withdraw", &gone]);
    let added = add(&dirs[1], "Kayak");
    let added_too = add(&dirs[0], "Drill");
    let expected = browse(&dirs[0]);
    assert_eq!(expected.len(), 4, "{expected:?}");
    assert!(expected.iter().any(|(i, _, _)| *i == kept));
    assert!(expected.iter().any(|(i, _, _)| *i == added));
    assert!(expected.iter().any(|(i, _, _)| *i == added_too));

    // Back again: it reconnects from its address book and catches up by sync.
    let third = Daemon::start(
        &dirs[2],
        &["--listen", "/ip4/127.0.0.1/tcp/0", "--area", AREA],
    );
    eventually(
        "the third node to list exactly what its neighbours list",
        || browse(&dirs[2]) == expected && browse(&dirs[1]) == expected,
    );
    for node in [third, second, first] {
        assert!(node.terminate().success());
    }
}

#[test]
fn mesh_invite_brings_a_distant_neighbour_in_and_leaves_outsiders_out() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs: Vec<_> = (0..3).map(|i| tmp.path().join(format!("n{i}"))).collect();
    let host = start(&dirs[0], None);
    // Far away (San Francisco): shares no area topic with the host.
    let far = ["--listen", "/ip4/127.0.0.1/tcp/0", "--area", "9q8yy"];
    let outsider_bootstrap = host.bootstrap_address();
    let mut outsider_args = far.to_vec();
    outsider_args.extend(["--bootstrap", outsider_bootstrap.as_str()]);
    let outsider = Daemon::start(&dirs[2], &outsider_args);
    let joiner = Daemon::start(&dirs[1], &far);

    let created: Value =
        serde_json::from_str(&ok(&dirs[0], &["mesh", "create", "Elm Street", "--json"])).unwrap();
    let mesh = created["id"].as_str().unwrap().to_owned();
    let invite = created["invite"].as_str().unwrap().to_owned();
    assert!(invite.starts_with("swapmesh:"), "{invite}");
    assert_eq!(created["kind"], "private", "{created}");

    // A mistyped invite is refused with a clear error, and nothing is joined.
    let mut typo = invite.clone();
    let last = typo.pop().unwrap();
    typo.push(if last == 'a' { 'b' } else { 'a' });
    let err = crate::kit::fails(&dirs[1], &["mesh", "join", &typo]);
    assert!(err.to_lowercase().contains("invite"), "{err}");
    assert!(!ok(&dirs[1], &["mesh", "list"]).contains(&mesh));

    let joined = ok(&dirs[1], &["mesh", "join", &invite]);
    assert!(joined.contains(&mesh), "{joined}");
    // `mesh list`: id, kind, name.
    let listed = ok(&dirs[1], &["mesh", "list"]);
    let line = listed
        .lines()
        .find(|l| l.starts_with(&mesh))
        .unwrap_or_else(|| panic!("the joined mesh is not listed: {listed}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        words,
        [mesh.as_str(), "private", "Elm", "Street"],
        "{listed}"
    );

    // A private mesh gets a listing only when it is named.
    let id = add_with(&dirs[0], "Lawn mower", &["--mesh", &mesh]);
    eventually("the joiner to see the mesh's listing", || {
        let out = ok(&dirs[1], &["browse", "--mesh", &mesh, "--json"]);
        out.contains(&id)
    });
    let everything = ok(&dirs[2], &["browse", "--json"]);
    assert!(!everything.contains(&id), "an outsider got a mesh listing");
    for node in [joiner, outsider, host] {
        assert!(node.terminate().success());
    }
}
