//! Decoding of Prometheus HTTP API answers (`/api/v1/query`, `/api/v1/query_range`).
//!
//! Walks `serde_json::Value` by hand rather than deriving, so that every way the answer can
//! be wrong becomes a specific error naming the query, and arbitrary bytes never panic. The
//! usual answers are first read in one pass without a tree (`range_answer`,
//! `vector_answer`); only what that pass does not accept is walked here.

use crate::metrics::MetricError;
use serde_json::Value;
use std::collections::BTreeMap;

/// Labels of one series, `__name__` included when Prometheus sends it (or the labels a
/// target's series must carry in a shared query's result): name-value pairs sorted by name,
/// in one allocation of their exact size. A shared query's result holds one per target for a
/// whole interval, and every target's config one per shared metric (three of each per target
/// in the usual config); a `BTreeMap` of two labels takes a 544-byte node, these pairs 96
/// bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Labels(Box<[(String, String)]>);

impl Labels {
    /// No labels (a scalar's).
    pub fn new() -> Self {
        Self::default()
    }

    /// The value of label `name`.
    pub fn get(&self, name: &str) -> Option<&String> {
        self.0
            .binary_search_by(|(k, _)| k.as_str().cmp(name))
            .ok()
            .map(|i| &self.0[i].1)
    }

    /// Every label, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &String)> {
        self.into_iter()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The names, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(k, _)| k)
    }

    /// The values, in the order of their names.
    pub fn values(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(_, v)| v)
    }
}

impl From<BTreeMap<String, String>> for Labels {
    fn from(map: BTreeMap<String, String>) -> Self {
        Labels(map.into_iter().collect())
    }
}

impl From<&Labels> for BTreeMap<String, String> {
    fn from(labels: &Labels) -> Self {
        labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

impl FromIterator<(String, String)> for Labels {
    /// The pairs sorted by name; of a repeated name, the last value (as a map's insert).
    fn from_iter<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Self {
        let mut sorted: Vec<(String, String)> = pairs.into_iter().collect();
        // Stable: of equal names, the last one given stays last.
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let mut kept: Vec<(String, String)> = Vec::with_capacity(sorted.len());
        for pair in sorted {
            if kept.last().is_some_and(|last| last.0 == pair.0) {
                kept.pop();
            }
            kept.push(pair);
        }
        Labels(kept.into_boxed_slice())
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = (&'a String, &'a String);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (String, String)>,
        fn(&'a (String, String)) -> (&'a String, &'a String),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl<const N: usize> From<[(String, String); N]> for Labels {
    fn from(pairs: [(String, String); N]) -> Self {
        pairs.into_iter().collect()
    }
}

/// One series of an instant query's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct InstantSeries {
    /// The series' labels (empty for a scalar).
    pub labels: Labels,
    /// Evaluation time, Unix seconds.
    pub t: f64,
    /// The value; may be NaN or infinite, which [`super::reduce`] refuses to pass on.
    pub value: f64,
    /// The value as Prometheus wrote it, for messages.
    pub raw: String,
}

/// An instant query's answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InstantResult {
    /// One entry per series; a scalar answer is one series without labels.
    pub series: Vec<InstantSeries>,
    /// Prometheus's `warnings` (and `infos`): reported, never silently dropped.
    pub warnings: Vec<String>,
}

/// One series of a range query's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeSeries {
    /// The series' labels.
    pub labels: Labels,
    /// `(Unix seconds, value)` points, oldest first as Prometheus sends them.
    pub points: Vec<(f64, f64)>,
}

/// A range query's answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RangeResult {
    /// One entry per series.
    pub series: Vec<RangeSeries>,
    /// Prometheus's `warnings` (and `infos`).
    pub warnings: Vec<String>,
}

/// Format labels (a series' [`Labels`] or a target's wanted labels), sorted by name, as
/// PromQL writes a selector: `name{k="v",...}`.
pub fn format_labels<'a>(labels: impl IntoIterator<Item = (&'a String, &'a String)>) -> String {
    let mut name = "";
    let rest: Vec<String> = labels
        .into_iter()
        .filter(|(k, v)| {
            if k.as_str() == "__name__" {
                name = v.as_str();
            }
            k.as_str() != "__name__"
        })
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect();
    format!("{name}{{{}}}", rest.join(","))
}

/// Decode the answer of `/api/v1/query`.
pub fn decode_instant(url: &str, query: &str, body: &[u8]) -> Result<InstantResult, MetricError> {
    // The usual answer (a vector), read without a JSON tree; anything else is walked below,
    // for an error that says what is wrong.
    if let Some(result) = super::vector_answer::decode_vector(body) {
        return Ok(result);
    }
    let (data, warnings) = envelope(url, query, body)?;
    let result_type = str_field(url, &data, "resultType")?;
    let result = data
        .get("result")
        .ok_or_else(|| bad(url, "no `data.result`"))?;
    let series = match result_type {
        "vector" => array(url, result, "data.result")?
            .iter()
            .map(|item| instant_series(url, query, item))
            .collect::<Result<Vec<_>, _>>()?,
        "scalar" => {
            let (t, value, raw) = sample_pair(url, result)?;
            vec![InstantSeries {
                labels: Labels::new(),
                t,
                value,
                raw,
            }]
        }
        other => {
            return Err(MetricError::UnsupportedResult {
                query: query.to_string(),
                result_type: if other == "matrix" {
                    "range vector (matrix); drop the `[range]` or wrap it in a function such as rate()"
                        .to_string()
                } else {
                    other.to_string()
                },
            });
        }
    };
    Ok(InstantResult { series, warnings })
}

/// Decode the answer of `/api/v1/query_range`.
pub fn decode_range(url: &str, query: &str, body: &[u8]) -> Result<RangeResult, MetricError> {
    // The usual answer, read without a JSON tree (a tenth of the memory); anything else is
    // walked below, for an error that says what is wrong.
    if let Some(result) = super::range_answer::decode_matrix(body) {
        return Ok(result);
    }
    let (data, warnings) = envelope(url, query, body)?;
    let result_type = str_field(url, &data, "resultType")?;
    if result_type != "matrix" {
        return Err(bad(
            url,
            &format!("a range query answered resultType {result_type:?}, not \"matrix\""),
        ));
    }
    let result = data
        .get("result")
        .ok_or_else(|| bad(url, "no `data.result`"))?;
    let mut series = Vec::new();
    for item in array(url, result, "data.result")? {
        let labels = labels(url, item)?;
        if item.get("histograms").is_some() {
            return Err(native_histogram(query));
        }
        let values = item
            .get("values")
            .ok_or_else(|| bad(url, "a series has no `values`"))?;
        let points = array(url, values, "values")?
            .iter()
            .map(|p| sample_pair(url, p).map(|(t, v, _)| (t, v)))
            .collect::<Result<Vec<_>, _>>()?;
        series.push(RangeSeries { labels, points });
    }
    Ok(RangeResult { series, warnings })
}

/// Check `status`, turn `status: error` into [`MetricError::QueryFailed`], and return
/// `data` with the warnings.
fn envelope(url: &str, query: &str, body: &[u8]) -> Result<(Value, Vec<String>), MetricError> {
    let mut root: Value = serde_json::from_slice(body).map_err(|e| {
        bad(
            url,
            &format!("not JSON ({e}); is this a Prometheus server's URL?"),
        )
    })?;
    let status = root.get("status").and_then(Value::as_str).unwrap_or("");
    match status {
        "success" => {}
        "error" => {
            let text = |key: &str| {
                root.get(key)
                    .and_then(Value::as_str)
                    .unwrap_or("(not given)")
                    .to_string()
            };
            return Err(MetricError::QueryFailed {
                query: query.to_string(),
                error_type: text("errorType"),
                error: text("error"),
            });
        }
        other => {
            return Err(bad(
                url,
                &format!("`status` is {other:?}, expected \"success\" or \"error\""),
            ));
        }
    }
    let mut warnings = Vec::new();
    for key in ["warnings", "infos"] {
        warning_texts(root.get(key), &mut warnings);
    }
    let data = root
        .get_mut("data")
        .map(Value::take)
        .ok_or_else(|| bad(url, "no `data` in a successful answer"))?;
    Ok((data, warnings))
}

/// The texts of a `warnings` (or `infos`) list, if it is one, added to `out`.
pub(super) fn warning_texts(list: Option<&Value>, out: &mut Vec<String>) {
    if let Some(list) = list.and_then(Value::as_array) {
        out.extend(list.iter().map(|w| match w.as_str() {
            Some(s) => s.to_string(),
            None => w.to_string(),
        }));
    }
}

fn instant_series(url: &str, query: &str, item: &Value) -> Result<InstantSeries, MetricError> {
    let labels = labels(url, item)?;
    if item.get("histogram").is_some() {
        return Err(native_histogram(query));
    }
    let pair = item
        .get("value")
        .ok_or_else(|| bad(url, "a series has no `value`"))?;
    let (t, value, raw) = sample_pair(url, pair)?;
    Ok(InstantSeries {
        labels,
        t,
        value,
        raw,
    })
}

fn labels(url: &str, item: &Value) -> Result<Labels, MetricError> {
    let Some(metric) = item.get("metric") else {
        return Ok(Labels::new());
    };
    let object = metric
        .as_object()
        .ok_or_else(|| bad(url, "`metric` is not an object"))?;
    object
        .iter()
        .map(|(k, v)| match v.as_str() {
            Some(s) => Ok((k.clone(), s.to_string())),
            None => Err(bad(url, &format!("label {k:?} is not a string"))),
        })
        .collect()
}

/// `[<unix seconds>, "<value>"]`.
fn sample_pair(url: &str, pair: &Value) -> Result<(f64, f64, String), MetricError> {
    let items = array(url, pair, "sample")?;
    let [t, v] = items else {
        return Err(bad(url, "a sample is not a [time, \"value\"] pair"));
    };
    let t = t
        .as_f64()
        .ok_or_else(|| bad(url, "a sample's time is not a number"))?;
    let raw = v
        .as_str()
        .ok_or_else(|| bad(url, "a sample's value is not a string"))?;
    let value = parse_value(raw)
        .ok_or_else(|| bad(url, &format!("a sample's value {raw:?} is not a number")))?;
    Ok((t, value, raw.to_string()))
}

/// Parse a value as Prometheus writes it (Go's float formatting: `NaN`, `+Inf`, `-Inf`).
pub fn parse_value(raw: &str) -> Option<f64> {
    match raw {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => raw.parse::<f64>().ok(),
    }
}

fn array<'v>(url: &str, value: &'v Value, what: &str) -> Result<&'v [Value], MetricError> {
    value
        .as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| bad(url, &format!("`{what}` is not an array")))
}

fn str_field<'v>(url: &str, value: &'v Value, key: &str) -> Result<&'v str, MetricError> {
    value
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| bad(url, &format!("no string `data.{key}`")))
}

fn native_histogram(query: &str) -> MetricError {
    MetricError::UnsupportedResult {
        query: query.to_string(),
        result_type: "native histogram; wrap it in histogram_quantile(...) or histogram_sum(...)"
            .to_string(),
    }
}

fn bad(url: &str, detail: &str) -> MetricError {
    MetricError::BadResponse {
        url: url.to_string(),
        detail: detail.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "http://prom/api/v1/query";

    #[test]
    fn labels_are_kept_sorted_and_found_by_name_as_in_a_map() {
        let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
        let given = [
            pair("queue", "a"),
            pair("__name__", "q"),
            pair("namespace", "shop"),
            pair("queue", "b"),
        ];
        let labels: Labels = given.clone().into_iter().collect();
        let map: BTreeMap<String, String> = given.into_iter().collect();
        // The same pairs in the same order as a map's, a repeated name keeping its last value.
        assert!(labels.iter().eq(map.iter()));
        assert_eq!(BTreeMap::from(&labels), map);
        assert_eq!(Labels::from(map.clone()), labels);
        assert_eq!(labels.get("queue").map(String::as_str), Some("b"));
        assert_eq!(labels.get("missing"), None);
        assert_eq!(format_labels(&labels), format_labels(&map));
        assert_eq!(format_labels(&labels), r#"q{namespace="shop",queue="b"}"#);
        assert!(Labels::new().is_empty());
    }

    #[test]
    fn vector_with_labels_and_special_values() {
        let body = br#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"__name__":"q","queue":"a"},"value":[1700000000.5,"12"]},
            {"metric":{"queue":"b"},"value":[1700000000.5,"NaN"]},
            {"metric":{"queue":"c"},"value":[1700000000.5,"+Inf"]}]},
            "warnings":["PromQL warning: something"]}"#;
        let r = decode_instant(URL, "q", body).unwrap();
        assert_eq!(r.series.len(), 3);
        assert_eq!(r.series[0].value, 12.0);
        assert_eq!(r.series[0].t, 1_700_000_000.5);
        assert_eq!(format_labels(&r.series[0].labels), r#"q{queue="a"}"#);
        assert!(r.series[1].value.is_nan());
        assert_eq!(r.series[2].value, f64::INFINITY);
        assert_eq!(r.warnings, vec!["PromQL warning: something".to_string()]);
    }

    #[test]
    fn scalar_is_one_unlabelled_series() {
        let body = br#"{"status":"success","data":{"resultType":"scalar","result":[1.0,"-Inf"]}}"#;
        let r = decode_instant(URL, "vector(1)", body).unwrap();
        assert_eq!(r.series.len(), 1);
        assert!(r.series[0].labels.is_empty());
        assert_eq!(r.series[0].value, f64::NEG_INFINITY);
    }

    #[test]
    fn error_status_names_the_query_and_prometheus_message() {
        let body = br#"{"status":"error","errorType":"bad_data","error":"parse error at char 5"}"#;
        let e = decode_instant(URL, "sum(", body).unwrap_err();
        assert_eq!(e.reason(), "query_failed");
        let text = e.to_string();
        assert!(
            text.contains("sum(") && text.contains("parse error at char 5"),
            "{text}"
        );
    }

    #[test]
    fn matrix_from_an_instant_query_says_what_to_change() {
        let body = br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        let e = decode_instant(URL, "x[5m]", body).unwrap_err();
        assert_eq!(e.reason(), "unsupported_result");
        assert!(e.to_string().contains("rate()"), "{e}");
    }

    #[test]
    fn range_answer_is_decoded() {
        let body = br#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"job":"x"},"values":[[10,"1"],[25,"2.5"]]}]}}"#;
        let r = decode_range(URL, "rate(x[1m])", body).unwrap();
        assert_eq!(r.series[0].points, vec![(10.0, 1.0), (25.0, 2.5)]);
    }

    #[test]
    fn html_is_a_bad_response_not_a_panic() {
        let e = decode_instant(URL, "q", b"<html>hello</html>").unwrap_err();
        assert_eq!(e.reason(), "bad_response");
        assert!(e.to_string().contains(URL));
    }
}
