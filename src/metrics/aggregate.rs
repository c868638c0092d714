//! Reducing the series a query or scrape matched to the one number the core needs.

use crate::config::Aggregate;
use crate::metrics::MetricError;

/// One matched series: its labels as text (for messages), its value, and the value as the
/// source wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesValue {
    /// Labels as `name{k="v",...}`.
    pub labels: String,
    /// The value.
    pub value: f64,
    /// The value as written by the source (`NaN`, `+Inf`, `12.5`).
    pub raw: String,
}

/// A matched series as [`reduce`] reads it: its value, and its labels and raw value as text,
/// made only for an error's message (a tick's reading of a shared query formats nothing).
pub trait Matched {
    /// The value.
    fn value(&self) -> f64;
    /// Labels as `name{k="v",...}`.
    fn labels_text(&self) -> String;
    /// The value as written by the source.
    fn raw_text(&self) -> String;
}

impl Matched for SeriesValue {
    fn value(&self) -> f64 {
        self.value
    }
    fn labels_text(&self) -> String {
        self.labels.clone()
    }
    fn raw_text(&self) -> String {
        self.raw.clone()
    }
}

impl<S: Matched + ?Sized> Matched for &S {
    fn value(&self) -> f64 {
        (**self).value()
    }
    fn labels_text(&self) -> String {
        (**self).labels_text()
    }
    fn raw_text(&self) -> String {
        (**self).raw_text()
    }
}

/// Reduce `series` to one value: exactly one series unless `aggregate` says how to combine
/// several. `what` names the query or metric in errors. NaN and infinities are errors, never
/// numbers.
pub fn reduce(
    what: &str,
    series: &[SeriesValue],
    aggregate: Option<Aggregate>,
) -> Result<f64, MetricError> {
    reduce_matched(|| what.to_string(), series, aggregate)
}

/// [`reduce`] of any [`Matched`] series, with `what` made only for an error.
pub fn reduce_matched<S: Matched>(
    what: impl Fn() -> String,
    series: &[S],
    aggregate: Option<Aggregate>,
) -> Result<f64, MetricError> {
    if series.is_empty() {
        return Err(MetricError::NoData { query: what() });
    }
    if series.len() > 1 && aggregate.is_none() {
        return Err(MetricError::MultipleSeries {
            query: what(),
            series: series.iter().map(Matched::labels_text).collect(),
        });
    }
    if let Some(bad) = series.iter().find(|s| !s.value().is_finite()) {
        return Err(not_a_number(&what(), &bad.raw_text(), bad.value()));
    }
    let values = series.iter().map(Matched::value);
    Ok(match aggregate {
        Some(Aggregate::Max) => values.fold(f64::NEG_INFINITY, f64::max),
        // Saturating: a sum of huge finite values stays the largest finite number rather
        // than becoming an infinity that would read as "not a number".
        Some(Aggregate::Sum) | None => values.sum::<f64>().clamp(f64::MIN, f64::MAX),
    })
}

/// The error for a NaN or infinite value, with the usual cause as a hint.
pub fn not_a_number(what: &str, raw: &str, value: f64) -> MetricError {
    let hint = if value.is_nan() {
        "; NaN usually means 0/0: a ratio or histogram_quantile() over a window with no traffic"
    } else {
        "; an infinity usually means histogram_quantile() fell in the +Inf bucket: add larger buckets"
    };
    MetricError::NotANumber {
        query: what.to_string(),
        value: raw.to_string(),
        hint: hint.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(labels: &str, value: f64) -> SeriesValue {
        SeriesValue {
            labels: labels.into(),
            value,
            raw: value.to_string(),
        }
    }

    #[test]
    fn one_series_is_its_value() {
        assert_eq!(reduce("q", &[s("a", 4.0)], None), Ok(4.0));
    }

    #[test]
    fn several_series_need_an_aggregate_and_the_error_names_them() {
        let e = reduce("q", &[s("{x=\"1\"}", 1.0), s("{x=\"2\"}", 2.0)], None).unwrap_err();
        assert_eq!(e.reason(), "multiple_series");
        assert!(e.to_string().contains("{x=\"2\"}"), "{e}");
        let both = [s("a", 1.0), s("b", 3.0)];
        assert_eq!(reduce("q", &both, Some(Aggregate::Sum)), Ok(4.0));
        assert_eq!(reduce("q", &both, Some(Aggregate::Max)), Ok(3.0));
    }

    #[test]
    fn a_sum_of_huge_values_saturates_instead_of_becoming_infinite() {
        let huge = [s("a", f64::MAX), s("b", f64::MAX)];
        assert_eq!(reduce("q", &huge, Some(Aggregate::Sum)), Ok(f64::MAX));
    }

    #[test]
    fn nan_and_inf_are_errors_and_empty_is_no_data() {
        assert_eq!(
            reduce("q", &[s("a", f64::NAN)], None).unwrap_err().reason(),
            "not_a_number"
        );
        let inf = [s("a", 1.0), s("b", f64::INFINITY)];
        assert_eq!(
            reduce("q", &inf, Some(Aggregate::Sum))
                .unwrap_err()
                .reason(),
            "not_a_number"
        );
        assert_eq!(reduce("q", &[], None).unwrap_err().reason(), "no_data");
    }
}
