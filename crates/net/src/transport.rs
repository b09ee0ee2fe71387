//! Builds the swarm on the transport the configuration names.

use std::error::Error;

use libp2p::{
    Swarm, SwarmBuilder, Transport as _,
    core::{transport::MemoryTransport, upgrade::Version},
    noise, yamux,
};

use crate::{
    behaviour::Behaviour,
    config::{NetworkConfig, Transport},
    error::NetworkError,
};

/// The swarm of `config`, not yet listening.
pub(crate) fn build_swarm(config: &NetworkConfig) -> Result<Swarm<Behaviour>, NetworkError> {
    let build = |e: &dyn std::fmt::Display| NetworkError::Build(e.to_string());
    let idle = config.idle_connection_timeout;
    match config.transport {
        Transport::Memory => Ok(SwarmBuilder::with_existing_identity(config.keypair.clone())
            .with_tokio()
            .with_other_transport(|key| {
                Ok::<_, Box<dyn Error + Send + Sync>>(
                    MemoryTransport::default()
                        .upgrade(Version::V1)
                        .authenticate(noise::Config::new(key)?)
                        .multiplex(yamux::Config::default()),
                )
            })
            .map_err(|e| build(&e))?
            .with_behaviour(|key| Behaviour::new(key, config))
            .map_err(|e| build(&e))?
            .with_swarm_config(|c| c.with_idle_connection_timeout(idle))
            .build()),
        // Transport::Tcp / Quic: `.with_tcp(..)?.with_quic().with_dns()?
        // .with_relay_client(..)?` in the real-network issue.
    }
}
