//! [`SkewWatch`]: whether our clock disagrees with our peers', from the gossip
//! they send.
//!
//! A node whose clock is off is quietly cut out: peers ignore its records as
//! from the future (ours ahead) or it ignores theirs (ours behind), with
//! nobody to blame. Fresh gossip tells: a record travels by gossip when its
//! author publishes it, so its `created_at` is its author's clock a moment ago.
//! For each of the last 64 authors heard from, the watch keeps how far the
//! creation time of its latest record was from our clock when it arrived (a
//! late copy counts only until that author's next record); once [`MIN_AUTHORS`]
//! authors are sampled, the median over them is the clock offset. Beyond
//! [`MAX_CLOCK_SKEW`] the node says so in `status` and the log.
//!
//! Only records whose signature verified are sampled (valid ones, and the ones
//! ignored as from the future), and the median needs half the authors to agree:
//! a crowd of fresh keys can make a warning appear, never change what the node
//! does.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use swapmesh_protocol::validate::MAX_CLOCK_SKEW;
use swapmesh_protocol::{AuthorKey, Timestamp};
use tracing::{info, warn};
use utoipa::ToSchema;

/// Authors sampled before the watch says anything.
pub(crate) const MIN_AUTHORS: usize = 3;
/// Authors remembered; the least recently heard from go first.
const MAX_AUTHORS: usize = 64;

/// What the watch concludes.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClockState {
    /// Within the skew bound of the peers'.
    Ok,
    /// Behind the peers' by more than the bound: their fresh records look like
    /// they are from the future, and this node ignores them.
    Behind,
    /// Ahead of the peers' by more than the bound: peers ignore this node's
    /// records as from the future.
    Ahead,
    /// Fewer than three authors' fresh records seen yet.
    Unknown,
}

/// The node's clock against its peers', in `GET /api/v1/node`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct ClockJson {
    /// `ok`, `behind`, `ahead` or `unknown`.
    pub state: ClockState,
    /// Our clock minus the peers' (the median over authors), in seconds;
    /// negative when ours is behind. Absent while `unknown`.
    pub offset_secs: Option<i64>,
    /// Authors whose fresh records were sampled.
    pub authors: usize,
    /// The bound beyond which records are ignored, in seconds.
    pub bound_secs: u64,
}

/// One author's sample: how far its latest record's creation time is from our
/// clock when it arrived.
#[derive(Debug, Clone, Copy)]
struct Sample {
    /// `created_at - now`, seconds.
    lead: i64,
}

/// The watch (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct SkewWatch {
    state: Mutex<Watch>,
}

#[derive(Debug, Default)]
struct Watch {
    samples: HashMap<AuthorKey, Sample>,
    order: VecDeque<AuthorKey>,
    /// What was last logged.
    reported: Option<ClockState>,
}

impl SkewWatch {
    /// A record by `author`, created at `created_at`, arrived by gossip at `now`
    /// (our clock).
    pub(crate) fn observe(&self, author: AuthorKey, created_at: Timestamp, now: Timestamp) {
        let lead = i64::try_from(created_at.0)
            .unwrap_or(i64::MAX)
            .saturating_sub(i64::try_from(now.0).unwrap_or(i64::MAX));
        let mut watch = self.state.lock().expect("skew watch lock");
        // The latest record of an author counts: an earlier one may be a late copy.
        watch.samples.insert(author, Sample { lead });
        watch.order.retain(|a| *a != author);
        watch.order.push_back(author);
        if watch.order.len() > MAX_AUTHORS
            && let Some(oldest) = watch.order.pop_front()
        {
            watch.samples.remove(&oldest);
        }
        let now_state = estimate(&watch.samples);
        if watch.reported != Some(now_state.state) {
            log_change(watch.reported, &now_state);
            watch.reported = Some(now_state.state);
        }
    }

    /// The current estimate.
    pub(crate) fn json(&self) -> ClockJson {
        estimate(&self.state.lock().expect("skew watch lock").samples)
    }
}

fn estimate(samples: &HashMap<AuthorKey, Sample>) -> ClockJson {
    let bound = MAX_CLOCK_SKEW;
    let authors = samples.len();
    if authors < MIN_AUTHORS {
        return ClockJson {
            state: ClockState::Unknown,
            offset_secs: None,
            authors,
            bound_secs: bound,
        };
    }
    let mut leads: Vec<i64> = samples.values().map(|s| s.lead).collect();
    leads.sort_unstable();
    let median = leads[leads.len() / 2];
    // Our clock minus theirs: a peer's record from our future means we are behind.
    let offset = median.saturating_neg();
    let bound_i = i64::try_from(bound).unwrap_or(i64::MAX);
    let state = if offset < -bound_i {
        ClockState::Behind
    } else if offset > bound_i {
        ClockState::Ahead
    } else {
        ClockState::Ok
    };
    ClockJson {
        state,
        offset_secs: Some(offset),
        authors,
        bound_secs: bound,
    }
}

fn log_change(before: Option<ClockState>, now: &ClockJson) {
    let offset = now.offset_secs.unwrap_or(0);
    match now.state {
        ClockState::Behind => warn!(
            offset_secs = offset,
            authors = now.authors,
            "this node's clock is behind its peers': their new records look like they come from the future and are ignored; set the system clock (NTP)"
        ),
        ClockState::Ahead => warn!(
            offset_secs = offset,
            authors = now.authors,
            "this node's clock is ahead of its peers': they ignore its new records as from the future; set the system clock (NTP)"
        ),
        ClockState::Ok if matches!(before, Some(ClockState::Behind | ClockState::Ahead)) => {
            info!(
                offset_secs = offset,
                "this node's clock agrees with its peers' again"
            );
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn author(n: u8) -> AuthorKey {
        AuthorKey([n; 32])
    }

    const NOW: Timestamp = Timestamp(1_800_000_000);

    #[test]
    fn three_authors_an_hour_ahead_mean_our_clock_is_behind() {
        let watch = SkewWatch::default();
        watch.observe(author(1), Timestamp(NOW.0 + 3600), NOW);
        watch.observe(author(2), Timestamp(NOW.0 + 3590), NOW);
        assert_eq!(watch.json().state, ClockState::Unknown);
        watch.observe(author(3), Timestamp(NOW.0 + 3610), NOW);
        let json = watch.json();
        assert_eq!(json.state, ClockState::Behind);
        assert_eq!(json.offset_secs, Some(-3600));
        assert_eq!(json.authors, 3);
    }

    #[test]
    fn fresh_records_an_hour_old_mean_our_clock_is_ahead() {
        let watch = SkewWatch::default();
        for n in 1..=4 {
            watch.observe(author(n), Timestamp(NOW.0 - 3600 - u64::from(n)), NOW);
        }
        assert_eq!(watch.json().state, ClockState::Ahead);
    }

    #[test]
    fn one_late_author_or_a_small_drift_is_no_skew() {
        let watch = SkewWatch::default();
        watch.observe(author(1), Timestamp(NOW.0 - 5 * 3600), NOW);
        watch.observe(author(2), Timestamp(NOW.0 - 2), NOW);
        watch.observe(author(3), Timestamp(NOW.0 + 60), NOW);
        let json = watch.json();
        assert_eq!(json.state, ClockState::Ok, "{json:?}");
        // An author's newer record replaces its late copy.
        watch.observe(author(1), NOW, NOW);
        assert_eq!(watch.json().offset_secs, Some(0));
    }
}
