//! Identifiers and their text forms (DESIGN §7): an author is its 32-byte public key
//! in lower-case hex, a record or agreement id is a blake3 hash in lower-case hex, and
//! a listing's stable id is `<author-hex>.<d>`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A text form that does not parse.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseIdError {
    /// Not 64 lower-case hex characters.
    #[error("expected 64 lower-case hex characters, got {0:?}")]
    NotHex64(String),
    /// A listing id is `<author-hex>.<d>`.
    #[error("expected a listing id of the form <author-hex>.<name>, got {0:?}")]
    NotListingId(String),
    /// The name part of a listing id breaks the name rule.
    #[error("invalid listing name {0:?}: use 1-64 of a-z, 0-9, '_' and '-'")]
    BadName(String),
}

fn parse_hex32(s: &str) -> Result<[u8; 32], ParseIdError> {
    let err = || ParseIdError::NotHex64(s.to_owned());
    if s.len() != 64 || s.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(err());
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).map_err(|_| err())?;
    Ok(out)
}

macro_rules! hex32_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            /// The raw 32 bytes.
            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex::encode(self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), &hex::encode(self.0)[..12])
            }
        }

        impl FromStr for $name {
            type Err = ParseIdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                parse_hex32(s).map(Self)
            }
        }
    };
}

hex32_id!(
    /// An author: the 32-byte ed25519 public key of a node.
    AuthorKey
);
hex32_id!(
    /// The id of a record version: blake3 of its body bytes.
    RecordId
);
hex32_id!(
    /// The id of an agreement: the hash of its first proposal.
    AgreementId
);
hex32_id!(
    /// The blake3 hash of a blob (a photo).
    BlobHash
);

impl RecordId {
    /// The id of a record body.
    pub fn of_body(body: &[u8]) -> Self {
        Self(*blake3::hash(body).as_bytes())
    }
}

/// Is `d` a valid listing name: `[a-z0-9_-]{1,64}`.
pub fn is_valid_name(d: &str) -> bool {
    (1..=64).contains(&d.len())
        && d.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// A listing's stable id across versions: `<author-hex>.<d>`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub struct ListingId {
    /// Who published it.
    pub author: AuthorKey,
    /// The author's name for it.
    pub d: String,
}

impl fmt::Display for ListingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.author, self.d)
    }
}

impl FromStr for ListingId {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (author, d) = s
            .split_once('.')
            .ok_or_else(|| ParseIdError::NotListingId(s.to_owned()))?;
        let author = author.parse()?;
        if !is_valid_name(d) {
            return Err(ParseIdError::BadName(d.to_owned()));
        }
        Ok(Self {
            author,
            d: d.to_owned(),
        })
    }
}

/// The start of a listing id, as a person types a short one: up to 64 lower-case
/// hex characters of the author, or the whole author, a `.` and the start of the
/// name (DESIGN §7: anyone's listing by a unique prefix).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ListingIdPrefix {
    text: String,
    author_bytes: Vec<u8>,
}

impl ListingIdPrefix {
    /// The least number of characters of a prefix people may type: 8 hex
    /// characters tell one author from another in a neighbourhood's thousands.
    pub const MIN_LEN: usize = 8;

    /// The prefix as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The bytes every matching id's author starts with (whole hex pairs of the
    /// prefix; an odd last character is checked by [`ListingIdPrefix::matches`]).
    pub fn author_bytes(&self) -> &[u8] {
        &self.author_bytes
    }

    /// The start of the name, when the prefix names the whole author.
    pub fn name_prefix(&self) -> Option<&str> {
        self.text.split_once('.').map(|(_, d)| d)
    }

    /// Whether `id`'s text form starts with this prefix.
    pub fn matches(&self, id: &ListingId) -> bool {
        let author = id.author.to_string();
        match self.text.split_once('.') {
            Some((a, d)) => a == author && id.d.starts_with(d),
            None => author.starts_with(&self.text),
        }
    }
}

impl fmt::Display for ListingIdPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for ListingIdPrefix {
    type Err = ParseIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let not_prefix = || ParseIdError::NotListingId(s.to_owned());
        let author_hex = match s.split_once('.') {
            Some((author, d)) => {
                if author.len() != 64 || !(d.is_empty() || is_valid_name(d) && d.len() <= 64) {
                    return Err(not_prefix());
                }
                author
            }
            None => s,
        };
        let hex_ok = author_hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if author_hex.is_empty() || author_hex.len() > 64 || !hex_ok {
            return Err(not_prefix());
        }
        let whole = author_hex.len() / 2 * 2;
        let author_bytes = hex::decode(&author_hex[..whole]).map_err(|_| not_prefix())?;
        Ok(Self {
            text: s.to_owned(),
            author_bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_ids_round_trip_and_refuse_upper_case() {
        let id = RecordId([0xab; 32]);
        let text = id.to_string();
        assert_eq!(text.len(), 64);
        assert_eq!(text.parse::<RecordId>(), Ok(id));
        assert!(text.to_uppercase().parse::<RecordId>().is_err());
        assert!(text[..63].parse::<RecordId>().is_err());
    }

    #[test]
    fn listing_id_round_trips() {
        let id = ListingId {
            author: AuthorKey([7; 32]),
            d: "cargo-bike_2".into(),
        };
        assert_eq!(id.to_string().parse::<ListingId>(), Ok(id));
        let bad = format!("{}.Drill", AuthorKey([7; 32]));
        assert_eq!(
            bad.parse::<ListingId>(),
            Err(ParseIdError::BadName("Drill".into()))
        );
        assert!("nodot".parse::<ListingId>().is_err());
    }

    #[test]
    fn listing_id_prefixes_match_the_start_of_the_text_form() {
        let id = ListingId {
            author: AuthorKey([0xab; 32]),
            d: "drill".into(),
        };
        for yes in [
            "a",
            "aba",
            "abababab",
            &format!("{}.", id.author),
            &format!("{}.dr", id.author),
        ] {
            let p: ListingIdPrefix = yes.parse().unwrap();
            assert!(p.matches(&id), "{yes}");
        }
        let p: ListingIdPrefix = "aba".parse().unwrap();
        assert_eq!(p.author_bytes(), &[0xab]);
        for no in ["abc", &format!("{}.x", id.author)] {
            assert!(!no.parse::<ListingIdPrefix>().unwrap().matches(&id), "{no}");
        }
        for bad in [
            "",
            "drill",
            "ABAB",
            "abab.dr",
            &format!("{}.Dr", id.author),
            &"a".repeat(65),
        ] {
            assert!(bad.parse::<ListingIdPrefix>().is_err(), "{bad}");
        }
    }
}
