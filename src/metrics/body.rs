//! Reading an HTTP answer's body with a cap that holds while it streams: a body is read
//! chunk by chunk and dropped (closing the connection) as soon as it passes the cap, so a
//! wrong URL (a file download) or a query selecting millions of series cannot fill memory
//! before its size is known. A `Content-Length` above the cap fails before any byte is read.

use super::MetricError;
use super::http_error::transport_error;
use std::time::Duration;

/// What the body of an answer may be and what to say when it is larger.
#[derive(Debug, Clone, Copy)]
pub struct BodyCap {
    /// Largest body accepted, bytes.
    pub bytes: usize,
    /// What usually causes a larger body and what to do (ends the error message).
    pub hint: &'static str,
}

/// Read `response`'s body (from `url`, requested with `timeout`) up to `cap`.
pub async fn read_capped(
    mut response: reqwest::Response,
    url: &str,
    cap: BodyCap,
    timeout: Duration,
) -> Result<Vec<u8>, MetricError> {
    let too_large = || MetricError::TooLarge {
        url: url.to_string(),
        cap_bytes: cap.bytes,
        hint: cap.hint.to_string(),
    };
    let announced = response.content_length();
    if announced.is_some_and(|n| n > cap.bytes as u64) {
        return Err(too_large());
    }
    // Sized from the announced length when there is one, never beyond the cap.
    let mut body = Vec::with_capacity(announced.map_or(8 * 1024, |n| n as usize));
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport_error(url, &e, timeout))?
    {
        if body.len() + chunk.len() > cap.bytes {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
