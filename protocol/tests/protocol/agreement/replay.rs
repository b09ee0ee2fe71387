//! The state machine as a fold: applying events one at a time, each at a `now`
//! anywhere in the clock-skew window and up to a day late, gives exactly the state
//! that replaying the chain gives. And no bytes make the event decoder panic.

use proptest::prelude::*;
use swapmesh_protocol::agreement::{
    Action, Applied, Deal, Leg, Resolution, apply, replay, verify_event_bytes,
};
use swapmesh_protocol::fixtures::chain::{Chain, LISTED, Side, eur};
use swapmesh_protocol::listing::DealKind;
use swapmesh_protocol::time::{DAY, Timestamp};
use swapmesh_protocol::validate::MAX_CLOCK_SKEW;

const T: Timestamp = Timestamp(LISTED.0 + 3600);

fn kind() -> impl Strategy<Value = DealKind> {
    prop_oneof![
        Just(DealKind::Share),
        Just(DealKind::Rent),
        Just(DealKind::Lease),
        Just(DealKind::Swap),
        Just(DealKind::Give),
    ]
}

/// One attempted step: which action, by whom, how long after the head, and where
/// in `[at − MAX_CLOCK_SKEW, at + 1 day]` the applying node's clock stands.
#[derive(Clone, Debug)]
struct Step {
    action: u8,
    provider: bool,
    after: u64,
    clock: u64,
}

fn step() -> impl Strategy<Value = Step> {
    (
        any::<u8>(),
        any::<bool>(),
        0..=DAY,
        0..=MAX_CLOCK_SKEW + DAY,
    )
        .prop_map(|(action, provider, after, clock)| Step {
            action,
            provider,
            after,
            clock,
        })
}

/// The action a step attempts on the chain as it stands; many are illegal and
/// refused, which is part of the walk.
fn action(chain: &Chain, step: &Step, at: Timestamp) -> Action {
    let state = chain.agreement();
    let leg = if step.action & 0x80 == 0 || !matches!(state.terms.deal, Deal::Swap { .. }) {
        Leg::Provider
    } else {
        Leg::Receiver
    };
    let other = usize::from(step.provider);
    let open = state.open[other].map_or(state.head(), |o| o.event);
    // Weighted towards progress: the ends (decline, withdraw, cancel, dispute)
    // are one draw in 32 each, so walks reach handovers, returns and resolves.
    match step.action % 32 {
        0..=2 => {
            let mut terms = state.terms.clone();
            terms.offer_expires = at.plus(DAY);
            terms.pickup = Some(format!("gate {}", step.after % 7));
            if let Deal::Rent { price, .. } | Deal::Lease { price, .. } = &mut terms.deal {
                price.money.amount += 1;
            }
            Action::Counter { terms }
        }
        3..=6 => Action::Accept {
            terms: state.terms_hash,
        },
        7 => Action::Decline,
        8 => Action::Withdraw,
        9..=13 => Action::Handover { leg },
        14..=17 => Action::Return { leg },
        18..=24 => Action::Confirm {
            of: open,
            deposit_returned: None,
        },
        25 | 26 => Action::Extend {
            due: state.due.unwrap_or(at).plus(DAY),
        },
        27 => Action::Cancel,
        28 => Action::Dispute,
        29 | 30 => Action::Resolve {
            outcome: [Resolution::Returned, Resolution::Kept, Resolution::Other]
                [(step.after % 3) as usize],
        },
        _ => Action::Confirm {
            of: open,
            deposit_returned: Some(eur(100)),
        },
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn incremental_state_equals_replay(kind in kind(), steps in prop::collection::vec(step(), 1..40)) {
        let mut chain = Chain::new();
        let terms = chain.terms(kind, T);
        chain.act(Side::Receiver, chain.proposal(terms), T).unwrap();
        let mut applied = 1;
        for step in &steps {
            let at = chain.agreement().head_at.plus(step.after);
            let now = Timestamp(at.0 - MAX_CLOCK_SKEW + step.clock);
            let by = if step.provider { Side::Provider } else { Side::Receiver };
            let event = chain.sign(by, action(&chain, step, at), at);
            if let Ok(Applied::Changed(next)) = apply(chain.state.as_ref(), &event, now) {
                chain.state = Some(next);
                chain.events.push(event);
                applied += 1;
            }
        }
        prop_assert_eq!(chain.events.len(), applied);
        let replayed = replay(&chain.events).unwrap();
        prop_assert_eq!(replayed.as_ref(), chain.state.as_ref());
        // Every event of the chain, sent again, changes nothing.
        for event in &chain.events {
            prop_assert_eq!(
                apply(chain.state.as_ref(), event, event.body().at),
                Ok(Applied::AlreadyInChain)
            );
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_event_decoder(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = verify_event_bytes(&bytes);
    }

    #[test]
    fn a_changed_byte_of_an_event_never_verifies(index in any::<prop::sample::Index>(), xor in 1u8..) {
        let chain = Chain::accepted(DealKind::Swap, T);
        let mut bytes = chain.events[0].signed().encode();
        let i = index.index(bytes.len());
        bytes[i] ^= xor;
        prop_assert!(verify_event_bytes(&bytes).is_err());
    }
}
