//! The real `swapmesh` binary behind real NAT routers (issue 18): network
//! namespaces that the tests make and remove themselves.
//!
//! ```text
//!                    internet (bridge br0, 10.200.0.254)
//!          ┌──────────────┬──────────────┬──────────────┐
//!        server       router a       router b
//!     10.200.0.1    wan 10.200.0.2  wan 10.200.0.3
//!                   lan 192.168.1.1 lan 192.168.2.1
//!                        │               │
//!                     home a          home b
//!                  192.168.1.2     192.168.2.2
//! ```
//!
//! Each router masquerades its home LAN and forwards nothing new inbound
//! (nftables), like a home router without port forwarding. The server is a
//! `--role server` node with its public address; each home runs a `personal`
//! node that only knows the server as `--bootstrap`. Nodes are driven with the
//! CLI, run inside their namespace, since each API listens on the namespace's
//! own 127.0.0.1.
//!
//! Root, `ip` (iproute2) and `nft` (nftables) are needed: without them each test
//! prints "skipped: …" and passes, except under `CI=true`, where it fails.
//! `deploy/netns/topology.sh` builds the same topology by hand.

mod node;
mod topology;

mod reachability;
mod routers;
