//! Tuning and bounds of a reconciliation session.

use crate::error::SyncError;
use crate::fingerprint::FINGERPRINT_LEN;
use crate::message::{MAX_ITEM_BYTES, MAX_RANGE_OVERHEAD};

/// How a session splits ranges and what it accepts from a peer. Both peers must use
/// the same bounds (the defaults are the protocol's): a message that breaks one is a
/// typed error, and the node cuts the peer off.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Config {
    /// Into how many parts a differing range is split (the branching factor `b`).
    pub split_parts: usize,
    /// A differing range with at most this many of our items is sent as a list of
    /// its items instead of being split.
    pub list_threshold: usize,
    /// Largest encoded message, in either direction. The request-response frame
    /// limit of `/swapmesh/sync/1` must be at least this.
    pub max_message_bytes: usize,
    /// Most ranges in one message.
    pub max_ranges: usize,
    /// Most items plus indices in one message.
    pub max_ids: usize,
    /// Most messages the initiator sends, or the responder answers, in one session.
    pub max_rounds: u32,
}

/// The protocol's frame limit for `/swapmesh/sync/1`: 256 KiB.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

impl Default for Config {
    fn default() -> Self {
        Self {
            // Measured (BENCHMARKS.md, "Set reconciliation"): against 16/16, 8/8 sends a third fewer
            // bytes at 100,000 items with the same number of rounds.
            split_parts: 8,
            list_threshold: 8,
            max_message_bytes: MAX_MESSAGE_BYTES,
            max_ranges: 12_000,
            max_ids: 8_000,
            max_rounds: 128,
        }
    }
}

impl Config {
    /// Checks that the bounds leave room for progress: a split of one range and an
    /// item list of `list_threshold` items must each fit an otherwise empty message.
    pub fn validate(&self) -> Result<(), SyncError> {
        let bad = |why| Err(SyncError::InvalidConfig(why));
        if self.split_parts < 2 {
            return bad("split_parts must be at least 2");
        }
        if self.list_threshold < 1 {
            return bad("list_threshold must be at least 1");
        }
        if self.max_rounds < 1 {
            return bad("max_rounds must be at least 1");
        }
        if self.max_ranges < self.split_parts + 2 {
            return bad("max_ranges must exceed split_parts + 1");
        }
        if self.max_ids < self.list_threshold + 1 {
            return bad("max_ids must exceed list_threshold");
        }
        let split = self.split_parts * (MAX_RANGE_OVERHEAD + FINGERPRINT_LEN);
        let list = MAX_RANGE_OVERHEAD + self.list_threshold * MAX_ITEM_BYTES;
        if self.max_message_bytes < 2 * (split + list)
            || self.max_message_bytes > swapmesh_protocol::encoding::MAX_DECODE
        {
            return bad(
                "max_message_bytes must hold two splits and two item lists, and at most 1 MiB",
            );
        }
        Ok(())
    }
}
