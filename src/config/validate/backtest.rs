//! A target's `backtest:` section: each query, if given, must not be empty.

use super::context::Cx;
use crate::config::backtest::{BacktestQueries, HistoryQuery};
use crate::config::locate::join;
use crate::config::raw::{RawBacktest, RawHistoryQuery};

/// The checked `backtest:` section of the target at `target_path`.
pub fn resolve_backtest(
    raw: Option<&RawBacktest>,
    target_path: &str,
    cx: &mut Cx<'_>,
) -> BacktestQueries {
    let Some(raw) = raw else {
        return BacktestQueries::default();
    };
    let path = join(target_path, "backtest");
    let mut query = |key: &str, raw: &Option<RawHistoryQuery>| {
        let raw = raw.as_ref()?;
        if raw.promql.trim().is_empty() {
            cx.error(
                &join(&join(&path, key), "promql"),
                "empty query",
                "write a PromQL query that returns one series over time, e.g. `sum(rate(docs_enqueued_total[1m]))`, or remove the key to use the default",
            );
            return None;
        }
        Some(HistoryQuery {
            query: raw.promql.clone(),
            aggregate: raw.aggregate,
        })
    };
    BacktestQueries {
        replicas: query("replicas", &raw.replicas),
        ready_replicas: query("readyReplicas", &raw.ready_replicas),
        queue_depth: query("queueDepth", &raw.queue_depth),
        arrival_rate: query("arrivalRate", &raw.arrival_rate),
        completions: query("completions", &raw.completions),
        wait_p95: query("waitP95", &raw.wait_p95),
    }
}
