//! The controller at scale: `prescale run` (the release binary, as its own process) driven
//! against the Kubernetes API double and a Prometheus double with N shadow targets, 3 PromQL
//! metrics each, measured over a window of steady-state intervals:
//!
//! - CPU per tick of the decisions and bookkeeping (`prescale_tick_cpu_seconds_total`: the
//!   decision core, the live report, metrics, reports, logs; no waiting on the network),
//! - process CPU (cores, from /proc), RSS and its peak,
//! - API requests per interval by verb and resource, PromQL queries per interval,
//! - tick lag (how late ticks start after their scheduled time, from
//!   `prescale_tick_lag_seconds`), and the time to `/readyz` at start.
//!
//! Each N runs twice in the same run: the **baseline** (each target's own queries, a GET of
//! each Deployment per tick: `--cluster-reads get`, what prescale did before watch caches and
//! shared queries) and **shared** (one shared query per metric, Deployments from watch
//! caches, ticks gathered in 1-second slots). Every figure of `shared` is also given as a ratio
//! to the baseline. `--modes spread,shared` runs instead **spread** (`shared` with each
//! target's ticks spread evenly over the interval, `prescale run --tick-slot 0s`, as before
//! slots; the baseline's ticks are spread too) as the ratios' base where no baseline runs. Both keep 14
//! days of history (`forecast.history`; `--history 15` for another number of days).
//!
//! Then the heap per target by component (core, live report, metric series, ...), measured
//! in this process with a counting allocator, and the size of a tick's future
//! (`tick_future_bytes`: allocated for each tick, held by every target at once at start-up).
//!
//! `cargo bench --bench controller [-- --targets 100,1000,10000] [--window 30]
//! [--interval 15] [--modes baseline,spread,shared] [--baseline-max 1000] [--settle-ticks 3]
//! [--history 14] [--json]`. The window starts two intervals after `/readyz` and once every target has
//! ticked `--settle-ticks` times (its first ticks after the history backfill are warm-up:
//! `0` measures them too). To compare two builds, measure over `--window 300`: every target
//! samples its models' predictions in the same tick every 150 s and completes a 5-minute
//! history bucket in the same tick every 300 s (its forecasts ahead computed again), so those
//! ticks cost more (about 40 ms at 10,000), and a shorter window's average moves with how many
//! of them it holds (README ¹¹). By default
//! N = 100 and 1,000 (a few minutes on 2 cores); 10,000 is asked for with `--targets`. The
//! baseline runs only up to `--baseline-max` targets: its start-up alone is 9 range queries
//! of 14 days per target (90,000 queries, ~800 M points at 10,000), which would take most of
//! an hour here. The issue's goals at 10,000 targets,
//! 15 s: decisions and bookkeeping < 100 ms CPU per tick, the process < 0.25 core, RSS
//! < 256 MiB, zero GETs per tick, at most one query per shared metric per tick, ticks
//! never more than one interval late.
//!
//! `PRESCALE_BENCH_COMMAND="heaptrack -o FILE"` runs the controller under a profiler: the
//! command is given the binary and its arguments. (The process figures are then the
//! wrapper's where it does not `exec`; read the profile instead.)

#[path = "../tests/support/api_double/mod.rs"]
mod api_double;
#[path = "controller/memory.rs"]
mod memory;
#[path = "controller/prometheus_double.rs"]
mod prometheus_double;

use api_double::ApiDouble;
use prometheus_double::Layout;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: memory::Counting = memory::Counting;

/// Targets per namespace (the caches follow one namespace per watch).
const TARGETS_PER_NAMESPACE: usize = 200;
/// Longest wait for `/readyz` after start.
const READY_TIMEOUT: Duration = Duration::from_secs(900);

struct Options {
    targets: Vec<usize>,
    window: Duration,
    interval: Duration,
    modes: Vec<Mode>,
    baseline_max: usize,
    settle_ticks: usize,
    /// `forecast.history` of every target, days.
    history_days: u32,
    json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Baseline,
    Shared,
    /// `shared` with ticks spread evenly over the interval (`prescale run --tick-slot 0s`).
    Spread,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Baseline => "baseline",
            Mode::Shared => "shared",
            Mode::Spread => "spread",
        }
    }
}

fn options() -> Options {
    let mut o = Options {
        targets: vec![100, 1_000],
        window: Duration::from_secs(30),
        interval: Duration::from_secs(15),
        modes: vec![Mode::Baseline, Mode::Shared],
        baseline_max: 1_000,
        settle_ticks: 3,
        history_days: 14,
        json: false,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = |i: usize| args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--targets" => {
                o.targets = value(i)
                    .split(',')
                    .filter_map(|n| n.trim().replace('_', "").parse().ok())
                    .collect();
                i += 1;
            }
            "--window" => {
                o.window = Duration::from_secs(value(i).parse().unwrap_or(30));
                i += 1;
            }
            "--interval" => {
                o.interval = Duration::from_secs(value(i).parse().unwrap_or(15));
                i += 1;
            }
            "--modes" => {
                o.modes = value(i)
                    .split(',')
                    .filter_map(|m| match m {
                        "baseline" => Some(Mode::Baseline),
                        "shared" => Some(Mode::Shared),
                        "spread" => Some(Mode::Spread),
                        _ => None,
                    })
                    .collect();
                i += 1;
            }
            "--baseline-max" => {
                o.baseline_max = value(i).replace('_', "").parse().unwrap_or(1_000);
                i += 1;
            }
            "--settle-ticks" => {
                o.settle_ticks = value(i).parse().unwrap_or(3);
                i += 1;
            }
            "--history" => {
                o.history_days = value(i).parse().unwrap_or(14);
                i += 1;
            }
            "--json" => o.json = true,
            // `cargo bench` passes `--bench`.
            _ => {}
        }
        i += 1;
    }
    o
}

/// The config: N shadow targets, each with queue depth, arrival rate and completions.
fn config_yaml(mode: Mode, prometheus: &str, layout: &Layout, o: &Options) -> String {
    let interval = o.interval;
    let metric = |key: &str, shared: &str, own: &str| match mode {
        Mode::Shared | Mode::Spread => format!(
            "    {key}:\n      query: {shared}\n      match: {{ namespace: '${{namespace}}', deployment: '${{name}}' }}\n"
        ),
        Mode::Baseline => format!("    {key}:\n      promql: '{own}'\n"),
    };
    let selector = r#"{namespace="${namespace}",deployment="${name}"}"#;
    let mut yaml = format!("prometheus:\n  url: {prometheus}\n  timeout: 10s\n");
    if mode != Mode::Baseline {
        yaml.push_str(
            "queries:
  depth: { promql: 'sum by (namespace, deployment) (docs_queue_depth)' }
  enqueued: { promql: 'sum by (namespace, deployment) (rate(docs_enqueued_total[1m]))' }
  completed: { promql: 'sum by (namespace, deployment) (rate(docs_completed_total[1m]))' }
",
        );
    }
    yaml.push_str(&format!(
        "defaults:\n  mode: shadow\n  interval: {}s\n  forecast: {{ history: {}d }}\n  metrics:\n",
        interval.as_secs(),
        o.history_days
    ));
    yaml.push_str(&metric(
        "queueDepth",
        "depth",
        &format!("sum(docs_queue_depth{selector})"),
    ));
    yaml.push_str(&metric(
        "arrivalRate",
        "enqueued",
        &format!("sum(rate(docs_enqueued_total{selector}[1m]))"),
    ));
    yaml.push_str(&metric(
        "completions",
        "completed",
        &format!("sum(rate(docs_completed_total{selector}[1m]))"),
    ));
    yaml.push_str("targets:\n");
    for i in 0..layout.targets {
        yaml.push_str(&format!(
            "  - name: t{i}\n    scaleTargetRef: {{ namespace: {}, name: {} }}\n",
            layout.namespace(i),
            layout.deployment(i)
        ));
    }
    yaml
}

/// utime + stime of `pid`, seconds.
fn process_cpu(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of the whole line are the 12th and 13th after the comm.
    let ticks = |k: usize| {
        fields
            .get(k)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) / hz
}

/// `VmRSS` and `VmHWM` of `pid`, MiB.
fn process_memory(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (kib("VmRSS:") / 1024.0, kib("VmHWM:") / 1024.0)
}

/// Samples of the controller's own metrics (process-level ones only).
#[derive(Debug, Default, Clone)]
struct Scraped {
    tick_cpu: f64,
    lag_count: f64,
    lag_buckets: Vec<(f64, f64)>,
    events: BTreeMap<String, f64>,
    bytes: usize,
}

async fn scrape(http: &reqwest::Client, admin: &str) -> Option<Scraped> {
    let body = http
        .get(format!("http://{admin}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let mut s = Scraped {
        bytes: body.len(),
        ..Scraped::default()
    };
    for line in body.lines().filter(|l| l.starts_with("prescale_")) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        if series == "prescale_tick_cpu_seconds_total" {
            s.tick_cpu = value;
        } else if series == "prescale_tick_lag_seconds_count" {
            s.lag_count = value;
        } else if let Some(le) = series
            .strip_prefix("prescale_tick_lag_seconds_bucket{le=\"")
            .and_then(|r| r.strip_suffix("\"}"))
        {
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap_or(f64::INFINITY)
            };
            s.lag_buckets.push((le, value));
        } else if let Some(result) = series
            .strip_prefix("prescale_events_total{result=\"")
            .and_then(|r| r.strip_suffix("\"}"))
        {
            s.events.insert(result.to_string(), value);
        }
    }
    Some(s)
}

/// The upper bound of the bucket holding quantile `q` of the lags observed between two
/// scrapes, and of the highest bucket with any.
fn lag_quantiles(before: &Scraped, after: &Scraped, q: f64) -> (f64, f64) {
    let delta: Vec<(f64, f64)> = after
        .lag_buckets
        .iter()
        .map(|(le, n)| {
            let was = before
                .lag_buckets
                .iter()
                .find(|(l, _)| l == le)
                .map_or(0.0, |(_, n)| *n);
            (*le, n - was)
        })
        .collect();
    let total = delta.last().map_or(0.0, |(_, n)| *n);
    let at_q = delta
        .iter()
        .find(|(_, n)| *n >= q * total)
        .map_or(f64::NAN, |(le, _)| *le);
    let max = delta
        .iter()
        .find(|(_, n)| *n >= total)
        .map_or(f64::NAN, |(le, _)| *le);
    (at_q, max)
}

/// `(verb, resource)` counts of the API double's requests from `from` on.
fn api_requests(api: &ApiDouble, from: usize) -> (usize, BTreeMap<String, usize>) {
    let requests = api.requests();
    let mut by = BTreeMap::new();
    for r in &requests[from.min(requests.len())..] {
        if let Some((_, resource, verb)) = r.rbac() {
            *by.entry(format!("{verb} {resource}")).or_insert(0) += 1;
        }
    }
    (requests.len(), by)
}

struct Run {
    mode: Mode,
    targets: usize,
    startup_s: f64,
    startup_cpu_s: f64,
    tick_cpu_ms_per_tick: f64,
    process_cores: f64,
    rss_mib: f64,
    peak_rss_mib: f64,
    api_per_tick: BTreeMap<String, f64>,
    instant_per_tick: f64,
    range_per_tick: f64,
    startup_range_queries: u64,
    startup_range_points: u64,
    lag_p99_s: f64,
    lag_max_s: f64,
    ticks_per_interval: f64,
    metrics_bytes: usize,
    events: BTreeMap<String, f64>,
}

impl Run {
    fn json(&self) -> Value {
        json!({
            "mode": self.mode.name(),
            "targets": self.targets,
            "startup_s": self.startup_s,
            "startup_cpu_s": self.startup_cpu_s,
            "tick_cpu_ms_per_tick": self.tick_cpu_ms_per_tick,
            "process_cores": self.process_cores,
            "rss_mib": self.rss_mib,
            "peak_rss_mib": self.peak_rss_mib,
            "api_requests_per_tick": self.api_per_tick,
            "promql_instant_per_tick": self.instant_per_tick,
            "promql_range_per_tick": self.range_per_tick,
            "startup_range_queries": self.startup_range_queries,
            "startup_range_points": self.startup_range_points,
            "tick_lag_p99_s_at_most": self.lag_p99_s,
            "tick_lag_max_s_at_most": self.lag_max_s,
            "ticks_per_interval": self.ticks_per_interval,
            "metrics_page_bytes": self.metrics_bytes,
            "events": self.events,
        })
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn spawn(dir: &Path, config: &Path, kubeconfig: &Path, admin: &str, mode: Mode) -> Child {
    let log = std::fs::File::create(dir.join("prescale.log")).expect("log file");
    // `PRESCALE_BENCH_COMMAND` runs the controller through another command first (a heap
    // profiler: `heaptrack -o FILE`), given the binary and its arguments.
    let mut command = match std::env::var("PRESCALE_BENCH_COMMAND") {
        Ok(wrapper) if !wrapper.trim().is_empty() => {
            let mut words = wrapper.split_whitespace();
            let mut c = Command::new(words.next().unwrap_or_default());
            c.args(words).arg(env!("CARGO_BIN_EXE_prescale"));
            c
        }
        _ => Command::new(env!("CARGO_BIN_EXE_prescale")),
    };
    command
        .args(["run", "--config"])
        .arg(config)
        .args(["--admin-addr", admin, "--cluster-reads"])
        .arg(match mode {
            Mode::Baseline => "get",
            Mode::Shared | Mode::Spread => "watch",
        })
        // What prescale did before slots: ticks spread evenly over the interval.
        .args(["--tick-slot"])
        .arg(match mode {
            Mode::Shared => "1s",
            Mode::Baseline | Mode::Spread => "0s",
        })
        .env("KUBECONFIG", kubeconfig)
        .env("POD_NAME", "prescale-bench")
        .env("POD_NAMESPACE", "prescale-system")
        .env("RUST_LOG", "info")
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .expect("start prescale run")
}

async fn run_one(mode: Mode, n: usize, o: &Options) -> Run {
    let layout = Layout {
        targets: n,
        namespaces: n.div_ceil(TARGETS_PER_NAMESPACE).max(1),
    };
    let api = ApiDouble::start().await;
    for i in 0..n {
        api.put_deployment(&layout.namespace(i), &layout.deployment(i), 4, 4);
    }
    let (prometheus, counts) = prometheus_double::start(layout).await;
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = dir.path().join("prescale.yaml");
    std::fs::write(&config, config_yaml(mode, &prometheus, &layout, o)).expect("write config");
    let kubeconfig = api.write_kubeconfig(dir.path(), "bench");
    let admin = format!("127.0.0.1:{}", free_port());
    let http = reqwest::Client::new();

    let started = Instant::now();
    let mut child = spawn(dir.path(), &config, &kubeconfig, &admin, mode);
    let pid = child.id();
    loop {
        let ready = http
            .get(format!("http://{admin}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(dir.path().join("prescale.log")).unwrap_or_default();
            panic!("prescale run exited with {status}:\n{log}");
        }
        assert!(
            started.elapsed() < READY_TIMEOUT,
            "not ready within {READY_TIMEOUT:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let startup_s = started.elapsed().as_secs_f64();
    let startup_cpu_s = process_cpu(pid);
    // Settle: the first ticks move to their phase of the interval; start-up work ends.
    tokio::time::sleep(o.interval * 2).await;
    // And the warm-up is over: every target has ticked `--settle-ticks` times (a target's
    // first ticks after its history backfill change its decision, its log line and its
    // Event far more often than later ones: that is start-up, not the steady state).
    let settle_until = Instant::now() + READY_TIMEOUT;
    while Instant::now() < settle_until {
        let ticks = scrape(&http, &admin).await.map_or(0.0, |s| s.lag_count);
        if ticks >= (o.settle_ticks * n) as f64 {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let startup_range_queries = counts.range.load(Ordering::Relaxed);
    let startup_range_points = counts.range_points.load(Ordering::Relaxed);

    let before = scrape(&http, &admin).await.expect("metrics");
    let (from, _) = api_requests(&api, usize::MAX);
    let cpu0 = process_cpu(pid);
    let (instant0, range0) = (
        counts.instant.load(Ordering::Relaxed),
        counts.range.load(Ordering::Relaxed),
    );
    let t0 = Instant::now();
    // Scraped once per interval, as a Prometheus scraping prescale would.
    let mut metrics_bytes = 0;
    while t0.elapsed() < o.window {
        tokio::time::sleep(o.interval.min(o.window - t0.elapsed().min(o.window))).await;
        if let Some(s) = scrape(&http, &admin).await {
            metrics_bytes = s.bytes;
        }
    }
    let after = scrape(&http, &admin).await.expect("metrics");
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu = process_cpu(pid) - cpu0;
    let (rss_mib, peak_rss_mib) = process_memory(pid);
    let (_, by) = api_requests(&api, from);
    let intervals = elapsed / o.interval.as_secs_f64();
    let (lag_p99_s, lag_max_s) = lag_quantiles(&before, &after, 0.99);

    // SIGTERM: the controller releases its Lease and exits.
    // SAFETY: kill only sends a signal to the child this function started.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGTERM);
    }
    let _ = child.wait();

    Run {
        mode,
        targets: n,
        startup_s,
        startup_cpu_s,
        tick_cpu_ms_per_tick: (after.tick_cpu - before.tick_cpu) * 1000.0 / intervals,
        process_cores: cpu / elapsed,
        rss_mib,
        peak_rss_mib,
        api_per_tick: by
            .into_iter()
            .map(|(k, v)| (k, v as f64 / intervals))
            .collect(),
        instant_per_tick: (counts.instant.load(Ordering::Relaxed) - instant0) as f64 / intervals,
        range_per_tick: (counts.range.load(Ordering::Relaxed) - range0) as f64 / intervals,
        startup_range_queries,
        startup_range_points,
        lag_p99_s,
        lag_max_s,
        ticks_per_interval: (after.lag_count - before.lag_count) / intervals,
        metrics_bytes,
        events: after.events,
    }
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.3}×", a / b)
    } else if a == 0.0 {
        "0 (both 0)".into()
    } else {
        "n/a (baseline 0)".into()
    }
}

fn print_run(r: &Run, baseline: Option<&Run>) {
    let vs = |f: fn(&Run) -> f64| match baseline {
        Some(b) if b.mode != r.mode => format!(" ({} of {})", ratio(f(r), f(b)), b.mode.name()),
        _ => String::new(),
    };
    println!(
        "\n{} targets, {}: ready in {:.1}s ({:.1}s CPU; {} range queries, {} points)",
        r.targets,
        r.mode.name(),
        r.startup_s,
        r.startup_cpu_s,
        r.startup_range_queries,
        r.startup_range_points
    );
    println!(
        "  decisions+bookkeeping CPU per tick: {:.1} ms{}",
        r.tick_cpu_ms_per_tick,
        vs(|r| r.tick_cpu_ms_per_tick)
    );
    println!(
        "  process CPU: {:.3} cores{}",
        r.process_cores,
        vs(|r| r.process_cores)
    );
    println!(
        "  RSS: {:.0} MiB (peak {:.0} MiB){}",
        r.rss_mib,
        r.peak_rss_mib,
        vs(|r| r.rss_mib)
    );
    let gets = |r: &Run| {
        r.api_per_tick
            .get("get deployments")
            .copied()
            .unwrap_or(0.0)
    };
    println!(
        "  API requests per tick: {:?}; GET deployments {:.1}{}",
        r.api_per_tick
            .iter()
            .map(|(k, v)| format!("{k}: {v:.2}"))
            .collect::<Vec<_>>(),
        gets(r),
        vs(gets)
    );
    println!(
        "  PromQL per tick: {:.2} instant{}, {:.2} range",
        r.instant_per_tick,
        vs(|r| r.instant_per_tick),
        r.range_per_tick
    );
    println!(
        "  ticks per interval: {:.0}; tick lag p99 <= {}s, max <= {}s; /metrics page {} KiB; Events {:?}",
        r.ticks_per_interval,
        r.lag_p99_s,
        r.lag_max_s,
        r.metrics_bytes / 1024,
        r.events
    );
}

fn main() {
    let o = options();
    let per_target = memory::measure();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut runs = Vec::new();
    for &n in &o.targets {
        let mut baseline: Option<usize> = None;
        for &mode in &o.modes {
            if mode == Mode::Baseline && n > o.baseline_max {
                if !o.json {
                    println!(
                        "\n{n} targets, baseline: not run (above --baseline-max {}): no ratios at this size",
                        o.baseline_max
                    );
                }
                continue;
            }
            let r = runtime.block_on(run_one(mode, n, &o));
            if !o.json {
                print_run(&r, baseline.map(|b| &runs[b]));
            }
            // Ratios are to the baseline, or where it is not run, to `spread`.
            if mode == Mode::Baseline || (mode == Mode::Spread && baseline.is_none()) {
                baseline = Some(runs.len());
            }
            runs.push(r);
        }
    }
    let memory = json!({
        "core": per_target.core,
        "task_besides_core": per_target.task_besides_core,
        "live_report_windows": per_target.live_report_windows,
        "metric_series": per_target.metric_series,
        "recommendation": per_target.recommendation,
        "deployment_cache": per_target.deployment_cache,
        "pending_event": per_target.pending_event,
        "total": per_target.total(),
        // Not part of the total: allocated for each tick, held by every target at once
        // only during start-up (`TargetTask::tick_future_bytes`).
        "tick_future_bytes": prescale::controller::TargetTask::tick_future_bytes(),
    });
    if o.json {
        let out = json!({
            "interval_s": o.interval.as_secs(),
            "window_s": o.window.as_secs(),
            "settle_ticks": o.settle_ticks,
            "history_days": o.history_days,
            "runs": runs.iter().map(Run::json).collect::<Vec<_>>(),
            "heap_bytes_per_target": memory,
        });
        println!("{out:#}");
    } else {
        println!("\nheap per target, bytes (counting allocator, this process): {memory:#}");
    }
}
