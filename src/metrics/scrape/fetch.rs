//! GET a `/metrics` page.

use crate::metrics::body::{BodyCap, read_capped};
use crate::metrics::http_error::transport_error;
use crate::metrics::{MetricError, tls};
use std::time::Duration;

/// Longest a scrape may take; a `/metrics` page that needs longer is broken.
pub const SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest page accepted, so a wrong URL (a file download) cannot exhaust memory; the cap
/// holds while the page streams.
pub const MAX_PAGE: BodyCap = BodyCap {
    bytes: 32 * 1024 * 1024,
    hint: "check the URL points at a /metrics endpoint (a page this large is a download, or an exporter with a cardinality problem)",
};

/// An HTTP client for scraping text-exposition endpoints.
#[derive(Debug, Clone)]
pub struct ScrapeClient {
    http: reqwest::Client,
}

impl ScrapeClient {
    /// Build the client.
    pub fn new() -> Result<Self, MetricError> {
        let http = tls::client_builder(SCRAPE_TIMEOUT)
            .timeout(SCRAPE_TIMEOUT)
            .build()
            .map_err(|e| MetricError::ClientConfig {
                detail: format!("scrape HTTP client: {e}"),
            })?;
        Ok(Self { http })
    }

    /// The page at `url` as text.
    pub async fn fetch(&self, url: &str) -> Result<String, MetricError> {
        let unreachable = |e: reqwest::Error| transport_error(url, &e, SCRAPE_TIMEOUT);
        let response = self
            .http
            .get(url)
            .header(
                reqwest::header::ACCEPT,
                "text/plain;version=0.0.4;q=1,*/*;q=0.1",
            )
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status();
        let body = read_capped(response, url, MAX_PAGE, SCRAPE_TIMEOUT).await?;
        if !status.is_success() {
            return Err(MetricError::HttpStatus {
                url: url.to_string(),
                status: status.as_u16(),
                body: String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned(),
            });
        }
        String::from_utf8(body).map_err(|e| MetricError::BadExposition {
            url: url.to_string(),
            detail: format!("the page is not UTF-8 ({e})"),
        })
    }
}
