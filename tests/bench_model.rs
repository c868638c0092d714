//! BENCH.md's formulas on small cases computed by hand: the fluid queue, the waits and the
//! observed wait, start-up and removal order, the scores, and the HPA's stabilisation.

use prescale::simulate::policies::{Hpa, HpaMetric, Replay};
use prescale::simulate::{
    BenchObservation, BenchParams, BenchPolicy, Load, Trace, run, score, waits,
};

/// Load 2 documents/s in 15 s intervals, scaled by k = 1 (peak_replicas = r99 = 2).
fn two_per_second(ticks: usize) -> (Load, BenchParams) {
    let trace = Trace {
        name: "hand".into(),
        step_s: 15,
        values: vec![30.0; ticks],
    };
    let params = BenchParams {
        peak_replicas: 2.0,
        slo_wait: 10.0,
        startup: 30.0,
        warmup_days: Some(0.0),
        ..BenchParams::default()
    };
    let load = Load::new(&trace, &params).unwrap();
    assert_eq!(load.k, 1.0);
    (load, params)
}

fn schedule(desired: &[u32]) -> Replay {
    let mut csv = String::from("t,desired\n");
    for (j, d) in desired.iter().enumerate() {
        csv.push_str(&format!("{},{d}\n", 15 * j));
    }
    Replay::parse(&csv, "hand").unwrap()
}

/// Records what the policy was shown.
struct Recorder<P>(P, Vec<BenchObservation>);

impl<P: BenchPolicy> BenchPolicy for Recorder<P> {
    fn decide(&mut self, obs: &BenchObservation) -> u32 {
        self.1.push(*obs);
        self.0.decide(obs)
    }
}

#[test]
fn one_pod_under_twice_its_capacity_builds_a_queue_and_waits_as_computed_by_hand() {
    let (load, params) = two_per_second(4);
    let mut policy = Recorder(schedule(&[1, 1, 1, 1]), Vec::new());
    let r = run(&load, &params, &mut policy);
    // a_j = 30, one ready pod serves 15 per tick: b = 0, 15, 30, 45, 60.
    assert_eq!(r.arrivals, vec![30.0; 4]);
    assert_eq!(r.served, vec![15.0; 4]);
    assert_eq!(r.cum_arrivals, vec![0.0, 30.0, 60.0, 90.0, 120.0]);
    assert_eq!(r.cum_departures, vec![0.0, 15.0, 30.0, 45.0, 60.0]);
    // A(t) = 2t and D(t) = t: the mid-tick arrival waits m_j until D reaches it, or the
    // end of the horizon (60 s) when it never does.
    assert_eq!(waits(&r, &load), vec![7.5, 22.5, 22.5, 7.5]);
    // What the policy saw at t = 15j: b_j, a_{j-1}, s_{j-1}, n_{j-1}, and the wait of the
    // document dequeued at t, t - A⁻¹(D(t)) = t - t/2.
    let seen: Vec<_> = policy
        .1
        .iter()
        .map(|o| (o.queue_depth, o.arrivals, o.completions, o.ready, o.wait_s))
        .collect();
    assert_eq!(
        seen,
        vec![
            (0.0, 0.0, 0.0, 1, 0.0),
            (15.0, 30.0, 15.0, 1, 7.5),
            (30.0, 30.0, 15.0, 1, 15.0),
            (45.0, 30.0, 15.0, 1, 22.5)
        ]
    );
    // Late (> 10 s): ticks 1 and 2, half the arrivals; p99: the largest wait; 4 pod-ticks.
    let s = score(&load, &params, &r, None);
    assert_eq!(s.late_fraction, 0.5);
    assert_eq!(s.p99_wait_s, 22.5);
    assert_eq!(s.replica_hours, 4.0 * 15.0 / 3600.0);
    assert_eq!(s.cost_vs_oracle, 1.0);
    assert_eq!(s.scale_events, 0);
}

#[test]
fn new_pods_serve_from_their_ready_time_and_removals_take_the_newest_first() {
    let (load, params) = two_per_second(6);
    // Start-up 30 s: 3 asked at t = 0 are ready at t = 30 (tick 2); at t = 45 asking for 4
    // adds one pod ready at 75 (tick 5); at t = 60 asking for 3 removes that starting pod.
    let r = run(&load, &params, &mut schedule(&[3, 3, 3, 4, 3, 3]));
    assert_eq!(r.pods, vec![3, 3, 3, 4, 3, 3]);
    assert_eq!(r.ready, vec![1, 1, 3, 3, 3, 3]);
    // Ticks 0-1 serve 15 (backlog 15, then 30); three ready pods serve 45 a tick, so ticks
    // 2-3 serve 45 (backlog 15, then 0), and then just the 30 arriving.
    assert_eq!(r.served, vec![15.0, 15.0, 45.0, 45.0, 30.0, 30.0]);
    assert_eq!(r.cum_departures.last(), r.cum_arrivals.last());
    let s = score(&load, &params, &r, None);
    assert_eq!(s.scale_events, 3, "1→3 at 0, 3→4 at 45, 4→3 at 60");
    assert_eq!(s.replica_hours, 19.0 * 15.0 / 3600.0);
}

/// An HPA observation with `pods` ready pods at utilisation `u` (mu 1, 15 s ticks).
fn at(t: f64, pods: u32, u: f64) -> BenchObservation {
    BenchObservation {
        tick: (t / 15.0) as usize,
        t,
        completions: u * 15.0 * f64::from(pods),
        ready: pods,
        pods,
        ..BenchObservation::default()
    }
}

#[test]
fn the_hpa_holds_a_scale_down_for_300_seconds_and_limits_a_scale_up() {
    let params = BenchParams::default();
    let mut hpa = Hpa::new(HpaMetric::Utilization(0.7), &params);
    // u = 0.35 on 10 pods: raw ceil(10 × 0.5) = 5, nothing higher in the window yet.
    assert_eq!(hpa.decide(&at(0.0, 10, 0.35)), 5);
    // u = 1.4 on 5 pods: raw 10; scale-up limited to max(2 × 5, 5 + 4) = 10.
    assert_eq!(hpa.decide(&at(15.0, 5, 1.4)), 10);
    // u = 2.8 on 10: raw 40, limited to max(20, 14) = 20.
    assert_eq!(hpa.decide(&at(30.0, 10, 2.8)), 20);
    // u within 10 % of the target: raw = pods.
    assert_eq!(hpa.decide(&at(45.0, 20, 0.75)), 20);
    // Load gone: raw 1, but 40 was recommended at t = 30, inside (t - 300, t]: hold 20.
    assert_eq!(hpa.decide(&at(60.0, 20, 0.0)), 20);
    assert_eq!(
        hpa.decide(&at(315.0, 20, 0.0)),
        20,
        "t = 30 is still inside (15, 315]"
    );
    // At t = 330 the window (30, 330] has lost the 40; the 20 of t = 45 is its highest.
    assert_eq!(hpa.decide(&at(330.0, 20, 0.0)), 20);
    // Once every high recommendation is older than 300 s, the HPA goes down to raw, 0 (the
    // bench's bounds then make it minReplicas).
    assert_eq!(hpa.decide(&at(346.0, 20, 0.0)), 0);
}
