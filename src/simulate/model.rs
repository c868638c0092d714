//! The fluid FIFO queue of BENCH.md, driven tick by tick by a policy.

use super::{BenchParams, Load, Pods};

/// What a policy observes at the start of a tick (BENCH.md, "Decisions").
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BenchObservation {
    /// Tick index `j`.
    pub tick: usize,
    /// Decision time `t = tick * j`, seconds.
    pub t: f64,
    /// Backlog `b_j`.
    pub queue_depth: f64,
    /// Arrivals in the previous tick, `a_{j-1}`.
    pub arrivals: f64,
    /// Documents served in the previous tick, `s_{j-1}`.
    pub completions: f64,
    /// Ready pods in the previous tick, `n_{j-1}`.
    pub ready: u32,
    /// Pods, ready plus starting, before this decision.
    pub pods: u32,
    /// `t - A⁻¹(D(t))`: the wait of the document being dequeued now.
    pub wait_s: f64,
}

/// A scaling policy on the bench: one desired replica count per tick.
pub trait BenchPolicy {
    /// Desired replicas at the start of the observed tick (clamped to the bounds by the bench).
    fn decide(&mut self, obs: &BenchObservation) -> u32;
}

/// Everything a run leaves behind: enough to score it and to plot it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Run {
    /// Arrivals of each tick, `a_j`.
    pub arrivals: Vec<f64>,
    /// Documents served in each tick, `s_j`.
    pub served: Vec<f64>,
    /// Pods existing during each tick (ready or starting).
    pub pods: Vec<u32>,
    /// Ready pods during each tick, `n_j`.
    pub ready: Vec<u32>,
    /// Cumulative arrivals at each tick boundary, `A_0 ..= A_J`.
    pub cum_arrivals: Vec<f64>,
    /// Cumulative departures at each tick boundary, `D = A - b`.
    pub cum_departures: Vec<f64>,
    /// The desired count applied at each tick (after the bounds).
    pub desired: Vec<u32>,
    /// Pods at t = 0, before the first decision (1 on the bench).
    pub initial_pods: u32,
}

/// The state a run starts from. BENCH.md starts every run from [`Start::BENCH`]; a backtest
/// starts from what the workload had when its replay begins.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Start {
    /// Pods at t = 0, all ready.
    pub pods: u32,
    /// Documents already waiting at t = 0 (they count as arrived at 0: their own waits are
    /// not scored, but every later document queues behind them).
    pub backlog: f64,
    /// Arrivals of the tick before t = 0, which the first decision observes.
    pub arrivals_before: f64,
}

impl Start {
    /// BENCH.md's initial state: one ready pod, nothing waiting, nothing arrived before.
    pub const BENCH: Start = Start {
        pods: 1,
        backlog: 0.0,
        arrivals_before: 0.0,
    };
}

/// How a run is set up beyond the load, the parameters and the policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Setup<'a> {
    /// The state at t = 0.
    pub start: Start,
    /// Ready pods of each tick as they were observed, in place of the model's start-up delay
    /// (to score a schedule that really ran with its real readiness); each is capped at the
    /// pods of its tick. `None`: new pods are ready `startup` after the decision (BENCH.md).
    pub ready: Option<&'a [u32]>,
}

impl Setup<'_> {
    /// BENCH.md's setup.
    pub const BENCH: Setup<'static> = Setup {
        start: Start::BENCH,
        ready: None,
    };
}

/// Simulate `policy` on `load` with `params`.
pub fn run(load: &Load, params: &BenchParams, policy: &mut dyn BenchPolicy) -> Run {
    run_observed(load, params, policy, |_| {})
}

/// Like [`run`], calling `progress(j)` every 4096 ticks (for a progress bar).
pub fn run_observed(
    load: &Load,
    params: &BenchParams,
    policy: &mut dyn BenchPolicy,
    progress: impl FnMut(usize),
) -> Run {
    run_with(load, params, policy, &Setup::BENCH, progress)
}

/// The model from `setup`'s start state (and with its observed readiness, if any), calling
/// `progress(j)` every 4096 ticks. With [`Setup::BENCH`] this is BENCH.md's run exactly.
pub fn run_with(
    load: &Load,
    params: &BenchParams,
    policy: &mut dyn BenchPolicy,
    setup: &Setup<'_>,
    mut progress: impl FnMut(usize),
) -> Run {
    let ticks = load.ticks();
    let tick = load.tick;
    let mut out = Run {
        arrivals: Vec::with_capacity(ticks),
        served: Vec::with_capacity(ticks),
        pods: Vec::with_capacity(ticks),
        ready: Vec::with_capacity(ticks),
        cum_arrivals: Vec::with_capacity(ticks + 1),
        cum_departures: Vec::with_capacity(ticks + 1),
        desired: Vec::with_capacity(ticks),
        initial_pods: setup.start.pods,
    };
    let mut backlog = setup.start.backlog;
    out.cum_arrivals.push(0.0);
    out.cum_departures.push(-backlog);
    let mut pods = Pods::all_ready(setup.start.pods);
    let mut dequeue = FirstReach::default();
    for j in 0..ticks {
        if j % 4096 == 0 {
            progress(j);
        }
        let t = tick * j as f64;
        let obs = BenchObservation {
            tick: j,
            t,
            queue_depth: backlog,
            arrivals: if j == 0 {
                setup.start.arrivals_before
            } else {
                out.arrivals[j - 1]
            },
            completions: if j == 0 { 0.0 } else { out.served[j - 1] },
            ready: if j == 0 {
                setup.start.pods
            } else {
                out.ready[j - 1]
            },
            pods: pods.total(),
            wait_s: t - dequeue.time(&out.cum_arrivals, out.cum_departures[j], tick),
        };
        let desired = policy
            .decide(&obs)
            .clamp(params.min_replicas, params.max_replicas);
        pods.scale_to(desired, t, params.startup);
        let ready = match setup.ready.and_then(|r| r.get(j)) {
            Some(&observed) => observed.min(pods.total()),
            None => pods.ready_at(t),
        };
        let arrivals = tick * load.rates[j];
        let served = (backlog + arrivals).min(tick * (params.mu * ready as f64));
        backlog = backlog + arrivals - served;
        let cum = out.cum_arrivals[j] + arrivals;
        out.cum_arrivals.push(cum);
        out.cum_departures.push(cum - backlog);
        out.arrivals.push(arrivals);
        out.served.push(served);
        out.pods.push(pods.total());
        out.ready.push(ready);
        out.desired.push(desired);
    }
    out
}

/// Inverts a non-decreasing cumulative curve that is linear between tick boundaries:
/// the first time it reaches a value. Queries must not decrease, so a cursor suffices.
#[derive(Debug, Clone, Copy, Default)]
pub struct FirstReach {
    cursor: usize,
}

impl FirstReach {
    /// The first time `cum` (interpolated) reaches `x`, or `None` if it never does.
    pub fn try_time(&mut self, cum: &[f64], x: f64, tick: f64) -> Option<f64> {
        while self.cursor < cum.len() && cum[self.cursor] < x {
            self.cursor += 1;
        }
        let k = self.cursor;
        if k >= cum.len() {
            return None;
        }
        if k == 0 {
            return Some(0.0);
        }
        let (lo, hi) = (cum[k - 1], cum[k]);
        Some(tick * (k - 1) as f64 + tick * (x - lo) / (hi - lo))
    }

    /// Like [`FirstReach::try_time`] for a value known to be reached (`x <= cum.last()`).
    pub fn time(&mut self, cum: &[f64], x: f64, tick: f64) -> f64 {
        self.try_time(cum, x, tick)
            .unwrap_or(tick * cum.len().saturating_sub(1) as f64)
    }
}
