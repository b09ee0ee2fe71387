//! How many records fit one frame: [`RecordBatch`], the one place that counts the
//! records of a fetch answer (responder) and of a push (initiator).

use swapmesh_protocol::signed::MAX_SIGNED_RECORD;

use crate::message::varint_len;
use crate::wire::{FRAME_MARGIN, MAX_RECORDS};

/// Records gathered for one frame: at most [`MAX_RECORDS`], and together at most
/// the frame limit less [`FRAME_MARGIN`] on the wire.
#[derive(Clone, Debug)]
pub struct RecordBatch {
    records: Vec<Vec<u8>>,
    used: usize,
    room: usize,
}

/// What [`RecordBatch::offer`] did with a record.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Offer {
    /// It is in the batch.
    Taken,
    /// The batch is full: send it, and offer the record (given back) to the next.
    Full(Vec<u8>),
    /// The record is larger than any record may be ([`MAX_SIGNED_RECORD`]): it can
    /// never travel, and was dropped.
    Oversize,
}

impl RecordBatch {
    /// An empty batch for frames of at most `frame_limit` bytes.
    pub fn new(frame_limit: usize) -> Self {
        Self {
            records: Vec::new(),
            used: 0,
            room: frame_limit.saturating_sub(FRAME_MARGIN),
        }
    }

    /// The bytes a record of `len` bytes adds to a frame: its length prefix and
    /// itself.
    pub fn cost(len: usize) -> usize {
        varint_len(len as u64) + len
    }

    /// Adds `record` if it fits.
    pub fn offer(&mut self, record: Vec<u8>) -> Offer {
        let cost = Self::cost(record.len());
        if record.len() > MAX_SIGNED_RECORD || cost > self.room {
            return Offer::Oversize;
        }
        if self.records.len() >= MAX_RECORDS || self.used + cost > self.room {
            return Offer::Full(record);
        }
        self.used += cost;
        self.records.push(record);
        Offer::Taken
    }

    /// Records in the batch.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Bytes the records take in a frame.
    pub fn bytes(&self) -> usize {
        self.used
    }

    /// The records, in the order offered.
    pub fn into_records(self) -> Vec<Vec<u8>> {
        self.records
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{MIN_FRAME_LIMIT, SyncResponse};

    #[test]
    fn cost_is_exact_on_the_wire() {
        for len in [0, 1, 250, 251, 65_535, 65_536, MAX_SIGNED_RECORD] {
            let one = SyncResponse::Records {
                records: vec![vec![1; len]],
            };
            let none = SyncResponse::Records { records: vec![] };
            assert_eq!(
                one.encode().len() - none.encode().len(),
                RecordBatch::cost(len),
                "{len}"
            );
        }
    }

    #[test]
    fn a_batch_stops_at_the_frame_and_at_the_count() {
        let mut batch = RecordBatch::new(MIN_FRAME_LIMIT);
        assert_eq!(batch.offer(vec![0; MAX_SIGNED_RECORD]), Offer::Taken);
        assert_eq!(batch.offer(vec![1; 6]), Offer::Full(vec![1; 6]));
        assert_eq!(batch.offer(vec![2; MAX_SIGNED_RECORD + 1]), Offer::Oversize);

        let mut batch = RecordBatch::new(1 << 20);
        for _ in 0..MAX_RECORDS {
            assert_eq!(batch.offer(vec![3; 10]), Offer::Taken);
        }
        assert_eq!(batch.offer(vec![3; 10]), Offer::Full(vec![3; 10]));
        assert_eq!(batch.len(), MAX_RECORDS);
        assert_eq!(batch.bytes(), MAX_RECORDS * 11);
    }
}
