//! Range summaries: the sum of the ids modulo 2^256, the count, and the fingerprint
//! that hashes the two.
//!
//! # Why a sum, and why 16 bytes
//! - The ids are added as 256-bit little-endian integers modulo 2^256 (as Negentropy
//!   does). A sum is a group operation, so the summary of a union of disjoint ranges
//!   is the sum of their summaries and the summary of a difference is a subtraction:
//!   a store can keep running sums (per bucket, or prefix sums) and answer any range
//!   in a few additions. XOR would give the same algebra but can be forged: ids an
//!   attacker mints are random vectors over GF(2), and 257 of them always contain a
//!   subset whose XOR is any chosen value (Gaussian elimination), so a peer could make
//!   two different sets look equal. Carries make the modular sum non-linear over
//!   GF(2).
//! - The fingerprint is `blake3-derive-key("swapmesh sync v1 range fingerprint",
//!   sum ‖ count as u64 LE)` truncated to 16 bytes. Hashing the count in means that
//!   sets of different sizes never compare equal by an accident of the sum.
//! - 16 bytes, not 32: a false "equal" needs either two sets with the same sum and
//!   count (the truncation does not help or hurt there: the sum is 256 bits) or a
//!   second preimage of a 128-bit hash output (2^128 work). A 128-bit birthday
//!   collision (2^64 minted-and-signed records) would only let an attacker hide the
//!   difference between two sets of its own choosing. Half the bytes per range
//!   matter: fingerprints are most of a reconciliation's bytes (16 per range, 16
//!   ranges per split). Negentropy makes the same choice.

use swapmesh_protocol::RecordId;

use crate::item::Item;

/// Length of a fingerprint in bytes.
pub const FINGERPRINT_LEN: usize = 16;

const CONTEXT: &str = "swapmesh sync v1 range fingerprint";

/// The fingerprint of a range: a hash of its id sum and its count.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, serde::Serialize, serde::Deserialize)]
pub struct Fingerprint(pub [u8; FINGERPRINT_LEN]);

/// The sum of a set of ids as 256-bit little-endian integers, modulo 2^256.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct IdSum([u64; 4]);

impl IdSum {
    /// The sum of no ids.
    pub const ZERO: IdSum = IdSum([0; 4]);

    /// The sum of one id.
    pub fn of(id: &RecordId) -> Self {
        let mut limbs = [0u64; 4];
        for (limb, chunk) in limbs.iter_mut().zip(id.0.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            *limb = u64::from_le_bytes(b);
        }
        Self(limbs)
    }
}

impl std::ops::Add for IdSum {
    type Output = IdSum;

    /// `self + other` modulo 2^256.
    fn add(self, other: IdSum) -> Self {
        let mut out = [0u64; 4];
        let mut carry = false;
        for (i, o) in out.iter_mut().enumerate() {
            let (s1, c1) = self.0[i].overflowing_add(other.0[i]);
            let (s2, c2) = s1.overflowing_add(u64::from(carry));
            *o = s2;
            carry = c1 || c2;
        }
        Self(out)
    }
}

impl std::ops::Sub for IdSum {
    type Output = IdSum;

    /// `self - other` modulo 2^256.
    fn sub(self, other: IdSum) -> Self {
        let mut out = [0u64; 4];
        let mut borrow = false;
        for (i, o) in out.iter_mut().enumerate() {
            let (d1, b1) = self.0[i].overflowing_sub(other.0[i]);
            let (d2, b2) = d1.overflowing_sub(u64::from(borrow));
            *o = d2;
            borrow = b1 || b2;
        }
        Self(out)
    }
}

impl IdSum {
    /// The 32 little-endian bytes (what a store persists).
    pub fn to_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (chunk, limb) in out.chunks_exact_mut(8).zip(self.0.iter()) {
            chunk.copy_from_slice(&limb.to_le_bytes());
        }
        out
    }

    /// The sum from its 32 little-endian bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self::of(&RecordId(bytes))
    }
}

/// The summary of the union of two disjoint sets.
impl std::ops::Add for Summary {
    type Output = Summary;

    fn add(self, other: Summary) -> Summary {
        Summary {
            count: self.count.wrapping_add(other.count),
            sum: self.sum + other.sum,
        }
    }
}

/// The summary of a set without one of its subsets.
impl std::ops::Sub for Summary {
    type Output = Summary;

    fn sub(self, other: Summary) -> Summary {
        Summary {
            count: self.count.wrapping_sub(other.count),
            sum: self.sum - other.sum,
        }
    }
}

/// What a range holds, in summary: how many items and the sum of their ids. Summaries
/// of disjoint ranges add up to the summary of their union.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct Summary {
    /// Number of items.
    pub count: u64,
    /// Sum of their ids.
    pub sum: IdSum,
}

impl Summary {
    /// The summary of no items.
    pub const EMPTY: Summary = Summary {
        count: 0,
        sum: IdSum::ZERO,
    };

    /// The summary of one item.
    pub fn of(item: &Item) -> Self {
        Self {
            count: 1,
            sum: IdSum::of(&item.id),
        }
    }

    /// The summary of some items, computed directly (no index).
    pub fn of_items<'a>(items: impl IntoIterator<Item = &'a Item>) -> Self {
        items
            .into_iter()
            .fold(Self::EMPTY, |acc, item| acc + Self::of(item))
    }

    /// The fingerprint sent on the wire.
    pub fn fingerprint(&self) -> Fingerprint {
        let mut hasher = blake3::Hasher::new_derive_key(CONTEXT);
        hasher.update(&self.sum.to_bytes());
        hasher.update(&self.count.to_le_bytes());
        let mut out = [0u8; FINGERPRINT_LEN];
        out.copy_from_slice(&hasher.finalize().as_bytes()[..FINGERPRINT_LEN]);
        Fingerprint(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(first: u8, last: u8) -> RecordId {
        let mut b = [0u8; 32];
        b[0] = first;
        b[31] = last;
        RecordId(b)
    }

    #[test]
    fn addition_carries_across_limbs_and_wraps_modulo_2_256() {
        let max = IdSum::of(&RecordId([0xff; 32]));
        let one = IdSum::of(&id(1, 0));
        assert_eq!(max + one, IdSum::ZERO);
        assert_eq!(IdSum::ZERO - one, max);
        let a = IdSum::of(&id(0xff, 0x10));
        let b = IdSum::of(&id(0x01, 0x20));
        // 0xff + 0x01 in the lowest byte carries into the next one.
        assert_eq!((a + b).to_bytes()[..2], [0x00, 0x01]);
        assert_eq!(a + b - b, a);
    }

    #[test]
    fn xor_forgery_does_not_fool_the_sum() {
        // a ^ b == c ^ d but a + b != c + d: the sets {a, b} and {c, d} would share
        // an XOR fingerprint.
        let (a, b, c, d) = (id(3, 0), id(5, 0), id(6, 0), id(0, 0));
        let sum = |x: RecordId, y: RecordId| {
            let at = Default::default();
            Summary::of_items(&[Item::new(at, x), Item::new(at, y)])
        };
        assert_ne!(sum(a, b).fingerprint(), sum(c, d).fingerprint());
    }

    #[test]
    fn the_count_is_part_of_the_fingerprint() {
        let s = Summary::EMPTY;
        let t = Summary {
            count: 1,
            sum: IdSum::ZERO,
        };
        assert_ne!(s.fingerprint(), t.fingerprint());
    }
}
