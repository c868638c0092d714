//! The fault matrix: every fault prescale must survive, run as a scenario against the real
//! controller (in-process through the real kube client and the API double over HTTP, the
//! real Prometheus client against a Prometheus double, or real `prescale run` processes),
//! each asserting the property that must hold and measuring the matrix's figures: panics,
//! scale-downs written while data was missing, `/scale` writes by a second writer, good
//! configs lost, and the time to recover in ticks of the target (or seconds, for leader
//! take-overs).
//!
//! `docs/faults.md` is the table of what this test measured. `PRESCALE_WRITE_FAULTS=1 cargo
//! test --test fault_matrix` writes it; without that variable (and always under `CI=true`)
//! the test fails when the file differs from this run's table, so it cannot drift. Times to
//! recover on a real clock vary by a tick from run to run: the table gives the bound each
//! scenario asserts, and the run prints the figure it measured (`--nocapture`).

#[path = "support/api_double/mod.rs"]
mod api_double;
#[path = "support/controller_harness.rs"]
mod controller_harness;
#[path = "support/metrics_double.rs"]
mod metrics_double;
#[path = "support/process_harness.rs"]
mod process_harness;
#[path = "support/prometheus_double.rs"]
mod prometheus_double;

#[path = "fault_matrix/api.rs"]
mod api;
#[path = "fault_matrix/cluster.rs"]
mod cluster;
#[path = "fault_matrix/leader.rs"]
mod leader;
#[path = "fault_matrix/measure.rs"]
mod measure;
#[path = "fault_matrix/prometheus.rs"]
mod prometheus;
#[path = "fault_matrix/table.rs"]
mod table;

use futures::future::BoxFuture;
use measure::Row;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// Scenarios run at once: they mostly wait for ticks, so a few share the 2 cores.
const AT_ONCE: usize = 5;

/// The scenarios that take longest, started first.
const LONGEST: [&str; 2] = ["leader killed or paused", "partition"];

/// A scenario measuring one row.
fn one(scenario: impl std::future::Future<Output = Row> + Send + 'static) -> Rows {
    Box::pin(async move { vec![scenario.await] })
}

/// A scenario's rows, once run.
type Rows = BoxFuture<'static, Vec<Row>>;

/// Every scenario, in the table's order.
fn scenarios() -> Vec<(&'static str, Rows)> {
    use prometheus_double::Answer;
    use std::time::Duration;
    vec![
        ("prometheus down", one(prometheus::outage(None))),
        (
            "prometheus slow",
            one(prometheus::outage(Some(Answer::Slow(Duration::from_secs(
                2,
            ))))),
        ),
        (
            "prometheus garbage",
            one(prometheus::outage(Some(Answer::Garbage))),
        ),
        (
            "prometheus empty",
            one(prometheus::outage(Some(Answer::Empty))),
        ),
        (
            "prometheus partial",
            one(prometheus::outage(Some(Answer::Partial))),
        ),
        ("api 409", one(api::conflict())),
        ("api 429", one(api::write_failures(429))),
        ("api 500", one(api::write_failures(500))),
        ("api timeout", one(api::timeouts())),
        ("watch 410", one(api::watch_gone())),
        ("watch cut", one(api::watch_cut())),
        (
            "leader killed or paused",
            Box::pin(leader::killed_and_paused()),
        ),
        ("partition", one(leader::partition())),
        ("invalid config", one(cluster::invalid_reload())),
        ("deployment recreated", one(cluster::recreated())),
        ("hpa while watch down", one(cluster::hpa_while_watch_down())),
        ("manual scale", one(cluster::manual_scale())),
        ("gitops reset", one(cluster::gitops_reset())),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_keeps_its_property_and_the_table_matches_docs_faults_md() {
    // Every panic anywhere in this process (a controller's tick caught and counted, a task,
    // a scenario's failed assertion), counted by a hook in front of the default one.
    static PANICS: AtomicU32 = AtomicU32::new(0);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let n = PANICS.fetch_add(1, Ordering::SeqCst) + 1;
        previous(info);
        // Again after the backtrace, in one line: a CI log that keeps only the head and
        // the tail of a long output still shows what failed.
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("(not a string)");
        let location = info.location().map(ToString::to_string).unwrap_or_default();
        let message: String = message.chars().take(2000).collect();
        eprintln!("fault matrix: panic {n} at {location}: {message:?}");
    }));

    let slots = Arc::new(tokio::sync::Semaphore::new(AT_ONCE));
    // The longest scenarios (two replicas, leader take-overs) start first.
    // `PRESCALE_FAULTS_ONLY=watch` runs the scenarios whose name contains `watch` (and
    // checks no table): for working on one.
    let only = std::env::var("PRESCALE_FAULTS_ONLY").ok();
    let mut all: Vec<_> = scenarios()
        .into_iter()
        .enumerate()
        .filter(|(_, (name, _))| only.as_deref().is_none_or(|o| name.contains(o)))
        .collect();
    all.sort_by_key(|(i, (name, _))| (!LONGEST.contains(name), *i));
    let mut running: Vec<_> = all
        .into_iter()
        .map(|(i, (name, scenario))| {
            let slots = slots.clone();
            let handle = tokio::spawn(async move {
                let _slot = slots.acquire_owned().await.expect("semaphore");
                scenario.await
            });
            (i, name, handle)
        })
        .collect();
    running.sort_by_key(|(i, _, _)| *i);
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    for (_, name, handle) in running {
        match handle.await {
            Ok(measured) => rows.extend(measured),
            Err(e) => failed.push(format!("{name}: {e}")),
        }
    }
    assert!(failed.is_empty(), "scenarios failed: {failed:#?}");
    for row in &rows {
        println!("{}: recovered in {}", row.fault, row.recovery.measured());
        row.assert_on_target();
    }
    assert_eq!(
        PANICS.load(Ordering::SeqCst),
        0,
        "a panic somewhere in the matrix (see the output above)"
    );
    if only.is_none() {
        table::write_or_check(&rows);
    }
}
