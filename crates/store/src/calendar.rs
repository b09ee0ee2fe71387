//! Items' calendars (schema 3): one [`Calendar`] value per item in `calendars`,
//! so that checking a hold against the others and taking it are one read and one
//! write inside an agreement's commit ([`Store::commit_agreement`]).

use sled::transaction::TransactionalTree;
use swapmesh_protocol::agreement::{Calendar, Span};
use swapmesh_protocol::encoding::{decode_canonical, encode};
use swapmesh_protocol::{AgreementId, ListingId};

use crate::agreements::MAX_VALUE;
use crate::error::{Result, StoreError};
use crate::keys::calendar_key;
use crate::store::{Store, TxResult, abort};

impl Store {
    /// The calendar of an item: the windows its agreements hold (empty if none).
    pub fn calendar(&self, item: &ListingId) -> Result<Calendar> {
        match self.o()?.trees.calendars.get(calendar_key(item))? {
            None => Ok(Calendar::default()),
            Some(v) => decode_calendar(&item.to_string(), &v),
        }
    }
}

/// Decodes a `calendars` value: canonical, its windows non-empty, by start and
/// not overlapping.
pub(crate) fn decode_calendar(item: &str, bytes: &[u8]) -> Result<Calendar> {
    let calendar: Calendar = decode_canonical(bytes, MAX_VALUE)
        .map_err(|e| StoreError::corrupt(format!("calendar of {item}: {e}")))?;
    let entries = calendar.entries();
    let ordered = entries.iter().all(|(s, _)| !s.is_empty())
        && entries
            .windows(2)
            .all(|w| w[0].0.start <= w[1].0.start && !w[0].0.overlaps(&w[1].0));
    if !ordered {
        return Err(StoreError::corrupt(format!(
            "calendar of {item}: windows out of order or overlapping"
        )));
    }
    Ok(calendar)
}

/// Calendars changed in a transaction, by key, not yet written.
pub(crate) type Changed<'k> = Vec<(&'k [u8], Calendar)>;

/// Takes `agreement`'s holds (`calendars` key, window; `None` releases) in a
/// transaction, reading each calendar once however many holds name it. Writes
/// nothing: the changed calendars, or the first other agreement's window a hold
/// overlaps.
pub(crate) fn take_holds<'k>(
    calendars: &TransactionalTree,
    agreement: AgreementId,
    holds: &'k [(Vec<u8>, Option<Span>)],
) -> TxResult<std::result::Result<Changed<'k>, (Span, AgreementId)>> {
    let mut changed: Changed<'k> = Vec::new();
    for (key, span) in holds {
        let at = match changed.iter().position(|(k, _)| k == key) {
            Some(at) => at,
            None => {
                let calendar = match calendars.get(key)? {
                    None => Calendar::default(),
                    Some(v) => match decode_calendar(&hex::encode(key), &v) {
                        Ok(c) => c,
                        Err(e) => return abort(e),
                    },
                };
                changed.push((key, calendar));
                changed.len() - 1
            }
        };
        let calendar = &mut changed[at].1;
        match span {
            Some(span) => {
                if let Err(conflict) = calendar.hold(agreement, *span) {
                    return Ok(Err(conflict));
                }
            }
            None => {
                calendar.release(&agreement);
            }
        }
    }
    Ok(Ok(changed))
}

/// Writes calendars changed by [`take_holds`]; an empty one is removed.
pub(crate) fn write_calendars(
    calendars: &TransactionalTree,
    changed: &Changed<'_>,
) -> TxResult<()> {
    for (key, calendar) in changed {
        if calendar.is_empty() {
            calendars.remove(*key)?;
            continue;
        }
        let value = encode(calendar);
        if value.len() > MAX_VALUE {
            return abort(StoreError::BadCommit(format!(
                "calendar {}: {} bytes, over the {MAX_VALUE} a value may have",
                hex::encode(key),
                value.len()
            )));
        }
        calendars.insert(*key, value)?;
    }
    Ok(())
}
