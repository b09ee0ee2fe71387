//! [`Topology`]: an "internet" bridge with a server on it and two homes, each
//! behind its own masquerading router, all in network namespaces that are
//! removed again when the topology is dropped (also when a test panics).

use std::net::Ipv4Addr;
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// The server's address on the internet.
pub(crate) const SERVER: Ipv4Addr = Ipv4Addr::new(10, 200, 0, 1);
/// The internet namespace's own address on the bridge (where probes start).
pub(crate) const INTERNET: Ipv4Addr = Ipv4Addr::new(10, 200, 0, 254);

/// Every namespace a test makes starts with this, then the test process's pid.
const PREFIX: &str = "smnat";

/// Tells the topologies of one test process apart (tests run in parallel).
static NEXT: AtomicU32 = AtomicU32::new(0);
/// `ip netns add` mounts /run/netns on first use: building one topology at a
/// time keeps parallel tests from racing on that.
static BUILDING: Mutex<()> = Mutex::new(());

/// A machine on the network: its namespace and its address.
#[derive(Clone, Debug)]
pub(crate) struct Host {
    pub(crate) ns: String,
    pub(crate) address: Ipv4Addr,
}

/// A home router: its namespace, its address on the internet, the home behind it.
#[derive(Clone, Debug)]
pub(crate) struct Router {
    pub(crate) ns: String,
    pub(crate) wan: Ipv4Addr,
    pub(crate) lan: Ipv4Addr,
    pub(crate) lan_subnet: String,
}

/// The whole network of one test. Dropping it kills every process in its
/// namespaces and deletes them.
pub(crate) struct Topology {
    /// The "internet": a namespace holding the bridge everything public is on.
    pub(crate) internet: Host,
    /// A machine with a public address (the home server of the README).
    pub(crate) server: Host,
    /// The two home routers.
    pub(crate) routers: [Router; 2],
    /// The two homes, `homes[i]` behind `routers[i]`.
    pub(crate) homes: [Host; 2],
    /// What the routers do with unsolicited connections.
    pub(crate) unsolicited: Unsolicited,
    /// Every namespace made so far, in the order made.
    made: Vec<String>,
}

/// Why namespaces cannot be made here, if they cannot.
fn missing_prerequisite() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .map(str::to_owned);
    if euid.as_deref() != Some("0") {
        return Some("network namespaces need root".to_owned());
    }
    for (tool, arg, package) in [
        ("ip", "-V", "iproute2"),
        ("nft", "--version", "nftables"),
        ("bash", "--version", "bash"),
        ("timeout", "--version", "coreutils"),
    ] {
        let runs = Command::new(tool)
            .arg(arg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !runs {
            return Some(format!("`{tool}` is not installed (package {package})"));
        }
    }
    None
}

/// Runs a command; the error says what failed and why.
fn run(program: &str, args: &[&str], stdin: Option<&str>) -> Result<Output, String> {
    use std::io::Write;
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{program} {args:?}: {e}"))?;
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().expect("piped stdin");
        pipe.write_all(text.as_bytes())
            .map_err(|e| format!("{program} {args:?}: stdin: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{program} {args:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{program} {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(out)
}

/// `ip <args>`.
fn ip(args: &[&str]) -> Result<(), String> {
    run("ip", args, None).map(drop)
}

/// `ip -n <ns> <args>`: `ip` acting inside a namespace.
fn ip_in(ns: &str, args: &[&str]) -> Result<(), String> {
    let mut all = vec!["-n", ns];
    all.extend_from_slice(args);
    ip(&all)
}

/// `ip netns exec <ns> <program> <args>`.
fn exec_in(ns: &str, program: &str, args: &[&str], stdin: Option<&str>) -> Result<Output, String> {
    let mut all = vec!["netns", "exec", ns, program];
    all.extend_from_slice(args);
    run("ip", &all, stdin)
}

/// What a router does with a connection from the internet that nobody inside
/// asked for. Either way it never reaches the home.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unsolicited {
    /// Dropped without an answer, as most home routers do: the sender only
    /// times out. A home's own outgoing SYN to the same address and port opens
    /// the way back, so DCUtR's simultaneous TCP open can punch a hole.
    Dropped,
    /// Refused with a TCP reset (or ICMP), as OpenWrt's default firewall does:
    /// a hole-punching SYN that arrives before the other side's own is answered
    /// with a reset, which kills that side's attempt; the homes stay relayed.
    Refused,
}

/// The rules of a home router: the home LAN (`lan`) is masqueraded behind the
/// router's internet address (`wan`); from the internet only what belongs to a
/// connection the home opened is forwarded or accepted, nothing new (no port
/// forwarding), and the rest is `unsolicited`.
fn router_rules(unsolicited: Unsolicited) -> String {
    let refuse = match unsolicited {
        Unsolicited::Dropped => "drop",
        Unsolicited::Refused => {
            "meta l4proto tcp reject with tcp reset\n        iifname \"wan\" reject"
        }
    };
    format!(
        r#"
table ip nat {{
    chain postrouting {{
        type nat hook postrouting priority srcnat; policy accept;
        oifname "wan" masquerade
    }}
}}
table ip filter {{
    chain input {{
        type filter hook input priority filter; policy accept;
        iifname "wan" ct state established,related accept
        iifname "wan" {refuse}
    }}
    chain forward {{
        type filter hook forward priority filter; policy drop;
        ct state established,related accept
        iifname "lan" oifname "wan" accept
        iifname "wan" {refuse}
    }}
}}
"#
    )
}

/// Builds a [`Topology`]: `Topology::builder().refusing().build_or_skip()`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Builder {
    unsolicited: Unsolicited,
}

impl Builder {
    /// Routers that refuse unsolicited connections (reset) instead of dropping
    /// them silently.
    pub(crate) fn refusing(mut self) -> Builder {
        self.unsolicited = Unsolicited::Refused;
        self
    }

    /// The topology, or `None` (after printing "skipped: …") where namespaces
    /// cannot be made here. Under `CI=true` that is a failure instead.
    pub(crate) fn build_or_skip(self) -> Option<Topology> {
        let failed = match missing_prerequisite() {
            Some(reason) => reason,
            None => match self.build() {
                Ok(t) => return Some(t),
                Err(e) => format!("could not build the namespaces: {e}"),
            },
        };
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("the NAT tests cannot run under CI: {failed}");
        }
        eprintln!("skipped: {failed}");
        None
    }

    /// Builds the namespaces, the links, the addresses, the routes and the
    /// routers' rules.
    pub(crate) fn build(self) -> Result<Topology, String> {
        let _one_at_a_time = BUILDING.lock().unwrap_or_else(|p| p.into_inner());
        remove_stale();
        let tag = format!(
            "{PREFIX}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let ns = |role: &str| format!("{tag}-{role}");
        let mut t = Topology {
            internet: Host {
                ns: ns("inet"),
                address: INTERNET,
            },
            server: Host {
                ns: ns("srv"),
                address: SERVER,
            },
            routers: [0, 1].map(|i| Router {
                ns: ns(&format!("rt{i}")),
                wan: Ipv4Addr::new(10, 200, 0, 2 + i),
                lan: Ipv4Addr::new(192, 168, 1 + i, 1),
                lan_subnet: format!("192.168.{}.0/24", 1 + i),
            }),
            homes: [0, 1].map(|i| Host {
                ns: ns(&format!("home{i}")),
                address: Ipv4Addr::new(192, 168, 1 + i, 2),
            }),
            unsolicited: self.unsolicited,
            made: Vec::new(),
        };
        // On an error, dropping `t` removes whatever was made already.
        t.make()?;
        Ok(t)
    }
}

impl Topology {
    /// A builder; its defaults are routers that drop unsolicited connections.
    pub(crate) fn builder() -> Builder {
        Builder {
            unsolicited: Unsolicited::Dropped,
        }
    }

    fn make(&mut self) -> Result<(), String> {
        let all: Vec<String> = [&self.internet.ns, &self.server.ns]
            .into_iter()
            .chain(self.routers.iter().map(|r| &r.ns))
            .chain(self.homes.iter().map(|h| &h.ns))
            .cloned()
            .collect();
        for ns in &all {
            ip(&["netns", "add", ns])?;
            self.made.push(ns.clone());
            ip_in(ns, &["link", "set", "lo", "up"])?;
        }

        // The internet: a bridge, with an address of its own to probe from.
        let inet = self.internet.ns.clone();
        ip_in(&inet, &["link", "add", "br0", "type", "bridge"])?;
        ip_in(
            &inet,
            &["addr", "add", &format!("{INTERNET}/24"), "dev", "br0"],
        )?;
        ip_in(&inet, &["link", "set", "br0", "up"])?;

        // The server, on the bridge. Interface names only have to be unique
        // inside their namespace: each end is made where it lives.
        plug(&inet, "srv", &self.server.ns, "eth0", SERVER)?;
        ip_in(
            &self.server.ns,
            &["route", "add", "default", "via", &INTERNET.to_string()],
        )?;

        for (i, (router, home)) in self.routers.iter().zip(&self.homes).enumerate() {
            plug(&inet, &format!("rt{i}"), &router.ns, "wan", router.wan)?;
            ip_in(
                &router.ns,
                &["route", "add", "default", "via", &INTERNET.to_string()],
            )?;
            // The home LAN: one veth from the router to the home.
            ip_in(
                &router.ns,
                &[
                    "link", "add", "lan", "type", "veth", "peer", "name", "eth0", "netns", &home.ns,
                ],
            )?;
            ip_in(
                &router.ns,
                &["addr", "add", &format!("{}/24", router.lan), "dev", "lan"],
            )?;
            ip_in(&router.ns, &["link", "set", "lan", "up"])?;
            ip_in(
                &home.ns,
                &[
                    "addr",
                    "add",
                    &format!("{}/24", home.address),
                    "dev",
                    "eth0",
                ],
            )?;
            ip_in(&home.ns, &["link", "set", "eth0", "up"])?;
            ip_in(
                &home.ns,
                &["route", "add", "default", "via", &router.lan.to_string()],
            )?;
            exec_in(
                &router.ns,
                "sh",
                &["-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"],
                None,
            )?;
            exec_in(
                &router.ns,
                "nft",
                &["-f", "-"],
                Some(&router_rules(self.unsolicited)),
            )?;
        }
        Ok(())
    }

    /// Whether a TCP connection from `ns` to `address:port` is accepted within
    /// `limit` (bash's /dev/tcp, so that no other tool is needed).
    pub(crate) fn tcp_connects(ns: &str, address: Ipv4Addr, port: u16, limit: Duration) -> bool {
        let secs = format!("{}", limit.as_secs().max(1));
        let address = address.to_string();
        let port = port.to_string();
        exec_in(
            ns,
            "timeout",
            &[
                &secs,
                "bash",
                "-c",
                r#"exec 3<>"/dev/tcp/$0/$1""#,
                &address,
                &port,
            ],
            None,
        )
        .is_ok()
    }

    /// Adds a route in `ns` to `subnet` via `gateway`.
    pub(crate) fn route(ns: &str, subnet: &str, gateway: Ipv4Addr) {
        ip_in(ns, &["route", "add", subnet, "via", &gateway.to_string()])
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// The routers' rules as nft lists them now, for a failure message.
    pub(crate) fn ruleset(router: &Router) -> String {
        exec_in(&router.ns, "nft", &["list", "ruleset"], None)
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_else(|e| e)
    }
}

/// A veth from the bridge in `inet` (end `bridge_end`) to `ns` (end `end`,
/// given `address`/24), both up.
fn plug(
    inet: &str,
    bridge_end: &str,
    ns: &str,
    end: &str,
    address: Ipv4Addr,
) -> Result<(), String> {
    ip_in(
        ns,
        &[
            "link", "add", end, "type", "veth", "peer", "name", bridge_end, "netns", inet,
        ],
    )?;
    ip_in(inet, &["link", "set", bridge_end, "master", "br0", "up"])?;
    ip_in(ns, &["addr", "add", &format!("{address}/24"), "dev", end])?;
    ip_in(ns, &["link", "set", end, "up"])?;
    Ok(())
}

/// Kills every process in `ns` (only ever ours: the namespace is the test's)
/// and deletes it; its interfaces go with it.
fn remove(ns: &str) {
    if let Ok(out) = run("ip", &["netns", "pids", ns], None) {
        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            let _ = run("kill", &["-KILL", pid], None);
        }
    }
    // A killed process may take a moment to leave the namespace; deleting
    // works anyway (the namespace lives on only until its last process is gone).
    if let Err(e) = ip(&["netns", "del", ns]) {
        eprintln!("could not remove namespace {ns}: {e}");
    }
}

/// Removes the namespaces that a test process that no longer runs (killed
/// before it could clean up) left behind.
fn remove_stale() {
    let Ok(out) = run("ip", &["netns", "list"], None) else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.strip_prefix('-'))
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            remove(name);
        }
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for ns in self.made.iter().rev() {
            remove(ns);
        }
    }
}
