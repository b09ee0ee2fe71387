//! Agreements (protocol part): every kind to its end state, one row per refusal,
//! idempotence by hash, lateness on signed time only, overdue, the terms hash,
//! the derived listing status, and the state machine as a fold.

mod chains;
mod derived;
mod next;
mod refusals;
mod replay;

use swapmesh_protocol::agreement::{Action, EventId, Leg};
use swapmesh_protocol::fixtures::chain::{Chain, LISTED, Side};
use swapmesh_protocol::listing::DealKind;
use swapmesh_protocol::time::{DAY, Timestamp};

use Side::{Provider, Receiver};

/// An hour after the fixture listings were made.
pub(crate) const T: Timestamp = Timestamp(LISTED.0 + 3600);
/// The fixture terms' start: a day after the proposal.
pub(crate) const START: Timestamp = Timestamp(T.0 + DAY);
/// The fixture terms' due date: a week after the start.
pub(crate) const DUE: Timestamp = Timestamp(START.0 + 7 * DAY);

pub(crate) fn at(secs_after_start: i64) -> Timestamp {
    Timestamp(START.0.saturating_add_signed(secs_after_start))
}

/// The id of the last event of a chain.
pub(crate) fn last(chain: &Chain) -> EventId {
    chain.agreement().head()
}

pub(crate) fn confirm(of: EventId) -> Action {
    Action::Confirm {
        of,
        deposit_returned: None,
    }
}

/// `by` acts and the other party confirms, both at `when`.
pub(crate) fn act_confirmed(chain: &mut Chain, by: Side, action: Action, when: Timestamp) {
    let act = chain.act(by, action, when).expect("act applies").id();
    let other = if by == Provider { Receiver } else { Provider };
    chain
        .act(other, confirm(act), when)
        .expect("confirm applies");
}

pub(crate) fn handed_over(kind: DealKind) -> Chain {
    let mut chain = Chain::accepted(kind, T);
    act_confirmed(
        &mut chain,
        Provider,
        Action::Handover { leg: Leg::Provider },
        at(0),
    );
    chain
}
