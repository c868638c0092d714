//! The HTTP client for Prometheus's query API: timeouts, bounded retries with jittered
//! backoff, a limit on queries in flight, credentials and TLS.

use super::PromApi;
use super::auth::Credentials;
use super::decode::{self, InstantResult, RangeResult};
use crate::config::PrometheusConfig;
use crate::metrics::body::{BodyCap, read_capped};
use crate::metrics::http_error::transport_error;
use crate::metrics::{MetricError, tls};
use futures::future::BoxFuture;
use reqwest::Url;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::Semaphore;

/// First retry delay; doubled each attempt, jittered down to half, capped at [`MAX_BACKOFF`].
const BASE_BACKOFF: Duration = Duration::from_millis(200);
/// Longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// At most this much of an error body is kept for messages.
const BODY_EXCERPT: usize = 300;
/// Largest answer read from Prometheus. prescale's queries return one number per target
/// or a backfill chunk of at most 10,000 points; an answer past 16 MiB selects far more
/// than was meant, and is cut off while it streams.
pub const MAX_ANSWER: BodyCap = BodyCap {
    bytes: 16 * 1024 * 1024,
    hint: "the query selects far more series or points than prescale needs: aggregate it to one series (sum(...), or `aggregate: sum|max`) or narrow its label matchers",
};

/// A client for one Prometheus server, shared by all targets.
#[derive(Debug, Clone)]
pub struct PromClient {
    base: Url,
    http: reqwest::Client,
    credentials: Arc<Credentials>,
    timeout: Duration,
    retries: u32,
    in_flight: Arc<Semaphore>,
}

impl PromClient {
    /// Build the client: reads the CA file now (a bad one is a startup error), credentials
    /// on each request.
    pub fn new(config: &PrometheusConfig) -> Result<Self, MetricError> {
        let config_error = |detail: String| MetricError::ClientConfig { detail };
        let mut base = Url::parse(&config.url)
            .map_err(|e| config_error(format!("`prometheus.url` {:?}: {e}", config.url)))?;
        if !base.path().ends_with('/') {
            // So that joining "api/v1/query" keeps a path prefix such as /prometheus.
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in &config.headers {
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| config_error(format!("`prometheus.headers` name {name:?}: {e}")))?;
            let value = reqwest::header::HeaderValue::from_str(value)
                .map_err(|e| config_error(format!("`prometheus.headers` value for {name}: {e}")))?;
            headers.insert(name, value);
        }
        let mut builder = tls::client_builder(config.timeout).default_headers(headers);
        if let Some(ca_file) = &config.ca_file {
            let pem = std::fs::read(ca_file)
                .map_err(|e| config_error(format!("`prometheus.caFile` {ca_file}: {e}")))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
                config_error(format!("`prometheus.caFile` {ca_file} is not PEM: {e}"))
            })?;
            if certs.is_empty() {
                return Err(config_error(format!(
                    "`prometheus.caFile` {ca_file} holds no certificate"
                )));
            }
            builder = builder.tls_certs_only(certs);
        }
        if config.insecure_skip_verify {
            tracing::warn!(
                url = %config.url,
                "TLS verification of Prometheus is disabled (prometheus.insecureSkipVerify)"
            );
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        let http = builder
            .build()
            .map_err(|e| config_error(format!("HTTP client for {}: {e}", config.url)))?;
        Ok(Self {
            base,
            http,
            credentials: Arc::new(Credentials::from_config(config)),
            timeout: config.timeout,
            retries: config.retries,
            in_flight: Arc::new(Semaphore::new(config.max_concurrent_queries.max(1) as usize)),
        })
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &str {
        self.base.as_str()
    }

    /// `GET api/v1/<endpoint>` with retries; returns the URL asked (for messages) and the
    /// decoded answer.
    async fn query<T>(
        &self,
        endpoint: &str,
        query: &str,
        params: &[(&str, String)],
        decode: fn(&str, &str, &[u8]) -> Result<T, MetricError>,
    ) -> Result<T, MetricError> {
        let url = self
            .base
            .join(endpoint)
            .map_err(|e| MetricError::ClientConfig {
                detail: format!("{}{endpoint}: {e}", self.base),
            })?;
        let url_text = url.to_string();
        let mut attempt = 0;
        loop {
            let result = self.attempt(&url, &url_text, query, params, decode).await;
            match result {
                Err(e) if e.is_transient() && attempt < self.retries => {
                    let delay = backoff(attempt);
                    tracing::debug!(url = %url_text, attempt, error = %e, ?delay, "retrying Prometheus query");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn attempt<T>(
        &self,
        url: &Url,
        url_text: &str,
        query: &str,
        params: &[(&str, String)],
        decode: fn(&str, &str, &[u8]) -> Result<T, MetricError>,
    ) -> Result<T, MetricError> {
        // Closed only if the semaphore is dropped, which cannot happen while `self` lives.
        let _permit = self
            .in_flight
            .acquire()
            .await
            .map_err(|e| MetricError::ClientConfig {
                detail: e.to_string(),
            })?;
        let mut all: Vec<(&str, String)> = vec![("query", query.to_string())];
        all.extend(params.iter().cloned());
        // Prometheus stops evaluating at its own timeout too, instead of working for nobody.
        all.push(("timeout", format!("{}ms", self.timeout.as_millis())));
        let request = self.http.get(url.clone()).query(&all).timeout(self.timeout);
        let request = self.credentials.apply(request)?;
        let response = request
            .send()
            .await
            .map_err(|e| self.transport_error(url_text, &e))?;
        let status = response.status();
        let body = read_capped(response, url_text, MAX_ANSWER, self.timeout).await?;
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Err(MetricError::Unauthorized {
                url: url_text.to_string(),
                status: status.as_u16(),
            });
        }
        match decode(url_text, query, &body) {
            // Prometheus answers bad queries with 400/422/503 and a JSON error body: that
            // body says more than the status.
            Err(e @ MetricError::QueryFailed { .. }) => Err(e),
            _ if !status.is_success() => Err(MetricError::HttpStatus {
                url: url_text.to_string(),
                status: status.as_u16(),
                body: excerpt(&body),
            }),
            decoded => decoded,
        }
    }

    fn transport_error(&self, url: &str, e: &reqwest::Error) -> MetricError {
        transport_error(url, e, self.timeout)
    }
}

impl PromApi for PromClient {
    fn instant<'a>(
        &'a self,
        query: &'a str,
        at: SystemTime,
    ) -> BoxFuture<'a, Result<InstantResult, MetricError>> {
        Box::pin(async move {
            let params = [("time", unix_param(at))];
            self.query("api/v1/query", query, &params, decode::decode_instant)
                .await
        })
    }

    fn range<'a>(
        &'a self,
        query: &'a str,
        start: f64,
        end: f64,
        step: Duration,
    ) -> BoxFuture<'a, Result<RangeResult, MetricError>> {
        Box::pin(async move {
            let params = [
                ("start", format!("{start:.3}")),
                ("end", format!("{end:.3}")),
                ("step", format!("{}", step.as_secs_f64())),
            ];
            self.query("api/v1/query_range", query, &params, decode::decode_range)
                .await
        })
    }
}

/// Jittered exponential backoff: between half and all of `BASE_BACKOFF * 2^attempt`.
fn backoff(attempt: u32) -> Duration {
    let full = BASE_BACKOFF
        .saturating_mul(1u32 << attempt.min(16))
        .min(MAX_BACKOFF);
    full.mul_f64(0.5 + fastrand::f64() / 2.0)
}

fn unix_param(at: SystemTime) -> String {
    format!("{:.3}", crate::metrics::unix_seconds(at))
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(BODY_EXCERPT) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_jittered_and_capped() {
        for attempt in 0..20 {
            let d = backoff(attempt);
            let full = BASE_BACKOFF
                .saturating_mul(1u32 << attempt.min(16))
                .min(MAX_BACKOFF);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
        }
    }

    #[test]
    fn excerpt_cuts_long_bodies_on_char_boundaries() {
        let long = "é".repeat(1000);
        let cut = excerpt(long.as_bytes());
        assert!(cut.ends_with("...") && cut.chars().count() == BODY_EXCERPT + 3);
    }
}
