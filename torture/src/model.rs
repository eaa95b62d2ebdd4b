//! The ground-truth model: what was submitted, what was acknowledged, and what the log must
//! therefore hold. Kept apart from the system under test and built only from what the harness
//! handed in and what the writer returned (FAULT-MODEL.md §4b).
//!
//! The model follows the log's seqs. Each seq of the current log has one [`Slot`]:
//! - `Acked`: the append returned it durable, with its receipt (the chain hash after it);
//! - `Committed`: a recovery brought it back (acked or not), so it must survive from now on;
//! - `Written`: bytes a poisoned batch may have left on disk; a recovery may keep or cut it.
//!
//! A recovery to head `h` keeps slots `1..=h` (all become committed) and forgets the rest.

use mtlog_audit::integrity::chain::Hash;

/// One submitted event.
#[derive(Clone, Copy, Debug)]
pub struct Submitted {
    start: usize,
    len: usize,
    /// Its timestamp (the raw wall clock when it was built).
    pub timestamp_nanos: i64,
    /// The logical writer that emitted it.
    pub writer: u16,
}

/// What the model knows about one seq.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotState {
    /// Possibly on disk (a poisoned batch), never acknowledged.
    Written,
    /// Acknowledged durable, with the receipt's chain hash.
    Acked(Hash),
    /// Recovered by a recovery: must survive from now on.
    Committed,
}

/// One seq of the log.
#[derive(Clone, Copy, Debug)]
pub struct Slot {
    /// Index into the submitted events.
    pub sub: usize,
    /// Its state.
    pub state: SlotState,
    /// The chain hash after this record, once known: the receipt, or the value a verified
    /// recovery read back.
    pub chain: Option<Hash>,
}

impl Slot {
    /// Whether the log must hold this record after any crash.
    pub fn must_survive(&self) -> bool {
        !matches!(self.state, SlotState::Written)
    }
}

/// The model. See the module docs.
#[derive(Default)]
pub struct Model {
    arena: Vec<u8>,
    submitted: Vec<Submitted>,
    slots: Vec<Slot>,
    /// The highest seq ever acknowledged (I11: it never regresses).
    pub acked_max: u64,
    /// Acknowledgements returned.
    pub acks: u64,
    /// The log id, once known.
    pub log_id: Option<u128>,
}

/// Why the writer's seqs disagree with the model.
#[derive(Debug)]
pub struct SeqMismatch {
    /// The seq the model expected next.
    pub expected: u64,
    /// The seq the writer used.
    pub found: u64,
}

impl Model {
    /// Records a submitted event and returns its index.
    pub fn submit(&mut self, body: &[u8], timestamp_nanos: i64, writer: u16) -> usize {
        let start = self.arena.len();
        self.arena.extend_from_slice(body);
        self.submitted.push(Submitted { start, len: body.len(), timestamp_nanos, writer });
        self.submitted.len() - 1
    }

    /// The submitted event `sub`.
    pub fn submitted(&self, sub: usize) -> &Submitted {
        &self.submitted[sub]
    }

    /// The body of submitted event `sub`.
    pub fn body(&self, sub: usize) -> &[u8] {
        let s = &self.submitted[sub];
        &self.arena[s.start..s.start + s.len]
    }

    /// The seq the next append must start at.
    pub fn seq_next(&self) -> u64 {
        self.slots.len() as u64 + 1
    }

    /// The slot of `seq`, if the current log has it.
    pub fn slot(&self, seq: u64) -> Option<&Slot> {
        seq.checked_sub(1).and_then(|i| self.slots.get(i as usize))
    }

    /// Every slot, seq 1 first.
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// Records an append's result: the first `durable` of `subs` acknowledged with `receipts`
    /// starting at `seq_first`; if `rest_maybe_written`, the others may be on disk after them.
    ///
    /// # Errors
    /// The writer used a seq other than the next one.
    pub fn appended(
        &mut self,
        seq_first: u64,
        subs: &[usize],
        receipts: &[Hash],
        rest_maybe_written: bool,
    ) -> Result<(), SeqMismatch> {
        let durable = receipts.len();
        if durable == 0 && !rest_maybe_written {
            return Ok(());
        }
        if seq_first != self.seq_next() {
            return Err(SeqMismatch { expected: self.seq_next(), found: seq_first });
        }
        for (i, &sub) in subs.iter().enumerate() {
            let state = match receipts.get(i) {
                Some(hash) => SlotState::Acked(*hash),
                None if rest_maybe_written => SlotState::Written,
                None => break,
            };
            let chain = receipts.get(i).copied();
            if chain.is_some() {
                self.acks += 1;
                self.acked_max = self.acked_max.max(seq_first + i as u64);
            }
            self.slots.push(Slot { sub, state, chain });
        }
        Ok(())
    }

    /// After a recovery to `head`: keeps `1..=head` as committed, forgets the rest.
    pub fn recovered(&mut self, head: u64) {
        self.slots.truncate(head as usize);
        for slot in &mut self.slots {
            if slot.state == SlotState::Written {
                slot.state = SlotState::Committed;
            }
        }
    }

    /// Records the chain hash a verified read-back found after `seq`.
    pub fn set_chain(&mut self, seq: u64, chain: Hash) {
        if let Some(slot) = seq.checked_sub(1).and_then(|i| self.slots.get_mut(i as usize)) {
            slot.chain = Some(chain);
        }
    }

    /// The highest seq that must survive.
    pub fn must_survive_max(&self) -> u64 {
        self.slots.iter().rposition(Slot::must_survive).map_or(0, |i| i as u64 + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recovery_commits_the_kept_prefix_and_forgets_the_rest() {
        let mut m = Model::default();
        let subs: Vec<usize> = (0..4).map(|i| m.submit(&[i], i as i64, 0)).collect();
        m.appended(1, &subs[..2], &[[1; 32], [2; 32]], false).unwrap();
        m.appended(3, &subs[2..], &[], true).unwrap();
        assert_eq!(m.seq_next(), 5);
        assert_eq!(m.must_survive_max(), 2);
        m.recovered(3);
        assert_eq!(m.seq_next(), 4);
        assert_eq!(m.must_survive_max(), 3);
        assert!(m.appended(9, &subs[..1], &[[0; 32]], false).is_err());
    }
}
