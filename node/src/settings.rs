//! The node's settings from three sources, each overriding the one before:
//! `swapmesh.toml` in the data directory, `SWAPMESH_*` environment variables, and
//! command-line flags. Every value is parsed once, and a bad one is reported with
//! the source it came from and the form that is accepted.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use swapmesh_net::Multiaddr;
use swapmesh_protocol::{Currency, Geohash, MeshId};
use thiserror::Error;

use crate::config::{NodeConfig, Role, Transport};
use crate::data_dir::DataDir;

/// Name of the config file in the data directory.
pub use crate::data_dir::CONFIG_FILE;

/// Where the API listens unless told otherwise.
pub const DEFAULT_API: &str = "127.0.0.1:7878";

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (servers).
    Json,
}

/// Where a setting came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The config file, with the key.
    File(&'static str),
    /// An environment variable.
    Env(&'static str),
    /// A flag.
    Flag(&'static str),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::File(key) => write!(f, "{CONFIG_FILE} (key `{key}`)"),
            Source::Env(var) => write!(f, "environment variable {var}"),
            Source::Flag(flag) => write!(f, "flag --{flag}"),
        }
    }
}

/// A setting that could not be used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// A value does not parse.
    #[error("invalid value {value:?} from {origin}: expected {expected}")]
    Invalid {
        /// Where it came from.
        origin: Source,
        /// The value.
        value: String,
        /// The accepted form.
        expected: &'static str,
    },
    /// The config file is not valid TOML of the expected shape.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// The raw values of one source; all optional.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    /// Multiaddrs to listen on.
    pub listen: Option<Vec<String>>,
    /// Multiaddrs to dial at start.
    pub bootstrap: Option<Vec<String>>,
    /// API address, host:port.
    pub api: Option<String>,
    /// Geohash area.
    pub area: Option<String>,
    /// Mesh ids.
    pub meshes: Option<Vec<String>>,
    /// LAN discovery.
    pub mdns: Option<String>,
    /// personal or server.
    pub role: Option<String>,
    /// Addresses a server announces.
    pub external_addresses: Option<Vec<String>>,
    /// text or json.
    pub log_format: Option<String>,
    /// The display name set at init.
    pub name: Option<String>,
    /// Extra `Host` header values the API answers to (host:port).
    pub api_hosts: Option<Vec<String>>,
    /// The currency amounts are typed in (ISO 4217).
    pub currency: Option<String>,
    /// Listen through relays by itself while unreachable.
    pub auto_relay: Option<String>,
    /// Most relays listened through automatically.
    pub max_relays: Option<String>,
    /// Seconds a web sign-in link stays valid.
    pub login_link_ttl: Option<String>,
    /// Disk budget for photos, in MiB.
    pub blob_budget: Option<String>,
    /// Budget for records, in MiB.
    pub store_budget: Option<String>,
    /// Inbound connections from one IP.
    pub max_connections_per_ip: Option<String>,
    /// Keep mail for admitted neighbours: `allowed` or `off`.
    pub mailbox: Option<String>,
}

/// The settings a node runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Listen addresses.
    pub listen: Vec<Multiaddr>,
    /// Bootstrap addresses.
    pub bootstrap: Vec<Multiaddr>,
    /// API address.
    pub api: SocketAddr,
    /// Area.
    pub area: Option<Geohash>,
    /// Named meshes.
    pub meshes: Vec<MeshId>,
    /// LAN discovery.
    pub mdns: bool,
    /// Role.
    pub role: Role,
    /// Announced external addresses.
    pub external_addresses: Vec<Multiaddr>,
    /// Log format.
    pub log_format: LogFormat,
    /// Display name for the profile published at first start.
    pub name: Option<String>,
    /// Extra `Host` values the API answers to.
    pub api_hosts: Vec<String>,
    /// The currency amounts are typed in.
    pub currency: Currency,
    /// Listen through relays by itself while unreachable (`None`: by role —
    /// on for `personal`, off for `server`).
    pub auto_relay: Option<bool>,
    /// Most relays listened through automatically.
    pub max_relays: usize,
    /// How long a web sign-in link stays valid.
    pub login_link_ttl: Duration,
    /// Disk budget for photos, in MiB: others' least recently used photos go
    /// beyond it (ours and our agreements' never).
    pub blob_budget_mib: u64,
    /// Budget for stored records, in MiB: over it the node stops listening
    /// to its farthest cell (ours and our agreements' records stay).
    pub store_budget_mib: u64,
    /// Inbound connections from one IP (an IPv6 /64); `None`: 8.
    pub max_connections_per_ip: Option<u32>,
    /// Keep sealed mail for the neighbours the operator admits (`None`: by
    /// role — on for `server`, off for `personal`).
    pub mailbox: Option<bool>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: vec![
                "/ip4/0.0.0.0/tcp/7879".parse().expect("valid"),
                "/ip4/0.0.0.0/udp/7879/quic-v1".parse().expect("valid"),
            ],
            bootstrap: Vec::new(),
            api: DEFAULT_API.parse().expect("valid"),
            area: None,
            meshes: Vec::new(),
            mdns: true,
            role: Role::Personal,
            external_addresses: Vec::new(),
            log_format: LogFormat::Text,
            name: None,
            api_hosts: Vec::new(),
            currency: Currency::from_code("EUR").expect("EUR is in the ISO 4217 table"),
            auto_relay: None,
            max_relays: 2,
            login_link_ttl: Duration::from_secs(600),
            blob_budget_mib: DEFAULT_BLOB_BUDGET_MIB,
            store_budget_mib: DEFAULT_STORE_BUDGET_MIB,
            max_connections_per_ip: None,
            mailbox: None,
        }
    }
}

/// The photo budget unless told otherwise, in MiB.
pub const DEFAULT_BLOB_BUDGET_MIB: u64 = 256;
/// The largest photo budget accepted, in MiB (1 TiB).
pub const MAX_BLOB_BUDGET_MIB: u64 = 1024 * 1024;
/// The record budget unless told otherwise, in MiB (1 GiB).
pub const DEFAULT_STORE_BUDGET_MIB: u64 = 1024;

const MULTIADDR: &str = "a multiaddr such as /ip4/127.0.0.1/tcp/7879";

/// A yes or no as people write it.
fn boolean(v: &str, source: Source) -> Result<bool, SettingsError> {
    match v {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(invalid(source, v, "true or false")),
    }
}

fn invalid(source: Source, value: &str, expected: &'static str) -> SettingsError {
    SettingsError::Invalid {
        origin: source,
        value: value.to_owned(),
        expected,
    }
}

/// The three places one setting is looked up, by its names in each.
struct Names {
    key: &'static str,
    env: &'static str,
    flag: &'static str,
}

impl Settings {
    /// Reads the data directory's config file (if any), then `env`, then `flags`.
    pub fn load(
        data_dir: &DataDir,
        env: impl Fn(&str) -> Option<String>,
        flags: &RawSettings,
    ) -> Result<Self, SettingsError> {
        let file = read_file(&data_dir.config_file())?;
        let env = raw_from_env(env);
        let mut s = Settings::default();
        let layers = [
            (&file, Layer::File),
            (&env, Layer::Env),
            (flags, Layer::Flag),
        ];
        for (raw, layer) in layers {
            s.apply(raw, layer)?;
        }
        Ok(s)
    }

    fn apply(&mut self, raw: &RawSettings, layer: Layer) -> Result<(), SettingsError> {
        let src = |n: &Names| layer.source(n);
        if let Some(v) = &raw.listen {
            let n = Names {
                key: "listen",
                env: "SWAPMESH_LISTEN",
                flag: "listen",
            };
            self.listen = addrs(v, src(&n))?;
        }
        if let Some(v) = &raw.bootstrap {
            let n = Names {
                key: "bootstrap",
                env: "SWAPMESH_BOOTSTRAP",
                flag: "bootstrap",
            };
            self.bootstrap = addrs(v, src(&n))?;
        }
        if let Some(v) = &raw.api {
            let n = Names {
                key: "api",
                env: "SWAPMESH_API",
                flag: "api",
            };
            self.api = v
                .parse()
                .map_err(|_| invalid(src(&n), v, "HOST:PORT such as 127.0.0.1:7878"))?;
        }
        if let Some(v) = &raw.area {
            let n = Names {
                key: "area",
                env: "SWAPMESH_AREA",
                flag: "area",
            };
            self.area = if v.is_empty() {
                None
            } else {
                Some(Geohash::parse_area(v).ok_or_else(|| {
                    invalid(
                        src(&n),
                        v,
                        "a geohash of 5-6 characters of 0-9 and b-z without a, i, l, o",
                    )
                })?)
            };
        }
        if let Some(v) = &raw.meshes {
            let n = Names {
                key: "meshes",
                env: "SWAPMESH_MESHES",
                flag: "mesh",
            };
            self.meshes = v
                .iter()
                .map(|m| {
                    MeshId::parse(m)
                        .filter(|id| !id.is_private())
                        .ok_or_else(|| {
                            invalid(
                                src(&n),
                                m,
                                "an open mesh's id of 1-32 of a-z and 0-9 (a private mesh, p and 31 hex, is joined with its invite: swapmesh mesh join)",
                            )
                        })
                })
                .collect::<Result<_, _>>()?;
        }
        if let Some(v) = &raw.mdns {
            let n = Names {
                key: "mdns",
                env: "SWAPMESH_MDNS",
                flag: "no-mdns",
            };
            self.mdns = boolean(v, src(&n))?;
        }
        if let Some(v) = &raw.auto_relay {
            let n = Names {
                key: "auto_relay",
                env: "SWAPMESH_AUTO_RELAY",
                flag: "no-auto-relay",
            };
            self.auto_relay = Some(boolean(v, src(&n))?);
        }
        if let Some(v) = &raw.max_relays {
            let n = Names {
                key: "max_relays",
                env: "SWAPMESH_MAX_RELAYS",
                flag: "max-relays",
            };
            self.max_relays = match v.parse::<usize>() {
                Ok(n) if n <= 8 => n,
                _ => return Err(invalid(src(&n), v, "a number from 0 to 8")),
            };
        }
        if let Some(v) = &raw.login_link_ttl {
            let n = Names {
                key: "login_link_ttl",
                env: "SWAPMESH_LOGIN_LINK_TTL",
                flag: "login-link-ttl",
            };
            self.login_link_ttl = match v.parse::<u64>() {
                Ok(secs) if (1..=86_400).contains(&secs) => Duration::from_secs(secs),
                _ => return Err(invalid(src(&n), v, "seconds from 1 to 86400")),
            };
        }
        if let Some(v) = &raw.blob_budget {
            let n = Names {
                key: "blob_budget",
                env: "SWAPMESH_BLOB_BUDGET",
                flag: "blob-budget",
            };
            self.blob_budget_mib = match v.trim().parse::<u64>() {
                Ok(mib) if (1..=MAX_BLOB_BUDGET_MIB).contains(&mib) => mib,
                _ => {
                    return Err(invalid(
                        src(&n),
                        v,
                        "a whole number of MiB from 1 to 1048576, such as 256",
                    ));
                }
            };
        }
        if let Some(v) = &raw.store_budget {
            let n = Names {
                key: "store_budget",
                env: "SWAPMESH_STORE_BUDGET",
                flag: "store-budget",
            };
            self.store_budget_mib = match v.trim().parse::<u64>() {
                Ok(mib) if (1..=MAX_BLOB_BUDGET_MIB).contains(&mib) => mib,
                _ => {
                    return Err(invalid(
                        src(&n),
                        v,
                        "a whole number of MiB from 1 to 1048576, such as 1024",
                    ));
                }
            };
        }
        if let Some(v) = &raw.max_connections_per_ip {
            let n = Names {
                key: "max_connections_per_ip",
                env: "SWAPMESH_MAX_CONNECTIONS_PER_IP",
                flag: "max-connections-per-ip",
            };
            self.max_connections_per_ip = match v.trim().parse::<u32>() {
                Ok(count) if (1..=1024).contains(&count) => Some(count),
                _ => {
                    return Err(invalid(
                        src(&n),
                        v,
                        "a whole number from 1 to 1024, such as 8",
                    ));
                }
            };
        }
        if let Some(v) = &raw.mailbox {
            let n = Names {
                key: "mailbox",
                env: "SWAPMESH_MAILBOX",
                flag: "mailbox",
            };
            self.mailbox = match v.trim() {
                "allowed" => Some(true),
                "off" => Some(false),
                _ => return Err(invalid(src(&n), v, "allowed or off")),
            };
        }
        if let Some(v) = &raw.role {
            let n = Names {
                key: "role",
                env: "SWAPMESH_ROLE",
                flag: "role",
            };
            self.role = match v.as_str() {
                "personal" => Role::Personal,
                "server" => Role::Server,
                _ => return Err(invalid(src(&n), v, "personal or server")),
            };
        }
        if let Some(v) = &raw.external_addresses {
            let n = Names {
                key: "external_addresses",
                env: "SWAPMESH_EXTERNAL_ADDRESSES",
                flag: "external-address",
            };
            self.external_addresses = addrs(v, src(&n))?;
        }
        if let Some(v) = &raw.log_format {
            let n = Names {
                key: "log_format",
                env: "SWAPMESH_LOG_FORMAT",
                flag: "log-format",
            };
            self.log_format = match v.as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                _ => return Err(invalid(src(&n), v, "text or json")),
            };
        }
        if let Some(v) = &raw.name {
            self.name = Some(v.clone());
        }
        if let Some(v) = &raw.api_hosts {
            self.api_hosts = v.clone();
        }
        if let Some(v) = &raw.currency {
            let n = Names {
                key: "currency",
                env: "SWAPMESH_CURRENCY",
                flag: "currency",
            };
            self.currency = Currency::from_code(v).map_err(|_| {
                invalid(
                    src(&n),
                    v,
                    "an ISO 4217 currency code such as EUR, USD or JPY",
                )
            })?;
        }
        Ok(())
    }

    /// The node configuration of these settings. The transport follows the listen
    /// addresses: the in-process memory transport when every one is `/memory/…`
    /// (tests), otherwise TCP and QUIC together.
    pub fn node_config(&self, data_dir: &DataDir) -> NodeConfig {
        let mut config = NodeConfig::real(data_dir.path());
        config.faults = crate::config::Faults::from_env();
        let memory_only = !self.listen.is_empty()
            && self.listen.iter().all(|a| {
                a.iter()
                    .any(|p| matches!(p, swapmesh_net::multiaddr::Protocol::Memory(_)))
            });
        if memory_only {
            config.transport = Transport::Memory;
        }
        config.listen = self.listen.clone();
        config.bootstrap = self.bootstrap.clone();
        config.area = self.area.clone();
        config.meshes = self.meshes.clone();
        config.mdns = self.mdns;
        config.set_role(self.role);
        if let Some(auto) = self.auto_relay {
            config.nat.auto_relay = auto;
        }
        config.nat.max_relays = self.max_relays;
        config.login_link_ttl = self.login_link_ttl;
        config.blob_budget = self.blob_budget_mib * 1024 * 1024;
        config.store_budget = self.store_budget_mib * 1024 * 1024;
        if let Some(count) = self.max_connections_per_ip {
            config.connection_limits.max_per_ip = count;
        }
        if let Some(mailbox) = self.mailbox {
            config.mailbox = mailbox;
        }
        config.external_addresses = self.external_addresses.clone();
        config.currency = self.currency;
        config
    }
}

#[derive(Clone, Copy)]
enum Layer {
    File,
    Env,
    Flag,
}

impl Layer {
    fn source(self, n: &Names) -> Source {
        match self {
            Layer::File => Source::File(n.key),
            Layer::Env => Source::Env(n.env),
            Layer::Flag => Source::Flag(n.flag),
        }
    }
}

fn addrs(values: &[String], source: Source) -> Result<Vec<Multiaddr>, SettingsError> {
    values
        .iter()
        .map(|v| v.parse().map_err(|_| invalid(source.clone(), v, MULTIADDR)))
        .collect()
}

fn read_file(path: &Path) -> Result<RawSettings, SettingsError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(RawSettings::default()),
        Err(e) => {
            return Err(SettingsError::File {
                path: path.to_owned(),
                message: e.to_string(),
            });
        }
    };
    // Booleans and numbers in the file are read as the text the other layers give.
    let mut value: toml::Table = toml::from_str(&text).map_err(|e| SettingsError::File {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    for key in [
        "mdns",
        "auto_relay",
        "max_relays",
        "login_link_ttl",
        "blob_budget",
        "store_budget",
        "max_connections_per_ip",
    ] {
        let text = match value.get(key) {
            Some(toml::Value::Boolean(b)) => b.to_string(),
            Some(toml::Value::Integer(n)) => n.to_string(),
            _ => continue,
        };
        value.insert(key.into(), toml::Value::String(text));
    }
    value
        .try_into::<RawSettings>()
        .map_err(|e| SettingsError::File {
            path: path.to_owned(),
            message: e.to_string(),
        })
}

fn raw_from_env(env: impl Fn(&str) -> Option<String>) -> RawSettings {
    let list = |var: &str| {
        env(var).map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
    };
    RawSettings {
        listen: list("SWAPMESH_LISTEN"),
        bootstrap: list("SWAPMESH_BOOTSTRAP"),
        api: env("SWAPMESH_API"),
        area: env("SWAPMESH_AREA"),
        meshes: list("SWAPMESH_MESHES"),
        mdns: env("SWAPMESH_MDNS"),
        role: env("SWAPMESH_ROLE"),
        external_addresses: list("SWAPMESH_EXTERNAL_ADDRESSES"),
        log_format: env("SWAPMESH_LOG_FORMAT"),
        name: env("SWAPMESH_NAME"),
        api_hosts: list("SWAPMESH_API_HOSTS"),
        currency: env("SWAPMESH_CURRENCY"),
        auto_relay: env("SWAPMESH_AUTO_RELAY"),
        max_relays: env("SWAPMESH_MAX_RELAYS"),
        login_link_ttl: env("SWAPMESH_LOGIN_LINK_TTL"),
        blob_budget: env("SWAPMESH_BLOB_BUDGET"),
        store_budget: env("SWAPMESH_STORE_BUDGET"),
        max_connections_per_ip: env("SWAPMESH_MAX_CONNECTIONS_PER_IP"),
        mailbox: env("SWAPMESH_MAILBOX"),
    }
}

/// The commented default config file `swapmesh init` writes.
pub fn default_file(area: Option<&str>, name: Option<&str>) -> String {
    let area_line = match area {
        Some(a) => format!("area = {a:?}"),
        None => "# area = \"u4pru\"          # a geohash of 5-6 characters; without one the node uses the LAN mesh `local`".to_owned(),
    };
    let name_line = match name {
        Some(n) => format!("name = {n:?}"),
        None => {
            "# name = \"Ana\"            # display name published in your profile at first start"
                .to_owned()
        }
    };
    format!(
        r#"# swapmesh node settings. Environment variables SWAPMESH_<KEY> (upper case)
# override these values, and command-line flags override both.

{area_line}
{name_line}

# Where peers reach this node (TCP and QUIC).
# listen = ["/ip4/0.0.0.0/tcp/7879", "/ip4/0.0.0.0/udp/7879/quic-v1"]

# Peers to dial at start, e.g. a neighbour's home server.
# bootstrap = ["/ip4/192.0.2.10/tcp/7879/p2p/12D3KooW..."]

# Named meshes to be in (ids from invites).
# meshes = []

# The local API, for the CLI and the web page. Keep it on loopback.
# api = "127.0.0.1:7878"
# Extra Host header values the API answers to (e.g. a Prometheus container's
# name for this node); any other Host is refused (DNS rebinding).
# api_hosts = ["swapmesh:7878"]
# Seconds a sign-in link of `swapmesh open` stays valid (single use).
# login_link_ttl = 600

# Find neighbours on the LAN.
# mdns = true

# "personal", or "server" for an always-on home server that relays for
# neighbours behind NAT (set external_addresses too).
# role = "personal"
# external_addresses = ["/ip4/203.0.113.7/tcp/7879"]

# Behind a home router, listen through relays (neighbours' servers) by itself
# while no direct address is confirmed: on for "personal", off for "server".
# A listen address ending in /p2p-circuit picks the relay by hand instead.
# auto_relay = true
# max_relays = 2

# "text", or "json" for servers.
# log_format = "text"

# The currency you price things in (ISO 4217); `listing add --price 5` means
# 5.00 of it unless --currency says another.
# currency = "EUR"

# Disk space for photos, in MiB (1 to 1048576). Beyond it the least recently
# used photos of other people's listings are removed; your own photos and
# those of your agreements never are.
# blob_budget = 256

# Space for other people's records, in MiB of records as signed (1 to
# 1048576; the database takes a few times that on disk). Beyond it the node
# stops listening to its farthest cell, one at a time, and forgets what it
# held for it alone; your records and those of your agreements always stay.
# store_budget = 1024

# Inbound connections from one IP address (an IPv6 address counts by its
# /64), 1 to 1024: a machine cannot get more by making new keys. Raise it on a
# home server whose neighbours come from behind one router.
# max_connections_per_ip = 8

# Keep sealed agreement messages for the neighbours you admit (`swapmesh
# mailbox allow KEY`) while they are offline: "allowed" or "off"; allowed by
# default on a server. The node sees who writes to whom, when and how much,
# never what: 256 envelopes and 4 MiB per recipient, 64 and 1 MiB per sender.
# mailbox = "allowed"
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn file_is_overridden_by_environment_which_is_overridden_by_flags() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "area = \"u4pru\"\nrole = \"server\"\nmdns = false\napi = \"127.0.0.1:9000\"\n",
        )
        .unwrap();
        let none = RawSettings::default();
        let s = Settings::load(&DataDir::new(dir.path()), env_of(&[]), &none).unwrap();
        assert_eq!(s.area.as_ref().unwrap().as_str(), "u4pru");
        assert_eq!(s.role, Role::Server);
        assert!(!s.mdns);
        assert_eq!(s.api.port(), 9000);

        let env = env_of(&[
            ("SWAPMESH_AREA", "u4prv"),
            ("SWAPMESH_API", "127.0.0.1:9001"),
        ]);
        let s = Settings::load(&DataDir::new(dir.path()), &env, &none).unwrap();
        assert_eq!(s.area.as_ref().unwrap().as_str(), "u4prv");
        assert_eq!(s.api.port(), 9001);
        assert_eq!(s.role, Role::Server, "untouched by env");

        let flags = RawSettings {
            area: Some("u4prw".into()),
            ..RawSettings::default()
        };
        let s = Settings::load(&DataDir::new(dir.path()), &env, &flags).unwrap();
        assert_eq!(s.area.as_ref().unwrap().as_str(), "u4prw");
        assert_eq!(s.api.port(), 9001, "untouched by flags");
    }

    #[test]
    fn auto_relay_follows_the_role_unless_set() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path());
        let none = RawSettings::default();
        let personal = Settings::load(&data, env_of(&[]), &none).unwrap();
        let config = personal.node_config(&data);
        assert!(config.nat.auto_relay, "on for a personal node");
        assert_eq!(config.nat.max_relays, 2);
        let server = RawSettings {
            role: Some("server".into()),
            ..RawSettings::default()
        };
        let config = Settings::load(&data, env_of(&[]), &server)
            .unwrap()
            .node_config(&data);
        assert!(!config.nat.auto_relay, "off for a server");

        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "auto_relay = false
max_relays = 3
",
        )
        .unwrap();
        let config = Settings::load(&data, env_of(&[]), &none)
            .unwrap()
            .node_config(&data);
        assert!(!config.nat.auto_relay);
        assert_eq!(config.nat.max_relays, 3);
        let env = env_of(&[("SWAPMESH_MAX_RELAYS", "9")]);
        let error = Settings::load(&data, env, &none).unwrap_err().to_string();
        assert!(error.contains("SWAPMESH_MAX_RELAYS"), "{error}");
    }

    #[test]
    fn max_connections_per_ip_comes_from_every_layer_and_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path());
        let none = RawSettings::default();
        let per_ip = |env: &[(&str, &str)], flags: &RawSettings| {
            Settings::load(&data, env_of(env), flags)
                .map(|s| s.node_config(&data).connection_limits.max_per_ip)
        };
        assert_eq!(per_ip(&[], &none).unwrap(), 8);
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "max_connections_per_ip = 20\n",
        )
        .unwrap();
        assert_eq!(per_ip(&[], &none).unwrap(), 20);
        let env = [("SWAPMESH_MAX_CONNECTIONS_PER_IP", "30")];
        assert_eq!(per_ip(&env, &none).unwrap(), 30);
        for bad in ["0", "-1", "8.5", "1025", "many"] {
            let flags = RawSettings {
                max_connections_per_ip: Some(bad.into()),
                ..RawSettings::default()
            };
            let error = per_ip(&[], &flags).unwrap_err().to_string();
            assert!(error.contains("--max-connections-per-ip"), "{bad}: {error}");
        }
    }

    #[test]
    fn the_mailbox_follows_the_role_unless_set() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path());
        let none = RawSettings::default();
        let mailbox = |env: &[(&str, &str)], flags: &RawSettings| {
            Settings::load(&data, env_of(env), flags).map(|s| s.node_config(&data).mailbox)
        };
        assert!(!mailbox(&[], &none).unwrap(), "off on a personal node");
        assert!(mailbox(&[("SWAPMESH_ROLE", "server")], &none).unwrap());
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "role = \"server\"\nmailbox = \"off\"\n",
        )
        .unwrap();
        assert!(!mailbox(&[], &none).unwrap(), "a server may turn it off");
        assert!(mailbox(&[("SWAPMESH_MAILBOX", "allowed")], &none).unwrap());
        let flags = RawSettings {
            mailbox: Some("shut".into()),
            ..RawSettings::default()
        };
        let error = mailbox(&[], &flags).unwrap_err().to_string();
        assert!(error.contains("--mailbox"), "{error}");
    }

    #[test]
    fn blob_budget_is_in_mib_from_every_layer_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::new(dir.path());
        let none = RawSettings::default();
        let budget = |env: &[(&str, &str)], flags: &RawSettings| {
            Settings::load(&data, env_of(env), flags).map(|s| s.node_config(&data).blob_budget)
        };
        assert_eq!(budget(&[], &none).unwrap(), 256 * 1024 * 1024);
        std::fs::write(dir.path().join(CONFIG_FILE), "blob_budget = 64\n").unwrap();
        assert_eq!(budget(&[], &none).unwrap(), 64 * 1024 * 1024);
        let env = [("SWAPMESH_BLOB_BUDGET", "32")];
        assert_eq!(budget(&env, &none).unwrap(), 32 * 1024 * 1024);
        let flags = RawSettings {
            blob_budget: Some("16".into()),
            ..RawSettings::default()
        };
        assert_eq!(budget(&env, &flags).unwrap(), 16 * 1024 * 1024);
        for bad in ["0", "-1", "1.5", "256MiB", "1048577"] {
            let flags = RawSettings {
                blob_budget: Some(bad.into()),
                ..RawSettings::default()
            };
            let error = budget(&[], &flags).unwrap_err().to_string();
            assert!(
                error.contains("flag --blob-budget") && error.contains("MiB"),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn bad_value_names_its_source_and_the_accepted_form() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), "role = \"boss\"\n").unwrap();
        let err = Settings::load(
            &DataDir::new(dir.path()),
            env_of(&[]),
            &RawSettings::default(),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("swapmesh.toml (key `role`)") && text.contains("personal or server"),
            "{text}"
        );

        let dir = tempfile::tempdir().unwrap();
        let private = format!("p{}", "a".repeat(31));
        let err = Settings::load(
            &DataDir::new(dir.path()),
            env_of(&[("SWAPMESH_MESHES", private.as_str())]),
            &RawSettings::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("joined with its invite"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        let err = Settings::load(
            &DataDir::new(dir.path()),
            env_of(&[("SWAPMESH_AREA", "nowhere")]),
            &RawSettings::default(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("environment variable SWAPMESH_AREA"),
            "{err}"
        );

        let flags = RawSettings {
            bootstrap: Some(vec!["not-an-address".into()]),
            ..RawSettings::default()
        };
        let err = Settings::load(&DataDir::new(dir.path()), env_of(&[]), &flags).unwrap_err();
        assert!(err.to_string().contains("flag --bootstrap"), "{err}");
        assert!(err.to_string().contains("multiaddr"), "{err}");
    }

    #[test]
    fn unknown_key_in_the_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), "aera = \"u4pru\"\n").unwrap();
        let err = Settings::load(
            &DataDir::new(dir.path()),
            env_of(&[]),
            &RawSettings::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("aera"), "{err}");
    }

    #[test]
    fn the_default_file_parses_to_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), default_file(None, None)).unwrap();
        let s = Settings::load(
            &DataDir::new(dir.path()),
            env_of(&[]),
            &RawSettings::default(),
        )
        .unwrap();
        assert_eq!(s, Settings::default());
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            default_file(Some("u4pru"), Some("Ana")),
        )
        .unwrap();
        let s = Settings::load(
            &DataDir::new(dir.path()),
            env_of(&[]),
            &RawSettings::default(),
        )
        .unwrap();
        assert_eq!(s.area.unwrap().as_str(), "u4pru");
        assert_eq!(s.name.as_deref(), Some("Ana"));
    }
}
