//! An item's calendar: the half-open windows its agreements hold, never
//! overlapping. The store keeps one [`Calendar`] per item as a single value, so
//! checking for a conflict and taking a hold are one transaction.

use serde::{Deserialize, Serialize};

use crate::ids::AgreementId;
use crate::time::Timestamp;

/// A half-open window `[start, end)`; `end: None` is open-ended (a give, a swap
/// for good, a lease without end).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Span {
    /// The first second held.
    pub start: Timestamp,
    /// The first second no longer held; `None` for ever.
    pub end: Option<Timestamp>,
}

impl Span {
    /// Do the two windows share a second?
    pub fn overlaps(&self, other: &Span) -> bool {
        let before = |a: &Span, b: &Span| a.end.is_some_and(|end| end <= b.start);
        !self.is_empty() && !other.is_empty() && !before(self, other) && !before(other, self)
    }

    /// Does the window hold no second at all?
    pub fn is_empty(&self) -> bool {
        self.end.is_some_and(|end| end <= self.start)
    }

    /// Does the window hold the second `t`?
    pub fn contains(&self, t: Timestamp) -> bool {
        self.start <= t && self.end.is_none_or(|end| t < end)
    }
}

/// The holds and bookings on one item, ordered by start, never overlapping.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Calendar {
    entries: Vec<(Span, AgreementId)>,
}

impl Calendar {
    /// The windows held, by start.
    pub fn entries(&self) -> &[(Span, AgreementId)] {
        &self.entries
    }

    /// Is nothing held?
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The window `agreement` holds, if any.
    pub fn held_by(&self, agreement: &AgreementId) -> Option<Span> {
        self.entries
            .iter()
            .find(|(_, a)| a == agreement)
            .map(|(s, _)| *s)
    }

    /// The first window of another agreement that `span` would overlap.
    pub fn conflict(&self, span: &Span, agreement: &AgreementId) -> Option<(Span, AgreementId)> {
        self.entries
            .iter()
            .find(|(s, a)| a != agreement && s.overlaps(span))
            .copied()
    }

    /// Holds `span` for `agreement`, replacing its previous window (an extension or
    /// a notice), unless it overlaps another agreement's: then that one is returned
    /// and nothing changes. An empty window releases the hold.
    pub fn hold(&mut self, agreement: AgreementId, span: Span) -> Result<(), (Span, AgreementId)> {
        if let Some(conflict) = self.conflict(&span, &agreement) {
            return Err(conflict);
        }
        self.release(&agreement);
        if !span.is_empty() {
            let at = self.entries.partition_point(|(s, _)| s.start <= span.start);
            self.entries.insert(at, (span, agreement));
        }
        Ok(())
    }

    /// Releases whatever `agreement` holds; says whether it held anything.
    pub fn release(&mut self, agreement: &AgreementId) -> bool {
        let before = self.entries.len();
        self.entries.retain(|(_, a)| a != agreement);
        self.entries.len() != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(start: u64, end: Option<u64>) -> Span {
        Span {
            start: Timestamp(start),
            end: end.map(Timestamp),
        }
    }

    #[test]
    fn windows_are_half_open() {
        assert!(!span(0, Some(10)).overlaps(&span(10, Some(20))));
        assert!(span(0, Some(11)).overlaps(&span(10, Some(20))));
        assert!(span(0, None).overlaps(&span(1_000_000, Some(1_000_001))));
        assert!(!span(20, None).overlaps(&span(10, Some(20))));
        assert!(!span(5, Some(5)).overlaps(&span(0, None)));
    }

    #[test]
    fn a_hold_that_overlaps_another_changes_nothing() {
        let (a, b) = (AgreementId([1; 32]), AgreementId([2; 32]));
        let mut cal = Calendar::default();
        cal.hold(a, span(10, Some(20))).unwrap();
        let before = cal.clone();
        assert_eq!(cal.hold(b, span(15, None)), Err((span(10, Some(20)), a)));
        assert_eq!(cal, before);
        cal.hold(b, span(20, None)).unwrap();
        // a's extension into b's window is refused; its notice is not.
        assert!(cal.hold(a, span(10, Some(25))).is_err());
        cal.hold(a, span(10, Some(15))).unwrap();
        assert_eq!(cal.held_by(&a), Some(span(10, Some(15))));
        assert!(cal.release(&b));
        assert!(!cal.release(&b));
    }
}
