//! The live shadow report end to end: the controller runs in-process against the Kubernetes
//! API double, a metrics source hands it one reading per tick at a time the test chooses
//! (the controller's clock), and `prescale report` (the real binary) prints what the
//! controller accumulated. The numbers must equal what this test computes from the same
//! ticks with its own implementation of BENCH.md's queue and pod model: replica-hours and
//! late documents of what ran and of what prescale recommended, over everything and over
//! `--since 1h` (hourly totals), and the `prescale_report_*` counters in `/metrics`.
//!
//! No sleeps: each reading is handed over only after the previous tick was reported.
//!
//! The second test reads the same kind of ticks from a real Prometheus through the
//! controller's own source (`Sources`, as `prescale run` builds it from the config), asked
//! at each tick's time: the history is written beforehand with `promtool`, and the test
//! only steps the clock.

#[path = "support/api_double/mod.rs"]
mod api_double;
#[path = "support/controller_harness.rs"]
mod controller_harness;
#[path = "support/metrics_double.rs"]
mod metrics_double;
#[path = "support/prometheus.rs"]
#[allow(dead_code)]
mod prometheus;
#[path = "support/skip.rs"]
mod skip;

use api_double::ApiDouble;
use controller_harness::{Running, eventually, one_target, sample, start_clocked, start_full};
use futures::future::BoxFuture;
use prescale::config::TargetConfig;
use prescale::leader::LeaseSettings;
use prescale::live_report::{LiveReport, ScheduleSummary};
use prescale::metrics::{MetricError, MetricsSource, Sources, TargetReadings};
use prometheus::PrometheusServer;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};
use tokio::sync::mpsc;

const NS: &str = "shop";
const INTERVAL_S: f64 = 0.25;
const SLO_S: f64 = 1.0;
/// An hour boundary: Unix time 1.8e9 is 500000 whole hours.
const HOUR: f64 = 1_800_000_000.0;

const CONFIG: &str = "prometheus:
  url: http://127.0.0.1:9
targets:
  - name: docs
    scaleTargetRef: { namespace: shop, name: docs }
    mode: shadow
    interval: 250ms
    minReplicas: 1
    maxReplicas: 20
    startupTime: 750ms
    slo: { queueWait: 1s }
    capacity: { perReplica: 10 }
    metrics:
      queueDepth: { promql: 'sum(queue_depth)' }
      arrivalRate: { promql: 'sum(rate(arrivals_total[1m]))' }
";

/// Hands the controller one reading per tick, and sets the controller's clock to the
/// reading's time as it does: the tick's time is then exactly the one the test chose.
struct Stepped {
    feed: tokio::sync::Mutex<mpsc::UnboundedReceiver<(f64, TargetReadings)>>,
    clock: Arc<Mutex<f64>>,
}

impl MetricsSource for Stepped {
    fn read<'a>(&'a self, _target: &'a TargetConfig) -> BoxFuture<'a, TargetReadings> {
        Box::pin(async move {
            match self.feed.lock().await.recv().await {
                Some((t, readings)) => {
                    *self.clock.lock().expect("clock") = t;
                    readings
                }
                // The test is done: nothing more to read.
                None => TargetReadings::default(),
            }
        })
    }
}

/// What one tick saw and what the controller reported for it.
#[derive(Debug, Clone, Copy)]
struct Tick {
    t: f64,
    rate: Option<f64>,
    current: u32,
    ready: u32,
    recommended: u32,
    capacity: f64,
    startup: f64,
}

/// Per schedule: replica-seconds, settled documents, late documents.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Sums {
    replica_seconds: f64,
    documents: f64,
    late: f64,
}

/// What a tick added to both schedules.
#[derive(Debug, Clone, Copy, Default)]
struct Delta {
    actual: Sums,
    recommended: Sums,
    modelled: f64,
    unmodelled: f64,
}

/// One modelled interval of one schedule: its length, arrivals and capacity (documents),
/// and the tick that modelled it.
#[derive(Debug, Clone, Copy)]
struct Interval {
    dt: f64,
    arrivals: f64,
    capacity: f64,
    tick: usize,
}

/// BENCH.md's fluid queue over `intervals` (starting with `backlog` waiting), computed
/// afresh: each interval's mid-point arrival waits until the interpolated departures reach
/// it. A wait is known at the first boundary where departures reach it, or it is known to
/// be late at the first boundary more than the SLO after its arrival; documents are added
/// (and late ones counted) at the tick of that boundary. Waits not known by the last
/// boundary are not counted yet.
fn settle(intervals: &[Interval], backlog: f64, deltas: &mut [Sums]) {
    let n = intervals.len();
    let (mut time, mut arrived, mut departed) = (vec![0.0], vec![backlog], vec![0.0]);
    let mut b = backlog;
    for i in intervals {
        let served = (b + i.arrivals).min(i.capacity);
        b = b + i.arrivals - served;
        time.push(time.last().unwrap() + i.dt);
        let cum = arrived.last().unwrap() + i.arrivals;
        arrived.push(cum);
        departed.push(cum - b);
    }
    for (j, i) in intervals.iter().enumerate() {
        if i.arrivals <= 0.0 {
            continue;
        }
        let mid = time[j] + i.dt / 2.0;
        let reach = arrived[j] + i.arrivals * 0.5;
        for k in j + 1..=n {
            if departed[k] >= reach {
                let at = time[k - 1]
                    + intervals[k - 1].dt * (reach - departed[k - 1])
                        / (departed[k] - departed[k - 1]);
                let s = &mut deltas[intervals[k - 1].tick];
                s.documents += i.arrivals;
                if at - mid > SLO_S {
                    s.late += i.arrivals;
                }
                break;
            }
            if time[k] - mid > SLO_S {
                let s = &mut deltas[intervals[k - 1].tick];
                s.documents += i.arrivals;
                s.late += i.arrivals;
                break;
            }
        }
    }
}

/// The pods of the recommended schedule, one ready time each.
fn scale_to(pods: &mut Vec<f64>, desired: u32, t: f64, startup: f64) {
    let desired = desired as usize;
    if desired > pods.len() {
        pods.resize(desired, t + startup);
    } else {
        // Removals take the latest ready times first: starting pods before ready ones.
        pods.sort_by(f64::total_cmp);
        pods.truncate(desired);
    }
}

/// What each tick added, computed from the ticks alone; `backlog` waited at the first.
fn expected(ticks: &[Tick], backlog: f64) -> Vec<Delta> {
    let mut deltas = vec![Delta::default(); ticks.len()];
    let first = ticks[0];
    let ready = first.ready.min(first.current);
    let mut pods = vec![first.t; ready as usize];
    pods.resize(first.current as usize, first.t + first.startup);
    scale_to(&mut pods, first.recommended, first.t, first.startup);
    let (mut actual, mut recommended) = (Vec::new(), Vec::new());
    for k in 1..ticks.len() {
        let (prev, now) = (ticks[k - 1], ticks[k]);
        let dt = now.t - prev.t;
        match now.rate {
            Some(rate) if dt <= 4.0 * INTERVAL_S => {
                let a = dt * rate;
                let ready_then = pods.iter().filter(|r| **r <= prev.t).count() as f64;
                actual.push(Interval {
                    dt,
                    arrivals: a,
                    capacity: dt * (now.capacity * f64::from(prev.ready)),
                    tick: k,
                });
                recommended.push(Interval {
                    dt,
                    arrivals: a,
                    capacity: dt * (now.capacity * ready_then),
                    tick: k,
                });
                deltas[k].actual.replica_seconds = f64::from(prev.current) * dt;
                deltas[k].recommended.replica_seconds = pods.len() as f64 * dt;
                deltas[k].modelled = dt;
            }
            _ => deltas[k].unmodelled = dt,
        }
        scale_to(&mut pods, now.recommended, now.t, now.startup);
    }
    let mut sums = vec![Sums::default(); ticks.len()];
    settle(&actual, backlog, &mut sums);
    for (d, s) in deltas.iter_mut().zip(&sums) {
        d.actual.documents = s.documents;
        d.actual.late = s.late;
    }
    let mut sums = vec![Sums::default(); ticks.len()];
    settle(&recommended, backlog, &mut sums);
    for (d, s) in deltas.iter_mut().zip(&sums) {
        d.recommended.documents = s.documents;
        d.recommended.late = s.late;
    }
    deltas
}

fn total(deltas: &[Delta]) -> Delta {
    let mut t = Delta::default();
    for d in deltas {
        for (sum, add) in [
            (&mut t.actual, d.actual),
            (&mut t.recommended, d.recommended),
        ] {
            sum.replica_seconds += add.replica_seconds;
            sum.documents += add.documents;
            sum.late += add.late;
        }
        t.modelled += d.modelled;
        t.unmodelled += d.unmodelled;
    }
    t
}

fn close(what: &str, got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
        "{what}: got {got}, want {want}"
    );
}

fn assert_schedule(what: &str, got: &ScheduleSummary, want: &Sums) {
    close(
        &format!("{what} replica-hours"),
        got.replica_hours,
        want.replica_seconds / 3600.0,
    );
    close(&format!("{what} documents"), got.documents, want.documents);
    close(
        &format!("{what} late documents"),
        got.late_documents,
        want.late,
    );
}

fn assert_report(what: &str, report: &LiveReport, want: &Delta) {
    assert_eq!(report.targets.len(), 1, "{what}");
    let t = &report.targets[0];
    assert_eq!(
        (
            t.target.as_str(),
            t.namespace.as_str(),
            t.deployment.as_str()
        ),
        ("docs", NS, "docs")
    );
    assert_schedule(&format!("{what} actual"), &t.actual, &want.actual);
    assert_schedule(
        &format!("{what} recommended"),
        &t.recommended,
        &want.recommended,
    );
    close(
        &format!("{what} modelled"),
        t.modelled_seconds,
        want.modelled,
    );
    close(
        &format!("{what} unmodelled"),
        t.unmodelled_seconds,
        want.unmodelled,
    );
}

/// `prescale report ARGS` as a process; its exit status, stdout and stderr.
async fn prescale_report(args: &[String]) -> (bool, String, String) {
    let args = args.to_vec();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_prescale"))
            .arg("report")
            .args(&args)
            .output()
            .expect("run prescale report")
    })
    .await
    .expect("join");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The readings of tick `k` of a phase: arrivals at `rate` (or a failed read), and a queue.
fn readings(rate: Option<f64>, queue: f64) -> TargetReadings {
    TargetReadings {
        queue_depth: Some(Ok(queue)),
        arrival_rate: Some(rate.ok_or(MetricError::Stale { age_s: 99.0 })),
        completion_rate: None,
        wait_s: None,
    }
}

/// Hand the controller one reading at `t` and wait until it has reported that tick; what
/// it reported.
async fn one_tick(
    c: &Running,
    feed: &mpsc::UnboundedSender<(f64, TargetReadings)>,
    t: f64,
    rate: Option<f64>,
    queue: f64,
) -> Tick {
    feed.send((t, readings(rate, queue))).expect("feed");
    reported(c, t, rate).await
}

/// Wait until the controller has reported its tick at `t` (where it saw arrivals at `rate`,
/// or none); what it reported.
async fn reported(c: &Running, t: f64, rate: Option<f64>) -> Tick {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let r = loop {
        if let Some(r) = c.recommendation("docs").await
            && r["updatedAt"] == t
        {
            break r;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for the tick at {t} to be reported"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let int = |k: &str| u32::try_from(r[k].as_u64().expect(k)).expect("fits");
    Tick {
        t,
        rate,
        current: int("currentReplicas"),
        ready: int("readyReplicas"),
        recommended: int("recommendedReplicas"),
        capacity: r["capacityPerReplica"].as_f64().expect("capacity"),
        startup: r["startupSeconds"].as_f64().expect("startup"),
    }
}

/// The controller on `config`, reading `source`, on the test's stepped `clock`.
async fn start_stepped(
    api: &ApiDouble,
    config: &str,
    clock: &Arc<Mutex<f64>>,
    source: Arc<dyn MetricsSource>,
) -> Running {
    let now = {
        let clock = clock.clone();
        Arc::new(move || *clock.lock().expect("clock")) as prescale::controller::Clock
    };
    start_clocked(
        api,
        config,
        None,
        Some(prescale::controller::fixed_source(source)),
        now,
    )
    .await
}

/// `GET /report`, `prescale report --json` and `prescale report --since 1h --json` each
/// equal the test's own totals (`all` ticks; `last_two_hours` for `--since 1h`). Returns
/// the three reports for the caller's own checks.
async fn assert_reports(
    c: &Running,
    all: &Delta,
    last_two_hours: &Delta,
) -> (LiveReport, LiveReport, LiveReport) {
    let (code, body) = c.get("/report").await;
    assert_eq!(code, 200, "{body}");
    let served: LiveReport = serde_json::from_str(&body).expect("the report is JSON");
    assert_report("GET /report", &served, all);

    let url = format!("http://{}", c.admin);
    let (ok, out, err) = prescale_report(&["--url".into(), url.clone(), "--json".into()]).await;
    assert!(ok, "{err}");
    let printed: LiveReport = serde_json::from_str(&out).expect("--json prints the report");
    assert_report("prescale report --json", &printed, all);

    let (ok, out, err) = prescale_report(&[
        "--url".into(),
        url,
        "--since".into(),
        "1h".into(),
        "--json".into(),
    ])
    .await;
    assert!(ok, "{err}");
    let hour: LiveReport = serde_json::from_str(&out).expect("--since 1h --json");
    assert_report("prescale report --since 1h", &hour, last_two_hours);
    (served, printed, hour)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prescale_report_prints_what_the_controller_accumulated_tick_by_tick() {
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "docs", 4, 4);
    api.set_instant_rollout(false);
    // Phase 1 starts 100 s into an hour; phase 2 two hours later.
    let start = HOUR + 100.0;
    let clock = Arc::new(Mutex::new(start));
    let (feed, rx) = mpsc::unbounded_channel();
    let source: Arc<dyn MetricsSource> = Arc::new(Stepped {
        feed: tokio::sync::Mutex::new(rx),
        clock: clock.clone(),
    });
    let c = start_stepped(&api, CONFIG, &clock, source).await;

    // 4 replicas serve 40 documents/s. Phase 1: a surge of 60/s, then 20/s with a failed
    // read (not modelled); phase 2, two hours later (not modelled in between): 50/s, then
    // 30/s.
    let initial_backlog = 30.0;
    let mut ticks = Vec::new();
    for k in 0..16 {
        let rate = match k {
            0..=5 => Some(60.0),
            10 => None,
            _ => Some(20.0),
        };
        let queue = if k == 0 { initial_backlog } else { 10.0 };
        // Someone scales what runs by hand: down to 3 in the surge, then up to 5, ready
        // a second later.
        if k == 2 {
            api.scale_by_hand(NS, "docs", 3);
            api.set_ready(NS, "docs", 3);
        }
        if k == 8 {
            api.scale_by_hand(NS, "docs", 5);
        }
        if k == 12 {
            api.set_ready(NS, "docs", 5);
        }
        ticks.push(one_tick(&c, &feed, start + INTERVAL_S * f64::from(k), rate, queue).await);
    }
    let phase_two = ticks.len();
    let start_two = start + 7200.0;
    for k in 0..16 {
        let t = start_two + INTERVAL_S * f64::from(k);
        let rate = if k < 8 { 50.0 } else { 30.0 };
        ticks.push(one_tick(&c, &feed, t, Some(rate), 10.0).await);
    }

    let deltas = expected(&ticks, initial_backlog);
    let all = total(&deltas);
    let last_two_hours = total(&deltas[phase_two..]);
    // The scenario exercises what the report is about.
    assert!(
        all.actual.late > 0.0 && all.actual.late < all.actual.documents,
        "what ran was late at times: {all:?}"
    );
    assert!(
        all.recommended.replica_seconds > all.actual.replica_seconds,
        "prescale asked for more: {all:?}"
    );
    assert!(all.unmodelled > 7000.0, "{all:?}");

    let url = format!("http://{}", c.admin);
    let (served, printed, hour) = assert_reports(&c, &all, &last_two_hours).await;
    assert!(served.leader && served.since.is_none());
    assert_eq!(hour.since.as_deref(), Some("1h"));
    assert_eq!(hour.targets[0].window_start, Some(HOUR + 3600.0));

    // The table: a window line, a header, and the target's row with its verdict.
    let (ok, out, err) = prescale_report(&["--url".into(), url.clone()]).await;
    assert!(ok, "{err}");
    let verdict = &served.targets[0].verdict;
    assert!(
        verdict.starts_with("prescale: ")
            && verdict.contains("more replica-hours")
            && verdict.contains("(what ran: "),
        "{verdict}"
    );
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("Window: since each target started"),
        "{out}"
    );
    assert!(lines[1].starts_with("TARGET "), "{out}");
    assert!(
        lines[2].starts_with("docs ")
            && lines[2].contains("shop/docs")
            && lines[2].ends_with(verdict.as_str()),
        "{out}"
    );
    assert_eq!(out, prescale::live_report::render(&printed));

    // GET /report's text form, asked for by the query or by the Accept header, is the
    // table `prescale report` prints; a window it cannot serve is a 400 saying why.
    let http = reqwest::Client::new();
    let get = |path: &str, accept: &str| {
        http.get(format!("{url}{path}"))
            .header(reqwest::header::ACCEPT, accept)
            .send()
    };
    for (path, accept) in [("/report?format=text", "*/*"), ("/report", "text/plain")] {
        let r = get(path, accept).await.expect("GET /report");
        assert_eq!(r.status(), 200, "{path} {accept}");
        let kind = r.headers()[reqwest::header::CONTENT_TYPE].clone();
        assert!(kind.to_str().unwrap().starts_with("text/plain"), "{kind:?}");
        assert_eq!(r.text().await.unwrap(), out, "{path} with Accept: {accept}");
    }
    let (ok, hour_table, err) =
        prescale_report(&["--url".into(), url.clone(), "--since".into(), "1h".into()]).await;
    assert!(ok, "{err}");
    let r = get("/report?since=1h", "text/plain").await.expect("GET");
    assert_eq!(r.text().await.unwrap(), hour_table);
    for (path, says) in [
        (
            "/report?since=yesterday&format=text",
            "since \"yesterday\" is not a duration",
        ),
        ("/report?since=0s", "ask for a window longer than 0"),
        ("/report?since=30d", "ask for at most 7d"),
        ("/report?format=xml", "ask for format=json or format=text"),
    ] {
        let r = get(path, "text/plain").await.expect("GET");
        assert_eq!(r.status(), 400, "{path}");
        let body = r.text().await.unwrap();
        assert!(body.contains(says), "{path}: {body}");
    }

    // A window longer than the totals kept is refused, saying why.
    let (ok, _, err) =
        prescale_report(&["--url".into(), url, "--since".into(), "30d".into()]).await;
    assert!(!ok && err.contains("at most 7d"), "{err}");

    // The counters say the same, with the Deployment's namespace and name.
    let (_, metrics) = c.get("/metrics").await;
    let labels = "target=\"docs\",namespace=\"shop\",deployment=\"docs\"";
    for (schedule, want) in [("actual", all.actual), ("recommended", all.recommended)] {
        let got = |name: &str| {
            sample(
                &metrics,
                &format!("prescale_report_{name}_total{{{labels},schedule=\"{schedule}\"}}"),
            )
            .unwrap_or_else(|| panic!("{name} {schedule} in {metrics}"))
        };
        close(
            "replica-seconds counter",
            got("replica_seconds"),
            want.replica_seconds,
        );
        close("documents counter", got("documents"), want.documents);
        close("late documents counter", got("late_documents"), want.late);
    }
    let modelled = sample(
        &metrics,
        &format!("prescale_report_modelled_seconds_total{{{labels}}}"),
    );
    close(
        "modelled counter",
        modelled.expect("modelled"),
        all.modelled,
    );

    drop(feed);
    c.stop().await.expect("clean stop");
}

/// An hour boundary in the past for the history loaded into Prometheus.
const PAST_HOUR: f64 = 1_699_999_200.0;

/// The controller's own metric source for its config, read at the time the test hands it
/// (and the controller's clock set to it), so each tick asks Prometheus for an instant the
/// history holds.
struct AtTestTime {
    sources: Sources,
    feed: tokio::sync::Mutex<mpsc::UnboundedReceiver<f64>>,
    clock: Arc<Mutex<f64>>,
}

impl MetricsSource for AtTestTime {
    fn read<'a>(&'a self, target: &'a TargetConfig) -> BoxFuture<'a, TargetReadings> {
        Box::pin(async move {
            let Some(t) = self.feed.lock().await.recv().await else {
                // The test is done: nothing more to read.
                return TargetReadings::default();
            };
            *self.clock.lock().expect("clock") = t;
            self.sources
                .read_at(target, UNIX_EPOCH + Duration::from_secs_f64(t))
                .await
        })
    }

    fn forget(&self, target: &str) {
        self.sources.forget(target);
    }
}

/// A stretch of ticks in the real-Prometheus test's history.
struct Phase {
    /// The ticks' times.
    times: Vec<f64>,
    /// Documents/s arriving in the tick ending at each time (`None` before the counter runs).
    rates: Vec<Option<f64>>,
    /// The tick the arrivals counter starts at.
    counter_from: usize,
}

/// The history of the real-Prometheus test, as OpenMetrics: at each tick a queue-depth
/// gauge, and an arrivals counter growing by the tick's rate times its length from its
/// phase's `counter_from` tick on (irate needs two samples within its minute, so the reads
/// before the second sample of a phase find no series).
fn history_text(phases: &[Phase]) -> String {
    let mut out = String::from("# TYPE docs_queue_depth gauge\n");
    for phase in phases {
        for t in &phase.times {
            let _ = writeln!(out, "docs_queue_depth 10 {t:.3}");
        }
    }
    out.push_str("# TYPE docs_arrived counter\n");
    let mut total = 0.0;
    for phase in phases {
        for (k, t) in phase.times.iter().enumerate().skip(phase.counter_from) {
            if k > phase.counter_from {
                total += phase.rates[k].expect("a rate where the counter runs") * INTERVAL_S;
            }
            let _ = writeln!(out, "docs_arrived_total {total} {t:.3}");
        }
    }
    out.push_str("# EOF\n");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_matches_the_model_on_ticks_read_from_a_real_prometheus() {
    let test = "the_report_matches_the_model_on_ticks_read_from_a_real_prometheus";
    let Some(promtool) = prometheus::promtool() else {
        return skip::skip(test, "no promtool", "install Debian's prometheus package");
    };
    let Some(mut server) = PrometheusServer::start(&[]).expect("Prometheus starts") else {
        return prometheus::skip_without_binary(test);
    };

    // Phase 1, 100 s into an hour: 12 ticks, a surge of 60/s then 20/s. Phase 2, two
    // hours later: 12 ticks at 50/s then 30/s, its counter starting at its second tick,
    // so its first two reads find no arrivals (the second is a failed read between two
    // ticks a quarter second apart: not modelled).
    let start = PAST_HOUR + 100.0;
    let start_two = start + 7200.0;
    let times =
        |from: f64| -> Vec<f64> { (0..12).map(|k| from + INTERVAL_S * f64::from(k)).collect() };
    let one: Vec<Option<f64>> = (0..12)
        .map(|k| Some(if k < 6 { 60.0 } else { 20.0 }))
        .collect();
    let mut two: Vec<Option<f64>> = (0..12)
        .map(|k| Some(if k < 6 { 50.0 } else { 30.0 }))
        .collect();
    two[0] = None;
    two[1] = None;
    // Phase 1's counter starts a tick before its first read, so that read has a rate.
    let mut one_times = vec![start - INTERVAL_S];
    one_times.extend(times(start));
    let mut one_rates = vec![None];
    one_rates.extend(one.iter().copied());
    server.load_history(
        &promtool,
        &history_text(&[
            Phase {
                times: one_times,
                rates: one_rates,
                counter_from: 0,
            },
            Phase {
                times: times(start_two),
                rates: two.clone(),
                counter_from: 1,
            },
        ]),
    );

    let api = ApiDouble::start().await;
    api.put_deployment(NS, "docs", 4, 4);
    api.set_instant_rollout(false);
    let config = CONFIG
        .replace("http://127.0.0.1:9", &server.url())
        .replace("sum(queue_depth)", "sum(docs_queue_depth)")
        .replace(
            "sum(rate(arrivals_total[1m]))",
            "sum(irate(docs_arrived_total[1m]))",
        );
    let parsed = prescale::config::parse(&config, "prescale.yaml").expect("config");
    let clock = Arc::new(Mutex::new(start));
    let (feed, rx) = mpsc::unbounded_channel();
    let source: Arc<dyn MetricsSource> = Arc::new(AtTestTime {
        sources: Sources::new(&parsed).expect("the controller's sources"),
        feed: tokio::sync::Mutex::new(rx),
        clock: clock.clone(),
    });
    let c = start_stepped(&api, &config, &clock, source).await;

    let mut ticks = Vec::new();
    for (k, t) in times(start).into_iter().enumerate() {
        // Scaled by hand in the surge: down to 3, then up to 5, ready two ticks later.
        match k {
            2 => {
                api.scale_by_hand(NS, "docs", 3);
                api.set_ready(NS, "docs", 3);
            }
            7 => api.scale_by_hand(NS, "docs", 5),
            9 => api.set_ready(NS, "docs", 5),
            _ => {}
        }
        feed.send(t).expect("feed");
        ticks.push(reported(&c, t, one[k]).await);
    }
    let phase_two = ticks.len();
    for (k, t) in times(start_two).into_iter().enumerate() {
        feed.send(t).expect("feed");
        ticks.push(reported(&c, t, two[k]).await);
    }
    // The controller read the arrivals Prometheus had: none where the test wrote none.
    let (_, metrics) = c.get("/metrics").await;
    let no_data = sample(
        &metrics,
        "prescale_metric_errors_total{target=\"docs\",metric=\"arrivalRate\",reason=\"no_data\"}",
    );
    assert_eq!(no_data, Some(2.0), "{metrics}");

    // Its queue in Prometheus was 10 at every tick; the test's model starts from it.
    let deltas = expected(&ticks, 10.0);
    let all = total(&deltas);
    assert!(all.actual.late > 0.0, "what ran was late at times: {all:?}");
    assert!(all.modelled > 0.0 && all.unmodelled > 7000.0, "{all:?}");
    assert!(
        deltas[phase_two + 1].unmodelled == INTERVAL_S,
        "the failed read between two close ticks is not modelled"
    );

    assert_reports(&c, &all, &total(&deltas[phase_two..])).await;

    drop(feed);
    c.stop().await.expect("clean stop");
}

/// The live report's replica-seconds of what ran, from an instance's `/report`.
async fn reported_replica_seconds(c: &Running) -> f64 {
    let (_, body) = c.get("/report").await;
    let report: LiveReport = serde_json::from_str(&body).expect("the report is JSON");
    report.targets[0].actual.replica_hours * 3600.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_leader_exports_per_target_series_and_a_new_leaders_counters_start_at_takeover() {
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "web", 2, 2);
    let yaml = one_target("web", "web", "shadow", 1);
    let lease = |identity: &str| LeaseSettings {
        lease_duration: std::time::Duration::from_millis(2000),
        renew_deadline: std::time::Duration::from_millis(1500),
        retry_period: std::time::Duration::from_millis(100),
        ..LeaseSettings::new("prescale-leader".into(), "prescale".into(), identity.into())
    };
    let a = start_full(&api, &yaml, Some(lease("a")), None).await;
    a.metrics.set("web", 0.0, 5.0);
    eventually(15, "a leads", || async {
        a.metric("prescale_is_leader").await == Some(1.0)
    })
    .await;
    let b = start_full(&api, &yaml, Some(lease("b")), None).await;
    b.metrics.set("web", 0.0, 5.0);
    // The follower models every tick too (a hand-over is warm) ...
    eventually(15, "b has modelled a second as a follower", || async {
        reported_replica_seconds(&b).await >= 2.0
    })
    .await;
    let (_, body) = b.get("/report").await;
    assert!(body.contains("\"leader\":false"), "{body}");
    // ... but exports none of its per-target series, while the leader does, labelled with
    // the Deployment's namespace and name.
    let (_, follower) = b.get("/metrics").await;
    assert!(follower.contains("prescale_is_leader 0"), "{follower}");
    assert!(!follower.contains("target="), "{follower}");
    let series = "prescale_report_replica_seconds_total{target=\"web\",namespace=\"shop\",deployment=\"web\",schedule=\"actual\"}";
    // The leader's counter grows from its own ticks, which may fall behind the follower's
    // on a loaded machine: waited for, not read once.
    eventually(15, "the leader exports its replica-seconds", || async {
        a.metric(series).await.is_some_and(|v| v > 0.0)
    })
    .await;
    assert!(
        a.metric(
            "prescale_recommended_replicas{target=\"web\",namespace=\"shop\",deployment=\"web\"}"
        )
        .await
        .is_some()
    );

    // The leader stops and releases the Lease; b takes over and exports from then on, its
    // counters counting only its own leadership (what it modelled before is not exported).
    a.stop().await.expect("clean stop");
    eventually(15, "b leads and exports", || async {
        b.metric(series).await.is_some()
    })
    .await;
    let counted = b.metric(series).await.expect("exported");
    let modelled = reported_replica_seconds(&b).await;
    assert!(
        counted <= modelled - 1.5,
        "counted since takeover {counted}, modelled since start {modelled}"
    );
    b.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pointing_a_target_at_another_deployment_moves_its_series_and_restarts_its_report() {
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "web", 2, 2);
    api.put_deployment(NS, "api", 3, 3);
    let c = start_full(&api, &one_target("web", "web", "shadow", 1), None, None).await;
    c.metrics.set("web", 0.0, 5.0);
    let on = |deployment: &str| {
        format!(
            "prescale_report_replica_seconds_total{{target=\"web\",namespace=\"shop\",deployment=\"{deployment}\",schedule=\"actual\"}}"
        )
    };
    eventually(10, "web's report counted", || async {
        c.metric(&on("web")).await.is_some_and(|v| v > 0.0)
    })
    .await;

    c.write_config(&one_target("web", "api", "shadow", 1));
    eventually(10, "the series on api", || async {
        c.metric(&on("api")).await.is_some()
    })
    .await;
    // The old Deployment's gauges, histogram and report counters are gone (error and write
    // counters, labelled by open-ended reasons, stay at their last value).
    let (_, metrics) = c.get("/metrics").await;
    for line in metrics.lines().filter(|l| l.contains("deployment=\"web\"")) {
        assert!(
            line.starts_with("prescale_tick_errors_total")
                || line.starts_with("prescale_metric_errors_total")
                || line.starts_with("prescale_scale_writes_total"),
            "{line}"
        );
    }
    assert!(c.metric(&on("web")).await.is_none());
    let (_, body) = c.get("/report").await;
    let report: LiveReport = serde_json::from_str(&body).expect("JSON");
    assert_eq!(report.targets[0].deployment, "api");
    c.stop().await.expect("clean stop");
}
