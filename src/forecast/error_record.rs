//! A model's last day of forecast errors, in the order they came, holding the value only of
//! the errors at or above zero.
//!
//! A margin is never negative ([`super::Calibration::update_margin`]), so the value of an
//! error below zero never matters: it is no candidate margin, never above one, and a
//! coverage quantile that falls on it is clamped to zero. What counts is that it is there (the
//! record's length, which the quantile's rank comes from) and when it leaves. So each error's
//! sign is one bit, and only the other errors' 16-bit codes are held: a model that
//! over-forecasts most windows holds few codes, and one that never does holds what a plain
//! queue of codes would (1.2 KB for a day), plus the 72 bytes of bits.

use super::compact::decode_signed;
use std::collections::VecDeque;

/// Errors a record holds: a day's ([`super::calibration::ERRORS_KEPT`]).
const CAPACITY: usize = super::calibration::ERRORS_KEPT;

/// Words of the sign bits.
const WORDS: usize = CAPACITY.div_ceil(64);

/// Codes the room for codes grows or shrinks by: a step of 64 bytes, instead of doubling
/// (which would leave up to half of it unused, at every target).
const STEP: usize = 32;

/// Up to [`CAPACITY`] errors' codes ([`super::compact::encode_signed`]), oldest first.
#[derive(Debug, Clone, Default)]
pub struct ErrorRecord {
    /// Bit `s` set: the error in ring slot `s` is below zero (its code is not held).
    below: [u64; WORDS],
    /// Ring slot of the oldest error.
    head: u16,
    len: u16,
    /// Codes of the errors at or above zero, oldest first.
    kept: VecDeque<u16>,
}

impl ErrorRecord {
    /// Errors held.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether no error is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether a new error now drops the oldest.
    pub fn is_full(&self) -> bool {
        self.len() == CAPACITY
    }

    /// Add the newest error's `code`, dropping the oldest error when full.
    pub fn push(&mut self, code: u16) {
        if self.is_full() {
            self.drop_oldest();
        }
        let slot = (usize::from(self.head) + self.len()) % CAPACITY;
        let (word, bit) = (slot / 64, 1u64 << (slot % 64));
        // `< 0.0`: a zero of either sign is at or above zero, kept as it came.
        if decode_signed(code) < 0.0 {
            self.below[word] |= bit;
        } else {
            self.below[word] &= !bit;
            if self.kept.len() == self.kept.capacity() {
                self.kept.reserve_exact(STEP);
            }
            self.kept.push_back(code);
        }
        self.len += 1;
    }

    fn drop_oldest(&mut self) {
        let slot = usize::from(self.head);
        if self.below[slot / 64] & (1u64 << (slot % 64)) == 0 {
            self.kept.pop_front();
            // A record whose share of errors at or above zero fell gives its room back.
            if self.kept.capacity() >= self.kept.len() + 2 * STEP {
                self.kept.shrink_to(self.kept.len() + STEP);
            }
        }
        self.head = ((slot + 1) % CAPACITY) as u16;
        self.len -= 1;
    }

    /// Codes of the errors at or above zero, oldest first (the others are below zero).
    pub fn at_or_above_zero(&self) -> impl ExactSizeIterator<Item = u16> + '_ {
        self.kept.iter().copied()
    }

    /// Bytes held on the heap.
    #[cfg(test)]
    fn heap_bytes(&self) -> usize {
        self.kept.capacity() * std::mem::size_of::<u16>()
    }
}

#[cfg(test)]
mod tests {
    use super::super::compact::encode_signed;
    use super::*;

    #[test]
    fn it_holds_the_last_day_of_errors_with_the_codes_of_those_at_or_above_zero() {
        let mut rng = fastrand::Rng::with_seed(5);
        let mut record = ErrorRecord::default();
        let mut all: VecDeque<u16> = VecDeque::new();
        for i in 0..5 * CAPACITY {
            // Stretches mostly below zero, then mostly above, then zeros of both signs.
            let e = match (i / 200) % 3 {
                0 => rng.f32() - 0.9,
                1 => rng.f32() - 0.1,
                _ => [0.0, -0.0, 1.0, -1.0][rng.usize(..4)],
            };
            let code = encode_signed(e);
            record.push(code);
            all.push_back(code);
            if all.len() > CAPACITY {
                all.pop_front();
            }
            assert_eq!(record.len(), all.len());
            let expected: Vec<u16> = all
                .iter()
                .copied()
                .filter(|&c| decode_signed(c) >= 0.0)
                .collect();
            assert_eq!(
                record.at_or_above_zero().collect::<Vec<_>>(),
                expected,
                "{i}"
            );
            assert!(
                record.heap_bytes() <= 2 * (expected.len() + 2 * STEP),
                "room beyond two steps is given back: {} for {}",
                record.heap_bytes(),
                expected.len()
            );
        }
        assert!(record.is_full());
    }

    #[test]
    fn a_negative_zero_is_kept_as_it_came() {
        let mut record = ErrorRecord::default();
        record.push(encode_signed(-0.0));
        record.push(encode_signed(-0.5));
        let kept: Vec<u16> = record.at_or_above_zero().collect();
        assert_eq!(kept, vec![encode_signed(-0.0)]);
        assert_eq!(record.len(), 2);
    }
}
