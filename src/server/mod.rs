//! The admin HTTP server on one port: `/healthz`, `/readyz`, `/metrics`, `/recommendations`,
//! `/report`.

mod metrics_page;
mod report;

pub use report::ReportQuery;

use crate::controller::{Clock, Health, Reports, TargetReport};
use crate::live_report::LiveReports;
use crate::telemetry::Telemetry;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use std::sync::Arc;

/// What the admin endpoints read.
#[derive(Clone)]
pub struct AdminState {
    /// Metrics registry.
    pub telemetry: Arc<Telemetry>,
    /// Latest decisions.
    pub reports: Reports,
    /// Readiness facts.
    pub health: Arc<Health>,
    /// Windowed live-report totals.
    pub live_reports: LiveReports,
    /// The controller's clock (the report's "now").
    pub clock: Clock,
}

/// The body of `GET /recommendations`.
#[derive(Debug, serde::Serialize)]
pub struct Recommendations {
    /// One entry per target, by name.
    pub targets: Vec<TargetReport>,
}

/// The admin routes.
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/recommendations", get(recommendations))
        .route("/report", get(report::report))
        .with_state(state)
}

/// Live while no target's control loop is stuck (`Health::not_live`).
async fn healthz(State(s): State<AdminState>) -> Response {
    match s.health.not_live() {
        None => (StatusCode::OK, "ok\n").into_response(),
        Some(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")).into_response(),
    }
}

async fn readyz(State(s): State<AdminState>) -> Response {
    match s.health.not_ready() {
        None => (StatusCode::OK, "ready\n").into_response(),
        Some(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        )
            .into_response(),
    }
}

async fn metrics(State(s): State<AdminState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics_page::streamed(s.telemetry.clone()),
    )
        .into_response()
}

async fn recommendations(State(s): State<AdminState>) -> Json<Recommendations> {
    Json(Recommendations {
        targets: s.reports.all(),
    })
}

/// Serve until `stop` turns true.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AdminState,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await
}
