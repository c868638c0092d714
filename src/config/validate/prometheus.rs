//! The `prometheus:` section.

use super::context::{Cx, DurationRule, Picked};
use super::names::url_problem;
use crate::config::raw::RawPrometheus;
use crate::config::types::{BasicAuth, PrometheusConfig};
use std::time::Duration;

/// Per-request timeout when `timeout` is absent.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Retries of a failed query within one tick when `retries` is absent.
pub const DEFAULT_RETRIES: u32 = 2;
/// Queries in flight at once when `maxConcurrentQueries` is absent.
pub const DEFAULT_MAX_CONCURRENT_QUERIES: u32 = 8;

/// The checked Prometheus settings; `None` if any is bad (each problem is recorded).
pub fn resolve_prometheus(raw: &RawPrometheus, cx: &mut Cx<'_>) -> Option<PrometheusConfig> {
    let problems_before = cx.problems.len();
    if let Some(problem) = url_problem(&raw.url) {
        cx.error(
            "prometheus.url",
            problem,
            "write the base URL of Prometheus, e.g. `http://prometheus.monitoring.svc:9090`",
        );
    }
    let timeout = raw
        .timeout
        .as_ref()
        .and_then(|t| {
            cx.duration(
                &Picked::new(t, "prometheus.timeout".into()),
                DurationRule::POSITIVE,
            )
        })
        .unwrap_or(DEFAULT_TIMEOUT);
    let max_concurrent_queries = raw
        .max_concurrent_queries
        .as_ref()
        .and_then(|n| cx.at_least(&Picked::new(n, "prometheus.maxConcurrentQueries".into()), 1))
        .unwrap_or(DEFAULT_MAX_CONCURRENT_QUERIES);
    check_file(
        cx,
        "prometheus.bearerTokenFile",
        raw.bearer_token_file.as_deref(),
    );
    check_file(cx, "prometheus.caFile", raw.ca_file.as_deref());
    if let Some(auth) = &raw.basic_auth {
        if auth.username.is_empty() {
            cx.error(
                "prometheus.basicAuth.username",
                "is empty",
                "write the user name",
            );
        }
        check_file(
            cx,
            "prometheus.basicAuth.passwordFile",
            Some(&auth.password_file),
        );
        if raw.bearer_token_file.is_some() {
            cx.error(
                "prometheus.basicAuth",
                "both `basicAuth` and `bearerTokenFile` are set",
                "keep one: Prometheus takes one Authorization header",
            );
        }
    }
    for (name, value) in &raw.headers {
        let path = format!("prometheus.headers.{name}");
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            cx.error(
                &path,
                "not a valid HTTP header name",
                "use letters, digits and `-`",
            );
        } else if http::HeaderValue::from_str(value).is_err() {
            cx.error(
                &path,
                "not a valid HTTP header value",
                "use printable ASCII",
            );
        }
    }
    (cx.problems.len() == problems_before).then(|| PrometheusConfig {
        url: raw.url.clone(),
        timeout,
        bearer_token_file: raw.bearer_token_file.clone(),
        basic_auth: raw.basic_auth.as_ref().map(|auth| BasicAuth {
            username: auth.username.clone(),
            password_file: auth.password_file.clone(),
        }),
        headers: raw.headers.clone(),
        ca_file: raw.ca_file.clone(),
        insecure_skip_verify: raw.insecure_skip_verify.unwrap_or(false),
        retries: raw.retries.unwrap_or(DEFAULT_RETRIES),
        max_concurrent_queries,
    })
}

/// A file path, if given, must not be empty.
fn check_file(cx: &mut Cx<'_>, path: &str, file: Option<&str>) {
    if file.is_some_and(|f| f.trim().is_empty()) {
        cx.error(
            path,
            "is empty",
            "write the path of a file mounted from a Secret, or remove the key",
        );
    }
}
