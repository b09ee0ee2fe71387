//! The reconciliation state machine: messages in, messages out, and the items each
//! side lacks. No sockets, no clock; the store is passed in on every call.
//!
//! # The exchange
//! The initiator sends the first message (a split of its whole set into
//! `split_parts` fingerprinted ranges, or its few items as a list) and each answer
//! of the responder is one request-response round. For each range of a message:
//! - a matching fingerprint ends the range (`Skip`);
//! - a differing fingerprint is answered with our items as a list when we hold at
//!   most `list_threshold` of them, otherwise with our split of the range;
//! - a list received by the initiator settles the range at once: it now knows the
//!   items it needs and those the peer needs;
//! - a list received by the responder is answered with an `IdListReply`: the items
//!   the list lacked (in full) and the positions of the listed items the responder
//!   lacks, which settles the range for the initiator.
//!
//! So the initiator ends knowing the whole difference ([`Reconciler::need`] and
//! [`Reconciler::have`]). The responder keeps no state between messages beyond
//! counters, as suits request-response: what it answered is the initiator's to
//! act on (it fetches and pushes), so the responder's `need` and `have` stay
//! empty, and a peer's endless rounds cost it no memory. A message that would grow past the byte, range or id
//! bounds stops early and sends the fingerprint of everything after that point,
//! which the peer splits again in the next round.

use std::collections::BTreeSet;

use crate::config::Config;
use crate::error::{Malformed, SyncError};
use crate::fingerprint::Fingerprint;
use crate::item::{Bound, Item, Range};
use crate::message::{
    MAX_ITEM_BYTES, MAX_RANGE_OVERHEAD, MESSAGE_OVERHEAD, Message, MessageRange, Mode,
    range_wire_size,
};
use crate::store::SyncStore;

/// Which side of a session this is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Role {
    /// Sends the first message and every request; learns the whole difference.
    Initiator,
    /// Answers each request.
    Responder,
}

/// What a finished session found out.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Outcome {
    /// Items the peer holds and we lack (fetch them), in order. Their times are as
    /// the peer claims them: the fetched records are the truth.
    pub need: Vec<Item>,
    /// Items we hold and the peer lacks (offer them), in order.
    pub have: Vec<Item>,
    /// Rounds the session took.
    pub rounds: u32,
}

/// One side of one reconciliation session (one peer, one topic).
#[derive(Clone, Debug)]
pub struct Reconciler {
    role: Role,
    config: Config,
    rounds: u32,
    started: bool,
    done: bool,
    /// The lists the initiator sent in its last message, to read the replies.
    sent_lists: Vec<(Range, Vec<Item>)>,
    need: BTreeSet<Item>,
    have: BTreeSet<Item>,
}

/// What to do after one range of a message.
enum Step {
    Continue,
    /// Out of room: close the message with the fingerprint of everything from here.
    RestFrom(Bound),
}

impl Reconciler {
    /// The side that starts the session.
    pub fn initiator(config: Config) -> Result<Self, SyncError> {
        Self::new(Role::Initiator, config)
    }

    /// The side that answers.
    pub fn responder(config: Config) -> Result<Self, SyncError> {
        Self::new(Role::Responder, config)
    }

    /// A session in `role` with `config` (checked).
    pub fn new(role: Role, config: Config) -> Result<Self, SyncError> {
        config.validate()?;
        Ok(Self {
            role,
            config,
            rounds: 0,
            started: false,
            done: false,
            sent_lists: Vec::new(),
            need: BTreeSet::new(),
            have: BTreeSet::new(),
        })
    }

    /// The first message of the initiator.
    pub fn initiate<S: SyncStore>(&mut self, store: &S) -> Result<Message, SyncError> {
        if self.role != Role::Initiator || self.started {
            return Err(SyncError::Unexpected(
                "initiate on a responder or a started session",
            ));
        }
        self.started = true;
        self.rounds = 1;
        let mut out = Out::new(self.config);
        match self.describe(store, &mut out, Range::FULL)? {
            Step::Continue => {}
            Step::RestFrom(at) => out.rest(store, at)?,
        }
        Ok(out.finish())
    }

    /// [`Reconciler::initiate`], encoded.
    pub fn initiate_bytes<S: SyncStore>(&mut self, store: &S) -> Result<Vec<u8>, SyncError> {
        Ok(self.initiate(store)?.encode())
    }

    /// Handles a message from the peer. The initiator gets `None` when the session
    /// is over; the responder always gets the answer to send.
    pub fn handle<S: SyncStore>(
        &mut self,
        store: &S,
        message: &Message,
    ) -> Result<Option<Message>, SyncError> {
        if self.done {
            return Err(SyncError::Unexpected("a message after the session ended"));
        }
        if self.role == Role::Initiator && !self.started {
            return Err(SyncError::Unexpected("a reply before the first message"));
        }
        message.validate(&self.config)?;
        if self.role == Role::Responder {
            self.rounds += 1;
            if self.rounds > self.config.max_rounds {
                return Err(SyncError::TooManyRounds {
                    limit: self.config.max_rounds,
                });
            }
        }
        let reply = self.process(store, message)?;
        match self.role {
            Role::Responder => {
                self.done = reply.is_done();
                Ok(Some(reply))
            }
            Role::Initiator if reply.is_done() => {
                self.done = true;
                self.sent_lists.clear();
                Ok(None)
            }
            Role::Initiator => {
                if self.rounds >= self.config.max_rounds {
                    return Err(SyncError::TooManyRounds {
                        limit: self.config.max_rounds,
                    });
                }
                self.rounds += 1;
                Ok(Some(reply))
            }
        }
    }

    /// [`Reconciler::handle`] on wire bytes (decoded and checked first).
    pub fn handle_bytes<S: SyncStore>(
        &mut self,
        store: &S,
        bytes: &[u8],
    ) -> Result<Option<Vec<u8>>, SyncError> {
        let message = Message::decode(bytes, &self.config)?;
        Ok(self.handle(store, &message)?.map(|m| m.encode()))
    }

    /// Whether the session is over: the initiator got an answer that asks nothing
    /// more, or the responder sent one.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Messages sent by the initiator, or answered by the responder, so far.
    pub fn rounds(&self) -> u32 {
        self.rounds
    }

    /// This side's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Items the peer holds and we lack, found so far (an initiator's; a
    /// responder keeps none).
    pub fn need(&self) -> &BTreeSet<Item> {
        &self.need
    }

    /// Items we hold and the peer lacks, found so far (an initiator's).
    pub fn have(&self) -> &BTreeSet<Item> {
        &self.have
    }

    /// Items this side holds in memory between messages: the found difference
    /// and the lists it sent (the initiator's); always 0 for a responder.
    pub fn held_items(&self) -> usize {
        self.need.len()
            + self.have.len()
            + self.sent_lists.iter().map(|(_, l)| l.len()).sum::<usize>()
    }

    /// What the session found.
    pub fn into_outcome(self) -> Outcome {
        Outcome {
            need: self.need.into_iter().collect(),
            have: self.have.into_iter().collect(),
            rounds: self.rounds,
        }
    }

    fn process<S: SyncStore>(&mut self, store: &S, msg: &Message) -> Result<Message, SyncError> {
        let sent = std::mem::take(&mut self.sent_lists);
        let mut out = Out::new(self.config);
        let mut lower = Bound::MIN;
        for (index, r) in msg.ranges.iter().enumerate() {
            let range = Range::new(lower, r.upper);
            let step = match &r.mode {
                Mode::Skip => out.skip(range),
                Mode::Fingerprint(fp) => self.on_fingerprint(store, &mut out, range, fp)?,
                Mode::IdList(theirs) => match self.role {
                    Role::Initiator => {
                        self.learn_from_list(store, range, theirs)?;
                        out.skip(range)
                    }
                    Role::Responder => self.reply_to_list(store, &mut out, range, theirs)?,
                },
                Mode::IdListReply { missing, lacking } => match self.role {
                    Role::Responder => {
                        return Err(SyncError::Unexpected(
                            "an id-list reply sent to the responder",
                        ));
                    }
                    Role::Initiator => {
                        self.learn_from_reply(&sent, index, range, missing, lacking)?;
                        out.skip(range)
                    }
                },
            };
            if let Step::RestFrom(at) = step {
                out.rest(store, at)?;
                break;
            }
            lower = r.upper;
        }
        let reply = out.finish();
        debug_assert!(reply.validate(&self.config).is_ok(), "{reply:?}");
        Ok(reply)
    }

    fn on_fingerprint<S: SyncStore>(
        &mut self,
        store: &S,
        out: &mut Out,
        range: Range,
        theirs: &Fingerprint,
    ) -> Result<Step, SyncError> {
        let ours = store.summary(&range).map_err(SyncError::store)?;
        if ours.fingerprint() == *theirs {
            return Ok(out.skip(range));
        }
        self.describe(store, out, range)
    }

    /// Our side of a range that differs: the items if few, else a split.
    fn describe<S: SyncStore>(
        &mut self,
        store: &S,
        out: &mut Out,
        range: Range,
    ) -> Result<Step, SyncError> {
        let ours = store.summary(&range).map_err(SyncError::store)?;
        if ours.count <= self.config.list_threshold as u64 {
            let items = store
                .items(&range, self.config.list_threshold)
                .map_err(SyncError::store)?;
            let fits = out.push(vec![MessageRange {
                upper: range.upper,
                mode: Mode::IdList(items.clone()),
            }]);
            if !fits {
                return Ok(Step::RestFrom(range.lower));
            }
            if self.role == Role::Initiator {
                self.sent_lists.push((range, items));
            }
            return Ok(Step::Continue);
        }
        let parts = store
            .split(&range, self.config.split_parts)
            .map_err(SyncError::store)?;
        let ranges = parts
            .iter()
            .map(|p| MessageRange {
                upper: p.upper,
                mode: Mode::Fingerprint(p.summary.fingerprint()),
            })
            .collect();
        Ok(if out.push(ranges) {
            Step::Continue
        } else {
            Step::RestFrom(range.lower)
        })
    }

    /// The initiator got the responder's whole list of a range: the range is
    /// settled.
    fn learn_from_list<S: SyncStore>(
        &mut self,
        store: &S,
        range: Range,
        theirs: &[Item],
    ) -> Result<(), SyncError> {
        let ours = store.items(&range, usize::MAX).map_err(SyncError::store)?;
        let (theirs_only, ours_only) = differences(theirs, &ours);
        self.need.extend(theirs_only);
        self.have.extend(ours_only);
        Ok(())
    }

    /// The responder answers a list with what each side lacks, as far as room
    /// allows; the rest of the range goes back as a fingerprint.
    fn reply_to_list<S: SyncStore>(
        &mut self,
        store: &S,
        out: &mut Out,
        range: Range,
        theirs: &[Item],
    ) -> Result<Step, SyncError> {
        // Conservative costs: each missing item at most MAX_ITEM_BYTES, each index
        // at most 5 bytes, plus a range and a second list length.
        const INDEX_BYTES: usize = 5;
        let overhead = MAX_RANGE_OVERHEAD + 9;
        let (room, room_ids) = out.room();
        if room < overhead + MAX_ITEM_BYTES || room_ids == 0 {
            return Ok(Step::RestFrom(range.lower));
        }
        let room = room - overhead;
        let max_missing = (room / MAX_ITEM_BYTES).min(room_ids);
        let limit = theirs.len().saturating_add(max_missing).saturating_add(1);
        let mut ours = store.items(&range, limit).map_err(SyncError::store)?;
        // When the store has more than we fetched, the last fetched item only marks
        // where this answer must stop.
        let sentinel = if ours.len() == limit {
            ours.pop()
        } else {
            None
        };

        let (mut i, mut j) = (0, 0);
        let (mut bytes, mut ids) = (0, 0);
        let mut missing = Vec::new();
        let mut lacking = Vec::new();
        let mut last: Option<Item> = None;
        let cut: Option<Item>;
        loop {
            let o = ours.get(i);
            let t = theirs.get(j).filter(|t| sentinel.is_none_or(|s| **t < s));
            let (item, is_ours, is_theirs) = match (o, t) {
                (None, None) => {
                    cut = sentinel;
                    break;
                }
                (Some(o), Some(t)) if o == t => (*o, true, true),
                (Some(o), Some(t)) if o < t => (*o, true, false),
                (Some(o), None) => (*o, true, false),
                (_, Some(t)) => (*t, false, true),
            };
            let cost = match (is_ours, is_theirs) {
                (true, true) => 0,
                (true, false) => MAX_ITEM_BYTES,
                _ => INDEX_BYTES,
            };
            let cost_ids = usize::from(cost > 0);
            if bytes + cost > room || ids + cost_ids > room_ids {
                cut = Some(item);
                break;
            }
            bytes += cost;
            ids += cost_ids;
            match (is_ours, is_theirs) {
                (true, true) => {}
                (true, false) => missing.push(item),
                _ => lacking.push(j as u32),
            }
            i += usize::from(is_ours);
            j += usize::from(is_theirs);
            last = Some(item);
        }
        let upper = match (cut, last) {
            (None, _) => range.upper,
            (Some(next), Some(last)) => Bound::between(&last, &next),
            // Not even the first item fits: no progress in this message.
            (Some(_), None) => return Ok(Step::RestFrom(range.lower)),
        };
        let answer = Range::new(range.lower, upper);
        let fits = if missing.is_empty() && lacking.is_empty() {
            matches!(out.skip(answer), Step::Continue)
        } else {
            out.push(vec![MessageRange {
                upper,
                mode: Mode::IdListReply { missing, lacking },
            }])
        };
        Ok(match (fits, cut.is_some()) {
            (false, _) => Step::RestFrom(range.lower),
            (true, true) => Step::RestFrom(upper),
            (true, false) => Step::Continue,
        })
    }

    /// The initiator reads the answer to one of the lists it sent.
    fn learn_from_reply(
        &mut self,
        sent: &[(Range, Vec<Item>)],
        index: usize,
        range: Range,
        missing: &[Item],
        lacking: &[u32],
    ) -> Result<(), SyncError> {
        let (_, list) = sent
            .iter()
            .find(|(sent_range, _)| sent_range.covers(&range))
            .ok_or(SyncError::Unexpected(
                "a reply to a range this side did not list",
            ))?;
        let from = list.partition_point(|x| !range.lower.is_at_or_before(x));
        let to = list.partition_point(|x| !range.upper.is_at_or_before(x));
        let ours = &list[from..to];
        if lacking.last().is_some_and(|&k| k as usize >= ours.len()) {
            return Err(Malformed::BadIndex { index }.into());
        }
        if missing.iter().any(|m| ours.binary_search(m).is_ok()) {
            return Err(Malformed::ContradictsList { index }.into());
        }
        self.need.extend(missing.iter().copied());
        self.have.extend(lacking.iter().map(|&k| ours[k as usize]));
        Ok(())
    }
}

/// Items only in `a` and items only in `b`, both sorted.
fn differences(a: &[Item], b: &[Item]) -> (Vec<Item>, Vec<Item>) {
    let (mut only_a, mut only_b) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x == y => {
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x < y => {
                only_a.push(*x);
                i += 1;
            }
            (Some(x), None) => {
                only_a.push(*x);
                i += 1;
            }
            (_, Some(y)) => {
                only_b.push(*y);
                j += 1;
            }
            (None, None) => break,
        }
    }
    (only_a, only_b)
}

/// An outgoing message under construction, kept within the bounds of the config
/// with room for the closing fingerprint.
struct Out {
    config: Config,
    ranges: Vec<MessageRange>,
    /// Exact encoded bytes of the ranges so far.
    bytes: usize,
    ids: usize,
    /// Time cursor after the last range (as the encoder computes deltas).
    cursor: u64,
    /// For a trailing `Skip`: the cursor before it and its size, to merge the next.
    last_skip: Option<(u64, usize)>,
}

/// Room kept for the closing range: a fingerprint to the end (tag + 16 bytes), and
/// one range.
const CLOSING_BYTES: usize = 1 + 16;

impl Out {
    fn new(config: Config) -> Self {
        Self {
            config,
            ranges: Vec::new(),
            bytes: 0,
            ids: 0,
            cursor: 0,
            last_skip: None,
        }
    }

    /// Bytes and ids still free, keeping the room for a closing range.
    fn room(&self) -> (usize, usize) {
        let used = MESSAGE_OVERHEAD + self.bytes + CLOSING_BYTES;
        (
            self.config.max_message_bytes.saturating_sub(used),
            self.config.max_ids.saturating_sub(self.ids),
        )
    }

    /// Appends ranges if they fit; returns whether they did.
    fn push(&mut self, ranges: Vec<MessageRange>) -> bool {
        let mut cursor = self.cursor;
        let size: usize = ranges.iter().map(|r| range_wire_size(r, &mut cursor)).sum();
        let ids: usize = ranges.iter().map(|r| r.mode.id_count()).sum();
        let (room, room_ids) = self.room();
        // One range is always kept free for the closing fingerprint.
        if size > room
            || ids > room_ids
            || self.ranges.len() + ranges.len() + 1 > self.config.max_ranges
        {
            return false;
        }
        self.bytes += size;
        self.ids += ids;
        self.cursor = cursor;
        self.ranges.extend(ranges);
        self.last_skip = None;
        true
    }

    /// Marks a range as settled, merged into a trailing `Skip`.
    fn skip(&mut self, range: Range) -> Step {
        let skip = MessageRange {
            upper: range.upper,
            mode: Mode::Skip,
        };
        if let Some((before, old)) = self.last_skip {
            let mut cursor = before;
            let size = range_wire_size(&skip, &mut cursor);
            // A longer bound may not fit: then close the message here.
            if size > old + self.room().0 {
                return Step::RestFrom(range.lower);
            }
            self.bytes = self.bytes - old + size;
            self.cursor = cursor;
            self.last_skip = Some((before, size));
            if let Some(last) = self.ranges.last_mut() {
                last.upper = range.upper;
            }
            return Step::Continue;
        }
        let before = self.cursor;
        if !self.push(vec![skip.clone()]) {
            return Step::RestFrom(range.lower);
        }
        let mut cursor = before;
        self.last_skip = Some((before, range_wire_size(&skip, &mut cursor)));
        Step::Continue
    }

    /// Closes the message with our fingerprint of `[at, End)`.
    fn rest<S: SyncStore>(&mut self, store: &S, at: Bound) -> Result<(), SyncError> {
        let summary = store
            .summary(&Range::new(at, Bound::End))
            .map_err(SyncError::store)?;
        self.ranges.push(MessageRange {
            upper: Bound::End,
            mode: Mode::Fingerprint(summary.fingerprint()),
        });
        self.bytes += CLOSING_BYTES;
        self.last_skip = None;
        Ok(())
    }

    fn finish(self) -> Message {
        let message = Message {
            ranges: self.ranges,
        };
        debug_assert!(message.encode().len() <= self.config.max_message_bytes);
        if message.is_done() {
            Message::done()
        } else {
            message
        }
    }
}
