//! The held-out split: tune on the first part of the replay, report on the last part, so a
//! result is never only in-sample.

/// Ticks `[0, at)` are tuned on; `[at, ticks)` are held back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Split {
    /// The first held-back tick.
    pub at: usize,
    /// Replayed ticks in all.
    pub ticks: usize,
}

/// Why the replay cannot be split.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SplitError {
    /// The fraction is out of range.
    #[error("--holdout {0}: must be a fraction above 0 and at most 0.9, e.g. 0.3")]
    Fraction(f64),
    /// A part would have no scored tick.
    #[error(
        "holding back the last {fraction} of {ticks} ticks leaves the {part} part without scored ticks (gaps in the history?); pass another --holdout or a longer window"
    )]
    Empty {
        /// The fraction asked.
        fraction: f64,
        /// Replayed ticks.
        ticks: usize,
        /// `tuning` or `held-back`.
        part: &'static str,
    },
}

impl Split {
    /// Hold back the last `fraction` of `ticks`; both parts must hold a scored tick.
    pub fn new(ticks: usize, fraction: f64, scored: &[bool]) -> Result<Split, SplitError> {
        if !(fraction.is_finite() && fraction > 0.0 && fraction <= 0.9) {
            return Err(SplitError::Fraction(fraction));
        }
        let at = ((ticks as f64) * (1.0 - fraction)).round() as usize;
        let split = Split { at, ticks };
        let empty = |range: std::ops::Range<usize>| !range.into_iter().any(|j| scored[j]);
        let part = if empty(0..at.min(ticks)) {
            Some("tuning")
        } else if empty(at.min(ticks)..ticks) {
            Some("held-back")
        } else {
            None
        };
        match part {
            Some(part) => Err(SplitError::Empty {
                fraction,
                ticks,
                part,
            }),
            None => Ok(split),
        }
    }

    /// Whether tick `j` is in the tuning part.
    pub fn tuning(&self, j: usize) -> bool {
        j < self.at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_fraction_is_held_back() {
        let s = Split::new(100, 0.3, &[true; 100]).unwrap();
        assert_eq!(s.at, 70);
        assert!(s.tuning(69) && !s.tuning(70));
    }

    #[test]
    fn each_part_needs_a_scored_tick_and_the_fraction_a_sane_value() {
        let mut scored = [true; 10];
        scored[7..].fill(false);
        assert!(matches!(
            Split::new(10, 0.3, &scored),
            Err(SplitError::Empty {
                part: "held-back",
                ..
            })
        ));
        for bad in [0.0, 0.95, f64::NAN] {
            assert!(matches!(
                Split::new(10, bad, &[true; 10]),
                Err(SplitError::Fraction(_))
            ));
        }
    }
}
