//! Prometheus faults, through prescale's real Prometheus client (`Sources`, as `prescale
//! run` builds it) against the Prometheus double: down, slower than the timeout, garbage,
//! an empty result, half the queries answered.

use crate::api_double::ApiDouble;
use crate::controller_harness::{
    Running, Setup, active_target, eventually, parse_series, start_with,
};
use crate::measure::{NS, Recovery, Row, figures, report, ticks_until};
use crate::prometheus_double::{Answer, PrometheusDouble};
use prescale::metrics::{MetricsSource, Sources};
use std::sync::Arc;

/// Replicas the Deployment runs when the fault starts; readings of zero would scale it
/// to 1, so any write below 6 during the fault is a scale-down on missing data.
const RUNNING: u32 = 6;

/// The fault's row: its name and property.
fn describe(fault: &Option<Answer>) -> (&'static str, &'static str) {
    const HOLD: &str = "no scale-down while a required metric is missing: replicas held, \
                        then the fallback (currentReplicasIfHigher) after 3 failed ticks";
    match fault {
        None => ("Prometheus down (connection refused)", HOLD),
        Some(Answer::Slow(_)) => ("Prometheus slower than its timeout (2 s > 500 ms)", HOLD),
        Some(Answer::Garbage) => ("Prometheus answers garbage (HTML with 200)", HOLD),
        Some(Answer::Empty) => ("Prometheus returns an empty result", HOLD),
        Some(Answer::Partial) => (
            "Prometheus partial result (queue depth answered, arrival rate empty)",
            HOLD,
        ),
        Some(Answer::Values { .. }) => unreachable!("not a fault"),
    }
}

/// The `prescale_metric_errors_total` series of target `web`, as `metric/reason`.
async fn error_reasons(c: &Running) -> Vec<String> {
    let (_, body) = c.get("/metrics").await;
    let mut reasons: Vec<String> = body
        .lines()
        .filter(|l| l.starts_with("prescale_metric_errors_total{"))
        .filter_map(|l| {
            let labels: std::collections::BTreeMap<String, String> =
                parse_series(l.rsplit_once(' ')?.0).1.into_iter().collect();
            Some(format!(
                "{}/{}",
                labels.get("metric")?,
                labels.get("reason")?
            ))
        })
        .collect();
    reasons.sort();
    reasons
}

/// The errors each fault must be counted as.
fn expected_errors(fault: &Option<Answer>) -> Vec<String> {
    let reason = match fault {
        None => "unreachable",
        Some(Answer::Slow(_)) => "timeout",
        Some(Answer::Garbage) => "bad_response",
        Some(Answer::Empty | Answer::Partial) => "no_data",
        Some(Answer::Values { .. }) => unreachable!("not a fault"),
    };
    let metrics: &[&str] = if *fault == Some(Answer::Partial) {
        &["arrivalRate"]
    } else {
        &["arrivalRate", "queueDepth"]
    };
    metrics.iter().map(|m| format!("{m}/{reason}")).collect()
}

/// `fault`: what the double answers during the fault; `None`, it is not listening at all.
pub async fn outage(fault: Option<Answer>) -> Row {
    let (name, property) = describe(&fault);
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "web", RUNNING, RUNNING);
    let mut prom = PrometheusDouble::start(fault.clone().unwrap_or(Answer::Empty)).await;
    if fault.is_none() {
        prom.stop().await;
    }
    // Only the slow fault is meant to time out: the others get room enough that a loaded
    // machine does not add `timeout` errors to the ones the fault must be counted as.
    let timeout = if matches!(fault, Some(Answer::Slow(_))) {
        "500ms"
    } else {
        "3s"
    };
    let yaml = format!(
        "prometheus:\n  url: {}\n  timeout: {timeout}\n  retries: 0\ntargets:\n{}",
        prom.url(),
        active_target("web", "namespace: shop, name: web", "")
    );
    let c = start_with(
        &api,
        &yaml,
        Setup {
            factory: Some(Arc::new(|config: &prescale::config::Config| {
                Sources::new(config)
                    .map(|s| Arc::new(s) as Arc<dyn MetricsSource>)
                    .map_err(|e| e.to_string())
            })),
            ..Setup::default()
        },
    )
    .await;

    // The fault from the first tick: the fallback applies after 3 failed ticks; two more.
    eventually(20, &format!("{name}: the fallback applies"), || async {
        c.recommendation("web")
            .await
            .is_some_and(|r| r["reasons"].to_string().contains("fallback"))
    })
    .await;
    c.more_ticks("web", 2).await;
    let during = report(&c, "web").await;
    let reasons = during["reasons"].to_string();
    assert!(reasons.contains("metricsMissing"), "{name}: {during}");
    if fault == Some(Answer::Partial) {
        assert!(
            reasons.contains("arrivalRate") && !reasons.contains("\"queueDepth\""),
            "{name}: only the arrival rate is missing: {during}"
        );
    }
    assert_eq!(
        during["recommendedReplicas"], RUNNING,
        "{name}: holds: {during}"
    );
    assert_eq!(api.replicas(NS, "web"), Some(RUNNING));
    let failed_ticks = during["ticks"].as_u64().unwrap_or(0);
    let errors = error_reasons(&c).await;
    assert_eq!(
        errors,
        expected_errors(&fault),
        "{name}: the errors counted"
    );
    let fault_end = api.writes().len();

    // Prometheus answers again, with no load: prescale scales down on the first good data.
    prom.set(Answer::Values {
        queue_depth: 0.0,
        arrival_rate: 0.0,
    });
    if fault.is_none() {
        prom.restart().await;
    }
    let took = ticks_until(&c, "web", 20, "scaled down on good data", || async {
        api.replicas(NS, "web") == Some(1)
    })
    .await;
    assert!(failed_ticks >= 5, "{name}: {failed_ticks} failed ticks");
    Row {
        fault: name,
        property,
        measured: format!(
            "errors counted as {}; held {RUNNING} replicas over ≥ 5 failed ticks \
             (metricsMissing, then fallback); scaled to 1 on the first good readings",
            errors.join(", ")
        ),
        figures: figures(&api, c, &["web"], RUNNING, Some(fault_end)).await,
        recovery: Recovery::Ticks { took, bound: 5 },
    }
}
