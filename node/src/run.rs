//! `swapmesh init` and `swapmesh run`: the data directory, the single-instance
//! lock, the node, the API, the ready line, and a clean stop on SIGINT/SIGTERM.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use swapmesh_protocol::social::Profile;
use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::api::{self, ApiState};
use crate::client::{API_ADDR_FILE, API_TOKEN_FILE};
use crate::identity;
use crate::settings::{self, CONFIG_FILE, LogFormat, RawSettings, Settings};
use crate::{Node, NodeError};

/// The data directory: `--data-dir`, else `$SWAPMESH_DATA_DIR`, else the
/// platform's data directory (`$XDG_DATA_HOME/swapmesh` or `~/.local/share/swapmesh`).
pub fn data_dir(flag: Option<PathBuf>) -> PathBuf {
    if let Some(dir) = flag {
        return dir;
    }
    if let Some(dir) = std::env::var_os("SWAPMESH_DATA_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME") {
        return PathBuf::from(xdg).join("swapmesh");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".local/share/swapmesh")
}

/// Writes a file readable by its owner only (0600), synced.
fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(contents)?;
    file.sync_all()?;
    Ok(())
}

/// `swapmesh init`: data directory (0700), key (0600), API token (0600) and a
/// commented config file. Refuses to overwrite an existing key.
pub fn init(dir: &Path, name: Option<&str>, area: Option<&str>) -> anyhow::Result<()> {
    if let Some(area) = area
        && swapmesh_protocol::Geohash::parse_area(area).is_none()
    {
        bail!("invalid area {area:?}: expected a geohash of 5-6 characters");
    }
    identity::prepare_data_dir(dir)?;
    if identity::load_key(dir)?.is_some() {
        bail!(
            "{} already holds a node key; refusing to overwrite it (use another --data-dir)",
            dir.display()
        );
    }
    let key = swapmesh_protocol::keys::generate();
    identity::write_key(dir, &key)?;
    finish_init(dir, name, area)?;
    Ok(())
}

/// The token and config file of a data directory that has a key.
fn finish_init(dir: &Path, name: Option<&str>, area: Option<&str>) -> anyhow::Result<()> {
    let token_path = dir.join(API_TOKEN_FILE);
    if !token_path.exists() {
        let token = hex::encode(rand::random::<[u8; 32]>());
        write_private(&token_path, token.as_bytes())?;
    }
    let config_path = dir.join(CONFIG_FILE);
    if !config_path.exists() {
        fs::write(&config_path, settings::default_file(area, name))
            .with_context(|| format!("cannot write {}", config_path.display()))?;
    }
    Ok(())
}

/// Holds the data directory's lock for as long as it lives.
struct Lock {
    _file: fs::File,
}

fn lock(dir: &Path) -> anyhow::Result<Lock> {
    let path = dir.join("lock");
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Lock { _file: file }),
        Err(fs::TryLockError::WouldBlock) => bail!(
            "another swapmesh node is already running on {} (stop it first, or use another --data-dir)",
            dir.display()
        ),
        Err(fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,libp2p=warn,libp2p_gossipsub=error"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// `swapmesh run`: initialises the data directory if needed, then runs the node
/// and its API until SIGINT or SIGTERM, and stops with everything flushed.
pub async fn run(dir: &Path, flags: &RawSettings) -> anyhow::Result<()> {
    identity::prepare_data_dir(dir)?;
    let _lock = lock(dir)?;
    if identity::load_key(dir)?.is_none() {
        identity::write_key(dir, &swapmesh_protocol::keys::generate())?;
    }
    finish_init(dir, None, None)?;
    let settings = Settings::load(dir, |k| std::env::var(k).ok(), flags)?;
    init_logging(settings.log_format);
    let token = fs::read_to_string(dir.join(API_TOKEN_FILE))
        .context("cannot read the API token")?
        .trim()
        .to_owned();

    let node = Node::start(settings.node_config(dir)).await?;
    publish_initial_profile(&node, &settings).await;

    let listener = TcpListener::bind(settings.api)
        .await
        .with_context(|| format!("cannot serve the API on {}", settings.api))?;
    let api_addr = listener.local_addr()?;
    write_api_addr(dir, api_addr)?;
    let app = api::router(ApiState::new(
        node.clone(),
        token,
        api_addr,
        &settings.api_hosts,
    ));

    let listening = wait_for_listen_addresses(&node).await;
    println!(
        "swapmesh ready: peer {} api http://{api_addr} listening {}",
        node.peer_id(),
        listening.join(" ")
    );
    info!(api = %api_addr, "API serving");

    let served = axum::serve(listener, app).with_graceful_shutdown(shutdown_signal());
    let result = served.await;
    let _ = fs::remove_file(dir.join(API_ADDR_FILE));
    node.shutdown().await?;
    result.context("API server failed")?;
    info!("stopped cleanly");
    Ok(())
}

async fn publish_initial_profile(node: &Node, settings: &Settings) {
    let Some(name) = &settings.name else { return };
    let address = swapmesh_protocol::Address {
        author: node.author(),
        kind: swapmesh_protocol::RecordKind::Profile,
        d: swapmesh_protocol::record::PROFILE_D.to_owned(),
    };
    if matches!(node.store().current_version(&address), Ok(Some(_))) {
        return;
    }
    let profile = Profile {
        name: name.clone(),
        bio: String::new(),
        contact: Vec::new(),
        mail_peers: Vec::new(),
    };
    if let Err(e) = node.set_profile(profile).await {
        warn!(error = %e, "could not publish the profile named in the config");
    }
}

fn write_api_addr(dir: &Path, addr: std::net::SocketAddr) -> anyhow::Result<()> {
    let tmp = dir.join(format!("{API_ADDR_FILE}.tmp"));
    fs::write(&tmp, format!("{addr}\n"))?;
    fs::rename(&tmp, dir.join(API_ADDR_FILE))?;
    Ok(())
}

async fn wait_for_listen_addresses(node: &Node) -> Vec<String> {
    for _ in 0..50 {
        match node.listen_addresses().await {
            Ok(addrs) if !addrs.is_empty() => {
                return addrs.iter().map(ToString::to_string).collect();
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            Err(NodeError::Network(e)) => {
                warn!(error = %e, "network stopped");
                break;
            }
            Err(_) => break,
        }
    }
    Vec::new()
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            warn!(error = %e, "cannot listen for SIGTERM");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => info!("SIGINT: stopping"),
        _ = term.recv() => info!("SIGTERM: stopping"),
    }
}
