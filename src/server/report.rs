//! `GET /report`: the live shadow report, per target, as JSON (`prescale report --json`)
//! or as the text table (`?format=text`, or `Accept: text/plain`).
//! `?since=24h` narrows it to the last hours (hourly totals for the last day, six-hourly
//! before it, up to 7 days); without it, it covers everything since each target started on
//! this instance.

use super::AdminState;
use crate::live_report::{parse_since, render};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};

/// The query string of `GET /report`.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ReportQuery {
    /// How far back, e.g. `24h`; absent: since each target started.
    pub since: Option<String>,
    /// `json` or `text`; absent: by the `Accept` header, JSON unless it asks for text.
    pub format: Option<String>,
}

fn bad_request(message: String) -> Response {
    (StatusCode::BAD_REQUEST, format!("{message}\n")).into_response()
}

/// Answer `GET /report`.
pub async fn report(
    State(s): State<AdminState>,
    Query(q): Query<ReportQuery>,
    headers: HeaderMap,
) -> Response {
    let since = match q.since.as_deref() {
        None => None,
        Some(text) => match parse_since(text) {
            Ok(seconds) => Some((text, seconds)),
            Err(e) => return bad_request(e.to_string()),
        },
    };
    let wants_text = match q.format.as_deref() {
        Some("text") => true,
        Some("json") => false,
        Some(other) => {
            return bad_request(format!(
                "format {other:?} is not known: ask for format=json or format=text"
            ));
        }
        None => headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/plain") && !a.contains("application/json")),
    };
    let body = s
        .live_reports
        .report((s.clock)(), since, s.telemetry.exporting_targets());
    if wants_text {
        (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            render(&body),
        )
            .into_response()
    } else {
        Json(body).into_response()
    }
}
