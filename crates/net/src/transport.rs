//! Builds the swarm on the transport the configuration names.
//!
//! Every transport gets, in this order, the relay client (so `/p2p-circuit`
//! addresses can be dialled and listened on), bandwidth metrics (bytes in and out
//! per transport protocol, in the node's Prometheus registry) and the behaviour.
//! The real transports also get DNS, so bootstrap and invite addresses may name
//! hosts (`/dns4/home.example.org/tcp/4001/p2p/…`).

use std::error::Error;

use libp2p::{
    Swarm, SwarmBuilder, Transport as _,
    core::{transport::MemoryTransport, upgrade::Version},
    metrics::Registry,
    noise, tcp, yamux,
};

use crate::{
    behaviour::Behaviour,
    config::{NetworkConfig, Transport},
    error::NetworkError,
};

/// The swarm of `config`, not yet listening, and the metrics registry its
/// transport and gossipsub report into.
pub(crate) fn build_swarm(
    config: &NetworkConfig,
) -> Result<(Swarm<Behaviour>, Registry), NetworkError> {
    let build = |e: &dyn std::fmt::Display| NetworkError::Build(e.to_string());
    let idle = config.idle_connection_timeout;
    let mut registry = Registry::default();
    let builder = SwarmBuilder::with_existing_identity(config.keypair.clone()).with_tokio();

    // What follows the transports is the same for all of them, but each chain of
    // the builder has its own type: a macro writes it once.
    macro_rules! finish {
        ($builder:expr) => {
            $builder
                .with_relay_client(noise::Config::new, yamux::Config::default)
                .map_err(|e| build(&e))?
                .with_bandwidth_metrics(&mut registry)
                .with_behaviour(|key, relay| Behaviour::new(key, relay, config, &mut registry))
                .map_err(|e| build(&e))?
                .with_swarm_config(|c| c.with_idle_connection_timeout(idle))
                .build()
        };
    }

    let tcp_config = || tcp::Config::default().nodelay(true);
    let swarm = match config.transport {
        Transport::Memory => finish!(
            builder
                .with_other_transport(|key| {
                    Ok::<_, Box<dyn Error + Send + Sync>>(
                        MemoryTransport::default()
                            .upgrade(Version::V1)
                            .authenticate(noise::Config::new(key)?)
                            .multiplex(yamux::Config::default()),
                    )
                })
                .map_err(|e| build(&e))?
        ),
        Transport::Tcp => finish!(
            builder
                .with_tcp(tcp_config(), noise::Config::new, yamux::Config::default)
                .map_err(|e| build(&e))?
                .with_dns()
                .map_err(|e| build(&e))?
        ),
        Transport::Quic => finish!(builder.with_quic().with_dns().map_err(|e| build(&e))?),
        Transport::TcpAndQuic => finish!(
            builder
                .with_tcp(tcp_config(), noise::Config::new, yamux::Config::default)
                .map_err(|e| build(&e))?
                .with_quic()
                .with_dns()
                .map_err(|e| build(&e))?
        ),
    };
    Ok((swarm, registry))
}
