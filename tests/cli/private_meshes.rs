//! Private meshes (issue 29) through the real binary: `mesh create` makes a
//! private mesh unless `--open`, its invite (format 2) is the only way in, a
//! listing goes to a private mesh only when named (`--mesh`, the API's
//! `meshes`) and then nowhere else (not the area, not an open mesh), and
//! outsiders in the same area never get it, by gossip, by sync or as a photo.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Value, json};

use crate::http::call;
use crate::kit::{Daemon, eventually, fails, ok};

const AREA: &str = "u4pru";
/// San Francisco: shares no area topic with [`AREA`].
const FAR: &str = "9q8yy";

/// A node listening on 127.0.0.1 in `area`, bootstrapped from `bootstrap`.
fn start(dir: &Path, area: &str, bootstrap: Option<&Daemon>) -> Daemon {
    let mut args = vec!["--listen", "/ip4/127.0.0.1/tcp/0", "--area", area];
    let address;
    if let Some(b) = bootstrap {
        address = b.bootstrap_address();
        args.extend(["--bootstrap", address.as_str()]);
    }
    Daemon::start(dir, &args)
}

/// The JSON a command that must succeed prints.
fn json(dir: &Path, args: &[&str]) -> Value {
    let out = ok(dir, args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("swapmesh {args:?}: {e}: {out}"))
}

/// A new listing of ours (`listing add … --json`), with `more` arguments.
fn add(dir: &Path, title: &str, more: &[&str]) -> Value {
    let mut args = vec![
        "listing", "add", "--title", title, "--kind", "give", "--json",
    ];
    args.extend_from_slice(more);
    json(dir, &args)
}

fn id(listing: &Value) -> String {
    listing["id"].as_str().expect("a listing id").to_owned()
}

/// The ids of the listings `browse --json` with `filter` shows.
fn browse(dir: &Path, filter: &[&str]) -> BTreeSet<String> {
    let mut args = vec!["browse", "--json"];
    args.extend_from_slice(filter);
    json(dir, &args)["listings"]
        .as_array()
        .expect("a listing array")
        .iter()
        .map(id)
        .collect()
}

/// The meshes `mesh list --json` shows.
fn meshes(dir: &Path) -> Vec<Value> {
    json(dir, &["mesh", "list", "--json"])["meshes"]
        .as_array()
        .expect("a mesh array")
        .clone()
}

fn mesh_in<'a>(list: &'a [Value], id: &str) -> &'a Value {
    list.iter()
        .find(|m| m["id"] == id)
        .unwrap_or_else(|| panic!("mesh {id} not in {list:?}"))
}

/// The format version of an invite: the first byte under its base32.
fn invite_format(invite: &str) -> u8 {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let body = invite.strip_prefix("swapmesh:").expect("an invite text");
    let value = |c: u8| {
        ALPHABET
            .iter()
            .position(|&a| a == c.to_ascii_lowercase())
            .unwrap_or_else(|| panic!("not base32: {invite}")) as u8
    };
    let b = body.as_bytes();
    (value(b[0]) << 3) | (value(b[1]) >> 2)
}

/// `invite` with its last character changed: its checksum no longer fits.
fn typo(invite: &str) -> String {
    let mut typo = invite.to_owned();
    let last = typo.pop().unwrap();
    typo.push(if last == 'a' { 'b' } else { 'a' });
    typo
}

fn is_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[test]
fn mesh_create_is_private_by_default_and_open_on_request() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let d = start(dir, AREA, None);

    let private = json(dir, &["mesh", "create", "Elm Street", "--json"]);
    assert_eq!(private["kind"], "private", "{private}");
    assert_eq!(private["name"], "Elm Street", "{private}");
    let elm = private["id"].as_str().unwrap().to_owned();
    assert!(
        elm.len() == 32 && elm.starts_with('p') && is_hex(&elm[1..]),
        "a private mesh id is p and 31 hex: {elm}"
    );
    let invite = private["invite"].as_str().unwrap();
    assert_eq!(
        invite_format(invite),
        2,
        "a private mesh's invite: {invite}"
    );

    let open = json(dir, &["mesh", "create", "Repair cafe", "--open", "--json"]);
    assert_eq!(open["kind"], "open", "{open}");
    assert_eq!(open["name"], "Repair cafe", "{open}");
    let cafe = open["id"].as_str().unwrap().to_owned();
    assert!(
        cafe.len() == 32 && is_hex(&cafe),
        "an open mesh id is 32 hex: {cafe}"
    );
    let invite = open["invite"].as_str().unwrap();
    assert_eq!(invite_format(invite), 1, "an open mesh's invite: {invite}");

    // The text answer says which kind was made; a private mesh may keep
    // off Kademlia.
    let text = ok(dir, &["mesh", "create", "Book club", "--undiscoverable"]);
    // `created private mesh ID (NAME)`, then the invite.
    let mut lines = text.lines();
    let words: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        [words[..3].to_vec(), words[4..].to_vec()],
        [
            ["created", "private", "mesh"].to_vec(),
            ["(Book", "club)"].to_vec()
        ],
        "{text}"
    );
    let club = words[3].to_owned();
    assert_eq!(invite_format(lines.next().unwrap_or_default()), 2, "{text}");

    // An open mesh always is discoverable: refused, nothing made.
    fails(
        dir,
        &["mesh", "create", "Loud", "--open", "--undiscoverable"],
    );
    let refused = call(
        &d,
        "POST",
        "/api/v1/meshes",
        Some(&json!({"name": "Loud", "open": true, "discoverable": false})),
    );
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(refused.json()["code"], "invalid_field", "{}", refused.body);
    assert_eq!(refused.json()["field"], "discoverable", "{}", refused.body);

    // Listed with kind and name, by the CLI and the API alike.
    let all = [
        (&elm, "private", "Elm Street", true),
        (&cafe, "open", "Repair cafe", true),
        (&club, "private", "Book club", false),
    ];
    let listed = meshes(dir);
    assert_eq!(listed.len(), 3, "{listed:?}");
    for (id, kind, name, discoverable) in all {
        let m = mesh_in(&listed, id);
        assert_eq!(m["kind"], kind, "{m}");
        assert_eq!(m["name"], name, "{m}");
        assert_eq!(m["discoverable"], discoverable, "{m}");
        let invite = call(&d, "GET", &format!("/api/v1/meshes/{id}/invite"), None);
        assert_eq!(invite.status, 200, "{}", invite.body);
        assert_eq!(invite.json()["kind"], kind, "{}", invite.body);
        assert_eq!(invite.json()["name"], name, "{}", invite.body);
    }
    let api = call(&d, "GET", "/api/v1/meshes", None);
    assert_eq!(api.status, 200, "{}", api.body);
    assert_eq!(
        api.json()["meshes"],
        json!(listed),
        "the API and the CLI disagree"
    );
    let text = ok(dir, &["mesh", "list"]);
    for (id, kind, name, _) in all {
        let line = text
            .lines()
            .find(|l| l.starts_with(id.as_str()))
            .unwrap_or_else(|| panic!("{id} not in {text}"));
        let words: Vec<&str> = line.split_whitespace().collect();
        let mut expected = vec![id.as_str(), kind];
        expected.extend(name.split(' '));
        assert_eq!(words, expected, "{text}");
    }

    // Leaving a private mesh answers with its kind; it is gone from the list.
    let left = call(&d, "DELETE", &format!("/api/v1/meshes/{elm}"), None);
    assert_eq!(left.status, 200, "{}", left.body);
    assert_eq!(left.json()["kind"], "private", "{}", left.body);
    assert_eq!(left.json()["id"], elm.as_str(), "{}", left.body);
    let listed = meshes(dir);
    assert!(listed.iter().all(|m| m["id"] != elm.as_str()), "{listed:?}");
    assert_eq!(listed.len(), 2, "{listed:?}");
    let late = call(
        &d,
        "POST",
        "/api/v1/listings",
        Some(&json!({"kinds": ["give"], "title": "Late", "meshes": [elm]})),
    );
    assert_eq!(late.status, 404, "{}", late.body);
    assert_eq!(late.json()["code"], "mesh_not_found", "{}", late.body);
    assert!(d.terminate().success());
}

#[test]
fn listing_placement_follows_mesh_and_area_and_updates_keep_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let d = start(dir, AREA, None);
    let elm = json(dir, &["mesh", "create", "Elm Street", "--json"])["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cafe = json(dir, &["mesh", "create", "Repair cafe", "--open", "--json"])["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // By default: the area and the open meshes, never a private one.
    let plain = add(dir, "Ladder", &[]);
    assert_eq!(plain["area"], AREA, "{plain}");
    assert_eq!(plain["meshes"], json!([cafe]), "{plain}");

    // A private mesh named (by its name here): only there.
    let private = add(dir, "Lawn mower", &["--mesh", "Elm Street"]);
    assert!(
        private.get("area").is_none(),
        "a private mesh's listing went to the area: {private}"
    );
    assert_eq!(private["meshes"], json!([elm]), "{private}");

    // An open mesh named: the area too unless --no-area.
    let open = add(dir, "Soldering iron", &["--mesh", &cafe]);
    assert_eq!(open["area"], AREA, "{open}");
    assert_eq!(open["meshes"], json!([cafe]), "{open}");
    let off = add(dir, "Sewing machine", &["--no-area"]);
    assert!(off.get("area").is_none(), "{off}");
    assert_eq!(off["meshes"], json!([cafe]), "{off}");
    let quiet = add(dir, "Tent", &["--mesh", &elm, "--no-area"]);
    assert!(quiet.get("area").is_none(), "{quiet}");
    assert_eq!(quiet["meshes"], json!([elm]), "{quiet}");

    // The API alike.
    for (title, area) in [("Wheelbarrow", None), ("Rake", Some(false))] {
        let mut body = json!({"kinds": ["give"], "title": title, "meshes": [elm]});
        if let Some(area) = area {
            body["area"] = json!(area);
        }
        let reply = call(&d, "POST", "/api/v1/listings", Some(&body));
        assert_eq!(reply.status, 201, "{}", reply.body);
        assert!(reply.json().get("area").is_none(), "{}", reply.body);
        assert_eq!(reply.json()["meshes"], json!([elm]), "{}", reply.body);
    }

    // An update keeps where the listing goes.
    let changed = json(
        dir,
        &[
            "listing",
            "update",
            &id(&private),
            "--title",
            "Lawn mower, petrol",
            "--json",
        ],
    );
    assert_eq!(changed["version"], 2, "{changed}");
    assert!(changed.get("area").is_none(), "{changed}");
    assert_eq!(changed["meshes"], json!([elm]), "{changed}");
    assert!(d.terminate().success());
}

#[test]
fn a_listing_with_a_bad_placement_is_refused_and_nothing_is_published() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let d = start(dir, AREA, None);
    let elm = json(dir, &["mesh", "create", "Elm Street", "--json"])["id"].clone();
    // `listing add` of a drill to give, with `more`, refused: its error.
    let add_drill = |more: &[&str]| {
        let mut args = vec!["listing", "add", "--title", "Drill", "--kind", "give"];
        args.extend_from_slice(more);
        fails(dir, &args)
    };

    // Through the CLI: a clear error naming the mesh.
    let err = add_drill(&["--mesh", "nosuchmesh0"]);
    assert!(
        err.contains("nosuchmesh0") && err.contains("not in mesh"),
        "{err}"
    );
    let err = add_drill(&["--mesh", "Not-A-Mesh"]);
    assert!(
        err.contains("Not-A-Mesh") && err.contains("not a mesh id"),
        "{err}"
    );

    // Through the API: 404 for a mesh (of either form) this node is not in,
    // 400 for what is no mesh id, each naming the field.
    let stranger = format!("p{}", "0".repeat(31));
    for (meshes, status, code) in [
        (json!(["nosuchmesh0"]), 404, "mesh_not_found"),
        (json!([stranger]), 404, "mesh_not_found"),
        (json!(["Not-A-Mesh"]), 400, "invalid_mesh_id"),
        (json!([""]), 400, "invalid_mesh_id"),
    ] {
        let reply = call(
            &d,
            "POST",
            "/api/v1/listings",
            Some(&json!({"kinds": ["give"], "title": "Drill", "meshes": meshes})),
        );
        assert_eq!(reply.status, status, "{meshes}: {}", reply.body);
        assert_eq!(reply.json()["code"], code, "{meshes}: {}", reply.body);
    }

    // Off the area with no open mesh to go to: nowhere, refused.
    let err = add_drill(&["--no-area"]);
    assert!(err.contains("no_place"), "{err}");

    // A private mesh's listing goes nowhere else: not beside an open mesh,
    // not beside the area.
    let cafe = json(dir, &["mesh", "create", "Repair cafe", "--open", "--json"])["id"].clone();
    let err = add_drill(&["--mesh", "Elm Street", "--mesh", "Repair cafe"]);
    assert!(err.contains("private_in_the_open"), "{err}");
    for body in [
        json!({"kinds": ["give"], "title": "Drill", "meshes": [elm], "area": true}),
        json!({"kinds": ["give"], "title": "Drill", "meshes": [elm, cafe]}),
    ] {
        let reply = call(&d, "POST", "/api/v1/listings", Some(&body));
        assert_eq!(reply.status, 422, "{body}: {}", reply.body);
        assert_eq!(reply.json()["code"], "invalid_record", "{}", reply.body);
        assert_eq!(
            reply.json()["rule"],
            "private_in_the_open",
            "{}",
            reply.body
        );
    }

    // More than 4 meshes: refused.
    let mut args = vec!["listing", "add", "--title", "Drill", "--kind", "give"];
    let more: Vec<String> = (0..4)
        .map(|i| {
            json(dir, &["mesh", "create", &format!("Street {i}"), "--json"])["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    args.extend(["--mesh", "Elm Street"]);
    for m in &more {
        args.extend(["--mesh", m.as_str()]);
    }
    let err = fails(dir, &args);
    assert!(err.contains("bad_meshes"), "{err}");

    // Nothing was published.
    let mine = json(dir, &["listing", "list", "--json"]);
    assert_eq!(mine["listings"], json!([]), "{mine}");
    assert!(browse(dir, &[]).is_empty());
    assert!(d.terminate().success());
}

#[test]
fn invite_v1_still_joins_an_open_mesh() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    // Far apart: only the mesh can carry a listing between them.
    let host = start(&a, AREA, None);
    let joiner = start(&b, FAR, None);

    let created = json(&a, &["mesh", "create", "Repair cafe", "--open", "--json"]);
    let mesh = created["id"].as_str().unwrap().to_owned();
    let invite = created["invite"].as_str().unwrap().to_owned();
    assert_eq!(invite_format(&invite), 1, "{invite}");

    // A mistyped open invite is refused too, and nothing is joined.
    let err = fails(&b, &["mesh", "join", &typo(&invite)]);
    assert!(err.to_lowercase().contains("invite"), "{err}");
    assert!(meshes(&b).is_empty());

    let joined = json(&b, &["mesh", "join", &invite, "--json"]);
    assert_eq!(joined["id"], mesh.as_str(), "{joined}");
    assert_eq!(joined["kind"], "open", "{joined}");
    assert_eq!(joined["name"], "Repair cafe", "{joined}");
    let listed = meshes(&b);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(mesh_in(&listed, &mesh)["kind"], "open");

    // By default a listing goes to the open mesh, both ways.
    let drill = add(&a, "Soldering iron", &[]);
    assert_eq!(drill["meshes"], json!([mesh]), "{drill}");
    let ladder = add(&b, "Ladder", &[]);
    assert_eq!(ladder["meshes"], json!([mesh]), "{ladder}");
    eventually("the joiner to see the host's listing", || {
        browse(&b, &["--mesh", &mesh]).contains(&id(&drill))
    });
    eventually("the host to see the joiner's listing", || {
        browse(&a, &["--mesh", &mesh]).contains(&id(&ladder))
    });
    for node in [joiner, host] {
        assert!(node.terminate().success());
    }
}

#[test]
fn a_listing_for_a_private_mesh_only_stays_off_the_area_topic() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("c"),
    );
    // All three in one area, all connected: the outsider B hears everything
    // the area carries.
    let host = start(&a, AREA, None);
    let outsider = start(&b, AREA, Some(&host));
    let member = start(&c, AREA, Some(&outsider));

    let created = json(&a, &["mesh", "create", "Elm Street", "--json"]);
    let mesh = created["id"].as_str().unwrap().to_owned();
    let joined = json(
        &c,
        &[
            "mesh",
            "join",
            created["invite"].as_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(joined["kind"], "private", "{joined}");
    assert_eq!(joined["id"], mesh.as_str(), "{joined}");

    // A private listing with a photo: the member gets both.
    let files = tempfile::tempdir().unwrap();
    let photo = files.path().join("mower.png");
    std::fs::write(&photo, crate::photos::small_png(90)).unwrap();
    let mower = add(
        &a,
        "Lawn mower",
        &["--mesh", &mesh, "--photo", photo.to_str().unwrap()],
    );
    assert!(mower.get("area").is_none(), "{mower}");
    assert_eq!(mower["meshes"], json!([mesh]), "{mower}");
    let hash = mower["photos"][0].as_str().unwrap().to_owned();
    let mower = id(&mower);
    eventually("the member to see the private listing", || {
        browse(&c, &["--mesh", &mesh]).contains(&mower)
    });
    let seen = json(&c, &["listing", "show", &mower, "--json"]);
    assert!(seen.get("area").is_none(), "{seen}");
    assert_eq!(seen["meshes"], json!([mesh]), "{seen}");
    let saved = files.path().join("member.jpg");
    ok(&c, &["blob", "get", &hash, "-o", saved.to_str().unwrap()]);
    assert!(std::fs::metadata(&saved).unwrap().len() > 0);

    // An area listing published after it reaches the outsider: by then the
    // private one would have too, had it gone to the area.
    let ladder = id(&add(&a, "Ladder", &[]));
    eventually("the outsider to see the area listing", || {
        browse(&b, &[]).contains(&ladder)
    });
    let outside = browse(&b, &[]);
    assert!(
        !outside.contains(&mower),
        "the outsider got it: {outside:?}"
    );
    // Nor the photo, whose hash it has learnt somehow.
    let err = fails(&b, &["blob", "get", &hash, "-o", "-"]);
    assert!(err.contains("photo_not_found"), "{err}");

    // Its update goes where it went: to the member (and, below, never to
    // the outsider).
    ok(
        &a,
        &["listing", "update", &mower, "--title", "Lawn mower, petrol"],
    );
    eventually("the member to see the update", || {
        json(&c, &["listing", "show", &mower, "--json"])["version"] == 2
    });

    // While the outsider is away, another of each; back, it catches up with
    // the area by sync, and only with the area.
    assert!(outsider.terminate().success());
    let secret = id(&add(&a, "Tent", &["--mesh", &mesh]));
    let rake = id(&add(&a, "Rake", &[]));
    eventually("the member to see the second private listing", || {
        browse(&c, &["--mesh", &mesh]).contains(&secret)
    });
    let outsider = start(&b, AREA, Some(&host));
    eventually("the outsider to catch up with the area", || {
        browse(&b, &[]).contains(&rake)
    });
    let outside = browse(&b, &[]);
    for private in [&mower, &secret] {
        assert!(
            !outside.contains(private),
            "the outsider got {private}: {outside:?}"
        );
        fails(&b, &["listing", "show", private]);
    }
    assert!(meshes(&b).is_empty());

    // An undiscoverable mesh's invite says so to whoever joins with it.
    let quiet = json(
        &a,
        &[
            "mesh",
            "create",
            "Quiet court",
            "--undiscoverable",
            "--json",
        ],
    );
    let joined = json(
        &c,
        &["mesh", "join", quiet["invite"].as_str().unwrap(), "--json"],
    );
    assert_eq!(joined["kind"], "private", "{joined}");
    assert_eq!(joined["discoverable"], false, "{joined}");
    let listed = meshes(&c);
    assert_eq!(mesh_in(&listed, &mesh)["discoverable"], true, "{listed:?}");
    assert_eq!(
        mesh_in(&listed, quiet["id"].as_str().unwrap())["discoverable"],
        false,
        "{listed:?}"
    );
    for node in [member, outsider, host] {
        assert!(node.terminate().success());
    }
}
