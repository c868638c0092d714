//! `prescale report --url http://HOST:8080 [--since 24h] [--json]`: the running
//! controller's live shadow report, one row per target, the way `kubectl top` prints usage:
//! replica-hours of what ran and of what prescale recommends, and the modelled late fraction
//! under both, with the one-line verdict.

use super::CliResult;
use crate::live_report::{LiveReport, SinceError, parse_since, render};
use crate::metrics::tls::client_builder;
use std::time::Duration;

/// Arguments of `prescale report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The controller's admin address, e.g. http://localhost:8080 after
    /// `kubectl -n prescale-system port-forward svc/prescale 8080:8080`.
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// Only the last SINCE, e.g. 24h (hourly totals up to 1d, six-hourly beyond, at most
    /// 7d). Default: since each target started on the instance that answers.
    #[arg(long, value_name = "SINCE")]
    pub since: Option<String>,
    /// Print the report as JSON instead of the table.
    #[arg(long)]
    pub json: bool,
    /// How long to wait for the controller's answer.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

/// Why `prescale report` printed no report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// `--since` cannot be answered.
    #[error("--since: {0}")]
    Since(#[from] SinceError),
    /// `--url` is not an http(s) URL.
    #[error(
        "--url {url:?} is not an http(s) URL: write the controller's admin address, e.g. http://localhost:8080"
    )]
    Url {
        /// What was given.
        url: String,
    },
    /// No answer.
    #[error(
        "cannot reach prescale at {url}: {reason}; check --url (the admin port, 8080) and that `kubectl -n prescale-system port-forward svc/prescale 8080:8080` is running"
    )]
    Unreachable {
        /// The report's URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// An answer other than 200.
    #[error("prescale at {url} answered {status}: {body}")]
    Status {
        /// The report's URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The body (the controller's message).
        body: String,
    },
    /// A 200 that is not a report.
    #[error(
        "{url} did not answer with a prescale report ({reason}); is --url prescale's admin port, and does that prescale serve /report?"
    )]
    NotAReport {
        /// The report's URL.
        url: String,
        /// Why it could not be read.
        reason: String,
    },
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

/// The report's URL for the admin address `base`.
fn report_url(base: &str) -> Result<String, ReportError> {
    let trimmed = base.trim().trim_end_matches('/');
    let valid = reqwest::Url::parse(trimmed)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
    if !valid {
        return Err(ReportError::Url {
            url: base.to_string(),
        });
    }
    Ok(format!("{trimmed}/report"))
}

/// Fetch the report from the controller at `base`.
pub async fn fetch(
    base: &str,
    since: Option<&str>,
    timeout: Duration,
) -> Result<LiveReport, ReportError> {
    if let Some(s) = since {
        parse_since(s)?;
    }
    let url = report_url(base)?;
    let unreachable = |e: reqwest::Error| ReportError::Unreachable {
        url: url.clone(),
        reason: e.to_string(),
    };
    let client = client_builder(timeout)
        .timeout(timeout)
        .build()
        .map_err(unreachable)?;
    let mut request = client.get(&url).query(&[("format", "json")]);
    if let Some(s) = since {
        request = request.query(&[("since", s)]);
    }
    let response = request.send().await.map_err(unreachable)?;
    let status = response.status();
    let body = response.text().await.map_err(unreachable)?;
    if !status.is_success() {
        return Err(ReportError::Status {
            url,
            status: status.as_u16(),
            body: body.trim().to_string(),
        });
    }
    serde_json::from_str(&body).map_err(|e| ReportError::NotAReport {
        url,
        reason: e.to_string(),
    })
}

/// Run `prescale report`.
pub fn run(args: ReportArgs) -> CliResult {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ReportError::Runtime)?;
    let report = runtime.block_on(fetch(&args.url, args.since.as_deref(), args.timeout))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_url_is_under_the_admin_address() {
        assert_eq!(
            report_url("http://localhost:8080/").unwrap(),
            "http://localhost:8080/report"
        );
        assert!(matches!(
            report_url("localhost:8080"),
            Err(ReportError::Url { .. })
        ));
        assert!(matches!(
            report_url("ftp://x"),
            Err(ReportError::Url { .. })
        ));
    }
}
