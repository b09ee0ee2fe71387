//! Places as geohash strings (no floats in signed bodies): a record names an area of
//! 5–6 characters, gossip travels on its 5-character cell, and a node listens to its
//! cell and the 8 around it.
//!
//! Neighbours are computed exactly on integers: a geohash of `n` characters is `5n`
//! bits interleaving longitude (first) and latitude bits, so a neighbour is the
//! de-interleaved coordinates plus or minus one, longitude wrapping around the globe
//! and latitude stopping at the poles.

use std::fmt;

use serde::{Deserialize, Serialize};

const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";

/// Length of a gossip cell.
pub const CELL_LEN: usize = 5;
/// Accepted lengths of a record's area.
pub const AREA_LEN: std::ops::RangeInclusive<usize> = 5..=6;

/// A geohash string as found on the wire. Checked by [`Geohash::is_valid_area`] in
/// validation; build checked values with [`Geohash::parse_area`] or [`Geohash::parse_cell`].
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Geohash(String);

fn digit(c: u8) -> Option<u64> {
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u64)
}

impl Geohash {
    /// Parses a record area (5 or 6 geohash characters).
    pub fn parse_area(s: &str) -> Option<Self> {
        let g = Self(s.to_owned());
        g.is_valid_area().then_some(g)
    }

    /// Parses a cell (exactly 5 geohash characters).
    pub fn parse_cell(s: &str) -> Option<Self> {
        Self::parse_area(s).filter(|g| g.0.len() == CELL_LEN)
    }

    /// 5–6 characters of the geohash alphabet.
    pub fn is_valid_area(&self) -> bool {
        AREA_LEN.contains(&self.0.len()) && self.0.bytes().all(|c| digit(c).is_some())
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 5-character cell this area lies in.
    pub fn cell(&self) -> Geohash {
        Geohash(self.0[..CELL_LEN.min(self.0.len())].to_owned())
    }

    /// The up to 8 cells around this one, of the same length (fewer at the poles).
    pub fn neighbours(&self) -> Vec<Geohash> {
        let bits = 5 * self.0.len() as u32;
        let lon_bits = bits.div_ceil(2);
        let lat_bits = bits / 2;
        let (x, y) = self.deinterleave(bits);
        let lon_mod = 1i64 << lon_bits;
        let lat_max = (1i64 << lat_bits) - 1;
        let mut out = Vec::with_capacity(8);
        for dy in [-1i64, 0, 1] {
            for dx in [-1i64, 0, 1] {
                if dx == 0 && dy == 0 {
                    continue;
                }
                let ny = y as i64 + dy;
                if !(0..=lat_max).contains(&ny) {
                    continue;
                }
                let nx = (x as i64 + dx).rem_euclid(lon_mod);
                out.push(Self::interleave(nx as u64, ny as u64, bits));
            }
        }
        out
    }

    /// The centre of this geohash's box: (latitude, longitude) in degrees.
    pub fn center(&self) -> (f64, f64) {
        let bits = 5 * self.0.len() as u32;
        let (x, y) = self.deinterleave(bits);
        let (lon_bits, lat_bits) = (bits.div_ceil(2), bits / 2);
        let lon = -180.0 + (x as f64 + 0.5) * 360.0 / (1u64 << lon_bits) as f64;
        let lat = -90.0 + (y as f64 + 0.5) * 180.0 / (1u64 << lat_bits) as f64;
        (lat, lon)
    }

    /// The great-circle distance between the centres of two geohashes, in km.
    pub fn distance_km(&self, other: &Geohash) -> f64 {
        let ((lat1, lon1), (lat2, lon2)) = (self.center(), other.center());
        let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
        let (dp, dl) = ((lat2 - lat1).to_radians(), (lon2 - lon1).to_radians());
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * 6371.0 * a.sqrt().min(1.0).asin()
    }

    /// This cell and its neighbours: the cells a node with this area listens to.
    pub fn with_neighbours(&self) -> Vec<Geohash> {
        let mut cells = vec![self.clone()];
        cells.extend(self.neighbours());
        cells
    }

    fn deinterleave(&self, bits: u32) -> (u64, u64) {
        let mut value = 0u64;
        for c in self.0.bytes() {
            value = (value << 5) | digit(c).unwrap_or(0);
        }
        let (mut x, mut y) = (0u64, 0u64);
        for i in 0..bits {
            let bit = (value >> (bits - 1 - i)) & 1;
            if i % 2 == 0 {
                x = (x << 1) | bit;
            } else {
                y = (y << 1) | bit;
            }
        }
        (x, y)
    }

    fn interleave(x: u64, y: u64, bits: u32) -> Geohash {
        let lon_bits = bits.div_ceil(2);
        let lat_bits = bits / 2;
        let mut value = 0u64;
        let (mut xi, mut yi) = (lon_bits, lat_bits);
        for i in 0..bits {
            let bit = if i % 2 == 0 {
                xi -= 1;
                (x >> xi) & 1
            } else {
                yi -= 1;
                (y >> yi) & 1
            };
            value = (value << 1) | bit;
        }
        let chars = (bits / 5) as usize;
        let text = (0..chars)
            .map(|i| ALPHABET[((value >> (5 * (chars - 1 - i))) & 31) as usize] as char)
            .collect();
        Geohash(text)
    }
}

impl fmt::Display for Geohash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Geohash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Geohash({})", self.0)
    }
}

#[cfg(test)]
mod centre_tests {
    use super::*;

    #[test]
    fn a_centre_is_inside_its_box_and_neighbours_are_a_cell_apart() {
        // u4pru: by Skagen, Denmark (57.64911 N, 10.40744 E is u4pruydqqvj).
        let (lat, lon) = Geohash::parse_cell("u4pru").unwrap().center();
        assert!(
            (57.61..57.66).contains(&lat) && (10.37..10.42).contains(&lon),
            "{lat} {lon}"
        );
        let cell = Geohash::parse_cell("u4pru").unwrap();
        for n in cell.neighbours() {
            let d = cell.distance_km(&n);
            assert!((2.0..8.0).contains(&d), "{n}: {d} km");
        }
        assert_eq!(cell.distance_km(&cell), 0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(cells: Vec<Geohash>) -> Vec<String> {
        let mut v: Vec<String> = cells.into_iter().map(|g| g.0).collect();
        v.sort();
        v
    }

    #[test]
    fn neighbours_match_an_independent_reference() {
        // Neighbours of "u4pru" (Jutland) computed independently from the cell's
        // centre moved by one cell width or height and encoded again.
        let g = Geohash::parse_cell("u4pru").unwrap();
        assert_eq!(
            names(g.neighbours()),
            names(
                [
                    "u4pre", "u4prg", "u4prs", "u4prt", "u4prv", "u4r25", "u4r2h", "u4r2j"
                ]
                .iter()
                .map(|s| Geohash(s.to_string()))
                .collect()
            )
        );
    }

    #[test]
    fn neighbours_are_symmetric_and_eight_away_from_poles() {
        for s in ["u4pru", "gcpvj", "9q8yy", "s0000", "ezs42"] {
            let g = Geohash::parse_cell(s).unwrap();
            let n = g.neighbours();
            assert_eq!(n.len(), 8, "{s}");
            for m in n {
                assert!(m.neighbours().contains(&g), "{s} <-> {m}");
            }
        }
    }

    #[test]
    fn longitude_wraps_and_latitude_stops_at_the_pole() {
        // "zzzzz" is the north-east corner: no cells to the north, wraps to the west.
        let n = Geohash::parse_cell("zzzzz").unwrap().neighbours();
        assert_eq!(n.len(), 5);
        assert!(n.contains(&Geohash("bpbpb".into())));
    }

    #[test]
    fn area_rules() {
        assert!(Geohash::parse_area("u4pruy").is_some());
        assert!(Geohash::parse_cell("u4pruy").is_none());
        assert!(Geohash::parse_area("u4pr").is_none());
        assert!(
            Geohash::parse_area("u4pra").is_none(),
            "'a' is not in the alphabet"
        );
        assert_eq!(
            Geohash::parse_area("u4pruy").unwrap().cell().as_str(),
            "u4pru"
        );
    }
}
