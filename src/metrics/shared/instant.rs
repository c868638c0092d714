//! A shared query's latest result: fetched at most once per interval, however many targets
//! read it, and split among them by labels.

use super::select::Selector;
use crate::config::Aggregate;
use crate::metrics::prometheus::{InstantSeries, Labels, PromApi, format_labels};
use crate::metrics::{Evaluation, MetricError, reduce_matched};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use tokio::sync::OnceCell;
use tokio::time::{Duration, Instant};

/// A result not asked for this long is dropped (its query is no longer in use).
const FORGET_AFTER: Duration = Duration::from_secs(600);

/// One fetch of a shared query: its series (indexed for selection) and warnings, or why
/// there are none.
struct Fetched {
    result: Result<(Selector<InstantSeries>, Vec<String>), MetricError>,
}

/// The current fetch of one query: readers within `interval` of `started` share it.
struct Slot {
    started: Instant,
    fetched: Arc<OnceCell<Arc<Fetched>>>,
}

/// Shared queries' results, each fetched at most once per reader's interval.
pub struct SharedInstant {
    api: Arc<dyn PromApi>,
    slots: Mutex<HashMap<String, Slot>>,
}

/// What a target reads from a shared query.
#[derive(Debug, Clone, Copy)]
pub struct Want<'a> {
    /// The shared query's name (for messages).
    pub name: &'a str,
    /// Its PromQL.
    pub query: &'a str,
    /// The labels of the target's series.
    pub labels: &'a Labels,
    /// How to reduce several matching series.
    pub aggregate: Option<Aggregate>,
    /// The reader's interval: a result fetched less than this long ago is reused.
    pub interval: Duration,
    /// Whether [`Evaluation::series`] is wanted (`prescale probe`); a tick reads the value
    /// only, and a single finite series then costs no formatting at all.
    pub detail: bool,
}

impl SharedInstant {
    /// Results fetched through `api`.
    pub fn new(api: Arc<dyn PromApi>) -> Self {
        Self {
            api,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The current fetch of `want.query`, started now if the last one is older than the
    /// reader's interval; every reader in the meantime waits on the same request.
    async fn fetched(&self, want: &Want<'_>, at: SystemTime) -> Arc<Fetched> {
        let cell = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            match slots.get(want.query) {
                Some(slot) if slot.started.elapsed() < want.interval => slot.fetched.clone(),
                _ => {
                    // Results nobody asked for in a long while belong to queries no target
                    // uses any more: drop them.
                    slots.retain(|_, s| s.started.elapsed() < FORGET_AFTER);
                    let fetched = Arc::new(OnceCell::new());
                    slots.insert(
                        want.query.to_string(),
                        Slot {
                            started: Instant::now(),
                            fetched: fetched.clone(),
                        },
                    );
                    fetched
                }
            }
        };
        cell.get_or_init(|| async {
            let result = self
                .api
                .instant(want.query, at)
                .await
                .map(|r| (Selector::new(r.series), r.warnings));
            if let Ok((selector, _)) = &result {
                tracing::debug!(
                    query = want.name,
                    series = selector.series().len(),
                    "shared query fetched"
                );
            }
            Arc::new(Fetched { result })
        })
        .await
        .clone()
    }

    /// The target's value of a shared query as of `at`: its series picked by labels and
    /// reduced to one number.
    pub async fn evaluate(&self, want: &Want<'_>, at: SystemTime) -> Evaluation {
        let fetched = self.fetched(want, at).await;
        let (selector, warnings) = match &fetched.result {
            Ok(r) => r,
            Err(e) => return Evaluation::failed(e.clone()),
        };
        let mine = selector.select(want.labels);
        if mine.is_empty() {
            return Evaluation {
                value: Err(MetricError::NoMatchingSeries {
                    name: want.name.to_string(),
                    labels: format_labels(want.labels),
                    series: selector.series().len(),
                    example: selector
                        .series()
                        .first()
                        .map(|s| format!(", e.g. {}", format_labels(&s.labels)))
                        .unwrap_or_default(),
                }),
                series: Vec::new(),
                warnings: warnings.clone(),
                sample_time: None,
            };
        }
        let what = || {
            format!(
                "{} (shared query `{}`)",
                format_labels(want.labels),
                want.name
            )
        };
        Evaluation {
            value: reduce_matched(what, &mine, want.aggregate),
            // The series' text is for `prescale probe`; a tick formats nothing.
            series: if want.detail {
                mine.iter()
                    .map(|s| format!("{} {}", format_labels(&s.labels), s.raw))
                    .collect()
            } else {
                Vec::new()
            },
            warnings: warnings.clone(),
            sample_time: mine.iter().map(|s| s.t).reduce(f64::min),
        }
    }
}
