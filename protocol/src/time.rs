//! Time as whole seconds since the Unix epoch. The clock is always passed in
//! (`now`), so validation stays a pure function.

use serde::{Deserialize, Serialize};

/// Seconds since 1970-01-01T00:00:00Z.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Default, Serialize, Deserialize,
)]
pub struct Timestamp(pub u64);

/// One minute in seconds.
pub const MINUTE: u64 = 60;
/// One day in seconds.
pub const DAY: u64 = 24 * 60 * MINUTE;
/// One year (365 days) in seconds.
pub const YEAR: u64 = 365 * DAY;

impl Timestamp {
    /// The system clock, for the edges of the program that own a clock.
    pub fn now() -> Self {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Self(secs)
    }

    /// This time plus `secs`, saturating.
    pub fn plus(self, secs: u64) -> Self {
        Self(self.0.saturating_add(secs))
    }

    /// Seconds as a plain number.
    pub fn secs(self) -> u64 {
        self.0
    }
}
