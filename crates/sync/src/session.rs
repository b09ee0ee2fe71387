//! The sync session machines, sans-IO: [`Initiator`] runs one session with one peer
//! on one topic (reconcile, then fetch what we lack, then push what the peer lacks);
//! [`Responders`] answers every peer's requests and holds their reconciliation
//! sessions.
//!
//! No sockets, no tasks, no clock. The driver sends each request the initiator gives
//! it and hands back the answer; it hands each inbound request to the responders
//! with `now`, an [`Instant`](std::time::Instant) it read from its own clock (tests
//! move it by hand). Records that arrive, fetched or pushed, are handed to the
//! driver to judge and store; the driver says how many it stored. Storage is read
//! through [`SyncSource`](crate::SyncSource).
//!
//! # Bounds
//! What a peer can make us do, whichever side it is on:
//! - reconciliation rounds: [`Config::max_rounds`] per session, both sides;
//! - frames: the network's frame limit for `/swapmesh/sync/1`, on every decode, and
//!   every frame we build fits it (reconciliation messages get the frame less
//!   [`FRAME_MARGIN`], records are packed by
//!   [`RecordBatch`](crate::RecordBatch));
//! - [`FETCH_IDS`](crate::wire::FETCH_IDS) ids per fetch and
//!   [`MAX_RECORDS`](crate::wire::MAX_RECORDS) records per frame;
//! - [`MAX_SESSIONS_PER_PEER`] open responder sessions per peer and
//!   [`ResponderLimits::max_sessions`] in all, each dropped after
//!   [`SESSION_IDLE`] without a request, each holding counters only;
//! - a budget of bytes served per peer ([`ResponderLimits`]): over it, "busy,
//!   retry later", which an initiator does ([`Handled::RetryLater`]).
//!
//! Every way a peer can misbehave ends the request or session with a
//! [`SessionError`] whose [`SessionError::fault`] names it.

mod initiator;
mod responder;

use std::time::Duration;

use swapmesh_protocol::encoding::MAX_DECODE;

pub use initiator::{Handled, Initiator, MAX_RETRIES, RETRY_FIRST};
pub use responder::{
    Admission, Done, FINISHED_PER_PEER, REQUEST_COST, ResponderLimits, Responders, Served, Work,
};

use crate::config::Config;
use crate::error::SessionError;
use crate::wire::{FRAME_MARGIN, MIN_FRAME_LIMIT};

/// Most responder sessions one peer may have open at once; more is answered
/// "busy, retry later".
pub const MAX_SESSIONS_PER_PEER: usize = 4;
/// A responder session without a request this long is dropped.
pub const SESSION_IDLE: Duration = Duration::from_secs(60);

/// The bounds a node's sessions run under, on both sides. Peers must agree on the
/// reconciliation bounds, so nodes use [`SessionConfig::new`] with the network's
/// frame limit.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SessionConfig {
    frame_limit: usize,
    reconcile: Config,
}

impl SessionConfig {
    /// The protocol's bounds for frames of at most `frame_limit` bytes: the default
    /// reconciliation [`Config`], its messages capped to the frame less the margin.
    pub fn new(frame_limit: usize) -> Result<Self, SessionError> {
        let default = Config::default();
        let reconcile = Config {
            max_message_bytes: default
                .max_message_bytes
                .min(frame_limit.saturating_sub(FRAME_MARGIN)),
            ..default
        };
        Self::with_reconcile(frame_limit, reconcile)
    }

    /// Frames of at most `frame_limit` bytes and reconciliation under `reconcile`
    /// (tests and benchmarks; both peers must use the same).
    pub fn with_reconcile(frame_limit: usize, reconcile: Config) -> Result<Self, SessionError> {
        if !(MIN_FRAME_LIMIT..=MAX_DECODE).contains(&frame_limit) {
            return Err(SessionError::InvalidConfig(
                "the frame limit must hold one record of the largest size, and at most 1 MiB",
            ));
        }
        if reconcile.max_message_bytes > frame_limit - FRAME_MARGIN {
            return Err(SessionError::InvalidConfig(
                "reconciliation messages must fit a frame less its margin",
            ));
        }
        reconcile.validate()?;
        Ok(Self {
            frame_limit,
            reconcile,
        })
    }

    /// Largest frame, either way.
    pub fn frame_limit(&self) -> usize {
        self.frame_limit
    }

    /// The reconciliation bounds.
    pub fn reconcile(&self) -> &Config {
        &self.reconcile
    }
}

/// What an initiator's session did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SessionReport {
    /// Reconciliation rounds.
    pub rounds: u32,
    /// Items the peer had and we lacked.
    pub needed: usize,
    /// Records fetched and stored (as the driver reported).
    pub fetched: usize,
    /// Items we had and the peer lacked.
    pub offered: usize,
    /// Records the peer stored from our push.
    pub pushed: usize,
}
