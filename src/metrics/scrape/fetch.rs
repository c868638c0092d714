//! GET a `/metrics` page.

use crate::metrics::http_error::transport_error;
use crate::metrics::{MetricError, tls};
use std::time::Duration;

/// Longest a scrape may take; a `/metrics` page that needs longer is broken.
pub const SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest page accepted, so a wrong URL (a file download) cannot exhaust memory.
const MAX_PAGE_BYTES: usize = 32 * 1024 * 1024;

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
        let body = response.bytes().await.map_err(unreachable)?;
        if !status.is_success() {
            return Err(MetricError::HttpStatus {
                url: url.to_string(),
                status: status.as_u16(),
                body: String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned(),
            });
        }
        if body.len() > MAX_PAGE_BYTES {
            return Err(MetricError::BadExposition {
                url: url.to_string(),
                detail: format!(
                    "the page is {} bytes, more than {MAX_PAGE_BYTES}",
                    body.len()
                ),
            });
        }
        String::from_utf8(body.to_vec()).map_err(|e| MetricError::BadExposition {
            url: url.to_string(),
            detail: format!("the page is not UTF-8 ({e})"),
        })
    }
}
