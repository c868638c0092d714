//! What each scenario measures, and the helpers that measure it.

use crate::api_double::ApiDouble;
use crate::controller_harness::{Running, eventually};
use std::future::Future;

/// The namespace of the scenarios' Deployments.
pub const NS: &str = "shop";

/// One line of the matrix: a fault, the property that must hold, and what was measured.
#[derive(Debug, Clone)]
pub struct Row {
    /// The fault, as the table names it.
    pub fault: &'static str,
    /// The property that must hold (asserted by the scenario).
    pub property: &'static str,
    /// What the scenario saw, in facts that are the same on every run.
    pub measured: String,
    /// The figures every fault is held to.
    pub figures: Figures,
    /// How long from the fault's end to the first correct decision or write.
    pub recovery: Recovery,
}

/// The figures of the whole matrix, for one scenario; each must be 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Figures {
    /// Panics in the controller: ticks that panicked, a `run` task that panicked, or a
    /// process that logged a panic.
    pub panics: u32,
    /// `/scale` writes below the fewest replicas the Deployment had while data was
    /// missing (metrics, a cache, an answer of the API server).
    pub blind_scale_downs: u32,
    /// `/scale` writes by a replica after another's first write, without the Lease.
    pub second_writer_writes: u32,
    /// Valid configs no longer in force after an invalid one was loaded.
    pub configs_lost: u32,
}

impl Figures {
    /// The figures the API double's write log shows: writes below `floor` replicas (among
    /// the first `upto` requests of the log, all when `None`) and second-writer writes.
    pub fn of_writes(api: &ApiDouble, floor: u32, upto: Option<usize>) -> Self {
        Self {
            blind_scale_downs: scale_downs_below(api, upto, floor),
            second_writer_writes: api.second_writer_writes().len() as u32,
            ..Self::default()
        }
    }
}

/// Stop the controller `c` running `targets` and take the figures: its panics, and
/// [`Figures::of_writes`].
pub async fn figures(
    api: &ApiDouble,
    c: Running,
    targets: &[&str],
    floor: u32,
    upto: Option<usize>,
) -> Figures {
    Figures {
        panics: stop_counting_panics(c, targets).await,
        ..Figures::of_writes(api, floor, upto)
    }
}

/// Time to recover, with the bound the scenario must meet.
#[derive(Debug, Clone)]
pub enum Recovery {
    /// Ticks of the target finished from the fault's end to the first correct decision.
    Ticks {
        /// Measured.
        took: u64,
        /// At most.
        bound: u64,
    },
    /// Seconds from the fault to the first write of the new leader (wall clock).
    Seconds {
        /// Measured.
        took: f64,
        /// At most.
        bound: u64,
    },
}

impl Recovery {
    /// The table's cell: the bound this run met.
    pub fn cell(&self) -> String {
        match self {
            Self::Ticks { bound, .. } => format!("≤ {bound} ticks"),
            Self::Seconds { bound, .. } => format!("≤ {bound} s"),
        }
    }

    /// What this run measured.
    pub fn measured(&self) -> String {
        match self {
            Self::Ticks { took, .. } => format!("{took} ticks"),
            Self::Seconds { took, .. } => format!("{took:.1} s"),
        }
    }
}

impl Row {
    /// Fail unless every figure is at its target: no panic, no blind scale-down, never two
    /// writers, no good config lost, and recovered within the bound.
    pub fn assert_on_target(&self) {
        assert_eq!(self.figures, Figures::default(), "{}", self.fault);
        match self.recovery {
            Recovery::Ticks { took, bound } => {
                assert!(took <= bound, "{}: {took} ticks > {bound}", self.fault)
            }
            Recovery::Seconds { took, bound } => {
                assert!(took <= bound as f64, "{}: {took} s > {bound}", self.fault)
            }
        }
    }
}

/// The ticks `target` finishes until `cond` holds (polled every 50 ms; at most `secs`).
pub async fn ticks_until<F, Fut>(c: &Running, target: &str, secs: u64, what: &str, cond: F) -> u64
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = c.ticks(target).await;
    eventually(secs, what, cond).await;
    (c.ticks(target).await - start).max(0.0) as u64
}

/// Applied `/scale` writes among the first `upto` requests of the write log (all, when
/// `None`) that set fewer than `floor` replicas.
fn scale_downs_below(api: &ApiDouble, upto: Option<usize>, floor: u32) -> u32 {
    let writes = api.writes();
    let upto = upto.unwrap_or(writes.len());
    writes[..upto.min(writes.len())]
        .iter()
        .filter(|w| w.method == "PATCH" && w.path.ends_with("/scale") && w.status < 300)
        .filter(|w| w.body["spec"]["replicas"].as_u64().unwrap_or(0) < u64::from(floor))
        .count() as u32
}

/// Stop the controller and count its panics: ticks that panicked (caught and counted by
/// the supervisor) and a `run` task that panicked. A `run` that returned an error fails
/// the scenario.
pub async fn stop_counting_panics(c: Running, targets: &[&str]) -> u32 {
    let mut panics = 0;
    for target in targets {
        let series = format!("prescale_tick_errors_total{{target=\"{target}\",stage=\"panic\"}}");
        panics += c.metric(&series).await.unwrap_or(0.0) as u32;
    }
    match c.stop_joined().await {
        Ok(result) => result.expect("a clean stop"),
        Err(e) if e.is_panic() => panics += 1,
        Err(e) => panic!("run task: {e}"),
    }
    panics
}

/// `/scale` PATCH answers to Deployment `name`, in order.
pub fn scale_answers(api: &ApiDouble, name: &str) -> Vec<u16> {
    let path = format!("/deployments/{name}/scale");
    api.requests()
        .iter()
        .filter(|r| r.method == "PATCH" && r.path.ends_with(&path))
        .map(|r| r.status)
        .collect()
}

/// The target's report, which must exist.
pub async fn report(c: &Running, target: &str) -> serde_json::Value {
    c.recommendation(target).await.expect("a report")
}
