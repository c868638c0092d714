//! The decision core's cost per target: CPU per tick and heap per target, on a state warmed
//! with 14 days of a synthetic daily load at 15 s ticks, against the `hpa` reference policy
//! as a baseline.
//!
//! `cargo bench --bench decide` prints a summary; `cargo bench --bench decide -- --json`
//! prints one JSON object. The targets: under 20 µs per target per tick (one
//! replica serves 10,000 targets at a 15 s interval).
//!
//! `-- --cold N` also times N copies of the warmed state decided in turn every tick (240
//! ticks each), as a controller with N targets decides them: each state is cold in cache
//! when its turn comes, which the one-target figures above never see. `-- --evict KB` writes
//! KB of other memory between two targets' decisions, as the rest of a running controller's
//! work does between two ticks run alone: `--cold 300 --evict 32768` (code and data evicted
//! from every cache level) took about 3 times as long as `--cold 300` here, and the same
//! `decide` timed inside the running controller before its ticks were gathered in slots took
//! 8 times as long (`supervisor::phase`).
//!
//! `-- --shadow` decides on the controller bench's load (a daily sine, a standing queue, a
//! Deployment that never follows); `-- --backfill` warms the state as `prescale run` does,
//! from 14 days of 5-minute history, instead of with 14 days of ticks.
//!
//! `-- --phases` also prints which ticks are the slowest 1 % (by their phase in the 5-minute
//! bucket and in the hour) and each bucket phase's median and p90: the tick that completes a
//! bucket refreshes the forecasts, and the hourly one re-estimates every model's margin.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use prescale::config::TargetConfig;
use prescale::core::{Observation, TargetState, decide};
use prescale::forecast::{Forecaster, ForecasterSettings, MarginRule};
use prescale::simulate::policies::{Hpa, HpaMetric};
use prescale::simulate::{BenchObservation, BenchParams, BenchPolicy, Pods};

/// The system allocator, counting the bytes allocated and freed.
struct Counting;

static ALLOCATED: AtomicUsize = AtomicUsize::new(0);
static FREED: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to `System`; the counters only observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        FREED.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        FREED.fetch_add(layout.size(), Ordering::Relaxed);
        ALLOCATED.fetch_add(new_size, Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Heap bytes in use by the whole process now.
fn heap_in_use() -> isize {
    ALLOCATED.load(Ordering::Relaxed) as isize - FREED.load(Ordering::Relaxed) as isize
}

const DAY: f64 = 86_400.0;

/// `--evict KB`: with `--cold`, KB of other memory written between two targets' decisions.
fn evict_kb() -> usize {
    std::env::args()
        .skip_while(|a| a != "--evict")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// `--shadow`: the controller bench's load on a target in shadow mode instead of a workload
/// that follows the decisions.
fn shadow() -> bool {
    std::env::args().any(|a| a == "--shadow")
}
const TICK: f64 = 15.0;
const WARM_DAYS: f64 = 14.0;
const TIMED_TICKS: usize = 40_320; // 7 more days

/// Quiet nights, busy days (10 → 60 documents/s with two-hour ramps), ±10 % noise.
fn daily_load(t: f64, rng: &mut fastrand::Rng) -> f64 {
    let h = t.rem_euclid(DAY) / 3600.0;
    let ramp = |x: f64| 0.5 - 0.5 * (std::f64::consts::PI * x.clamp(0.0, 1.0)).cos();
    let busy = if h < 13.0 {
        ramp((h - 7.0) / 2.0)
    } else {
        1.0 - ramp((h - 18.0) / 2.0)
    };
    (10.0 + 50.0 * busy) * (0.9 + 0.2 * rng.f64())
}

/// A workload behind a queue (the bench's fluid model) that the core scales.
struct Workload {
    pods: Pods,
    backlog: f64,
    t: f64,
    last: (f64, f64, u32),
    rng: fastrand::Rng,
}

impl Workload {
    fn new() -> Self {
        Workload {
            pods: Pods::initial(),
            backlog: 0.0,
            t: 0.0,
            last: (0.0, 0.0, 1),
            rng: fastrand::Rng::with_seed(42),
        }
    }

    fn observation(&self) -> Observation {
        if shadow() {
            // The controller bench's Prometheus and API doubles: a daily sine, a standing
            // queue, a Deployment at 4 replicas that never follows (shadow mode).
            let a = 2.0 + 1.5 * (std::f64::consts::TAU * self.t / DAY).sin();
            return Observation {
                t: self.t,
                queue_depth: Some(3.0 * a),
                arrival_rate: Some(a),
                completion_rate: Some(a),
                wait_s: None,
                ready: 4,
                current: 4,
            };
        }
        let (arrivals, completions, ready) = self.last;
        Observation {
            t: self.t,
            queue_depth: Some(self.backlog),
            arrival_rate: Some(arrivals),
            completion_rate: Some(completions),
            wait_s: Some(self.backlog / f64::from(ready.max(1))),
            ready,
            current: self.pods.total(),
        }
    }

    fn bench_observation(&self) -> BenchObservation {
        let (arrivals, completions, ready) = self.last;
        BenchObservation {
            tick: (self.t / TICK) as usize,
            t: self.t,
            queue_depth: self.backlog,
            arrivals: arrivals * TICK,
            completions: completions * TICK,
            ready,
            pods: self.pods.total(),
            wait_s: self.backlog / f64::from(ready.max(1)),
        }
    }

    /// Apply `desired` and run one tick of the queue.
    fn advance(&mut self, desired: u32) {
        self.pods.scale_to(desired.clamp(1, 200), self.t, 90.0);
        let ready = self.pods.ready_at(self.t);
        let rate = daily_load(self.t, &mut self.rng);
        let arrivals = rate * TICK;
        let served = (self.backlog + arrivals).min(f64::from(ready) * TICK);
        self.backlog += arrivals - served;
        self.last = (rate, served / TICK, ready);
        self.t += TICK;
    }
}

/// Latency statistics of a set of per-tick timings, microseconds.
#[derive(Debug, Clone, Copy, serde::Serialize)]
struct Stats {
    mean_us: f64,
    p50_us: f64,
    p95_us: f64,
    p99_us: f64,
    max_us: f64,
}

impl Stats {
    fn of(mut ns: Vec<u64>) -> Stats {
        ns.sort_unstable();
        let us = |v: u64| v as f64 / 1000.0;
        let at = |q: f64| us(ns[((ns.len() - 1) as f64 * q).round() as usize]);
        Stats {
            mean_us: ns.iter().sum::<u64>() as f64 / ns.len() as f64 / 1000.0,
            p50_us: at(0.5),
            p95_us: at(0.95),
            p99_us: at(0.99),
            max_us: us(*ns.last().unwrap_or(&0)),
        }
    }
}

fn elapsed_ns(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let config = TargetConfig {
        max_replicas: 200,
        ..TargetConfig::default()
    };

    // Warm one state with 14 days. The workload's heap (its pods) is released inside the
    // block, so the heap still in use afterwards is the state's own.
    let warm_started = Instant::now();
    let before = heap_in_use();
    let (mut state, t, backlog, last, rng, replicas) = {
        let mut workload = Workload::new();
        let mut state = TargetState::new(&config);
        if std::env::args().any(|a| a == "--backfill") {
            // Warmed as `prescale run` warms it: 14 days of arrival history at a 5-minute step
            // from Prometheus, then a few live ticks.
            let mut rng = fastrand::Rng::with_seed(7);
            let samples: Vec<(f64, f64)> = (1..=(WARM_DAYS * DAY / 300.0) as usize)
                .map(|k| {
                    let t = k as f64 * 300.0;
                    let rate = if shadow() {
                        2.0 + 1.5 * (std::f64::consts::TAU * t / DAY).sin()
                    } else {
                        daily_load(t, &mut rng)
                    };
                    (t, rate)
                })
                .collect();
            state.backfill(&config, 300.0, &samples);
            workload.t = WARM_DAYS * DAY;
        }
        while workload.t < WARM_DAYS * DAY {
            let d = decide(&config, &mut state, &workload.observation());
            workload.advance(d.replicas);
        }
        let w = workload;
        (state, w.t, w.backlog, w.last, w.rng, w.pods.total())
    };
    let state_bytes = heap_in_use() - before;
    // The forecaster's share: one warmed alone on the same arrivals, set up as
    // `TargetState::new` sets it up for this config (5-minute buckets, one day of errors).
    let forecaster_bytes = {
        let before = heap_in_use();
        let mut forecaster = Forecaster::new(ForecasterSettings {
            bucket_s: 300.0,
            history_s: config.forecast.history.as_secs_f64(),
            margin: MarginRule {
                coverage: config.forecast.error_quantile,
                miss_cost: config.forecast.miss_cost,
            },
        });
        // Judged over lead windows (start-up plus a tick) with half the SLO as slack, as
        // `decide` does.
        let window = config.startup_time.as_secs_f64() + TICK;
        let slack = config.plan.wait_target * config.slo.queue_wait.as_secs_f64();
        let mut rng = fastrand::Rng::with_seed(42);
        let mut t = 0.0;
        while t < WARM_DAYS * DAY {
            let rate = daily_load(t, &mut rng);
            t += TICK;
            forecaster.observe(t, TICK, rate, window, slack);
        }
        let bytes = heap_in_use() - before;
        black_box(&forecaster);
        bytes
    };
    // Carry on with the same workload, its pods all ready.
    let mut pods = Pods::initial();
    pods.scale_to(replicas, t - DAY, 90.0);
    let mut workload = Workload {
        pods,
        backlog,
        t,
        last,
        rng,
    };
    let warm_s = warm_started.elapsed().as_secs_f64();
    let clone_bytes = {
        let probe = heap_in_use();
        let copy = state.clone();
        let bytes = heap_in_use() - probe;
        drop(copy);
        bytes
    };

    // Time further ticks of the warmed state, one `decide` at a time.
    let mut ns = Vec::with_capacity(TIMED_TICKS);
    for _ in 0..TIMED_TICKS {
        let obs = workload.observation();
        let start = Instant::now();
        let d = black_box(decide(&config, &mut state, black_box(&obs)));
        ns.push(elapsed_ns(start));
        workload.advance(d.replicas);
    }
    if std::env::args().any(|a| a == "--phases") {
        // Which ticks are the slowest 1 %: by their phase in the 5-minute bucket (20 ticks)
        // and in the hour (240 ticks).
        let mut order: Vec<usize> = (0..ns.len()).collect();
        order.sort_unstable_by_key(|&i| std::cmp::Reverse(ns[i]));
        let top = &order[..ns.len() / 100];
        let mut by20 = [0usize; 20];
        let mut by240 = std::collections::BTreeMap::new();
        for &i in top {
            let tick = (t / TICK) as usize + i;
            by20[tick % 20] += 1;
            *by240.entry(tick % 240).or_insert(0usize) += 1;
        }
        eprintln!("top 1 % by tick % 20: {by20:?}");
        let mut common: Vec<_> = by240.into_iter().collect();
        common.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
        eprintln!(
            "top 1 % by tick % 240 (most common): {:?}",
            &common[..common.len().min(12)]
        );
        for phase in 0..20 {
            let mut v: Vec<u64> = (0..ns.len())
                .filter(|i| ((t / TICK) as usize + i) % 20 == phase)
                .map(|i| ns[i])
                .collect();
            v.sort_unstable();
            eprintln!(
                "phase {phase:2}: median {:6.2} µs  p90 {:6.2}",
                v[v.len() / 2] as f64 / 1000.0,
                v[v.len() * 9 / 10] as f64 / 1000.0
            );
        }
    }
    let prescale = Stats::of(ns);

    // `--cold N`: N copies of the warmed state decided in turn, each tick, as a controller
    // with N targets decides them: a target's state is cold in cache when its turn comes.
    let cold = std::env::args()
        .skip_while(|a| a != "--cold")
        .nth(1)
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .map(|n| {
            let mut states: Vec<TargetState> = (0..n).map(|_| state.clone()).collect();
            let mut ns = Vec::with_capacity(n * 240);
            let mut other_work = vec![0u8; evict_kb() * 1024];
            while ns.len() < n * 240 {
                let obs = workload.observation();
                let mut replicas = 1;
                for s in &mut states {
                    // What other work between two ticks does to the caches (none by default).
                    for byte in other_work.iter_mut().step_by(64) {
                        *byte = byte.wrapping_add(1);
                    }
                    black_box(&other_work);
                    let start = Instant::now();
                    replicas = black_box(decide(&config, s, black_box(&obs))).replicas;
                    ns.push(elapsed_ns(start));
                }
                workload.advance(replicas);
            }
            (n, Stats::of(ns))
        });

    // Baseline: the `hpa` reference policy on the same load.
    let params = BenchParams::default();
    let mut hpa = Hpa::new(HpaMetric::Utilization(0.7), &params);
    let mut workload = Workload::new();
    let mut ns = Vec::with_capacity(TIMED_TICKS);
    for _ in 0..TIMED_TICKS {
        let obs = workload.bench_observation();
        let start = Instant::now();
        let desired = black_box(hpa.decide(black_box(&obs)));
        ns.push(elapsed_ns(start));
        workload.advance(desired);
    }
    let baseline = Stats::of(ns);

    let interval = Duration::from_secs_f64(TICK);
    let targets_per_core = interval.as_secs_f64() * 1e6 / prescale.mean_us;
    let ratio = prescale.mean_us / baseline.mean_us;
    let target_us = 20.0;
    if json {
        let out = serde_json::json!({
            "bench": "decide",
            "warmDays": WARM_DAYS,
            "tickSeconds": TICK,
            "timedTicks": TIMED_TICKS,
            "prescale": prescale,
            "hpaBaseline": baseline,
            "ratioMean": ratio,
            "targetsPerCoreAt15s": targets_per_core,
            "stateHeapBytes": state_bytes,
            "stateCloneHeapBytes": clone_bytes,
            "forecasterHeapBytes": forecaster_bytes,
            "heapFor10000TargetsBytes": state_bytes * 10_000,
            "targetUsPerTick": target_us,
            "meetsTarget": prescale.p99_us < target_us,
            "warmSeconds": warm_s,
            "cold": cold.map(|(n, stats)| serde_json::json!({ "targets": n, "evictedKb": evict_kb(), "prescale": stats })),
        });
        println!("{out}");
    } else {
        println!(
            "decide: one target, state warmed with {WARM_DAYS} days of 15 s ticks ({warm_s:.2} s)"
        );
        println!(
            "  prescale  mean {:7.2} µs  p50 {:7.2}  p95 {:7.2}  p99 {:7.2}  max {:8.2}  ({TIMED_TICKS} ticks)",
            prescale.mean_us, prescale.p50_us, prescale.p95_us, prescale.p99_us, prescale.max_us
        );
        println!(
            "  hpa       mean {:7.2} µs  p50 {:7.2}  p95 {:7.2}  p99 {:7.2}  max {:8.2}  (baseline)",
            baseline.mean_us, baseline.p50_us, baseline.p95_us, baseline.p99_us, baseline.max_us
        );
        if let Some((n, c)) = cold {
            println!(
                "  cold      mean {:7.2} µs  p50 {:7.2}  p95 {:7.2}  p99 {:7.2}  max {:8.2}  ({n} targets in turn, 240 ticks each, {} KB evicted between two)",
                c.mean_us,
                c.p50_us,
                c.p95_us,
                c.p99_us,
                c.max_us,
                evict_kb()
            );
        }
        println!("  ratio     {ratio:.1}× the hpa reference per tick");
        println!(
            "  capacity  {targets_per_core:.0} targets per core at a 15 s interval; target < {target_us} µs/tick: {}",
            if prescale.p99_us < target_us {
                "met (p99)"
            } else {
                "NOT met (p99)"
            }
        );
        println!(
            "  memory    {state_bytes} heap bytes per warmed target ({:.1} MiB per 10,000 targets); \
             the forecaster {forecaster_bytes}; a clone of the state holds {clone_bytes}",
            state_bytes as f64 * 10_000.0 / 1_048_576.0
        );
    }
}
