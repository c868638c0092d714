//! One model, two paths: the incremental queue the running controller uses for its live
//! report (`simulate::FluidQueue`, and `live_report::LiveTracker` around it), driven tick by
//! tick over a bench run, gives exactly what `simulate::run` and `simulate::score` give on
//! the same run: served, backlog and every wait; replica-hours and late documents.
//!
//! The built-in synthetic trace (ten days, a burst, quiet nights) needs no files, and three
//! policies give three kinds of run: prescale (rarely late), hpa, and keda-queue (often late,
//! with long queues, so waits far past the SLO and the cutoff are exercised).

use prescale::config::TargetConfig;
use prescale::live_report::{LiveTracker, TickInput, Totals};
use prescale::simulate::policies::PolicyName;
use prescale::simulate::{
    BenchObservation, BenchParams, BenchPolicy, FluidQueue, Load, Run, policy, run, score,
    synthetic, waits,
};

/// Records the backlog each decision saw, `b_j`.
struct Recorder<'a> {
    inner: Box<dyn BenchPolicy + 'a>,
    backlog: Vec<f64>,
}

impl BenchPolicy for Recorder<'_> {
    fn decide(&mut self, obs: &BenchObservation) -> u32 {
        self.backlog.push(obs.queue_depth);
        self.inner.decide(obs)
    }
}

fn params() -> BenchParams {
    BenchParams {
        warmup_days: Some(0.0),
        ..BenchParams::default()
    }
}

/// The run of `name` on the synthetic trace, and the backlog at each tick boundary.
fn bench_run(load: &Load, name: PolicyName) -> (Run, Vec<f64>) {
    let params = params();
    let mut recorder = Recorder {
        inner: policy(name, load, &params, &TargetConfig::default()),
        backlog: Vec::new(),
    };
    let r = run(load, &params, &mut recorder);
    (r, recorder.backlog)
}

const POLICIES: [PolicyName; 3] = [PolicyName::Prescale, PolicyName::Hpa, PolicyName::KedaQueue];

#[test]
fn tick_by_tick_the_queue_serves_queues_and_waits_exactly_as_the_bench_run() {
    let params = params();
    let load = Load::new(&synthetic::trace(), &params).expect("load");
    for name in POLICIES {
        let (r, backlog) = bench_run(&load, name);
        let expected_waits = waits(&r, &load);
        let mut queue = FluidQueue::new();
        let mut got: Vec<Option<f64>> = vec![None; r.arrivals.len()];
        let mut record = |s: prescale::simulate::Settled| {
            assert!(
                got[s.tick as usize].is_none(),
                "tick {} settled twice",
                s.tick
            );
            assert_eq!(s.arrivals, r.arrivals[s.tick as usize]);
            got[s.tick as usize] = Some(s.wait);
        };
        for (j, b) in backlog.iter().enumerate() {
            assert_eq!(queue.backlog(), *b, "{name:?}: b_{j}");
            let capacity = load.tick * (params.mu * f64::from(r.ready[j]));
            let step = queue
                .advance(load.tick, r.arrivals[j], capacity, &mut record)
                .expect("a valid tick");
            assert_eq!(step.served, r.served[j], "{name:?}: s_{j}");
        }
        queue.finish(&mut record);
        let mut late_ticks = 0;
        for (j, w) in expected_waits.iter().enumerate() {
            if r.arrivals[j] > 0.0 {
                assert_eq!(got[j], Some(*w), "{name:?}: w_{j}");
                late_ticks += usize::from(*w > params.slo_wait);
            } else {
                assert_eq!(got[j], None, "{name:?}: tick {j} has no documents");
            }
        }
        if name == PolicyName::KedaQueue {
            assert!(
                late_ticks > 1000,
                "the late path is exercised: {late_ticks}"
            );
        }
    }
}

#[test]
fn the_live_tracker_scores_a_bench_run_as_the_bench_does_for_both_schedules() {
    let params = params();
    let load = Load::new(&synthetic::trace(), &params).expect("load");
    for name in POLICIES {
        let (r, _) = bench_run(&load, name);
        let scores = score(&load, &params, &r, None);
        let n = r.arrivals.len();
        let mut tracker = LiveTracker::new(params.slo_wait, load.tick);
        let mut total = Totals::default();
        // At t = 15j the controller sees the arrival rate of the tick that just ended, the
        // pods that run from now on, and the decision; "what ran" is the bench's own run.
        for j in 0..=n {
            let (current, ready, desired) = if j < n {
                (r.pods[j], r.ready[j], r.desired[j])
            } else {
                (0, 0, 0)
            };
            total += tracker.tick(&TickInput {
                t: load.tick * j as f64,
                arrival_rate: (j > 0).then(|| load.rates[j - 1]),
                queue_depth: Some(0.0),
                completion_rate: None,
                current,
                ready,
                recommended: desired,
                capacity_per_replica: params.mu,
                startup_s: params.startup,
            });
        }
        let documents = r.arrivals.iter().fold(0.0, |acc, a| acc + a);
        assert_eq!(total.modelled_seconds, load.end_s);
        assert_eq!(total.unmodelled_seconds, 0.0);
        for (schedule, s) in [("actual", total.actual), ("recommended", total.recommended)] {
            assert_eq!(
                s.replica_seconds / 3600.0,
                scores.replica_hours,
                "{name:?} {schedule}: replica-hours"
            );
            assert_eq!(
                s.late_documents / documents,
                scores.late_fraction,
                "{name:?} {schedule}: late fraction"
            );
        }
        // Every document is settled but the last SLO's worth, still in the queue.
        let (unsettled, _) = tracker.unsettled();
        assert!(unsettled <= 5.0 * 15.0 * load.rates.iter().fold(0.0_f64, |m, r| m.max(*r)));
        let settled = total.actual.documents + unsettled;
        assert!(
            (settled - documents).abs() <= 1e-9 * documents,
            "{name:?}: {settled} vs {documents}"
        );
    }
}
