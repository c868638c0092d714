//! Turning a reqwest failure into a [`MetricError`] that says what happened.

use super::MetricError;
use std::time::Duration;

/// The error for a request to `url` that failed before an HTTP answer arrived.
pub fn transport_error(url: &str, e: &reqwest::Error, timeout: Duration) -> MetricError {
    if e.is_timeout() {
        MetricError::Timeout {
            url: url.to_string(),
            timeout_s: timeout.as_secs_f64(),
        }
    } else {
        MetricError::Unreachable {
            url: url.to_string(),
            detail: error_chain(e),
        }
    }
}

/// reqwest's top-level message is often just "error sending request": add the causes.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
