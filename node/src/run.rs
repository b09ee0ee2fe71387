//! `swapmesh init` and `swapmesh run`: the data directory, the single-instance
//! lock, the node, the API, the ready line, and a clean stop on SIGINT/SIGTERM.

use std::time::Duration;

use anyhow::{Context, bail};
use swapmesh_protocol::social::Profile;
use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::api::{self, ApiState};
use crate::data_dir::DataDir;
use crate::identity;
use crate::settings::{self, LogFormat, RawSettings, Settings};
use crate::{Node, NodeError};

/// `swapmesh init`: data directory (0700), key (0600), API token (0600) and a
/// commented config file. Refuses to overwrite an existing key.
pub fn init(dir: &DataDir, name: Option<&str>, area: Option<&str>) -> anyhow::Result<()> {
    if let Some(area) = area
        && swapmesh_protocol::Geohash::parse_area(area).is_none()
    {
        bail!("invalid area {area:?}: expected a geohash of 5-6 characters");
    }
    dir.prepare()?;
    if identity::load_key(dir)?.is_some() {
        bail!(
            "{} already holds a node key; refusing to overwrite it (use another --data-dir)",
            dir.path().display()
        );
    }
    let key = swapmesh_protocol::keys::generate();
    identity::write_key(dir, &key)?;
    finish_init(dir, name, area)?;
    Ok(())
}

/// The token and config file of a data directory that has a key.
fn finish_init(dir: &DataDir, name: Option<&str>, area: Option<&str>) -> anyhow::Result<()> {
    dir.ensure_api_token()?;
    let config_path = dir.config_file();
    if !config_path.exists() {
        std::fs::write(&config_path, settings::default_file(area, name))
            .with_context(|| format!("cannot write {}", config_path.display()))?;
    }
    Ok(())
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
pub async fn run(dir: &DataDir, flags: &RawSettings) -> anyhow::Result<()> {
    dir.prepare()?;
    let _lock = dir.lock()?;
    if identity::load_key(dir)?.is_none() {
        identity::write_key(dir, &swapmesh_protocol::keys::generate())?;
    }
    finish_init(dir, None, None)?;
    let settings = Settings::load(dir, |k| std::env::var(k).ok(), flags)?;
    init_logging(settings.log_format);
    let token = dir.api_token()?;
    let metrics_token = dir.metrics_token()?;

    let node = Node::start(settings.node_config(dir)).await?;
    publish_initial_profile(&node, &settings).await;

    let listener = TcpListener::bind(settings.api)
        .await
        .with_context(|| format!("cannot serve the API on {}", settings.api))?;
    let api_addr = listener.local_addr()?;
    dir.write_api_addr(api_addr)?;
    let app = api::router(
        ApiState::new(node.clone(), token, api_addr, &settings.api_hosts)
            .with_metrics_token(metrics_token),
    );

    let stop = shutdown_signal();
    let listening = wait_for_listen_addresses(&node).await;
    println!(
        "swapmesh ready: peer {} api http://{api_addr} listening {}",
        node.peer_id(),
        listening.join(" ")
    );
    info!(api = %api_addr, "API serving");
    if !api_addr.ip().is_loopback() {
        warn!(
            api = %api_addr,
            "the API and web page are served beyond this machine over plain HTTP: anyone on the LAN can read a sign-in link or a session cookie as it passes; use it on a network you trust, and list the exact host:port people type in api_hosts"
        );
    }
    if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        // A person at a terminal: the web page is one click away.
        let code = node.web_sessions().issue_link();
        println!(
            "web page: http://{api_addr}/login?code={} (one use, {} min; later: swapmesh open)",
            code.0,
            node.web_sessions().link_ttl().as_secs().div_ceil(60)
        );
    }

    let served = axum::serve(listener, app).with_graceful_shutdown(stop);
    let result = served.await;
    dir.remove_api_addr();
    node.shutdown().await?;
    result.context("API server failed")?;
    info!("stopped cleanly");
    Ok(())
}

async fn publish_initial_profile(node: &Node, settings: &Settings) {
    let Some(name) = &settings.name else { return };
    if matches!(node.profile(node.author()), Ok(Some(_))) {
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

/// Listens for SIGINT and SIGTERM from now on (before the ready line is
/// printed, so a signal right after it stops the node cleanly instead of
/// killing it); the future ends at the first.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    async move {
        match (term, int) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = int.recv() => info!("SIGINT: stopping"),
                    _ = term.recv() => info!("SIGTERM: stopping"),
                }
            }
            (Err(e), _) | (_, Err(e)) => {
                warn!(error = %e, "cannot listen for SIGTERM or SIGINT");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}
