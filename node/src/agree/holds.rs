//! The calendar windows a commit takes or releases on the items this node owns.
//!
//! A node holds its own item from the moment it signs terms (proposing,
//! countering or accepting; a swap's receiver holds its `theirs`) and for as long
//! as the agreement runs: the window follows the terms, an extension and a notice.
//! Any end releases, and so does an offer's expiry (see `timers`).

use swapmesh_protocol::agreement::{Agreement, Span};
use swapmesh_protocol::{AuthorKey, ListingId};
use swapmesh_store::Store;

use super::AgreeError;

/// The holds of `me`'s items in `next`, given what the store holds now. An item
/// we never signed terms for is left alone.
pub(super) fn our_holds(
    store: &Store,
    me: &AuthorKey,
    next: &Agreement,
    signed_terms_now: bool,
) -> Result<Vec<(ListingId, Option<Span>)>, AgreeError> {
    let mut out = Vec::new();
    for leg in next.legs() {
        if next.owner(*leg) != *me {
            continue;
        }
        let Some(item) = next.items[leg.index()].clone() else {
            continue;
        };
        let held = store.calendar(&item)?.held_by(&next.id).is_some();
        let window = next.hold();
        if window.is_none() {
            if held {
                out.push((item, None));
            }
        } else if held || signed_terms_now || next.phase.is_agreed() {
            out.push((item, window));
        }
    }
    Ok(out)
}

/// Releases of every item of ours `state` holds (an expired offer).
pub(super) fn release_all(
    store: &Store,
    me: &AuthorKey,
    state: &Agreement,
) -> Result<Vec<(ListingId, Option<Span>)>, AgreeError> {
    let mut out = Vec::new();
    for leg in state.legs() {
        if state.owner(*leg) != *me {
            continue;
        }
        if let Some(item) = state.items[leg.index()].clone()
            && store.calendar(&item)?.held_by(&state.id).is_some()
        {
            out.push((item, None));
        }
    }
    Ok(out)
}
