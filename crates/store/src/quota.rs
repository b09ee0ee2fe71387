//! Quotas: what one author can make a node keep under one topic, the same on
//! every node whatever order the records arrived in.
//!
//! Per author and topic a node keeps at most [`PER_TOPIC`] records, and of one
//! UTC day (of `created_at`) at most [`PER_DAY`]. Both are counted in one order
//! of the author's records, the *quota order*: later days first, and within a
//! day earlier `(created_at, id)` first. A record is kept when fewer than
//! [`PER_TOPIC`] kept records of its author and topic come before it in that
//! order, and fewer than [`PER_DAY`] of its own day. So a topic holds an
//! author's most recent days, and of each day its first records: a flood is
//! refused after its first [`PER_DAY`] of a day instead of churning, and the
//! next day's records push out the oldest day.
//!
//! Why one order, and why per topic:
//! - The quota's sets form a laminar family (an author's topic holds its days),
//!   and with one order for both caps, keeping greedily in that order is keeping
//!   a max-weight basis of a matroid. That makes the kept set a function of the
//!   records seen, not of their arrival order (a record that arrives never lets
//!   back one that was refused, and displaces at most one kept record), and a
//!   node that holds only the kept set of another decides alike: sync converges.
//!   A day cap counted across topics, or "the first 500 of a day" beside "the
//!   newest 200 of a topic", can do neither (a later record can free a place
//!   for one refused before), and a count across topics would differ between
//!   nodes that listen to different topics.
//! - A record with several topics (an area and meshes) is counted in each; it
//!   is stored when at least one topic keeps it, and indexed (`by_topic`, the
//!   sync set) only under the topics that keep it.
//!
//! The members of a quota are one value per author and topic in the `quotas`
//! tree (`author (32) ‖ topic` → members in quota order, 40 bytes each:
//! `created_at ‖ id`), read and rewritten in the insert's transaction (a sled
//! transaction cannot scan). A record leaves its quotas with its index entries.
//!
//! What stays order dependent, healed by sync instead: a record leaving a full
//! quota (expiry, or a new version of it that ranks after it, such as an edit
//! later the same day) frees a place that a record refused earlier would now
//! get. A node does not hold refused records; the next sync session fetches
//! it from any node that does.

use swapmesh_protocol::{AuthorKey, RecordId, Timestamp, Topic};

use crate::keys::{STAMP_LEN, parse_stamp, stamp};

/// Records of one author kept under one topic.
pub const PER_TOPIC: usize = 200;

/// Records of one author kept under one topic from one UTC day.
pub const PER_DAY: usize = 100;

const DAY_SECONDS: u64 = 86_400;

/// Which quota refused a record.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Quota {
    /// [`PER_TOPIC`] of the author's records of the topic come first.
    Topic,
    /// [`PER_DAY`] of the author's records of the topic and day come first.
    Day,
}

impl Quota {
    /// The label of the quota in metrics and errors.
    pub fn as_str(self) -> &'static str {
        match self {
            Quota::Topic => "topic",
            Quota::Day => "day",
        }
    }
}

/// The `quotas` key of an author's topic.
pub(crate) fn quota_key(author: &AuthorKey, topic: &Topic) -> Vec<u8> {
    let mut k = Vec::with_capacity(32 + topic.as_str().len());
    k.extend_from_slice(&author.0);
    k.extend_from_slice(topic.as_str().as_bytes());
    k
}

/// A position in quota order: sorts before every position it comes before.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
struct Rank {
    /// `u64::MAX - day`: later days first.
    day: u64,
    created_at: u64,
    id: [u8; 32],
}

impl Rank {
    fn of(created_at: Timestamp, id: &RecordId) -> Self {
        Self {
            day: u64::MAX - created_at.0 / DAY_SECONDS,
            created_at: created_at.0,
            id: id.0,
        }
    }
}

/// The members of one quota, in quota order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Members(Vec<(Timestamp, RecordId)>);

/// What admitting a record to a quota did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Admission {
    /// Kept; it displaced this member, if any (the one the quota no longer has
    /// room for).
    Kept(Option<(Timestamp, RecordId)>),
    /// Already a member.
    Member,
    /// Not kept: the quota is full before it.
    Refused(Quota),
}

impl Admission {
    /// The quota a record admitted so would cost, refused or by displacing
    /// another record of the day (`Day`) or of the topic (`Topic`); `None`
    /// when it is kept and displaces nothing.
    pub(crate) fn cost(self, created_at: Timestamp) -> Option<Quota> {
        match self {
            Admission::Refused(quota) => Some(quota),
            Admission::Kept(Some((at, _))) if at.0 / DAY_SECONDS == created_at.0 / DAY_SECONDS => {
                Some(Quota::Day)
            }
            Admission::Kept(Some(_)) => Some(Quota::Topic),
            Admission::Kept(None) | Admission::Member => None,
        }
    }
}

impl Members {
    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        if !bytes.len().is_multiple_of(STAMP_LEN) {
            return None;
        }
        let members: Option<Vec<_>> = bytes.chunks(STAMP_LEN).map(parse_stamp).collect();
        let members = Self(members?);
        members.is_ordered().then_some(members)
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        self.0.iter().flat_map(|(at, id)| stamp(*at, id)).collect()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &(Timestamp, RecordId)> {
        self.0.iter()
    }

    pub(crate) fn contains(&self, created_at: Timestamp, id: &RecordId) -> bool {
        self.position(created_at, id).is_ok()
    }

    /// Strictly in quota order, within both caps.
    pub(crate) fn is_ordered(&self) -> bool {
        let ranks: Vec<Rank> = self.0.iter().map(|(at, id)| Rank::of(*at, id)).collect();
        ranks.windows(2).all(|w| w[0] < w[1])
            && self.0.len() <= PER_TOPIC
            && ranks
                .chunk_by(|a, b| a.day == b.day)
                .all(|d| d.len() <= PER_DAY)
    }

    fn position(&self, created_at: Timestamp, id: &RecordId) -> Result<usize, usize> {
        let rank = Rank::of(created_at, id);
        self.0
            .binary_search_by(|(at, m)| Rank::of(*at, m).cmp(&rank))
    }

    /// Would a record be kept, and whom would it displace? Changes nothing.
    pub(crate) fn judge(&self, created_at: Timestamp, id: &RecordId) -> Admission {
        let at = match self.position(created_at, id) {
            Ok(_) => return Admission::Member,
            Err(at) => at,
        };
        if at >= PER_TOPIC {
            return Admission::Refused(Quota::Topic);
        }
        let day = created_at.0 / DAY_SECONDS;
        let same_day = |(t, _): &&(Timestamp, RecordId)| t.0 / DAY_SECONDS == day;
        let before = self.0[..at].iter().filter(same_day).count();
        if before >= PER_DAY {
            return Admission::Refused(Quota::Day);
        }
        let after = self.0[at..].iter().filter(same_day).count();
        let displaced = if before + after + 1 > PER_DAY {
            // The last of its day: the day has room for one less after it.
            self.0[at..].iter().rev().find(same_day).copied()
        } else if self.0.len() + 1 > PER_TOPIC {
            self.0.last().copied()
        } else {
            None
        };
        Admission::Kept(displaced)
    }

    /// [`Members::judge`], applying what it decided.
    pub(crate) fn admit(&mut self, created_at: Timestamp, id: &RecordId) -> Admission {
        let admission = self.judge(created_at, id);
        if let Admission::Kept(displaced) = admission {
            if let Some((at, gone)) = displaced {
                self.remove(at, &gone);
            }
            if let Err(i) = self.position(created_at, id) {
                self.0.insert(i, (created_at, *id));
            }
        }
        admission
    }

    /// Removes a member; `false` if it was none.
    pub(crate) fn remove(&mut self, created_at: Timestamp, id: &RecordId) -> bool {
        match self.position(created_at, id) {
            Ok(i) => {
                self.0.remove(i);
                true
            }
            Err(_) => false,
        }
    }
}

/// The quota order's greedy choice over a whole set, computed from scratch:
/// the members every node keeps of `records` (one author and topic, current
/// versions only). For tests and the migration that introduced quotas.
pub fn kept_of(records: &[(Timestamp, RecordId)]) -> Vec<(Timestamp, RecordId)> {
    let mut sorted = records.to_vec();
    sorted.sort_by_key(|(at, id)| Rank::of(*at, id));
    sorted.dedup();
    let mut kept: Vec<(Timestamp, RecordId)> = Vec::new();
    let mut day_count = (u64::MAX, 0);
    for (at, id) in sorted {
        if kept.len() == PER_TOPIC {
            break;
        }
        let day = at.0 / DAY_SECONDS;
        if day_count.0 != day {
            day_count = (day, 0);
        }
        if day_count.1 < PER_DAY {
            day_count.1 += 1;
            kept.push((at, id));
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32) -> RecordId {
        let mut b = [0u8; 32];
        b[..4].copy_from_slice(&n.to_be_bytes());
        RecordId(b)
    }

    const DAY1: u64 = 1_750_032_000; // a UTC midnight

    #[test]
    fn a_day_keeps_its_first_records_and_refuses_the_rest() {
        let mut m = Members::default();
        for n in 0..PER_DAY as u32 {
            assert!(matches!(
                m.admit(Timestamp(DAY1 + 10 + u64::from(n)), &id(n)),
                Admission::Kept(None)
            ));
        }
        assert_eq!(
            m.admit(Timestamp(DAY1 + 5_000), &id(999)),
            Admission::Refused(Quota::Day)
        );
        // An earlier one of the same day displaces the day's last.
        let last = (
            Timestamp(DAY1 + 10 + PER_DAY as u64 - 1),
            id(PER_DAY as u32 - 1),
        );
        assert_eq!(
            m.admit(Timestamp(DAY1 + 1), &id(1000)),
            Admission::Kept(Some(last))
        );
        assert_eq!(m.len(), PER_DAY);
        assert!(m.is_ordered());
    }

    #[test]
    fn a_later_day_pushes_out_the_oldest_day() {
        let mut m = Members::default();
        for day in 0..2u64 {
            for n in 0..PER_DAY as u64 {
                let at = Timestamp(DAY1 + day * DAY_SECONDS + n);
                assert!(matches!(
                    m.admit(at, &id((day * 1000 + n) as u32)),
                    Admission::Kept(None)
                ));
            }
        }
        assert_eq!(m.len(), PER_TOPIC);
        // A third, later day: its first record displaces the last of day 0.
        let displaced = Some((Timestamp(DAY1 + PER_DAY as u64 - 1), id(PER_DAY as u32 - 1)));
        assert_eq!(
            m.admit(Timestamp(DAY1 + 2 * DAY_SECONDS), &id(5000)),
            Admission::Kept(displaced)
        );
        // An older day than all: refused by the topic quota.
        assert_eq!(
            m.admit(Timestamp(DAY1 - DAY_SECONDS), &id(6000)),
            Admission::Refused(Quota::Topic)
        );
        assert_eq!(
            m.admit(Timestamp(DAY1 + 2 * DAY_SECONDS), &id(5000)),
            Admission::Member
        );
        assert_eq!(Members::decode(&m.encode()), Some(m));
    }

    #[test]
    fn members_out_of_order_do_not_decode() {
        let mut bytes = stamp(Timestamp(DAY1), &id(1)).to_vec();
        bytes.extend_from_slice(&stamp(Timestamp(DAY1 + DAY_SECONDS), &id(2)));
        assert_eq!(Members::decode(&bytes), None);
        assert_eq!(Members::decode(&bytes[..39]), None);
    }
}
