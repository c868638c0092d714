//! A negative reading is an error, never a number: no queue depth, rate or wait is below
//! zero, and clamping one to zero would read as "no demand" and let prescale scale down.

use super::{MetricError, Reading};

/// `value` as a reading of `what` (a query or a scraped metric): an error when negative.
/// `-0.0` is zero.
pub fn reject_negative(what: &str, value: f64) -> Reading {
    if value < 0.0 {
        Err(MetricError::Negative {
            query: what.to_string(),
            value,
        })
    } else {
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negatives_are_errors_naming_the_query_and_zero_is_a_value() {
        let e = reject_negative("sum(a) - sum(b)", -3.5).expect_err("negative");
        assert_eq!(e.reason(), "negative");
        let text = e.to_string();
        assert!(
            text.contains("`sum(a) - sum(b)` evaluated to -3.5") && text.contains("clamp_min"),
            "{text}"
        );
        assert_eq!(reject_negative("q", 0.0), Ok(0.0));
        assert_eq!(reject_negative("q", -0.0), Ok(-0.0));
        assert_eq!(reject_negative("q", 2.0), Ok(2.0));
    }
}
