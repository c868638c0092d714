//! `prescale probe`: evaluate each configured metric once and show what was seen, so that a
//! user can tune PromQL and scrape settings before deploying.

use super::CliResult;
use super::probe_report::{BackfillProbe, MetricProbe, ProbeError, ProbeReport, TargetProbe};
use crate::config::{Config, MetricSource, ScrapeFrom, TargetConfig};
use crate::metrics::scrape::format_selector;
use crate::metrics::{MetricError, MetricKind, Sources, source_of};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// Arguments of `prescale probe`.
#[derive(Debug, clap::Args)]
pub struct ProbeArgs {
    /// The prescale configuration file.
    #[arg(long)]
    pub config: PathBuf,
    /// Probe only the target with this name.
    #[arg(long)]
    pub target: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Why probing could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProbeFailure {
    /// `--target` names no target of the config.
    #[error("no target named {name:?} in the config; its targets are: {}", known.join(", "))]
    UnknownTarget {
        /// The name asked for.
        name: String,
        /// The names that exist.
        known: Vec<String>,
    },
    /// The metric clients could not be built.
    #[error("cannot set up the metric sources: {0}")]
    Sources(#[from] MetricError),
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[from] std::io::Error),
    /// Some metrics failed (the report says which and why).
    #[error("{failed} metric read(s) failed; see the report above for what to fix")]
    Failed {
        /// How many.
        failed: usize,
    },
}

/// How probing behaves.
#[derive(Debug, Clone, Copy)]
pub struct ProbeOptions {
    /// A scraped counter needs two scrapes for a rate: how long to wait before the second.
    pub rescrape_after: Duration,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        Self {
            rescrape_after: Duration::from_secs(2),
        }
    }
}

/// Run `prescale probe`.
pub fn run(args: ProbeArgs) -> CliResult {
    let config = crate::config::load(&args.config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(ProbeFailure::Runtime)?;
    let report = runtime.block_on(probe(
        &config,
        args.target.as_deref(),
        ProbeOptions::default(),
    ))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_text());
    }
    match report.failures() {
        0 => Ok(()),
        failed => Err(ProbeFailure::Failed { failed }.into()),
    }
}

/// Evaluate every metric of `config`'s targets (or only of `only`) once, and backfill each
/// target's arrival-rate history.
pub async fn probe(
    config: &Config,
    only: Option<&str>,
    options: ProbeOptions,
) -> Result<ProbeReport, ProbeFailure> {
    let targets: Vec<&TargetConfig> = match only {
        None => config.targets.iter().collect(),
        Some(name) => {
            let found: Vec<&TargetConfig> =
                config.targets.iter().filter(|t| t.name == name).collect();
            if found.is_empty() {
                return Err(ProbeFailure::UnknownTarget {
                    name: name.to_string(),
                    known: config.targets.iter().map(|t| t.name.clone()).collect(),
                });
            }
            found
        }
    };
    let sources = Sources::new(config)?;
    let mut report = ProbeReport {
        targets: Vec::new(),
    };
    for target in targets {
        report
            .targets
            .push(probe_target(&sources, target, options).await);
    }
    Ok(report)
}

async fn probe_target(
    sources: &Sources,
    target: &TargetConfig,
    options: ProbeOptions,
) -> TargetProbe {
    let mut metrics = Vec::new();
    for kind in MetricKind::ALL {
        let Some(source) = source_of(target, kind) else {
            continue;
        };
        let mut evaluation = sources.evaluate(target, kind, SystemTime::now()).await;
        if let Some(Err(MetricError::FirstSample { .. })) = evaluation.as_ref().map(|e| &e.value) {
            // A scraped counter: its rate needs a second scrape.
            tokio::time::sleep(options.rescrape_after).await;
            evaluation = sources.evaluate(target, kind, SystemTime::now()).await;
        }
        let Some(evaluation) = evaluation else {
            continue;
        };
        metrics.push(MetricProbe {
            metric: kind,
            source: describe(source),
            value: evaluation.value.as_ref().ok().copied(),
            error: evaluation.value.as_ref().err().map(ProbeError::from),
            series: evaluation.series,
            warnings: evaluation.warnings,
        });
    }
    TargetProbe {
        name: target.name.clone(),
        interval_s: target.interval.as_secs_f64(),
        metrics,
        backfill: backfill(sources, target).await,
    }
}

async fn backfill(sources: &Sources, target: &TargetConfig) -> BackfillProbe {
    let mut probe = BackfillProbe {
        requested_s: target.forecast.history.as_secs_f64(),
        samples: 0,
        first: None,
        last: None,
        error: None,
        note: None,
    };
    probe.note = match (&target.metrics.arrival_rate, target.forecast.enabled) {
        (_, false) => Some("none: the forecast is disabled".into()),
        (None, _) => Some("none: no arrival rate configured".into()),
        (Some(MetricSource::Scrape { .. }), _) => Some(
            "none: a scraped arrival rate has no history; the forecast warms up from live data"
                .into(),
        ),
        (Some(MetricSource::Promql { .. } | MetricSource::Shared { .. }), true) => None,
    };
    if probe.note.is_some() {
        return probe;
    }
    match sources.backfill(target, SystemTime::now()).await {
        Ok(history) => {
            probe.samples = history.len();
            probe.first = history.first().map(|s| s.0);
            probe.last = history.last().map(|s| s.0);
        }
        Err(e) => probe.error = Some(ProbeError::from(&e)),
    }
    probe
}

/// A metric's source as a person would write it.
fn describe(source: &MetricSource) -> String {
    match source {
        MetricSource::Promql {
            query,
            aggregate,
            ignore_null_values,
        } => {
            let mut text = format!("promql: {query}");
            if let Some(a) = aggregate {
                text.push_str(&format!(" (aggregate: {a:?})"));
            }
            if *ignore_null_values {
                text.push_str(" (ignoreNullValues: an empty result reads as 0)");
            }
            text
        }
        MetricSource::Shared {
            name,
            query,
            labels,
            aggregate,
            ignore_null_values,
        } => {
            let mut text = format!("query: {name} ({query}) match {}", format_selector(labels));
            if let Some(a) = aggregate {
                text.push_str(&format!(" (aggregate: {a:?})"));
            }
            if *ignore_null_values {
                text.push_str(" (ignoreNullValues: no series for this target reads as 0)");
            }
            text
        }
        MetricSource::Scrape {
            from,
            metric,
            labels,
            aggregate,
            quantile,
        } => {
            let at = match from {
                ScrapeFrom::Url(url) => url.clone(),
                ScrapeFrom::Pods { port, path, scheme } => {
                    format!(
                        "every ready pod at {}://POD_IP:{port}{path}",
                        scheme.as_str()
                    )
                }
            };
            let mut text = format!("scrape: {at} {metric}{}", format_selector(labels));
            if let Some(q) = quantile {
                text.push_str(&format!(" quantile {q}"));
            }
            if let Some(a) = aggregate {
                text.push_str(&format!(" (aggregate: {a:?})"));
            }
            text
        }
    }
}
