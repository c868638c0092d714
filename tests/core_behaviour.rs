//! Scenarios a user relies on, driven through the pure decision core with a fluid queue:
//! cold start, a daily and a weekly season, a forecast that goes wrong, missing metrics,
//! learned capacity and start-up time, and a person scaling the workload by hand.

use std::f64::consts::PI;
use std::time::Duration;

use prescale::config::TargetConfig;
use prescale::core::{Decision, Limit, Observation, Reason, Signal, TargetState, decide};
use prescale::forecast::Season;
use prescale::simulate::Pods;
use proptest::prelude::prop_oneof;

const DAY: f64 = 86_400.0;

/// A workload behind a queue, as the bench models it: arrivals join the backlog, ready
/// replicas serve `mu` documents/s each, new pods are ready `startup` seconds after the
/// decision that adds them. Each tick the core is told the last interval's arrivals,
/// completions and ready replicas (ready at the interval's start, as the bench reports it).
struct Workload {
    config: TargetConfig,
    state: TargetState,
    pods: Pods,
    mu: f64,
    startup: f64,
    backlog: f64,
    t: f64,
    /// The last interval's (arrival rate, completion rate, ready replicas).
    last: Option<(f64, f64, u32)>,
    /// Whether arrivals and completions are observed (or only the queue and the pods).
    rates_seen: bool,
}

impl Workload {
    fn new(config: TargetConfig, mu: f64, startup: f64) -> Self {
        Workload {
            state: TargetState::new(&config),
            config,
            pods: Pods::initial(),
            mu,
            startup,
            backlog: 0.0,
            t: 0.0,
            last: None,
            rates_seen: true,
        }
    }

    fn interval(&self) -> f64 {
        self.config.interval.as_secs_f64()
    }

    /// What the core is told at the start of the next interval.
    fn observation(&self) -> Observation {
        let (arrival_rate, completion_rate, ready) = match self.last {
            Some((a, c, r)) => (Some(a), Some(c), r),
            None => (None, None, self.pods.ready_at(self.t)),
        };
        let (arrival_rate, completion_rate) = if self.rates_seen {
            // Before the first interval nothing has arrived yet.
            (arrival_rate.or(Some(0.0)), completion_rate)
        } else {
            (None, None)
        };
        Observation {
            t: self.t,
            queue_depth: Some(self.backlog),
            arrival_rate,
            completion_rate,
            // The backlog over the rate it is served at: the wait of the newest document.
            wait_s: Some(if self.backlog > 0.0 {
                self.backlog / (self.mu * f64::from(ready.max(1)))
            } else {
                0.0
            }),
            ready,
            current: self.pods.total(),
        }
    }

    /// Decide at the start of an interval, apply the decision, then run the interval with
    /// arrivals at `rate` documents/s.
    fn step(&mut self, rate: f64) -> Decision {
        let obs = self.observation();
        let d = decide(&self.config, &mut self.state, &obs);
        self.pods.scale_to(d.replicas, self.t, self.startup);
        self.run(rate);
        d
    }

    /// Run one interval at `rate` with the replicas as they are.
    fn run(&mut self, rate: f64) {
        let interval = self.interval();
        let ready = self.pods.ready_at(self.t);
        let arrivals = rate * interval;
        let served = (self.backlog + arrivals).min(self.mu * f64::from(ready) * interval);
        self.backlog += arrivals - served;
        self.last = Some((rate, served / interval, ready));
        self.t += interval;
    }
}

/// The replicas the plan found the lead window needs.
fn need(d: &Decision) -> Option<u32> {
    d.reasons.iter().find_map(|r| match r {
        Reason::Plan { need, .. } => Some(*need),
        _ => None,
    })
}

/// The forecast's upper bound over the lead window, documents/s.
fn forecast(d: &Decision) -> Option<f64> {
    d.forecast_upper
}

fn winner(d: &Decision) -> Option<Signal> {
    d.reasons.iter().find_map(|r| match r {
        Reason::Winner { signal } => Some(*signal),
        _ => None,
    })
}

/// Quiet nights, busy days: 10 documents/s overnight, 60 from 09:00 to 18:00, with
/// two-hour smooth ramps in between (07:00-09:00 up, 18:00-20:00 down).
fn office_hours(t: f64) -> f64 {
    let h = (t.rem_euclid(DAY)) / 3600.0;
    let ramp = |x: f64| 0.5 - 0.5 * (PI * x.clamp(0.0, 1.0)).cos();
    let busy = if h < 13.0 {
        ramp((h - 7.0) / 2.0)
    } else {
        1.0 - ramp((h - 18.0) / 2.0)
    };
    10.0 + 50.0 * busy
}

/// `shape` with ±10 % uniform noise.
fn noisy(shape: impl Fn(f64) -> f64, seed: u64) -> impl FnMut(f64) -> f64 {
    let mut rng = fastrand::Rng::with_seed(seed);
    move |t| shape(t) * (0.9 + 0.2 * rng.f64())
}

fn config() -> TargetConfig {
    TargetConfig {
        max_replicas: 200,
        ..TargetConfig::default()
    }
}

/// Documents/s the replicas of `d` can serve.
fn covers(d: &Decision, replicas: u32) -> f64 {
    f64::from(replicas) * d.capacity_per_replica
}

/// The reactive signals: what the core proposes from what it sees now.
fn reactive(signal: Signal) -> bool {
    matches!(signal, Signal::Reactive | Signal::BacklogDrain)
}

#[test]
fn a_cold_start_scales_reactively_and_forecasts_from_the_first_completed_bucket() {
    let mut w = Workload::new(config(), 1.0, 90.0);
    // prescale starts on a workload already under load: 20 documents/s and a backlog.
    w.backlog = 600.0;
    w.last = Some((20.0, 1.0, 1));
    let first = w.step(20.0);
    // The arrivals alone need 20 replicas; the backlog needs more, to drain it.
    assert!(need(&first) > Some(20), "{first:?}");
    assert_eq!(winner(&first), Some(Signal::BacklogDrain), "{first:?}");
    // Only the level model can forecast from one tick: what was seen, persisted.
    assert!(
        first.forecast_model.is_none_or(|m| m == Season::None),
        "{first:?}"
    );
    // The first tick acts at once, as fast as the default scale-up policies allow
    // (max(2 × current, current + 4) per 15 s).
    assert_eq!(first.replicas, 5, "{first:?}");
    assert!(
        first.reasons.iter().any(|r| matches!(
            r,
            Reason::Limited {
                limit: Limit::ScaleUpLimit,
                to: 5,
                ..
            }
        )),
        "{first:?}"
    );

    let mut first_forecast = None;
    let mut decided = vec![first.replicas];
    while w.t < 3600.0 {
        let d = w.step(20.0);
        decided.push(d.replicas);
        if first_forecast.is_none() && d.forecast_model.is_some() {
            first_forecast = Some(w.t - w.interval());
        }
        if first_forecast.is_none() {
            assert!(winner(&d).is_some_and(reactive), "{d:?}");
        }
    }
    assert!(
        decided[3] >= 20,
        "the load's replicas within four ticks: {:?}",
        &decided[..6]
    );
    // The level model forecasts from the first completed 5-minute bucket: the tick at
    // t = 0 reports the interval before it, which closes that bucket at the next tick. A
    // level from one tick is the reactive signal again, so nothing is lost by using it.
    let at = first_forecast.expect("a forecast within the first hour");
    eprintln!("first Forecast proposal at t = {at} s");
    assert!(at <= 300.0, "first forecast at {at} s");
    assert_eq!(w.state.forecaster().season(), Season::None);
    // The backlog is worked down to a wait within the plan's target (half the SLO).
    let wait = w.observation().wait_s.unwrap_or(f64::INFINITY);
    assert!(wait <= 30.0, "wait {wait} s, backlog {}", w.backlog);
}

#[test]
fn a_daily_season_is_learned_and_capacity_is_ready_before_the_morning_rise() {
    let run = |forecast: bool| {
        let mut c = config();
        c.forecast.enabled = forecast;
        let mut w = Workload::new(c, 1.0, 90.0);
        let mut load = noisy(office_hours, 1);
        while w.t < 3.0 * DAY {
            let r = load(w.t);
            w.step(r);
        }
        let mut worst_wait: f64 = 0.0;
        let mut ramp = Vec::new();
        // Day 4, 06:00 to 10:00: the rise.
        while w.t < 3.0 * DAY + 10.0 * 3600.0 {
            let r = load(w.t);
            let t = w.t;
            let d = w.step(r);
            if t >= 3.0 * DAY + 6.0 * 3600.0 {
                ramp.push((t, d));
                worst_wait = worst_wait.max(w.observation().wait_s.unwrap_or(0.0));
            }
        }
        (w, ramp, worst_wait)
    };
    let (w, ramp, wait_with) = run(true);
    assert_eq!(w.state.forecaster().season(), Season::Daily);
    let mut forecast_wins = 0;
    for (t, d) in &ramp {
        // Replicas decided at t are ready at t + L: the forecast must cover the load then.
        let f = forecast(d).expect("a forecast on day 4");
        let need = office_hours(t + d.startup_s);
        assert!(
            // The plan lets a queue absorb up to half the SLO: a few percent short for a
            // minute is within it.
            f >= 0.95 * need && covers(d, d.replicas) >= 0.85 * need,
            "at {:.2} h the forecast {f:.1}/s and {} replicas ({:.1}/s) < {need:.1}/s at t + {} s",
            (t - 3.0 * DAY) / 3600.0,
            d.replicas,
            covers(d, d.replicas),
            d.startup_s
        );
        let h = (t - 3.0 * DAY) / 3600.0;
        if (7.0..9.0).contains(&h) && winner(d) == Some(Signal::Forecast) {
            forecast_wins += 1;
        }
    }
    let rise_ticks = 2 * 240;
    eprintln!("forecast won {forecast_wins} of {rise_ticks} ticks of the rise");
    // On a noisy rise the reactive signal (the peak of the last lead time) often ties or
    // wins; the forecast must still lead a large share of it (measured: 224 of 480).
    assert!(
        forecast_wins > rise_ticks / 3,
        "the forecast leads the rise: {forecast_wins} of {rise_ticks}"
    );
    let (_, _, wait_without) = run(false);
    eprintln!(
        "worst wait on the rise: {wait_with:.1} s with the forecast, {wait_without:.1} s without"
    );
    // With the forecast the rise stays within the wait the plan allows its upper band (the
    // 60 s SLO less the reserve for misses: one 15 s interval here) and shorter than without
    // it (measured: 36.7 s against 40.1 s; nobody is late either way).
    assert!(
        wait_with <= 45.0 && wait_with < wait_without,
        "{wait_with} vs {wait_without}"
    );
}

/// Weekdays busy, weekends quiet, with a daily swing: 40 documents/s on weekdays and 8 on
/// Saturdays and Sundays (day 0 is a Monday), ±30 % over the day.
fn weekly(t: f64) -> f64 {
    let day = (t / DAY).floor() as i64 % 7;
    let base = if day >= 5 { 8.0 } else { 40.0 };
    base * (1.0 + 0.3 * (2.0 * PI * t / DAY).sin())
}

#[test]
fn a_weekly_pattern_is_forecast_closely_over_the_lead_time_except_at_weekend_edges() {
    // A controller with a 60 s interval, backfilled from a Prometheus range query.
    let c = TargetConfig {
        interval: Duration::from_secs(60),
        ..config()
    };
    let mut state = TargetState::new(&c);
    let mut rng = fastrand::Rng::with_seed(3);
    let lead = state.startup_s(&c) + 60.0;
    let mut errors = Vec::new();
    let mut seasons = std::collections::BTreeMap::new();
    for i in 1..=(16 * 1440) {
        let t = f64::from(i) * 60.0;
        state.backfill(&c, 60.0, &[(t, weekly(t) * (0.9 + 0.2 * rng.f64()))]);
        if t > 8.0 * DAY {
            *seasons
                .entry(format!("{:?}", state.forecaster().season()))
                .or_insert(0) += 1;
            let p = state.forecaster().predict(t, t + lead).expect("a forecast");
            let truth = weekly(t + lead).max(weekly(t));
            errors.push(((p.upper - truth) / truth, t));
        }
    }
    // Within 5 % under and 30 % over the load, except in the hour after a weekend starts
    // or ends (from an hour before the edge, where the weekly model already anticipates it
    // and the level model still holds the old level).
    let edges = [5.0 * DAY, 7.0 * DAY, 12.0 * DAY, 14.0 * DAY];
    let near_edge = |t: f64| edges.iter().any(|e| (e - 3600.0..e + 3600.0).contains(&t));
    for &(e, t) in &errors {
        assert!(
            (-0.05..=0.3).contains(&e) || near_edge(t),
            "forecast off by {:+.0} % at day {:.3}",
            100.0 * e,
            t / DAY
        );
    }
    errors.sort_by(|a, b| a.0.total_cmp(&b.0));
    let q = |p: f64| errors[((errors.len() - 1) as f64 * p) as usize].0;
    eprintln!(
        "weekly, days 8-16: seasons {seasons:?}; relative error of the forecast's upper bound: \
         p1 {:.3} p5 {:.3} p50 {:.3} p95 {:.3} p99 {:.3}",
        q(0.01),
        q(0.05),
        q(0.5),
        q(0.95),
        q(0.99),
    );
    // The upper bound carries the margin sized for 99 % of lead windows: ~10 % over.
    assert!((0.0..0.15).contains(&q(0.5)), "median error {}", q(0.5));
}

/// Three days of office hours, to 11:00 on day 4 (busy and flat): a trained forecaster
/// (which model forecasts the flat busy hours with a 90 s lead is its scores' business:
/// the level follows a two-hour ramp as well as the season does).
fn trained(max_replicas: u32, seed: u64) -> (Workload, impl FnMut(f64) -> f64) {
    let c = TargetConfig {
        max_replicas,
        ..config()
    };
    let mut w = Workload::new(c, 1.0, 90.0);
    let mut load = noisy(office_hours, seed);
    while w.t < 3.0 * DAY + 11.0 * 3600.0 {
        let r = load(w.t);
        w.step(r);
    }
    (w, load)
}

#[test]
fn when_the_load_triples_the_reactive_signals_take_over_and_reach_it_within_four_ticks() {
    let (mut w, mut load) = trained(400, 11);
    let usual = w.pods.total();
    let mut decisions = Vec::new();
    // 30 minutes at three times the usual load.
    for _ in 0..120 {
        let r = 3.0 * load(w.t);
        decisions.push(w.step(r));
    }
    let replicas: Vec<u32> = decisions.iter().map(|d| d.replicas).collect();
    eprintln!("usual {usual}; after the jump: {:?}", &replicas[..12]);
    // The first tick still reports the old arrivals; from the second on, the reactive
    // signals win, and the default policies (2× per tick) reach the load's 180/s by the
    // fourth tick.
    for d in &decisions[1..] {
        assert!(winner(d).is_some_and(reactive), "{d:?}");
    }
    assert!(replicas[3] >= 180, "{:?}", &replicas[..6]);
    // Then the backlog drains and the replicas follow the real load.
    let settled = &decisions[80..];
    let lo = settled.iter().map(|d| d.replicas).min();
    let hi = settled.iter().map(|d| d.replicas).max();
    eprintln!("settled between {lo:?} and {hi:?}");
    for d in settled {
        // The reactive signal follows arrivals with ±10 % noise, and the backlog the
        // noise leaves is drained on top.
        let need = 3.0 * 60.0 / d.capacity_per_replica;
        assert!(
            (need * 0.85..=need * 1.3).contains(&f64::from(d.replicas)),
            "{} replicas for {need}: {d:?}",
            d.replicas
        );
    }
    let wait = w.observation().wait_s.unwrap_or(f64::INFINITY);
    assert!(wait < 10.0, "wait {wait} s at the end");
}

#[test]
fn when_the_load_drops_to_a_tenth_the_forecast_lets_go_within_hours() {
    let (mut w, mut load) = trained(200, 12);
    let start = w.t;
    let mut released = None;
    let mut held = Vec::new();
    let mut left_daily = None;
    // A day at a tenth of the usual load.
    while w.t < start + DAY {
        let t = w.t;
        let d = w.step(0.1 * load(t));
        // The most the tenth of the load needed over the last hour (a level model follows
        // a falling load with some lag; that is not the old capacity).
        let need = (0..=12)
            .map(|k| 0.1 * office_hours(t + d.startup_s - 300.0 * f64::from(k)))
            .fold(0.0, f64::max)
            / d.capacity_per_replica;
        let over = f64::from(d.replicas) > (2.0 * need).max(need + 2.0);
        if over {
            released = None;
        } else if released.is_none() {
            released = Some(t - start);
        }
        if left_daily.is_none() && w.state.forecaster().season() != Season::Daily {
            left_daily = Some(t - start);
        }
        if (((t - start) / 15.0) as u64).is_multiple_of(240) {
            held.push((
                (t - start) / 3600.0,
                d.replicas,
                w.state.forecaster().season(),
            ));
        }
    }
    let released = released.expect("the forecast lets go of the old capacity");
    // Which model forecasts afterwards is the scores' business (a daily model scaled by the
    // new level is as good as the level model); what a user relies on is the release.
    let left_daily = left_daily.unwrap_or(f64::NAN);
    eprintln!(
        "replicas within 2× the need for good after {:.1} h, the daily model dropped after \
         {:.1} h; hourly (h, replicas, season): {held:?}",
        released / 3600.0,
        left_daily / 3600.0
    );
    // The seasonal models scale the season by today's level over the last two hours, so
    // they follow the drop within hours, not days.
    assert!(
        released <= 6.0 * 3600.0,
        "held on for {released} s: {held:?}"
    );
}

/// An observation at `t` with `current` replicas, all ready, and the demand metrics given
/// (no completions: they would teach the capacity estimate).
fn seen(t: f64, current: u32, arrival_rate: Option<f64>, queue_depth: Option<f64>) -> Observation {
    Observation {
        t,
        queue_depth,
        arrival_rate,
        completion_rate: None,
        wait_s: queue_depth.map(|_| 0.0),
        ready: current,
        current,
    }
}

fn fallback(d: &Decision) -> Option<u32> {
    d.reasons.iter().find_map(|r| match r {
        Reason::Fallback { replicas } => Some(*replicas),
        _ => None,
    })
}

#[test]
fn missing_metrics_hold_the_replicas_then_fall_back_and_recovery_resets_the_count() {
    let mut c = config();
    c.forecast.enabled = false;
    c.fallback.failure_threshold = 3;
    c.fallback.behavior = prescale::config::FallbackBehavior::Static;
    c.fallback.replicas = 4;
    let mut state = TargetState::new(&c);
    let mut t = 0.0;
    let mut tick =
        |state: &mut TargetState, current: u32, rate: Option<f64>, queue: Option<f64>| {
            t += 15.0;
            decide(&c, state, &seen(t, current, rate, queue))
        };
    assert_eq!(tick(&mut state, 10, Some(10.0), Some(0.0)).replicas, 10);
    // Two failed ticks: no signal proposes, the replicas are held even though the load
    // last seen (10/s) would allow no fewer; nothing scales down blind.
    for failures in 1..=2 {
        let d = tick(&mut state, 10, None, None);
        assert_eq!(d.replicas, 10, "{d:?}");
        assert!(d.reasons.contains(&Reason::MetricsMissing {
            metric: "arrivalRate",
            failures
        }));
        assert!(d.reasons.contains(&Reason::MetricsMissing {
            metric: "queueDepth",
            failures
        }));
        assert_eq!(fallback(&d), None);
        assert_eq!(state.failures(), failures);
    }
    // The third: KEDA's fallback, `static` 4 replicas.
    let d = tick(&mut state, 10, None, None);
    assert_eq!((d.replicas, fallback(&d)), (4, Some(4)), "{d:?}");
    let d = tick(&mut state, 4, None, None);
    assert_eq!((d.replicas, fallback(&d)), (4, Some(4)), "{d:?}");
    // One metric back is not enough: the queue depth is still missing.
    let d = tick(&mut state, 4, Some(10.0), None);
    assert_eq!(fallback(&d), Some(4), "{d:?}");
    assert_eq!(state.failures(), 5);
    // Both back: the fallback clears at once and the load decides again.
    let d = tick(&mut state, 4, Some(12.0), Some(0.0));
    assert_eq!(fallback(&d), None, "{d:?}");
    assert_eq!(state.failures(), 0);
    assert_eq!(
        d.replicas, 8,
        "as fast as the scale-up policies allow: {d:?}"
    );
    // 12/s: the plan's need (waits up to half the SLO absorb a little), and a step that
    // lasts (`plan.releaseTolerance` above it).
    let d = tick(&mut state, 8, Some(12.0), Some(0.0));
    assert!((11..=14).contains(&d.replicas), "{d:?}");
    // The count starts again from one.
    let d = tick(&mut state, 12, None, Some(0.0));
    assert!(d.reasons.contains(&Reason::MetricsMissing {
        metric: "arrivalRate",
        failures: 1
    }));
    assert!(d.replicas >= 12, "no scale-down blind: {d:?}");
}

#[test]
fn a_metric_the_target_does_not_configure_is_not_missing() {
    let mut c = config();
    c.metrics.arrival_rate = Some(prescale::config::MetricSource::Promql {
        query: "sum(rate(documents_total[1m]))".into(),
        aggregate: None,
        ignore_null_values: false,
    });
    let mut state = TargetState::new(&c);
    for i in 1..=5 {
        let d = decide(
            &c,
            &mut state,
            &seen(15.0 * f64::from(i), 5, Some(5.0), None),
        );
        assert_eq!(fallback(&d), None, "{d:?}");
        assert!(
            !d.reasons
                .iter()
                .any(|r| matches!(r, Reason::MetricsMissing { .. })),
            "{d:?}"
        );
    }
    assert_eq!(state.failures(), 0);
}

#[test]
fn capacity_is_learned_from_saturated_ticks_and_the_reactive_proposal_follows() {
    let c = config();
    let mut state = TargetState::new(&c);
    let mut t = 15.0;
    let arrivals =
        |state: &mut TargetState, t: f64| decide(&c, state, &seen(t, 8, Some(20.0), Some(0.0)));
    let before = arrivals(&mut state, t);
    assert!(need(&before) >= Some(20), "{before:?}");
    // Saturated: a backlog before and after each tick; 8 ready replicas serve 20/s. The
    // estimate moves a tenth of the way each tick from its hint of 1 (one unsaturated
    // sample does not raise it: capacity reads the median of recent samples), so it takes
    // ~250 ticks to be exact enough for ceil(20 / 2.5) to be 8.
    for _ in 0..250 {
        t += 15.0;
        let obs = Observation {
            t,
            queue_depth: Some(500.0),
            arrival_rate: Some(20.0),
            completion_rate: Some(20.0),
            wait_s: Some(10.0),
            ready: 8,
            current: 8,
        };
        decide(&c, &mut state, &obs);
    }
    assert!(
        (state.capacity_per_replica() - 2.5).abs() < 0.01,
        "{}",
        state.capacity_per_replica()
    );
    t += 15.0;
    let after = arrivals(&mut state, t);
    assert!((after.capacity_per_replica - 2.5).abs() < 0.01);
    // The same arrivals need 2.5 times fewer replicas (the forecast's margin aside).
    // ceil(20 / 2.5) = 8; the plan's 30 s of allowed wait may save one.
    let a = need(&after).unwrap_or(0);
    assert!((7..=8).contains(&a), "{a}: {after:?}");
}

#[test]
fn startup_time_is_learned_from_five_scale_ups_whose_pods_are_ready_120_s_later() {
    let mut c = config();
    c.forecast.enabled = false;
    let interval = 15.0;
    let mut state = TargetState::new(&c);
    let mut t = 0.0;
    let mut tick = |state: &mut TargetState, current: u32, ready: u32| {
        t += interval;
        let obs = Observation {
            t,
            queue_depth: Some(0.0),
            arrival_rate: Some(2.0),
            completion_rate: Some(2.0),
            wait_s: Some(0.0),
            ready,
            current,
        };
        decide(&c, state, &obs)
    };
    let mut lead = Vec::new();
    for _ in 0..6 {
        tick(&mut state, 2, 2);
        // Replicas go from 2 to 4 (seen at this tick); the new pods are ready 120 s later.
        let mut elapsed = 0.0;
        loop {
            let ready = if elapsed >= 120.0 { 4 } else { 2 };
            let d = tick(&mut state, 4, ready);
            elapsed += interval;
            if ready == 4 {
                lead.push(d.startup_s);
                break;
            }
        }
        // Back down, without a start-up to measure.
        tick(&mut state, 2, 2);
    }
    eprintln!("start-up in use after each scale-up: {lead:?}");
    assert_eq!(
        &lead[..4],
        &[90.0; 4],
        "the configured value until 5 samples"
    );
    assert_eq!(lead[4], 120.0 - interval / 2.0);
    assert_eq!(lead[5], 120.0 - interval / 2.0);
    assert_eq!(state.startup_s(&c), 112.5);
}

/// Steady 10 documents/s on 10 replicas for ten minutes, then a person sets `manual`
/// replicas; returns each later tick's (seconds since the change was seen, decision).
fn manual_scale(c: &TargetConfig, manual: u32, ticks: usize) -> Vec<(f64, Decision)> {
    let mut state = TargetState::new(c);
    let mut t = 0.0;
    let mut current = 10;
    for _ in 0..40 {
        t += 15.0;
        current = decide(c, &mut state, &seen(t, current, Some(10.0), Some(0.0))).replicas;
    }
    assert_eq!(current, 10);
    current = manual;
    let seen_at = t + 15.0;
    let mut out = Vec::new();
    for _ in 0..ticks {
        t += 15.0;
        let d = decide(c, &mut state, &seen(t, current, Some(10.0), Some(0.0)));
        current = d.replicas;
        out.push((t - seen_at, d));
    }
    out
}

#[test]
fn a_manual_scale_up_is_held_for_the_scale_down_cooldown_then_the_load_decides() {
    let mut c = config();
    c.forecast.enabled = false;
    c.behavior.scale_down_cooldown = Duration::from_secs(300);
    for (since, d) in manual_scale(&c, 20, 30) {
        if since < 300.0 {
            assert_eq!(d.replicas, 20, "{since} s after: {d:?}");
            assert!(d.reasons.contains(&Reason::Limited {
                limit: Limit::Cooldown,
                from: 10,
                to: 20
            }));
        } else {
            assert_eq!(d.replicas, 10, "{since} s after: {d:?}");
        }
    }
}

#[test]
fn without_a_cooldown_a_manual_scale_up_is_undone_at_the_next_tick_even_within_a_scale_down_window()
{
    // The scale-down window holds the highest *recommendation* in it, as HPA's does; a
    // person's change is not a recommendation, so the window does not protect it.
    let mut c = config();
    c.forecast.enabled = false;
    c.behavior.scale_down.stabilization_window = Duration::from_secs(300);
    let after = manual_scale(&c, 20, 4);
    let (_, first) = &after[0];
    assert_eq!(first.replicas, 10, "{first:?}");
    assert!(
        !first
            .reasons
            .iter()
            .any(|r| matches!(r, Reason::Limited { .. })),
        "nothing held it: {first:?}"
    );
}

#[test]
fn a_manual_scale_down_below_the_load_is_undone_at_the_next_tick() {
    let mut c = config();
    c.forecast.enabled = false;
    c.behavior.scale_down_cooldown = Duration::from_secs(300);
    let after = manual_scale(&c, 5, 4);
    // The scale-up policies count from the replicas before the person's change.
    assert_eq!(after[0].1.replicas, 10, "{:?}", after[0].1);
    assert!(after.iter().all(|(_, d)| d.replicas == 10));
}

#[test]
fn a_noisy_daily_sinusoid_is_recognised_as_daily_and_covered_over_the_lead_time() {
    let shape = |t: f64| 30.0 + 20.0 * (2.0 * PI * t / DAY).sin();
    // The model is chosen by its errors at the horizon it is used for. Over a 90 s lead the
    // recent level, carrying the rise or fall under way, predicts a smooth day about as well
    // as the season does and wins about half of day 4 (measured: 2,430 of 5,760 ticks daily);
    // over a 10-minute lead only the season sees the turns coming and must forecast all day.
    for (startup, daily_all_day) in [(90.0, false), (600.0, true)] {
        let mut w = Workload::new(config(), 1.0, startup);
        let mut load = noisy(shape, 9);
        while w.t < 3.0 * DAY {
            let r = load(w.t);
            w.step(r);
        }
        // Day 4: the proposal covers the (noise-free) load one lead time ahead at every tick.
        let (mut ticks, mut daily) = (0, 0);
        while w.t < 4.0 * DAY {
            let t = w.t;
            let r = load(t);
            let d = w.step(r);
            ticks += 1;
            if w.state.forecaster().season() == Season::Daily {
                daily += 1;
            }
            let f = forecast(&d).expect("a forecast");
            let need = shape(t + d.startup_s);
            assert!(
                f >= 0.95 * need,
                "{startup} s: at {t}: {f:.1}/s for {need:.1}/s"
            );
            // A queue of up to half the SLO is allowed: a few percent short is within it.
            assert!(
                covers(&d, d.replicas) >= 0.9 * need,
                "{startup} s: at {t}: {} replicas for {need:.1}/s",
                d.replicas
            );
        }
        eprintln!(
            "{startup} s start-up: the daily model forecast {daily} of {ticks} ticks of day 4"
        );
        if daily_all_day {
            assert_eq!(daily, ticks, "the daily model forecasts all of day 4");
        }
    }
}

#[test]
fn with_a_ten_minute_start_up_capacity_is_asked_for_a_full_lead_time_ahead_of_a_known_ramp() {
    // GenAI pods: 10 minutes from the decision to ready (image pull, model load), 120 s SLO.
    let c = TargetConfig {
        startup_time: Duration::from_secs(600),
        slo: prescale::config::Slo {
            queue_wait: Duration::from_secs(120),
        },
        ..config()
    };
    let mut w = Workload::new(c, 1.0, 600.0);
    let mut load = noisy(office_hours, 5);
    while w.t < 3.0 * DAY {
        let r = load(w.t);
        w.step(r);
    }
    let mut worst_wait: f64 = 0.0;
    let mut short = Vec::new();
    // Day 4, 06:00 to 10:00: the two-hour rise from 10 to 60 documents/s.
    while w.t < 3.0 * DAY + 10.0 * 3600.0 {
        let t = w.t;
        let r = load(t);
        let d = w.step(r);
        if t >= 3.0 * DAY + 6.0 * 3600.0 {
            // Pods asked for at t are ready at t + 600 s: they must serve the load then (in
            // steps of `releaseTolerance`, the queue absorbing the rest within the SLO).
            let then = office_hours(t + 600.0);
            if covers(&d, d.replicas) < 0.8 * then {
                short.push(((t - 3.0 * DAY) / 3600.0, d.replicas, then));
            }
            worst_wait = worst_wait.max(w.observation().wait_s.unwrap_or(0.0));
        }
    }
    assert_eq!(w.state.forecaster().season(), Season::Daily);
    assert!(
        short.is_empty(),
        "replicas asked for short of the load a lead time later (h, replicas, need): {short:?}"
    );
    assert!(
        worst_wait < 120.0,
        "worst wait on the rise {worst_wait:.1} s"
    );
}

/// Day 4 of `office_hours` (±10 %), 90 s start-up, 60 s SLO: the share of documents that
/// arrived while the newest one waited past the SLO, and the pod-hours.
fn day_four(config: TargetConfig, rates_seen: bool) -> (f64, f64) {
    let mut w = Workload::new(config, 1.0, 90.0);
    w.rates_seen = rates_seen;
    let mut load = noisy(office_hours, 11);
    let (mut arrived, mut late, mut pod_s) = (0.0, 0.0, 0.0);
    while w.t < 4.0 * DAY {
        let t = w.t;
        let r = load(t);
        let d = w.step(r);
        if t >= 3.0 * DAY {
            arrived += r;
            if w.observation().wait_s.unwrap_or(0.0) > 60.0 {
                late += r;
            }
            pod_s += f64::from(d.replicas) * w.interval();
        }
    }
    (late / arrived, pod_s / 3600.0)
}

#[test]
fn with_only_the_queue_depth_the_arrivals_are_inferred_and_the_day_is_served() {
    // A queue-only target (no arrival or completion metric, as with KEDA's queue scaler):
    // the arrivals are inferred from the queue and the ready replicas' capacity.
    let mut queue_only = config();
    queue_only.metrics.queue_depth = Some(prescale::config::MetricSource::Promql {
        query: "sum(queue_depth)".into(),
        aggregate: None,
        ignore_null_values: false,
    });
    let (late, pod_hours) = day_four(queue_only, false);
    let (full_late, full_pod_hours) = day_four(config(), true);
    eprintln!(
        "queue-only: {late:.4} late, {pod_hours:.0} pod-h; all metrics: {full_late:.4} late, {full_pod_hours:.0} pod-h"
    );
    // Measured: 2.04 % late at 1.18x the pod-hours of a target with every metric (0 % late).
    assert!(late < 0.025, "{:.2} % of the documents late", 100.0 * late);
    assert!(
        pod_hours < 1.5 * full_pod_hours,
        "{pod_hours:.0} pod-hours, {full_pod_hours:.0} with every metric"
    );
}

proptest::proptest! {
    // A fixed seed: the same cases on every run, so CI never fails on a draw.
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: 24,
        rng_seed: proptest::test_runner::RngSeed::Fixed(10),
        ..proptest::prelude::ProptestConfig::default()
    })]

    /// On a load with no trend (a level with ±`noise` per tick), replicas never go down and
    /// back up within the plan's hold window: a pod released is not started again minutes
    /// later because of noise. Up to ±15 % per tick (none of 240 random cases flapped);
    /// at ±20 % with a 300 s start-up, about one case in twelve does (a release lands
    /// within the noise of what the level model needs), which is the policy's limit today.
    #[test]
    fn replicas_do_not_flap_on_a_load_without_trend(
        level in 5.0f64..80.0,
        noise in 0.0f64..0.15,
        startup in prop_oneof![proptest::prelude::Just(90.0), proptest::prelude::Just(300.0)],
        hold_min in prop_oneof![proptest::prelude::Just(10u64), proptest::prelude::Just(20u64)],
        seed in 0u64..1000,
    ) {
        let hold = Duration::from_secs(hold_min * 60);
        let mut c = TargetConfig {
            startup_time: Duration::from_secs_f64(startup),
            ..config()
        };
        c.plan.hold_for = Some(hold);
        let mut w = Workload::new(c, 1.0, startup);
        let mut rng = fastrand::Rng::with_seed(seed);
        // Settle for two hours, then watch six.
        let mut changes: Vec<(f64, i64)> = Vec::new();
        let mut before = w.pods.total();
        while w.t < 8.0 * 3600.0 {
            let t = w.t;
            let d = w.step(level * (1.0 - noise + 2.0 * noise * rng.f64()));
            if t >= 2.0 * 3600.0 && d.replicas != before {
                changes.push((t, i64::from(d.replicas) - i64::from(before)));
            }
            before = d.replicas;
        }
        for (i, &(t, delta)) in changes.iter().enumerate() {
            if delta >= 0 {
                continue;
            }
            let back_up = changes[i + 1..]
                .iter()
                .take_while(|(u, _)| u - t < hold.as_secs_f64())
                .find(|(_, d)| *d > 0);
            proptest::prop_assert!(
                back_up.is_none(),
                "down {delta} at {t:.0} s, up {back_up:?} within {hold:?}: {changes:?}"
            );
        }
    }
}

/// A nightly batch: 5 documents/s, and 24/s from 02:00 to 03:00 (UTC; the workload's time
/// is Unix time from 1970-01-01T00:00, the simulator's epoch). The first night, so nothing
/// in the history predicts it. Returns the decisions by time, and the longest wait seen
/// from 02:00 to 03:00.
fn first_nightly_batch(config: TargetConfig) -> (Vec<(f64, Decision)>, f64) {
    let batch = |t: f64| {
        if (7200.0..10_800.0).contains(&t) {
            24.0
        } else {
            5.0
        }
    };
    let mut w = Workload::new(config, 1.0, 90.0);
    let mut decisions = Vec::new();
    let mut worst_wait: f64 = 0.0;
    while w.t < 4.0 * 3600.0 {
        let t = w.t;
        if (7200.0..=10_800.0).contains(&t) {
            worst_wait = worst_wait.max(w.observation().wait_s.unwrap_or(f64::INFINITY));
        }
        decisions.push((t, w.step(batch(t))));
    }
    (decisions, worst_wait)
}

#[test]
fn a_02_00_window_has_the_pods_ready_for_a_nightly_batch_the_forecast_cannot_see() {
    let window = prescale::config::Schedule {
        name: "nightly-batch".into(),
        cron: prescale::config::Schedule::parse_cron("0 2 * * *").unwrap(),
        cron_text: "0 2 * * *".into(),
        timezone: jiff::tz::TimeZone::UTC,
        timezone_name: "UTC".into(),
        duration: Duration::from_secs(3600),
        min_replicas: Some(30),
        max_replicas: None,
    };
    let with = TargetConfig {
        schedules: vec![window],
        ..config()
    };
    let (decisions, worst_wait) = first_nightly_batch(with);
    let in_force = |d: &Decision| {
        d.reasons.iter().any(|r| {
            matches!(r, Reason::Schedule { name, min: Some(30), max: None } if name == "nightly-batch")
        })
    };
    for (t, d) in &decisions {
        // The floor is raised a start-up lead time (90 s) before 02:00, so the new pods are
        // ready at 02:00, and it holds until 03:00 whatever the planner would release.
        let on = (7200.0 - 90.0..10_800.0).contains(t);
        assert_eq!(in_force(d), on, "at {t}: {d:?}");
        if on {
            assert!(d.replicas >= 30, "at {t}: {d:?}");
        } else if *t < 7000.0 {
            assert!(d.replicas < 30, "at {t}: {d:?}");
        }
    }
    // After the window, the planner releases the spare pods (the load is back to 5/s).
    let last = &decisions.last().unwrap().1;
    assert!(last.replicas < 30, "{last:?}");
    // Without the window the batch is late: the reactive signals see it only when it came.
    let (_, unscheduled_wait) = first_nightly_batch(config());
    eprintln!(
        "worst wait 02:00-03:00: {worst_wait:.1} s with the window, {unscheduled_wait:.1} s without"
    );
    assert!(worst_wait < 60.0, "{worst_wait}");
    assert!(unscheduled_wait > 60.0, "{unscheduled_wait}");
}

/// Office hours with empty nights: nothing from 19:00 to 07:00, then 10 documents/s from
/// 07:00 rising to 40 by 09:00, back to 10 by 19:00 (±10 % noise by day).
fn empty_nights(t: f64) -> f64 {
    let h = (t.rem_euclid(DAY)) / 3600.0;
    if !(7.0..19.0).contains(&h) {
        return 0.0;
    }
    let ramp = |x: f64| 0.5 - 0.5 * (PI * x.clamp(0.0, 1.0)).cos();
    let busy = if h < 13.0 {
        ramp((h - 7.0) / 2.0)
    } else {
        1.0 - ramp((h - 17.0) / 2.0)
    };
    10.0 + 30.0 * busy
}

#[test]
fn a_target_asleep_at_night_is_woken_by_the_forecast_a_lead_time_before_the_first_arrivals() {
    let sleeper = TargetConfig {
        min_replicas: 0,
        ..config()
    };
    let mut w = Workload::new(sleeper, 1.0, 90.0);
    let mut noise = fastrand::Rng::with_seed(7);
    let mut load = |t: f64| empty_nights(t) * (0.9 + 0.2 * noise.f64());
    // Three days of history.
    while w.t < 3.0 * DAY {
        let r = load(w.t);
        w.step(r);
    }
    let morning = 3.0 * DAY + 7.0 * 3600.0;
    let mut woke = None;
    let mut asleep_ticks = 0;
    while w.t < morning + 3600.0 {
        let t = w.t;
        let current = w.pods.total();
        let d = w.step(load(t));
        if t >= 3.0 * DAY + 3600.0 && t < morning - 1800.0 {
            // 01:00 to 06:30: asleep.
            assert_eq!(d.replicas, 0, "at {:.2} h: {d:?}", (t - 3.0 * DAY) / 3600.0);
            asleep_ticks += 1;
        }
        if woke.is_none() && current == 0 && d.replicas >= 1 && t >= morning - 1800.0 {
            woke = Some((t, d));
        }
    }
    assert!(asleep_ticks > 0);
    let (at, d) = woke.expect("woken on day 4");
    let ahead = morning - at;
    eprintln!(
        "woken {ahead:.0} s before the first arrivals (lead {:.0} s): {d:?}",
        d.startup_s
    );
    assert!(
        d.reasons.iter().any(|r| matches!(
            r,
            Reason::Activation {
                active: true,
                trigger: Some("forecast")
            }
        )),
        "{d:?}"
    );
    // A lead time (90 s start-up plus a tick) ahead, give or take a tick and not a whole
    // 5-minute forecast bucket early: the pods are ready when the first documents come.
    assert!(
        ahead >= d.startup_s && ahead <= d.startup_s + 2.0 * w.interval(),
        "woken {ahead} s ahead"
    );
    assert!(w.pods.ready_at(morning) >= 1);
}
