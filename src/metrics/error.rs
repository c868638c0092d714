//! Why a metric could not be read.

/// A failed metric read, with what to fix.
///
/// Every variant has a stable [`MetricError::reason`] label for
/// `prescale_metric_errors_total{target,metric,reason}`; the `Display` text names the place
/// (URL, query, file, metric) and says what to do.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricError {
    /// The source could not be reached or answered with an HTTP error.
    #[error("cannot reach {url}: {detail}")]
    Unreachable {
        /// The URL asked.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// The value is older than two intervals.
    #[error("stale: last value is {age_s:.0}s old (more than two intervals)")]
    Stale {
        /// Age of the last value, seconds.
        age_s: f64,
    },
    /// The request did not finish within the configured timeout.
    #[error(
        "{url} did not answer within {timeout_s:.1}s; raise `prometheus.timeout` or make the query cheaper"
    )]
    Timeout {
        /// The URL asked.
        url: String,
        /// The timeout that ran out, seconds.
        timeout_s: f64,
    },
    /// The server answered with an HTTP status that is not success and no usable error body.
    #[error("{url} answered HTTP {status}: {body}")]
    HttpStatus {
        /// The URL asked.
        url: String,
        /// HTTP status code.
        status: u16,
        /// The start of the response body, for context.
        body: String,
    },
    /// The server refused the credentials (HTTP 401/403).
    #[error(
        "{url} refused the credentials (HTTP {status}); check `prometheus.bearerTokenFile` or `prometheus.basicAuth`"
    )]
    Unauthorized {
        /// The URL asked.
        url: String,
        /// HTTP status code.
        status: u16,
    },
    /// Prometheus answered `status: error` (bad query, timeout inside Prometheus, ...).
    #[error("Prometheus rejected query `{query}`: {error_type}: {error}")]
    QueryFailed {
        /// The PromQL query.
        query: String,
        /// Prometheus's `errorType` (e.g. `bad_data`, `timeout`, `execution`).
        error_type: String,
        /// Prometheus's `error` message.
        error: String,
    },
    /// The response was not the JSON (or text) the API documents.
    #[error("cannot decode the answer of {url}: {detail}")]
    BadResponse {
        /// The URL asked.
        url: String,
        /// What was wrong with it.
        detail: String,
    },
    /// The query's result type cannot be turned into one number.
    #[error(
        "query `{query}` returned a {result_type}; it must return an instant vector or a scalar"
    )]
    UnsupportedResult {
        /// The PromQL query.
        query: String,
        /// Prometheus's `resultType`, or `native histogram`.
        result_type: String,
    },
    /// The query returned no series.
    #[error(
        "query `{query}` returned no series; check that the metric exists and its exporter is up (try `up` in Prometheus)"
    )]
    NoData {
        /// The PromQL query.
        query: String,
    },
    /// The query returned several series and no aggregation was configured.
    #[error(
        "query `{query}` returned {} series ({}); wrap it in sum(...)/max(...) or set `aggregate: sum|max`",
        series.len(),
        first_few(series)
    )]
    MultipleSeries {
        /// The PromQL query, or `metric{labels}` at a URL for a scrape.
        query: String,
        /// The label sets seen, as `{k="v",...}`.
        series: Vec<String>,
    },
    /// The value is NaN or infinite; never passed on as a number.
    #[error("`{query}` evaluated to {value}, which is not a usable number{hint}")]
    NotANumber {
        /// The PromQL query, or the scraped metric.
        query: String,
        /// The value as Prometheus wrote it (`NaN`, `+Inf`, `-Inf`).
        value: String,
        /// What commonly causes it.
        hint: String,
    },
    /// The value is below zero: no queue depth, rate or wait is. Never clamped to zero,
    /// which would read as "no demand" and let prescale scale down.
    #[error(
        "`{query}` evaluated to {value}, and a queue depth, rate or wait cannot be negative; if the query subtracts series sampled at different times wrap it in clamp_min(..., 0), otherwise fix the query (a counter needs rate())"
    )]
    Negative {
        /// The PromQL query, or the scraped metric.
        query: String,
        /// The value read.
        value: f64,
    },
    /// The answer is larger than prescale reads: it stops reading at the cap instead of
    /// holding an unbounded body in memory.
    #[error("the answer of {url} is larger than {cap_bytes} bytes; {hint}")]
    TooLarge {
        /// The URL asked.
        url: String,
        /// The cap, bytes.
        cap_bytes: usize,
        /// What usually causes it and what to do.
        hint: String,
    },
    /// The bearer token or basic-auth password file could not be read.
    #[error("cannot read credentials file {path}: {detail}")]
    CredentialsFile {
        /// The file.
        path: String,
        /// What went wrong.
        detail: String,
    },
    /// The HTTP client could not be built (CA file, headers, TLS).
    #[error("invalid HTTP client settings: {detail}")]
    ClientConfig {
        /// What is wrong and where.
        detail: String,
    },
    /// The scraped page has no series with this name and labels.
    #[error("{url} has no series {metric}{labels}{detail}")]
    MetricNotFound {
        /// The scraped URL.
        url: String,
        /// The metric name.
        metric: String,
        /// The required labels, as `{k="v",...}`.
        labels: String,
        /// What was found instead, to help fix the name.
        detail: String,
    },
    /// The scraped page is not in the Prometheus text exposition format.
    #[error(
        "{url} did not serve Prometheus text exposition format: {detail}; check the URL points at a /metrics endpoint"
    )]
    BadExposition {
        /// The scraped URL.
        url: String,
        /// What was wrong with it.
        detail: String,
    },
    /// A rate needs two scrapes; this is the first one.
    #[error(
        "{metric} is a counter: its rate is known from the second scrape on (one interval from now)"
    )]
    FirstSample {
        /// The metric name.
        metric: String,
    },
    /// The metric's type does not fit what the config asks of it.
    #[error("{metric} at {url}: {detail}")]
    WrongMetricType {
        /// The scraped URL.
        url: String,
        /// The metric name.
        metric: String,
        /// What does not fit and what to change.
        detail: String,
    },
    /// A histogram has no observations in the window, so it has no quantile.
    #[error("{metric} had no observations since the last scrape, so it has no quantile")]
    NoObservations {
        /// The metric name.
        metric: String,
    },
    /// A metric scraped from every ready pod, and the target's Deployment has none.
    #[error(
        "Deployment {deployment} has no ready pod to scrape; the metric is missing until one is Ready (check `kubectl get pods` and the Deployment's selector)"
    )]
    NoReadyPods {
        /// The Deployment, `namespace/name`.
        deployment: String,
    },
    /// The target's pods could not be listed.
    #[error("cannot list the pods of Deployment {deployment}: {detail}")]
    PodList {
        /// The Deployment, `namespace/name`.
        deployment: String,
        /// What went wrong and what to do.
        detail: String,
    },
    /// A shared query's result has no series carrying the target's `match` labels.
    #[error(
        "shared query `{name}` has no series with {labels} ({series} series in its result{example}); check the target's `match` against the query's `by (...)` labels"
    )]
    NoMatchingSeries {
        /// The shared query's name.
        name: String,
        /// The target's `match` labels, as `{k="v",...}`.
        labels: String,
        /// Series in the result.
        series: usize,
        /// One series of the result, to compare the labels with.
        example: String,
    },
    /// The metric is configured as PromQL but the config has no `prometheus:` section.
    #[error("a `promql:` metric needs a `prometheus:` section with the server's URL")]
    NoPrometheus,
}

impl MetricError {
    /// A short, stable label for `prescale_metric_errors_total{reason}`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Unreachable { .. } => "unreachable",
            Self::Stale { .. } => "stale",
            Self::Timeout { .. } => "timeout",
            Self::HttpStatus { .. } => "http_status",
            Self::Unauthorized { .. } => "unauthorized",
            Self::QueryFailed { .. } => "query_failed",
            Self::BadResponse { .. } => "bad_response",
            Self::UnsupportedResult { .. } => "unsupported_result",
            Self::NoData { .. } | Self::NoMatchingSeries { .. } => "no_data",
            Self::MultipleSeries { .. } => "multiple_series",
            Self::NotANumber { .. } => "not_a_number",
            Self::Negative { .. } => "negative",
            Self::TooLarge { .. } => "too_large",
            Self::CredentialsFile { .. } => "credentials_file",
            Self::ClientConfig { .. } => "client_config",
            Self::MetricNotFound { .. } => "metric_not_found",
            Self::BadExposition { .. } => "bad_exposition",
            Self::FirstSample { .. } => "first_sample",
            Self::WrongMetricType { .. } => "wrong_metric_type",
            Self::NoObservations { .. } => "no_observations",
            Self::NoReadyPods { .. } => "no_ready_pods",
            Self::PodList { .. } => "pod_list",
            Self::NoPrometheus => "no_prometheus",
        }
    }

    /// Whether trying the same request again may help (network trouble, overload), as
    /// opposed to an answer that will not change (bad query, bad credentials).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } | Self::Timeout { .. } => true,
            Self::HttpStatus { status, .. } => *status == 429 || *status >= 500,
            Self::QueryFailed { error_type, .. } => {
                matches!(error_type.as_str(), "timeout" | "canceled" | "unavailable")
            }
            _ => false,
        }
    }
}

/// The first few series of a list, so that a query matching thousands stays readable.
fn first_few(series: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut text = series
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if series.len() > SHOWN {
        text.push_str(&format!("; and {} more", series.len() - SHOWN));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_series_are_summarised() {
        let e = MetricError::MultipleSeries {
            query: "q".into(),
            series: (0..100).map(|i| format!("{{i=\"{i}\"}}")).collect(),
        };
        let text = e.to_string();
        assert!(
            text.contains("100 series") && text.contains("and 95 more"),
            "{text}"
        );
        assert!(!text.contains(r#"i="5""#), "{text}");
    }
}
