//! The transitions (DESIGN §5): one event's effect on a copy of the state whose
//! chain, signer and clock checks [`super::state::apply`] already made.

use crate::time::Timestamp;

use super::error::AgreementError;
use super::event::{Action, EventId, Leg, VerifiedEvent};
use super::state::{Act, Agreement, OpenAct, Phase};

impl Agreement {
    fn end(&mut self, phase: Phase, at: Timestamp) {
        self.phase = phase;
        self.ended_at = Some(at);
        self.open = [None, None];
    }

    /// Opens an act for `party`: a newer extend or resolve replaces one's own, an
    /// open handover or return is never replaced.
    fn open_act(&mut self, party: usize, event: EventId, act: Act) -> Result<(), AgreementError> {
        if let Some(open) = self.open[party]
            && matches!(open.act, Act::Handover(_) | Act::Return(_))
        {
            return Err(AgreementError::OpenAct { open: open.event });
        }
        self.open[party] = Some(OpenAct { event, act });
        Ok(())
    }

    fn out_of_order(&self, action: &Action) -> AgreementError {
        AgreementError::OutOfOrder {
            action: action.name(),
            phase: self.phase,
        }
    }

    /// One event's transition on a state whose chain, signer and clock checks
    /// passed. On error `self` is a scratch copy and is dropped.
    pub(super) fn step(&mut self, event: &VerifiedEvent) -> Result<(), AgreementError> {
        let body = event.body();
        let (signer, at, action) = (body.signer, body.at, &body.action);
        let me = self.party(&signer);
        let other = 1 - me;
        let not_your_turn = || AgreementError::NotYourTurn {
            action: action.name(),
        };
        let late = |a: &Agreement| {
            (at >= a.terms.offer_expires).then_some(AgreementError::OfferExpired {
                at,
                offer_expires: a.terms.offer_expires,
            })
        };
        match action {
            Action::Propose { .. } => return Err(AgreementError::BadLink),
            Action::Counter { terms } => {
                if self.phase != Phase::Offered {
                    return Err(self.out_of_order(action));
                }
                if signer == self.terms_by {
                    return Err(not_your_turn());
                }
                if let Some(late) = late(self) {
                    return Err(late);
                }
                self.terms
                    .check_counter(terms)
                    .and_then(|()| terms.check(at))
                    .map_err(AgreementError::InvalidTerms)?;
                self.terms = terms.clone();
                self.terms_hash = terms.hash();
                self.terms_by = signer;
                self.due = terms.deal.due();
            }
            Action::Accept { terms } => {
                if self.phase != Phase::Offered {
                    return Err(self.out_of_order(action));
                }
                if signer == self.terms_by {
                    return Err(not_your_turn());
                }
                if let Some(late) = late(self) {
                    return Err(late);
                }
                if *terms != self.terms_hash {
                    return Err(AgreementError::TermsHash {
                        current: self.terms_hash,
                        named: *terms,
                    });
                }
                self.phase = Phase::Accepted;
                self.accepted_at = Some(at);
            }
            Action::Decline => match self.phase {
                Phase::Offered if signer == self.terms_by => return Err(not_your_turn()),
                Phase::Offered => self.end(Phase::Declined, at),
                Phase::Active | Phase::Disputed => match self.open[other] {
                    Some(OpenAct {
                        act: Act::Extend(_) | Act::Resolve(_),
                        ..
                    }) => self.open[other] = None,
                    _ => return Err(self.out_of_order(action)),
                },
                _ => return Err(self.out_of_order(action)),
            },
            Action::Withdraw => {
                if self.phase != Phase::Offered {
                    return Err(self.out_of_order(action));
                }
                if signer != self.terms_by {
                    return Err(not_your_turn());
                }
                self.end(Phase::Withdrawn, at);
            }
            Action::Handover { leg } => {
                if !matches!(self.phase, Phase::Accepted | Phase::Active) {
                    return Err(self.out_of_order(action));
                }
                let state = *self.leg(*leg)?;
                if signer != self.owner(*leg) {
                    return Err(not_your_turn());
                }
                if state.handover.is_some() {
                    return Err(leg_state(*leg, action));
                }
                self.open_act(me, event.id(), Act::Handover(*leg))?;
                self.legs[leg.index()].handover = Some(event.id());
            }
            Action::Return { leg } => {
                if !matches!(self.phase, Phase::Active | Phase::Disputed)
                    || !self.terms.deal.comes_back()
                {
                    return Err(self.out_of_order(action));
                }
                let state = *self.leg(*leg)?;
                if signer == self.owner(*leg) {
                    return Err(not_your_turn());
                }
                if !state.handover_confirmed || state.returned.is_some() {
                    return Err(leg_state(*leg, action));
                }
                self.open_act(me, event.id(), Act::Return(*leg))?;
                self.legs[leg.index()].returned = Some((event.id(), at));
            }
            Action::Extend { due } => {
                if self.phase != Phase::Active {
                    return Err(self.out_of_order(action));
                }
                let later = self.due.is_some_and(|current| *due > current);
                if !self.terms.deal.comes_back() || !later {
                    return Err(AgreementError::BadExtension);
                }
                self.open_act(me, event.id(), Act::Extend(*due))?;
            }
            Action::Resolve { outcome } => {
                if self.phase != Phase::Disputed {
                    return Err(self.out_of_order(action));
                }
                self.open_act(me, event.id(), Act::Resolve(*outcome))?;
            }
            Action::Confirm {
                of,
                deposit_returned,
            } => {
                if !matches!(
                    self.phase,
                    Phase::Accepted | Phase::Active | Phase::Disputed
                ) {
                    return Err(self.out_of_order(action));
                }
                let open = match self.open[other] {
                    Some(open) if open.event == *of => open,
                    _ => return Err(AgreementError::NothingToConfirm { of: *of }),
                };
                if deposit_returned.is_some() && !matches!(open.act, Act::Return(_)) {
                    return Err(AgreementError::DepositNotOnReturn);
                }
                self.open[other] = None;
                self.confirm(open.act, at);
            }
            Action::Cancel => {
                let lease_notice = self.terms.deal.notice();
                match self.phase {
                    Phase::Accepted if !self.any_handover() => {
                        if let Some(deadline) = self.terms.deal.cancel_before()
                            && at >= deadline
                            && signer != self.terms.provider
                        {
                            return Err(AgreementError::PastCancelBefore {
                                cancel_before: deadline,
                            });
                        }
                        self.end(Phase::Cancelled, at);
                    }
                    Phase::Accepted | Phase::Active if lease_notice.is_some() => {
                        let notice_due = at.plus(lease_notice.unwrap_or_default());
                        self.due = Some(self.due.map_or(notice_due, |d| d.min(notice_due)));
                    }
                    Phase::Accepted | Phase::Active => return Err(AgreementError::AfterHandover),
                    _ => return Err(self.out_of_order(action)),
                }
            }
            Action::Dispute => {
                if !matches!(self.phase, Phase::Accepted | Phase::Active) {
                    return Err(self.out_of_order(action));
                }
                self.phase = Phase::Disputed;
            }
        }
        Ok(())
    }

    /// The other party confirmed an act.
    fn confirm(&mut self, act: Act, at: Timestamp) {
        match act {
            Act::Handover(leg) => {
                self.legs[leg.index()].handover_confirmed = true;
                if self.phase == Phase::Accepted {
                    self.phase = Phase::Active;
                }
                let all_handed = self
                    .legs()
                    .iter()
                    .all(|l| self.legs[l.index()].handover_confirmed);
                if self.phase == Phase::Active && !self.terms.deal.comes_back() && all_handed {
                    self.end(Phase::Completed, at);
                }
            }
            Act::Return(leg) => {
                self.legs[leg.index()].return_confirmed = true;
                let all_back = self
                    .legs()
                    .iter()
                    .all(|l| self.legs[l.index()].return_confirmed);
                if self.phase == Phase::Active && all_back {
                    self.end(Phase::Completed, at);
                }
            }
            Act::Extend(due) => self.due = Some(due),
            Act::Resolve(outcome) => {
                self.resolution = Some(outcome);
                self.end(Phase::Resolved, at);
            }
        }
    }
}

fn leg_state(leg: Leg, action: &Action) -> AgreementError {
    AgreementError::LegState {
        leg: match leg {
            Leg::Provider => "provider",
            Leg::Receiver => "receiver",
        },
        action: action.name(),
    }
}
