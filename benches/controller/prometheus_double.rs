//! A Prometheus double for the controller benchmark: `/api/v1/query` and
//! `/api/v1/query_range` for the benchmark's three metrics, per target
//! (`sum(docs_queue_depth{namespace="ns-3",deployment="d42"})`) or shared
//! (`sum by (namespace, deployment) (docs_queue_depth)`, one series per target), with
//! synthetic values that follow a daily cycle. It counts the queries it answers.

use axum::Router;
use axum::extract::{Query, State};
use axum::response::IntoResponse;
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Where target `i` lives: namespace `ns-{i % namespaces}`, Deployment `d{i}`.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// Targets.
    pub targets: usize,
    /// Namespaces they are spread over.
    pub namespaces: usize,
}

impl Layout {
    /// The namespace of target `i`.
    pub fn namespace(&self, i: usize) -> String {
        format!("ns-{}", i % self.namespaces)
    }

    /// The Deployment of target `i`.
    pub fn deployment(&self, i: usize) -> String {
        format!("d{i}")
    }
}

/// Queries answered so far.
#[derive(Default)]
pub struct Counts {
    /// Instant queries.
    pub instant: AtomicU64,
    /// Range queries.
    pub range: AtomicU64,
    /// Points returned by range queries.
    pub range_points: AtomicU64,
}

struct Double {
    layout: Layout,
    counts: Arc<Counts>,
}

/// Arrivals per second of target `i` at Unix time `t`: a daily cycle between 0.5 and 3.5.
fn arrivals(i: usize, t: f64) -> f64 {
    2.0 + 1.5 * (std::f64::consts::TAU * t / 86_400.0 + i as f64).sin()
}

fn value(metric: Metric, i: usize, t: f64) -> f64 {
    match metric {
        Metric::Depth => 3.0 * arrivals(i, t),
        Metric::Enqueued | Metric::Completed => arrivals(i, t),
    }
}

#[derive(Debug, Clone, Copy)]
enum Metric {
    Depth,
    Enqueued,
    Completed,
}

fn metric_of(query: &str) -> Option<Metric> {
    if query.contains("docs_queue_depth") {
        Some(Metric::Depth)
    } else if query.contains("docs_enqueued_total") {
        Some(Metric::Enqueued)
    } else if query.contains("docs_completed_total") {
        Some(Metric::Completed)
    } else {
        None
    }
}

/// The target a per-target query names (`deployment="d42"`), or `None` for a shared one.
fn target_of(query: &str) -> Option<usize> {
    let at = query.find("deployment=\"d")? + "deployment=\"d".len();
    let end = query[at..].find('"')? + at;
    query[at..end].parse().ok()
}

fn error(message: &str) -> axum::response::Response {
    (
        axum::http::StatusCode::BAD_REQUEST,
        format!(r#"{{"status":"error","errorType":"bad_data","error":"{message}"}}"#),
    )
        .into_response()
}

fn labels(out: &mut String, layout: &Layout, i: usize) {
    let _ = write!(
        out,
        r#"{{"namespace":"{}","deployment":"{}"}}"#,
        layout.namespace(i),
        layout.deployment(i)
    );
}

async fn instant(
    State(d): State<Arc<Double>>,
    Query(q): Query<HashMap<String, String>>,
) -> axum::response::Response {
    d.counts.instant.fetch_add(1, Ordering::Relaxed);
    let (Some(query), Some(t)) = (
        q.get("query"),
        q.get("time").and_then(|t| t.parse::<f64>().ok()),
    ) else {
        return error("query and time required");
    };
    let Some(metric) = metric_of(query) else {
        return error("unknown metric");
    };
    let targets: Vec<usize> = match target_of(query) {
        Some(i) => vec![i],
        None => (0..d.layout.targets).collect(),
    };
    let mut out = String::with_capacity(64 + targets.len() * 100);
    out.push_str(r#"{"status":"success","data":{"resultType":"vector","result":["#);
    for (n, &i) in targets.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push_str(r#"{"metric":"#);
        if target_of(query).is_some() {
            out.push_str("{}");
        } else {
            labels(&mut out, &d.layout, i);
        }
        let _ = write!(out, r#","value":[{t:.3},"{:.6}"]}}"#, value(metric, i, t));
    }
    out.push_str("]}}");
    ([("content-type", "application/json")], out).into_response()
}

async fn range(
    State(d): State<Arc<Double>>,
    Query(q): Query<HashMap<String, String>>,
) -> axum::response::Response {
    d.counts.range.fetch_add(1, Ordering::Relaxed);
    let num = |k: &str| q.get(k).and_then(|v| v.parse::<f64>().ok());
    let (Some(query), Some(start), Some(end), Some(step)) =
        (q.get("query"), num("start"), num("end"), num("step"))
    else {
        return error("query, start, end and step required");
    };
    let Some(metric) = metric_of(query) else {
        return error("unknown metric");
    };
    if step <= 0.0 || end < start {
        return error("bad range");
    }
    let steps = ((end - start) / step).floor() as usize + 1;
    if steps > 11_000 {
        return error("exceeded maximum resolution of 11,000 points per timeseries");
    }
    let per_target = target_of(query);
    let targets: Vec<usize> = match per_target {
        Some(i) => vec![i],
        None => (0..d.layout.targets).collect(),
    };
    d.counts
        .range_points
        .fetch_add((steps * targets.len()) as u64, Ordering::Relaxed);
    let mut out = String::with_capacity(64 + targets.len() * (80 + steps * 24));
    out.push_str(r#"{"status":"success","data":{"resultType":"matrix","result":["#);
    for (n, &i) in targets.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push_str(r#"{"metric":"#);
        if per_target.is_some() {
            out.push_str("{}");
        } else {
            labels(&mut out, &d.layout, i);
        }
        out.push_str(r#","values":["#);
        for k in 0..steps {
            let t = start + k as f64 * step;
            if k > 0 {
                out.push(',');
            }
            let _ = write!(out, r#"[{t:.3},"{:.6}"]"#, value(metric, i, t));
        }
        out.push_str("]}");
    }
    out.push_str("]}}");
    ([("content-type", "application/json")], out).into_response()
}

/// Serve on a free port of 127.0.0.1 (on the current runtime); returns its URL and the
/// query counts.
pub async fn start(layout: Layout) -> (String, Arc<Counts>) {
    let counts = Arc::new(Counts::default());
    let double = Arc::new(Double {
        layout,
        counts: counts.clone(),
    });
    let app = Router::new()
        .route("/api/v1/query", axum::routing::get(instant))
        .route("/api/v1/query_range", axum::routing::get(range))
        .with_state(double);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the Prometheus double");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), counts)
}
