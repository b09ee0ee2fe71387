//! The kit shared by the in-process test binaries, `mesh` (memory transport) and
//! `network` (real sockets on 127.0.0.1). Each binary's `kit.rs` adds its own
//! transport's config and re-exports this kit, so a test names everything
//! `kit::…`.
//!
//! - `node`: [`TestNode`], a node in a temporary directory that can stop, start
//!   again on that directory and run on a clock the test moves; addresses and
//!   connections.
//! - `look`: what a node holds and counts, and the events it emits.
//! - `wait`: waits bounded in time.

// Each binary uses a part of the kit; the rest is not dead, only unused there.
#![allow(dead_code)]

mod look;
mod node;
mod wait;

// Globs: a binary that leaves some of these unused is not warned about each.
pub(crate) use look::*;
pub(crate) use node::*;
pub(crate) use wait::*;
