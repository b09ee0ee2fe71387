//! The reconciliation messages, carried as the bytes of the `Reconcile` frames of
//! `/swapmesh/sync/1` ([`crate::wire`]).
//!
//! # Format (version 1)
//! A message is a list of consecutive ranges covering the whole item order: the first
//! starts at [`Bound::MIN`], each starts where the previous one ended, and the last
//! ends at [`Bound::End`]. Each range carries a [`Mode`]:
//! - `Skip`: nothing more to do here (already equal, or already answered);
//! - `Fingerprint`: the sender's fingerprint of its items in the range;
//! - `IdList`: every item the sender holds in the range;
//! - `IdListReply`: the answer to an `IdList` over (part of) the same range: the
//!   items the list lacked, and the positions in the list of the items the replier
//!   lacks.
//!
//! On the wire (the canonical encoding of `protocol::encoding`) the message is an
//! enum whose tag is the version: `V1 { ranges: [(mode, upper bound)], last: mode }`;
//! the last range's upper bound is always the end and is not sent. Times are deltas
//! in message order (each list's items, then the range's upper bound), so they are
//! small varints and never go backwards; a bound's id is sent as its prefix without
//! trailing zero bytes (bounds between items are chosen short, see
//! [`Bound::between`]).
//!
//! [`Message::decode`] refuses oversize input before decoding and checks every
//! structural rule ([`Malformed`]) and bound of [`Config`]; decoding never panics.

use serde::{Deserialize, Serialize};
use swapmesh_protocol::encoding;
use swapmesh_protocol::{RecordId, Timestamp};

use crate::config::Config;
use crate::error::{Malformed, SyncError};
use crate::fingerprint::{FINGERPRINT_LEN, Fingerprint};
use crate::item::{Bound, Item, Range};

/// Upper bound of the encoded size of one listed item (a time delta and an id).
pub(crate) const MAX_ITEM_BYTES: usize = 9 + 32;
/// Upper bound of the encoded size of a range without its fingerprint or items.
pub(crate) const MAX_RANGE_OVERHEAD: usize = 1 + (9 + 1 + 32) + 9;

/// One reconciliation message.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Message {
    /// Consecutive ranges from [`Bound::MIN`] to [`Bound::End`].
    pub ranges: Vec<MessageRange>,
}

/// A range of a message: it starts where the previous one ended.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MessageRange {
    /// The end of the range (excluded).
    pub upper: Bound,
    /// What the sender says about the range.
    pub mode: Mode,
}

/// What a message says about one range.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Mode {
    /// Nothing to do.
    Skip,
    /// The sender's fingerprint of its items in the range.
    Fingerprint(Fingerprint),
    /// All the sender's items in the range, in order.
    IdList(Vec<Item>),
    /// The answer to an `IdList` covering this range.
    IdListReply {
        /// Items of the replier that the list lacked, in order.
        missing: Vec<Item>,
        /// Positions (in the list, restricted to this range) of the items the
        /// replier lacks, increasing.
        lacking: Vec<u32>,
    },
}

impl Message {
    /// The message that says "nothing left to do".
    pub fn done() -> Self {
        Self {
            ranges: vec![MessageRange {
                upper: Bound::End,
                mode: Mode::Skip,
            }],
        }
    }

    /// The message that lists `items` (sorted and deduplicated here) as the
    /// sender's whole set: the opening of a small set.
    pub fn list(mut items: Vec<Item>) -> Self {
        items.sort();
        items.dedup();
        Self {
            ranges: vec![MessageRange {
                upper: Bound::End,
                mode: Mode::IdList(items),
            }],
        }
    }

    /// Whether the message asks nothing more (every range is `Skip`).
    pub fn is_done(&self) -> bool {
        self.ranges.iter().all(|r| matches!(r.mode, Mode::Skip))
    }

    /// Items and indices carried (what [`Config::max_ids`] bounds).
    pub fn id_count(&self) -> usize {
        self.ranges.iter().map(|r| r.mode.id_count()).sum()
    }

    /// The canonical wire bytes. A message that breaks the structural rules still
    /// encodes (so tests can send one), into bytes that [`Message::decode`] refuses;
    /// the last range is always sent as ending at the end.
    pub fn encode(&self) -> Vec<u8> {
        let mut cursor = 0u64;
        let mut ranges = Vec::with_capacity(self.ranges.len().saturating_sub(1));
        let mut last = WireMode::Skip;
        for (i, range) in self.ranges.iter().enumerate() {
            let mode = range.mode.to_wire(&mut cursor);
            if i + 1 == self.ranges.len() {
                last = mode;
            } else {
                ranges.push(WireRange {
                    mode,
                    upper: bound_to_wire(&range.upper, &mut cursor),
                });
            }
        }
        encoding::encode(&Wire::V1(WireV1 { ranges, last }))
    }

    /// Decodes and checks wire bytes against the bounds of `config`.
    pub fn decode(bytes: &[u8], config: &Config) -> Result<Self, SyncError> {
        if bytes.len() > config.max_message_bytes {
            return Err(SyncError::MessageTooLarge {
                len: bytes.len(),
                limit: config.max_message_bytes,
            });
        }
        let wire: Wire = encoding::decode_canonical(bytes, config.max_message_bytes)?;
        let Wire::V1(wire) = wire;
        // Count before converting: conversion allocates per range.
        let count = wire.ranges.len() + 1;
        if count > config.max_ranges {
            return Err(SyncError::TooManyRanges {
                count,
                limit: config.max_ranges,
            });
        }
        let mut cursor = 0u64;
        let mut ranges = Vec::with_capacity(count);
        for (index, range) in wire.ranges.into_iter().enumerate() {
            let mode = Mode::from_wire(range.mode, &mut cursor, index)?;
            let upper = bound_from_wire(&range.upper, &mut cursor, index)?;
            ranges.push(MessageRange { upper, mode });
        }
        let mode = Mode::from_wire(wire.last, &mut cursor, count - 1)?;
        ranges.push(MessageRange {
            upper: Bound::End,
            mode,
        });
        let message = Self { ranges };
        message.validate(config)?;
        Ok(message)
    }

    /// Checks the structural rules and the bounds of `config`.
    pub fn validate(&self, config: &Config) -> Result<(), SyncError> {
        if self.ranges.len() > config.max_ranges {
            return Err(SyncError::TooManyRanges {
                count: self.ranges.len(),
                limit: config.max_ranges,
            });
        }
        let ids = self.id_count();
        if ids > config.max_ids {
            return Err(SyncError::TooManyIds {
                count: ids,
                limit: config.max_ids,
            });
        }
        if self.ranges.is_empty() {
            return Err(Malformed::NoRanges.into());
        }
        let mut lower = Bound::MIN;
        let last = self.ranges.len() - 1;
        for (index, range) in self.ranges.iter().enumerate() {
            if (range.upper == Bound::End) != (index == last) {
                return Err(Malformed::MisplacedEnd { index }.into());
            }
            if range.upper <= lower {
                return Err(Malformed::BoundsOutOfOrder { index }.into());
            }
            let span = Range::new(lower, range.upper);
            let check_items = |items: &[Item]| -> Result<(), SyncError> {
                if items.windows(2).any(|w| w[0] >= w[1]) {
                    return Err(Malformed::ItemsOutOfOrder { index }.into());
                }
                if items.iter().any(|item| !span.contains(item)) {
                    return Err(Malformed::ItemOutsideRange { index }.into());
                }
                Ok(())
            };
            match &range.mode {
                Mode::Skip | Mode::Fingerprint(_) => {}
                Mode::IdList(items) => check_items(items)?,
                Mode::IdListReply { missing, lacking } => {
                    check_items(missing)?;
                    if lacking.windows(2).any(|w| w[0] >= w[1]) {
                        return Err(Malformed::BadIndex { index }.into());
                    }
                }
            }
            lower = range.upper;
        }
        Ok(())
    }
}

impl Mode {
    /// Items and indices carried.
    pub(crate) fn id_count(&self) -> usize {
        match self {
            Mode::Skip | Mode::Fingerprint(_) => 0,
            Mode::IdList(items) => items.len(),
            Mode::IdListReply { missing, lacking } => missing.len() + lacking.len(),
        }
    }

    fn to_wire(&self, cursor: &mut u64) -> WireMode {
        let items = |items: &[Item], cursor: &mut u64| -> Vec<WireItem> {
            items
                .iter()
                .map(|item| WireItem {
                    dt: advance(cursor, item.created_at.0),
                    id: item.id.0,
                })
                .collect()
        };
        match self {
            Mode::Skip => WireMode::Skip,
            Mode::Fingerprint(fp) => WireMode::Fingerprint(fp.0),
            Mode::IdList(list) => WireMode::IdList(items(list, cursor)),
            Mode::IdListReply { missing, lacking } => WireMode::IdListReply {
                missing: items(missing, cursor),
                lacking: lacking.clone(),
            },
        }
    }

    fn from_wire(mode: WireMode, cursor: &mut u64, index: usize) -> Result<Self, SyncError> {
        let items = |items: Vec<WireItem>, cursor: &mut u64| -> Result<Vec<Item>, SyncError> {
            items
                .into_iter()
                .map(|w| {
                    let t = cursor
                        .checked_add(w.dt)
                        .ok_or(Malformed::TimeOverflow { index })?;
                    *cursor = t;
                    Ok(Item::new(Timestamp(t), RecordId(w.id)))
                })
                .collect()
        };
        Ok(match mode {
            WireMode::Skip => Mode::Skip,
            WireMode::Fingerprint(fp) => Mode::Fingerprint(Fingerprint(fp)),
            WireMode::IdList(list) => Mode::IdList(items(list, cursor)?),
            WireMode::IdListReply { missing, lacking } => Mode::IdListReply {
                missing: items(missing, cursor)?,
                lacking,
            },
        })
    }

    /// Exact encoded size of the mode, advancing the time cursor.
    fn wire_size(&self, cursor: &mut u64) -> usize {
        let items = |items: &[Item], cursor: &mut u64| -> usize {
            varint_len(items.len() as u64)
                + items
                    .iter()
                    .map(|item| varint_len(advance(cursor, item.created_at.0)) + 32)
                    .sum::<usize>()
        };
        1 + match self {
            Mode::Skip => 0,
            Mode::Fingerprint(_) => FINGERPRINT_LEN,
            Mode::IdList(list) => items(list, cursor),
            Mode::IdListReply { missing, lacking } => {
                items(missing, cursor)
                    + varint_len(lacking.len() as u64)
                    + lacking
                        .iter()
                        .map(|&i| varint_len(u64::from(i)))
                        .sum::<usize>()
            }
        }
    }
}

/// Exact encoded size of one range (its bound omitted when it is the end), advancing
/// the time cursor as [`Message::encode`] does.
pub(crate) fn range_wire_size(range: &MessageRange, cursor: &mut u64) -> usize {
    let mode = range.mode.wire_size(cursor);
    mode + match range.upper {
        Bound::End => 0,
        bound => {
            let wire = bound_to_wire(&bound, cursor);
            varint_len(wire.dt) + varint_len(wire.prefix.len() as u64) + wire.prefix.len()
        }
    }
}

/// Upper bound of the bytes of a message besides its ranges: the version tag and
/// the length of the range list.
pub(crate) const MESSAGE_OVERHEAD: usize = 1 + 9;

/// Length of a bincode varint.
pub(crate) fn varint_len(v: u64) -> usize {
    match v {
        0..=250 => 1,
        251..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

/// The delta from the cursor to `t`, moving the cursor. Out-of-order times (only in
/// a malformed message) wrap, and the decoder refuses them as an overflow.
fn advance(cursor: &mut u64, t: u64) -> u64 {
    let dt = t.wrapping_sub(*cursor);
    *cursor = t;
    dt
}

fn bound_to_wire(bound: &Bound, cursor: &mut u64) -> WireBound {
    let item = match bound {
        Bound::At(item) => *item,
        // Only in a malformed message: the largest point, so the decoder sees the
        // misplaced end as bounds out of order.
        Bound::End => Item::new(Timestamp(u64::MAX), RecordId([0xff; 32])),
    };
    let len = item.id.0.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    WireBound {
        dt: advance(cursor, item.created_at.0),
        prefix: item.id.0[..len].to_vec(),
    }
}

fn bound_from_wire(wire: &WireBound, cursor: &mut u64, index: usize) -> Result<Bound, SyncError> {
    if wire.prefix.len() > 32 || wire.prefix.last() == Some(&0) {
        return Err(Malformed::BadBound { index }.into());
    }
    let t = cursor
        .checked_add(wire.dt)
        .ok_or(Malformed::TimeOverflow { index })?;
    *cursor = t;
    let mut id = [0u8; 32];
    id[..wire.prefix.len()].copy_from_slice(&wire.prefix);
    Ok(Bound::At(Item::new(Timestamp(t), RecordId(id))))
}

/// The versioned envelope: the enum tag is the version.
#[derive(Serialize, Deserialize)]
enum Wire {
    V1(WireV1),
}

#[derive(Serialize, Deserialize)]
struct WireV1 {
    ranges: Vec<WireRange>,
    last: WireMode,
}

#[derive(Serialize, Deserialize)]
struct WireRange {
    mode: WireMode,
    upper: WireBound,
}

#[derive(Serialize, Deserialize)]
struct WireBound {
    dt: u64,
    prefix: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
enum WireMode {
    Skip,
    Fingerprint([u8; FINGERPRINT_LEN]),
    IdList(Vec<WireItem>),
    IdListReply {
        missing: Vec<WireItem>,
        lacking: Vec<u32>,
    },
}

#[derive(Serialize, Deserialize)]
struct WireItem {
    dt: u64,
    id: [u8; 32],
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(t: u64, b: u8) -> Item {
        Item::new(Timestamp(t), RecordId([b; 32]))
    }

    fn sample() -> Message {
        let at = |t: u64, b: u8| {
            let mut id = [0u8; 32];
            id[0] = b;
            Bound::At(Item::new(Timestamp(t), RecordId(id)))
        };
        Message {
            ranges: vec![
                MessageRange {
                    upper: at(1_700_000_000, 0),
                    mode: Mode::Skip,
                },
                MessageRange {
                    upper: at(1_700_000_100, 7),
                    mode: Mode::Fingerprint(Fingerprint([3; 16])),
                },
                MessageRange {
                    upper: at(1_700_100_000, 0),
                    mode: Mode::IdList(vec![item(1_700_000_100, 9), item(1_700_000_500, 1)]),
                },
                MessageRange {
                    upper: Bound::End,
                    mode: Mode::IdListReply {
                        missing: vec![item(1_800_000_000, 4)],
                        lacking: vec![0, 300, 70_000],
                    },
                },
            ],
        }
    }

    #[test]
    fn a_message_round_trips() {
        let m = sample();
        let bytes = m.encode();
        assert_eq!(Message::decode(&bytes, &Config::default()).unwrap(), m);
        assert_eq!(
            Message::decode(&Message::done().encode(), &Config::default()).unwrap(),
            Message::done()
        );
    }

    #[test]
    fn computed_wire_size_is_exact() {
        for m in [sample(), Message::done()] {
            let mut cursor = 0;
            let size: usize = m
                .ranges
                .iter()
                .map(|r| range_wire_size(r, &mut cursor))
                .sum();
            // The version tag and a one-byte list length.
            assert_eq!(size + 2, m.encode().len());
        }
    }
}
