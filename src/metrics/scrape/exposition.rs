//! Parsing a text-exposition page with `prometheus-parse` and picking the series asked for.
//!
//! `prometheus-parse` skips lines it does not understand; a page made only of such lines
//! (an HTML error page, a JSON API) is reported as not being exposition format at all,
//! instead of as a missing metric.

use crate::metrics::MetricError;
use prometheus_parse::{LineInfo, Sample, Scrape};
use std::collections::BTreeMap;
use std::time::SystemTime;

/// A parsed page.
#[derive(Debug, Clone)]
pub struct Page {
    /// Every sample (histograms and summaries grouped per series by `prometheus-parse`).
    pub samples: Vec<Sample>,
    /// Lines that are neither comments, blank, nor parsable samples.
    pub not_understood: usize,
    /// The first such line, shortened, for messages.
    pub first_not_understood: Option<String>,
}

/// Parse `text` scraped from `url` at `at` (samples without their own timestamp get `at`).
pub fn parse(url: &str, text: &str, at: SystemTime) -> Result<Page, MetricError> {
    let mut not_understood = 0;
    let mut first_not_understood = None;
    for line in text.lines() {
        let understood = match LineInfo::parse(line) {
            LineInfo::Sample { value, .. } => parse_float(value).is_some(),
            LineInfo::Ignored => line.trim_start().starts_with('#'),
            _ => true,
        };
        if !understood {
            not_understood += 1;
            if first_not_understood.is_none() {
                first_not_understood = Some(line.trim().chars().take(80).collect());
            }
        }
    }
    let scrape =
        Scrape::parse_at(text.lines().map(|l| Ok(l.to_string())), at.into()).map_err(|e| {
            MetricError::BadExposition {
                url: url.to_string(),
                detail: e.to_string(),
            }
        })?;
    if scrape.samples.is_empty() && not_understood > 0 {
        return Err(MetricError::BadExposition {
            url: url.to_string(),
            detail: format!(
                "none of its {not_understood} non-comment lines is a sample (first: {:?})",
                first_not_understood.unwrap_or_default()
            ),
        });
    }
    Ok(Page {
        samples: scrape.samples,
        not_understood,
        first_not_understood,
    })
}

/// The samples named `metric` that carry every label in `labels`.
///
/// A histogram is matched by its base name (`wait_seconds`, not `wait_seconds_bucket`).
pub fn select<'p>(
    page: &'p Page,
    url: &str,
    metric: &str,
    labels: &BTreeMap<String, String>,
) -> Result<Vec<&'p Sample>, MetricError> {
    let named: Vec<&Sample> = page.samples.iter().filter(|s| s.metric == metric).collect();
    let matching: Vec<&Sample> = named
        .iter()
        .copied()
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(k) == Some(v.as_str()))
        })
        .collect();
    if !matching.is_empty() {
        return Ok(matching);
    }
    let detail = if named.is_empty() {
        let mut names: Vec<&str> = page.samples.iter().map(|s| s.metric.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let shown: Vec<&str> = names.iter().copied().take(12).collect();
        format!(
            "; the page has {} metric names{}{}",
            names.len(),
            if shown.is_empty() { "" } else { ", e.g. " },
            shown.join(", ")
        )
    } else {
        let seen: Vec<String> = named
            .iter()
            .take(5)
            .map(|s| format!("{{{}}}", s.labels))
            .collect();
        format!("; series of {metric} have labels {}", seen.join(" "))
    };
    Err(MetricError::MetricNotFound {
        url: url.to_string(),
        metric: metric.to_string(),
        labels: format_selector(labels),
        detail,
    })
}

/// Labels as `{k="v",...}`.
pub fn format_selector<'a>(labels: impl IntoIterator<Item = (&'a String, &'a String)>) -> String {
    let parts: Vec<String> = labels
        .into_iter()
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect();
    format!("{{{}}}", parts.join(","))
}

/// A float as the exposition format writes it (Go's `NaN`, `+Inf`, `-Inf`).
fn parse_float(raw: &str) -> Option<f64> {
    if raw.eq_ignore_ascii_case("nan") {
        return Some(f64::NAN);
    }
    raw.parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_parse::Value;

    const PAGE: &str = "\
# HELP queue_depth Documents waiting.
# TYPE queue_depth gauge
queue_depth{queue=\"a\"} 12
queue_depth{queue=\"b\"} 3
# TYPE docs_enqueued_total counter
docs_enqueued_total 1500
# TYPE wait_seconds histogram
wait_seconds_bucket{le=\"1\"} 5
wait_seconds_bucket{le=\"+Inf\"} 9
wait_seconds_sum 20
wait_seconds_count 9
";

    #[test]
    fn picks_by_name_and_labels() {
        let page = parse("u", PAGE, SystemTime::now()).unwrap();
        let labels = BTreeMap::from([("queue".to_string(), "b".to_string())]);
        let found = select(&page, "u", "queue_depth", &labels).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].value, Value::Gauge(3.0));
        let hist = select(&page, "u", "wait_seconds", &BTreeMap::new()).unwrap();
        assert!(matches!(hist[0].value, Value::Histogram(ref b) if b.len() == 2));
        assert_eq!(page.not_understood, 0);
    }

    #[test]
    fn missing_metric_lists_what_is_there() {
        let page = parse("http://x/metrics", PAGE, SystemTime::now()).unwrap();
        let e = select(&page, "http://x/metrics", "queue_dept", &BTreeMap::new()).unwrap_err();
        assert_eq!(e.reason(), "metric_not_found");
        assert!(e.to_string().contains("queue_depth"), "{e}");
        let labels = BTreeMap::from([("queue".to_string(), "z".to_string())]);
        let e = select(&page, "u", "queue_depth", &labels).unwrap_err();
        assert!(e.to_string().contains(r#"queue="a""#), "{e}");
    }

    #[test]
    fn html_is_not_exposition() {
        let e = parse(
            "u",
            "<html>\n<body>Not found</body>\n</html>\n",
            SystemTime::now(),
        )
        .unwrap_err();
        assert_eq!(e.reason(), "bad_exposition");
        assert!(e.to_string().contains("<html>"), "{e}");
    }
}
