//! init, run, the lock, key files and configuration, as a user meets them.

use std::os::unix::fs::PermissionsExt;

use crate::kit::{Daemon, fails, ok, swapmesh};

#[test]
fn init_creates_private_files_and_refuses_a_second_time() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("node");
    ok(&dir, &["init", "--name", "Ana", "--area", "u4pru"]);
    let mode = |name: &str| {
        std::fs::metadata(dir.join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(mode("node.key"), 0o600);
    assert_eq!(mode("api-token"), 0o600);
    let config = std::fs::read_to_string(dir.join("swapmesh.toml")).unwrap();
    assert!(config.contains("area = \"u4pru\""));
    let err = fails(&dir, &["init"]);
    assert!(err.contains("refusing to overwrite"), "{err}");
}

#[test]
fn run_refuses_a_key_file_others_can_read() {
    let tmp = tempfile::tempdir().unwrap();
    ok(tmp.path(), &["init"]);
    let key = tmp.path().join("node.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = Daemon::try_start(tmp.path(), &["--listen", "/memory/0"])
        .err()
        .expect("refused");
    assert!(err.contains("chmod 600"), "{err}");
}

#[test]
fn second_run_on_the_same_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let first = Daemon::start(tmp.path(), &["--listen", "/memory/0"]);
    let err = Daemon::try_start(tmp.path(), &["--listen", "/memory/0"])
        .err()
        .expect("refused");
    assert!(err.contains("already running"), "{err}");
    assert!(first.terminate().success());
}

#[test]
fn bad_setting_is_reported_with_its_source() {
    let tmp = tempfile::tempdir().unwrap();
    let err = Daemon::try_start(tmp.path(), &["--listen", "/memory/0", "--area", "nowhere"])
        .err()
        .expect("refused");
    assert!(
        err.contains("flag --area") && err.contains("geohash"),
        "{err}"
    );
    std::fs::write(tmp.path().join("swapmesh.toml"), "role = \"boss\"\n").unwrap();
    let err = Daemon::try_start(tmp.path(), &["--listen", "/memory/0"])
        .err()
        .expect("refused");
    assert!(err.contains("swapmesh.toml (key `role`)"), "{err}");
}

#[test]
fn client_command_without_a_node_says_how_to_start_one() {
    let tmp = tempfile::tempdir().unwrap();
    ok(tmp.path(), &["init"]);
    let err = fails(tmp.path(), &["status"]);
    assert!(
        err.contains("swapmesh --data-dir") && err.contains("run"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

#[test]
fn key_export_and_import_round_trip_and_import_refuses_an_existing_key() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    ok(&a, &["init"]);
    let words = ok(&a, &["key", "export"]);
    assert_eq!(words.split_whitespace().count(), 24);
    let words: Vec<&str> = words.split_whitespace().collect();
    let mut args = vec!["key", "import"];
    args.extend(&words);
    ok(&b, &args);
    assert_eq!(
        std::fs::read(a.join("node.key")).unwrap(),
        std::fs::read(b.join("node.key")).unwrap()
    );
    let err = fails(&a, &args);
    assert!(err.contains("already holds a node key"), "{err}");
    // A word outside the list. (Another word of the list would leave the
    // checksum right once in 256 tries: a flaky test.)
    let mut bad = args.clone();
    bad[2] = "zoology";
    let c = tmp.path().join("c");
    assert!(!swapmesh(&c, &bad).status.success());
}

#[test]
fn sigterm_stops_the_node_with_exit_code_zero_and_removes_api_addr() {
    let tmp = tempfile::tempdir().unwrap();
    let d = Daemon::start(tmp.path(), &["--listen", "/memory/0"]);
    assert!(tmp.path().join("api-addr").exists());
    let out = ok(tmp.path(), &["status", "--json"]);
    assert!(out.contains(&d.peer), "{out}");
    assert!(d.terminate().success());
    assert!(!tmp.path().join("api-addr").exists());
}
