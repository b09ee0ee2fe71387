//! The reconciled items, the points between them and the ranges they bound.

use std::cmp::Ordering;

use swapmesh_protocol::{RecordId, Timestamp};

/// One element of a synced set: a record version, ordered by creation time and then
/// id (the `topic ‖ created_at BE ‖ id` order of the store's per-topic index).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Item {
    /// Creation time of the record version.
    pub created_at: Timestamp,
    /// Id of the record version.
    pub id: RecordId,
}

impl Item {
    /// An item from its parts.
    pub fn new(created_at: Timestamp, id: RecordId) -> Self {
        Self { created_at, id }
    }
}

impl From<(Timestamp, RecordId)> for Item {
    fn from((created_at, id): (Timestamp, RecordId)) -> Self {
        Self { created_at, id }
    }
}

impl From<Item> for (Timestamp, RecordId) {
    fn from(item: Item) -> Self {
        (item.created_at, item.id)
    }
}

/// A point of the item order: either a position `At` an item value (which need not
/// be a stored item) or the `End`, after every item. Ranges are half-open, so a
/// range's lower bound is included and its upper bound excluded.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Bound {
    /// The position of this item value: items `>=` it are at or after it.
    At(Item),
    /// After every item.
    End,
}

impl Bound {
    /// The first point, before or at every item.
    pub const MIN: Bound = Bound::At(Item {
        created_at: Timestamp(0),
        id: RecordId([0; 32]),
    });

    /// The shortest point that lies after `prev` and at or before `next` (`prev <
    /// next`): the time of `next`, and when the times are equal the shortest id
    /// prefix of `next` that differs from `prev`, zero-padded. Short bounds encode
    /// in few bytes (the wire form drops trailing zero bytes).
    pub fn between(prev: &Item, next: &Item) -> Bound {
        debug_assert!(prev < next);
        let mut id = [0u8; 32];
        if prev.created_at == next.created_at {
            let common = prev
                .id
                .0
                .iter()
                .zip(next.id.0.iter())
                .take_while(|(a, b)| a == b)
                .count();
            let keep = (common + 1).min(32);
            id[..keep].copy_from_slice(&next.id.0[..keep]);
        }
        Bound::At(Item::new(next.created_at, RecordId(id)))
    }

    /// Whether `item` lies at or after this point.
    pub fn is_at_or_before(&self, item: &Item) -> bool {
        match self {
            Bound::At(b) => b <= item,
            Bound::End => false,
        }
    }

    /// The item value of the point, `None` for the end.
    pub fn item(&self) -> Option<&Item> {
        match self {
            Bound::At(item) => Some(item),
            Bound::End => None,
        }
    }
}

impl Ord for Bound {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Bound::At(a), Bound::At(b)) => a.cmp(b),
            (Bound::At(_), Bound::End) => Ordering::Less,
            (Bound::End, Bound::At(_)) => Ordering::Greater,
            (Bound::End, Bound::End) => Ordering::Equal,
        }
    }
}

impl PartialOrd for Bound {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The half-open range `[lower, upper)` of the item order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Range {
    /// First point of the range (included).
    pub lower: Bound,
    /// Point after the range (excluded).
    pub upper: Bound,
}

impl Range {
    /// Every item.
    pub const FULL: Range = Range {
        lower: Bound::MIN,
        upper: Bound::End,
    };

    /// The range `[lower, upper)`.
    pub fn new(lower: Bound, upper: Bound) -> Self {
        Self { lower, upper }
    }

    /// Whether `item` lies in the range.
    pub fn contains(&self, item: &Item) -> bool {
        self.lower.is_at_or_before(item) && !self.upper.is_at_or_before(item)
    }

    /// Whether `other` lies within this range.
    pub fn covers(&self, other: &Range) -> bool {
        self.lower <= other.lower && other.upper <= self.upper
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(t: u64, id: &[u8]) -> Item {
        let mut bytes = [0u8; 32];
        bytes[..id.len()].copy_from_slice(id);
        Item::new(Timestamp(t), RecordId(bytes))
    }

    #[test]
    fn between_lies_after_prev_and_at_or_before_next() {
        let cases = [
            (item(1, &[9, 9]), item(2, &[0, 1])),
            (item(5, &[1, 2, 3]), item(5, &[1, 2, 4])),
            (item(5, &[1, 2, 3]), item(5, &[1, 3])),
            (item(5, &[0xff; 31]), item(5, &[0xff; 32])),
        ];
        for (prev, next) in cases {
            let b = Bound::between(&prev, &next);
            assert!(Bound::At(prev) < b, "{prev:?} {b:?}");
            assert!(b <= Bound::At(next), "{next:?} {b:?}");
        }
    }

    #[test]
    fn end_is_after_every_point() {
        assert!(Bound::At(item(u64::MAX, &[0xff; 32])) < Bound::End);
        assert!(Bound::MIN <= Bound::At(item(0, &[])));
        assert!(Range::FULL.contains(&item(u64::MAX, &[0xff; 32])));
    }
}
