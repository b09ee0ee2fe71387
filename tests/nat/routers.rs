//! The topology itself: the routers let their homes out and nobody in, so a
//! test that sees listings cross between the homes cannot have passed through
//! a hole in its own network.

use std::time::{Duration, Instant};

use crate::node::{NsNode, PORT};
use crate::topology::{Topology, Unsolicited};

/// How long a probe that must fail is given (a dropped SYN only times out).
const PROBE: Duration = Duration::from_secs(3);
/// How long a probe that must succeed is given.
const CONTROL: Duration = Duration::from_secs(10);

#[test]
fn the_routers_really_block_inbound() {
    // Both kinds of router the tests use: silent, and refusing with a reset.
    for builder in [Topology::builder(), Topology::builder().refusing()] {
        let Some(net) = builder.build_or_skip() else {
            return;
        };
        let started = Instant::now();
        check_closed(&net);
        eprintln!(
            "{:?} routers checked in {:?}",
            net.unsolicited,
            started.elapsed()
        );
    }
}

fn check_closed(net: &Topology) {
    let tmp = tempfile::tempdir().unwrap();
    let server = NsNode::server(&net.server, &tmp.path().join("server"));
    let home = NsNode::home(
        "home a",
        &net.homes[0],
        &tmp.path().join("home-a"),
        &server.bootstrap_address(),
    );
    let (router, lan) = (&net.routers[0], &net.homes[0]);

    // Controls: the probe connects where something listens and the way is open.
    assert!(
        Topology::tcp_connects(&net.internet.ns, net.server.address, PORT, CONTROL),
        "the internet cannot reach the server: the probe itself is broken"
    );
    assert!(
        Topology::tcp_connects(&router.ns, lan.address, PORT, CONTROL),
        "the router cannot reach the home node on its own LAN: nothing listens there"
    );
    // Out: the home reaches the server. The server's only route is its default
    // one, to the internet namespace, which forwards nothing: the answer can only
    // come back because the router rewrote the source to its own address.
    assert!(
        Topology::tcp_connects(&lan.ns, net.server.address, PORT, CONTROL),
        "the home cannot connect out to the server through its router"
    );

    // In: nothing forwarded on the router's own address (no port forwarding)…
    let probing = Instant::now();
    assert!(
        !Topology::tcp_connects(&net.internet.ns, router.wan, PORT, PROBE),
        "the router's internet address forwards port {PORT} to the home"
    );
    // …refused at once, or left to time out, as the router was built to.
    let answered = probing.elapsed() < PROBE / 2;
    assert_eq!(
        answered,
        net.unsolicited == Unsolicited::Refused,
        "{:?} router, probe failed after {:?}",
        net.unsolicited,
        probing.elapsed()
    );
    // …and nothing new forwarded to the home even by someone who routes the
    // home's private addresses to the router, from the internet or the server.
    Topology::route(&net.internet.ns, &router.lan_subnet, router.wan);
    Topology::route(&net.server.ns, &router.lan_subnet, router.wan);
    assert!(
        !Topology::tcp_connects(&net.internet.ns, lan.address, PORT, PROBE),
        "the internet connects to the home node at {}:{PORT} through the router:\n{}",
        lan.address,
        Topology::ruleset(router)
    );
    assert!(
        !Topology::tcp_connects(&net.server.ns, lan.address, PORT, PROBE),
        "the server connects to the home node at {}:{PORT} through the router:\n{}",
        lan.address,
        Topology::ruleset(router)
    );
    // The other home is just as closed.
    let (router, lan) = (&net.routers[1], &net.homes[1]);
    let other = NsNode::home(
        "home b",
        lan,
        &tmp.path().join("home-b"),
        &server.bootstrap_address(),
    );
    assert!(Topology::tcp_connects(
        &router.ns,
        lan.address,
        PORT,
        CONTROL
    ));
    Topology::route(&net.internet.ns, &router.lan_subnet, router.wan);
    assert!(
        !Topology::tcp_connects(&net.internet.ns, lan.address, PORT, PROBE),
        "the internet connects to the second home node:\n{}",
        Topology::ruleset(router)
    );
    assert!(!Topology::tcp_connects(
        &net.internet.ns,
        router.wan,
        PORT,
        PROBE
    ));
    drop((other, home, server));
}
