//! A listing's status, derived: one pure function of the owner's own status, the
//! agreements about the item and the time. The node republishes the listing when
//! the result changes; owners themselves set only active, paused and withdrawn.

use crate::ids::ListingId;
use crate::listing::ListingStatus;
use crate::time::Timestamp;

use super::event::Resolution;
use super::state::{Agreement, Phase};

/// The status `item` shows at `now`, first match:
/// 1. the owner's paused or withdrawn;
/// 2. withdrawn after a completed give or swap for good, or a dispute resolved
///    as kept while the item was away;
/// 3. on loan while an unfinished agreement has a handover of it without a
///    confirmed return;
/// 4. reserved from an accepted window's start until its handover (a booking
///    still in the future leaves it active);
/// 5. else active.
///
/// Agreements that do not hold `item` are passed over.
pub fn listing_status<'a>(
    item: &ListingId,
    own: ListingStatus,
    agreements: impl IntoIterator<Item = &'a Agreement>,
    now: Timestamp,
) -> ListingStatus {
    if matches!(own, ListingStatus::Paused | ListingStatus::Withdrawn) {
        return own;
    }
    let mut status = ListingStatus::Active;
    for agreement in agreements {
        let Some(leg) = agreement.leg_of(item) else {
            continue;
        };
        let state = agreement.legs[leg.index()];
        let away = state.handover.is_some() && !state.return_confirmed;
        let gone = match agreement.phase {
            Phase::Completed => !agreement.terms.deal.comes_back(),
            Phase::Resolved => agreement.resolution == Some(Resolution::Kept) && away,
            _ => false,
        };
        if gone {
            return ListingStatus::Withdrawn;
        }
        if agreement.phase.is_ended() {
            continue;
        }
        if away {
            status = ListingStatus::OnLoan;
        } else if agreement.phase.is_agreed()
            && state.handover.is_none()
            && now >= agreement.terms.deal.start()
            && status == ListingStatus::Active
        {
            status = ListingStatus::Reserved;
        }
    }
    status
}
