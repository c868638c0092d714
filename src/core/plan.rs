//! The planner: the fewest pods that keep the queue's waits within target over a horizon.
//!
//! It runs the fluid FIFO queue of the bench (BENCH.md) forward from the observed backlog,
//! with the upper arrival forecast as the arrivals and the capacity that will really be there:
//! ready pods now, starting pods when they become ready, and new pods only a start-up time
//! after they are asked for. So it knows what no new pod can change (a queue that will be
//! late before any pod asked for now is ready) and does not pay for it, and it counts a
//! backlog, the wait already built up and the capacity already on its way, instead of adding
//! separate rules for each.

/// What the planner starts from.
#[derive(Debug, Clone, Copy)]
pub struct Start<'a> {
    /// Decision time, seconds.
    pub t: f64,
    /// Seconds per tick.
    pub interval: f64,
    /// Seconds from asking for a pod until it is ready.
    pub lead: f64,
    /// Documents per second one ready pod serves (derated by the target utilisation).
    pub per_replica: f64,
    /// Documents waiting now.
    pub backlog: f64,
    /// How long the oldest waiting document has waited, seconds.
    pub head_wait: f64,
    /// Ready pods now.
    pub ready: u32,
    /// Pods starting now: `(ready at, pods)`, earliest first.
    pub starting: &'a [(f64, u32)],
    /// Upper forecast arrival rate of each tick from `t`, documents/s.
    pub arrivals: &'a [f64],
}

impl Start<'_> {
    /// Pods now, ready and starting.
    pub fn pods(&self) -> u32 {
        self.ready + self.starting.iter().map(|&(_, n)| n).sum::<u32>()
    }
}

/// Parts of the initial backlog followed separately (their arrival times spread over the
/// head's wait), so the documents already waiting count by how long they have waited.
const BACKLOG_PARTS: usize = 4;

/// Documents predicted to wait longer than `target_wait` with `desired` pods held from now,
/// among the backlog and the arrivals of the first `ticks` ticks.
pub fn late_documents(start: &Start, desired: u32, ticks: usize, target_wait: f64) -> f64 {
    simulate(start, desired, ticks, target_wait, f64::INFINITY).0
}

/// The backlog predicted when pods asked for now would be ready, if none is asked for.
pub fn backlog_at_lead(start: &Start) -> f64 {
    let ticks = ((start.lead / start.interval).ceil() as usize).max(1);
    simulate(start, start.pods(), ticks, f64::INFINITY, f64::INFINITY).1
}

/// Run the queue forward: the late documents, and the backlog after `ticks` ticks. Stops
/// early (the backlog then unknown) once more than `enough_late` documents are late: a
/// search only asks whether a count stays within a bound.
fn simulate(
    start: &Start,
    desired: u32,
    ticks: usize,
    target_wait: f64,
    enough_late: f64,
) -> (f64, f64) {
    let ticks = ticks.min(start.arrivals.len());
    let pods = start.pods();
    let i = start.interval;
    // Capacity of tick k: the pods ready by its start. Removals take starting pods first,
    // latest first, then ready ones (as a ReplicaSet removes unready pods first).
    let mut remove_starting = pods.saturating_sub(desired);
    let mut starting: [(f64, u32); 16] = [(0.0, 0); 16];
    let mut used = 0;
    for &(at, n) in start.starting.iter().rev() {
        let removed = n.min(remove_starting);
        remove_starting -= removed;
        if n > removed && used < starting.len() {
            starting[used] = (at, n - removed);
            used += 1;
        }
    }
    let ready = start.ready.saturating_sub(remove_starting);
    let added = desired.saturating_sub(pods);
    let new_at = start.t + start.lead;

    // Cumulative departures at tick boundaries; the backlog's documents come first, as if
    // they had arrived over the head's wait.
    let backlog0 = start.backlog.max(0.0);
    let mut backlog = backlog0;
    let mut cum_departed = 0.0;
    let part = backlog0 / BACKLOG_PARTS as f64;
    let mut next_part = if backlog0 > 0.0 { 0 } else { BACKLOG_PARTS };
    let part_at = |p: usize| {
        let share = (p as f64 + 0.5) / BACKLOG_PARTS as f64;
        (
            backlog0 * (p + 1) as f64 / BACKLOG_PARTS as f64,
            start.t - start.head_wait.max(0.0) * (1.0 - share),
        )
    };
    // The next tick whose arrivals' wait is not known yet, and the arrivals before it.
    let mut next_tick = 0;
    let mut arrived_before = backlog0;
    let rate = |k: usize| {
        if k < ticks {
            start.arrivals[k].max(0.0) * i
        } else {
            0.0
        }
    };
    let mut late = 0.0;
    let mut backlog_after = 0.0;
    // Past the counted ticks, keep serving long enough to know the last arrivals' waits.
    let extra = if target_wait.is_finite() {
        (target_wait / i).ceil() as usize + 1
    } else {
        0
    };
    for k in 0..ticks + extra {
        let at = start.t + k as f64 * i;
        let mut n = ready + if at >= new_at - 1e-9 { added } else { 0 };
        for &(ready_at, count) in &starting[..used] {
            if ready_at <= at + 1e-9 {
                n += count;
            }
        }
        let arrivals = rate(k);
        let served = (backlog + arrivals).min(i * start.per_replica * f64::from(n));
        let before = cum_departed;
        cum_departed += served;
        backlog += arrivals - served;
        if k + 1 == ticks {
            backlog_after = backlog;
        }
        // Departures reached these documents during this tick: their wait is known.
        let departed_at = |x: f64| at + i * (x - before) / (cum_departed - before).max(1e-12);
        while next_part < BACKLOG_PARTS {
            let (x, arrived) = part_at(next_part);
            if x > cum_departed + 1e-9 {
                break;
            }
            if departed_at(x) - arrived > target_wait {
                late += part;
            }
            next_part += 1;
        }
        while next_tick <= k.min(ticks.saturating_sub(1)) && next_tick < ticks {
            let amount = rate(next_tick);
            let x = arrived_before + amount * 0.5;
            if x > cum_departed + 1e-9 {
                break;
            }
            let arrived = start.t + (next_tick as f64 + 0.5) * i;
            if amount > 0.0 && departed_at(x) - arrived > target_wait {
                late += amount;
            }
            arrived_before += amount;
            next_tick += 1;
        }
        if late > enough_late {
            return (late, f64::NAN);
        }
    }
    // Whatever is still waiting at the end has waited past the target.
    let end = start.t + (ticks + extra) as f64 * i;
    for p in next_part..BACKLOG_PARTS {
        if end - part_at(p).1 > target_wait {
            late += part;
        }
    }
    for k in next_tick..ticks {
        if end - (start.t + (k as f64 + 0.5) * i) > target_wait {
            late += rate(k);
        }
    }
    (late, backlog_after)
}

/// The fewest pods in `lo..=hi` whose late documents over `ticks` are no more than `hi`'s
/// plus `tolerance`: what the most pods could save, at the least cost. The search starts
/// at `guess` (where the answer usually is: what the arrivals need) and gallops outwards,
/// so a tick costs a few queue runs rather than a bisection of the whole range; late
/// documents never rise with more pods, so the answer is the same wherever it starts.
pub fn fewest_pods(
    start: &Start,
    lo: u32,
    hi: u32,
    guess: u32,
    ticks: usize,
    target_wait: f64,
    tolerance: f64,
) -> u32 {
    if lo >= hi {
        return hi;
    }
    // Where the search starts at its lowest count and that leaves no more than `tolerance`
    // late, it is the answer whatever `hi` leaves late: one queue run instead of two (the
    // central level's search, started at the upper band's answer, nearly always ends here).
    let first = guess.clamp(lo, hi);
    if first == lo && simulate(start, lo, ticks, target_wait, tolerance).0 <= tolerance {
        return lo;
    }
    let floor = late_documents(start, hi, ticks, target_wait) + tolerance;
    let enough = |n: u32| simulate(start, n, ticks, target_wait, floor).0 <= floor;
    // Invariant: `good` is enough; `bad` (when set) is not, and every count below it isn't.
    let (mut bad, mut good): (Option<u32>, u32) = (None, hi);
    if first < hi {
        if enough(first) {
            good = first;
        } else {
            bad = Some(first);
        }
    }
    let mut step = 1u32;
    match bad {
        // Gallop down from `good` until a count is not enough (or `lo` is).
        None => loop {
            if good == lo {
                return lo;
            }
            let next = good.saturating_sub(step).max(lo);
            if enough(next) {
                good = next;
                step = step.saturating_mul(2);
            } else {
                bad = Some(next);
                break;
            }
        },
        // Gallop up from `bad` until a count is enough (`hi` is).
        Some(b) => {
            let mut b = b;
            loop {
                let next = b.saturating_add(step).min(hi);
                if next == hi {
                    break;
                }
                if enough(next) {
                    good = next;
                    break;
                }
                b = next;
                step = step.saturating_mul(2);
            }
            bad = Some(b);
        }
    }
    let mut bad = bad.unwrap_or(lo);
    while good - bad > 1 {
        let mid = bad + (good - bad) / 2;
        if enough(mid) {
            good = mid;
        } else {
            bad = mid;
        }
    }
    good
}

/// The most (end tick, stretch length) pairs [`stretch_pods`] measures exactly: a 600 s
/// start-up at 15 s ticks is about 10,000 of them.
const STRETCH_WORK: usize = 16_384;

/// The fewest pods whose constant capacity serves every stretch of at most `stretch` ticks
/// ending in the first `ticks` ticks of `arrivals` with waits within `target_wait`: a queue
/// served at a constant capacity `c` keeps every wait within `w` exactly when no stretch brings
/// more than `c × (its length + w)` documents. The hold rule's measure of peaks: a short
/// burst in the forecast counts for what the queue cannot absorb of it, a rise that lasts for
/// nearly all of it.
pub fn stretch_pods(
    arrivals: &[f64],
    ticks: usize,
    stretch: usize,
    interval: f64,
    per_replica: f64,
    target_wait: f64,
) -> u32 {
    let ticks = ticks.min(arrivals.len());
    let stretch = stretch.max(1);
    let work = ticks.saturating_mul(stretch);
    if work > STRETCH_WORK {
        // Short intervals under long start-ups (a 200 ms tick under a 90 s start-up is 900
        // ticks a lead window): measure groups of `g` ticks, each at its highest rate, so the
        // work stays bounded. A group at its highest rate brings at least what its ticks do,
        // so this never holds fewer pods than the exact measure would.
        let g = (work as f64 / STRETCH_WORK as f64).sqrt().ceil() as usize;
        let grouped: Vec<f64> = arrivals[..ticks]
            .chunks(g)
            .map(|c| c.iter().fold(0.0_f64, |m, &r| m.max(r)))
            .collect();
        return stretch_pods(
            &grouped,
            grouped.len(),
            stretch.div_ceil(g),
            interval * g as f64,
            per_replica,
            target_wait,
        );
    }
    let wait = target_wait.max(0.0);
    // The room kept per thread is bounded: here `ticks` is at most STRETCH_WORK.
    let need = STRETCH_BUFFERS.with(|buffers| match buffers.try_borrow_mut() {
        Ok(mut buffers) => {
            let (documents_in, documents) = &mut *buffers;
            most_per_second(
                &arrivals[..ticks],
                stretch,
                interval,
                wait,
                documents_in,
                documents,
            )
        }
        Err(_) => most_per_second(
            &arrivals[..ticks],
            stretch,
            interval,
            wait,
            &mut Vec::new(),
            &mut Vec::new(),
        ),
    });
    replicas_for(need, per_replica)
}

thread_local! {
    /// [`stretch_pods`]' two buffers, one pair per thread: filled afresh on every call (so
    /// nothing carries from one call to the next), they save each tick allocating and
    /// zeroing both (a tenth of `decide`'s time at 10,000 targets).
    static STRETCH_BUFFERS: std::cell::RefCell<(Vec<f64>, Vec<f64>)> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// The highest documents/s any stretch of up to `stretch` ticks of `arrivals` needs to keep
/// its waits within `wait`, with `documents_in` and `documents` as working room.
fn most_per_second(
    arrivals: &[f64],
    stretch: usize,
    interval: f64,
    wait: f64,
    documents_in: &mut Vec<f64>,
    documents: &mut Vec<f64>,
) -> f64 {
    let ticks = arrivals.len();
    let mut need = 0.0_f64;
    // Stretches by length, each extended by one tick at its start: the documents of every
    // stretch ending at `end` are summed in the same order as walking back from `end`. All
    // stretches of one length share a span, so the most documents among them sets that
    // length's need with one division (dividing by a positive span keeps the order), and
    // the sums and maxima run side by side (this loop is most of the hold rule).
    documents_in.clear();
    documents_in.extend(arrivals.iter().map(|&r| r.max(0.0) * interval));
    documents.clear();
    documents.resize(ticks, 0.0);
    for length in 1..=stretch.min(ticks) {
        // Stretches ending at `end` gain the tick `end + 1 - length`.
        let ends = &mut documents[length - 1..];
        for (sum, &gained) in ends.iter_mut().zip(documents_in.iter()) {
            *sum += gained;
        }
        // The maximum in four lanes (the same maximum in any order; no NaN here: the
        // documents are sums of numbers at least 0).
        let mut lanes = [0.0_f64; 4];
        let mut chunks = ends.chunks_exact(4);
        for c in &mut chunks {
            for (lane, &v) in lanes.iter_mut().zip(c) {
                *lane = lane.max(v);
            }
        }
        let most = chunks
            .remainder()
            .iter()
            .chain(&lanes)
            .fold(0.0_f64, |m, &v| m.max(v));
        need = need.max(most / (length as f64 * interval + wait));
    }
    need
}

/// Replicas serving `rate` documents/s at `per_replica` each (BENCH.md's `ceil`).
pub fn replicas_for(rate: f64, per_replica: f64) -> u32 {
    let r = (rate / per_replica - 1e-9).ceil();
    if r.is_finite() && r > 0.0 {
        r.min(f64::from(u32::MAX)) as u32
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start<'a>(
        arrivals: &'a [f64],
        starting: &'a [(f64, u32)],
        ready: u32,
        backlog: f64,
    ) -> Start<'a> {
        Start {
            t: 0.0,
            interval: 15.0,
            lead: 90.0,
            per_replica: 1.0,
            backlog,
            head_wait: 0.0,
            ready,
            starting,
            arrivals,
        }
    }

    #[test]
    fn a_long_path_of_short_ticks_is_measured_in_groups_never_below_the_exact_measure() {
        // 200 ms ticks under a 90 s start-up: 3,450 ticks of hold window, stretches of 902.
        let mut rng = fastrand::Rng::with_seed(3);
        let arrivals: Vec<f64> = (0..3_450)
            .map(|i| 20.0 + 10.0 * (i as f64 / 300.0).sin() + rng.f64() * 4.0)
            .collect();
        let exact = |ticks: usize, stretch: usize| {
            // The exact measure, by brute force.
            let mut need = 0.0_f64;
            for end in 0..ticks {
                let mut documents = 0.0;
                for length in 1..=stretch.min(end + 1) {
                    documents += arrivals[end + 1 - length] * 0.2;
                    need = need.max(documents / (length as f64 * 0.2 + 30.0));
                }
            }
            (need - 1e-9).ceil() as u32
        };
        let grouped = stretch_pods(&arrivals, 3_450, 902, 0.2, 1.0, 30.0);
        let truth = exact(3_450, 902);
        assert!(
            grouped >= truth && grouped <= truth + 2,
            "{grouped} vs {truth}"
        );
    }

    #[test]
    fn a_burst_the_queue_absorbs_holds_fewer_pods_than_a_rise_that_lasts() {
        // 15 s ticks, 1 document/s a pod, waits of 30 s allowed, stretches of up to 8 ticks.
        let mut burst = vec![4.0; 20];
        burst[10] = 20.0;
        let mut rise = vec![4.0; 20];
        rise[10..].fill(20.0);
        // One tick at 20 among 4s: its 300 documents in 15 s plus the 30 s wait = 6.7/s.
        assert_eq!(stretch_pods(&burst, 20, 8, 15.0, 1.0, 30.0), 7);
        // Eight ticks at 20: 2,400 documents in 120 s plus the 30 s wait = 16/s.
        assert_eq!(stretch_pods(&rise, 20, 8, 15.0, 1.0, 30.0), 16);
        // Only the ticks asked for count (4s: 480 documents in 120 + 30 s = 3.2/s), and
        // without any wait allowed the highest rate decides.
        assert_eq!(stretch_pods(&rise, 10, 8, 15.0, 1.0, 30.0), 4);
        assert_eq!(stretch_pods(&burst, 20, 8, 15.0, 2.0, 0.0), 10);
    }

    #[test]
    fn enough_capacity_makes_nobody_late() {
        let arrivals = vec![4.0; 40];
        let s = start(&arrivals, &[], 4, 0.0);
        assert_eq!(late_documents(&s, 4, 20, 30.0), 0.0);
        assert_eq!(fewest_pods(&s, 1, 50, 1, 20, 30.0, 0.0), 4);
    }

    #[test]
    fn a_rise_inside_the_lead_time_is_late_whatever_is_asked_now() {
        // 10/s from now on with 4 pods ready: nothing asked now is ready for 90 s, so the
        // documents of the first minutes are late for every choice; the plan asks for what
        // serves the rest, not for the most it could.
        let arrivals = vec![10.0; 40];
        let s = start(&arrivals, &[], 4, 0.0);
        let most = late_documents(&s, 50, 20, 30.0);
        assert!(most > 0.0);
        let n = fewest_pods(&s, 1, 50, 1, 20, 30.0, 0.0);
        assert!(n > 10 && n < 50, "{n}");
        assert!(late_documents(&s, n - 1, 20, 30.0) > most);
    }

    #[test]
    fn capacity_already_starting_counts() {
        let arrivals = vec![8.0; 40];
        let starting = [(30.0, 4)];
        let s = start(&arrivals, &starting, 4, 0.0);
        // 4 ready + 4 starting serve 8/s once the starting ones are ready: a short queue
        // builds for 30 s, well within a 60 s target, so no more are asked for; without
        // the starting ones, new pods come only after the 90 s lead and more are needed.
        let with = fewest_pods(&s, 1, 50, 1, 20, 60.0, 0.0);
        assert!(with <= 8, "{with}");
        let without = fewest_pods(&start(&arrivals, &[], 4, 0.0), 1, 50, 1, 20, 60.0, 0.0);
        assert!(without > with, "{without} vs {with}");
    }

    #[test]
    fn removing_pods_now_is_judged_on_the_lead_time_to_get_them_back() {
        // 8/s for 2 minutes, then 20/s: holding 20 pods is needed, since any released now
        // come back only after the rise.
        let mut arrivals = vec![8.0; 8];
        arrivals.extend(vec![20.0; 32]);
        let s = start(&arrivals, &[], 20, 0.0);
        // (The 30 s target absorbs a little of it: 18 of the 20 serve the rise.)
        let held = fewest_pods(&s, 1, 20, 1, 20, 30.0, 0.0);
        assert!(held >= 18, "{held}");
        // With a lead of 15 s, they can be released and asked for again in time.
        let quick = Start { lead: 15.0, ..s };
        assert!(fewest_pods(&quick, 1, 20, 1, 4, 30.0, 0.0) < held);
    }

    #[test]
    fn an_old_backlog_is_late_already() {
        let arrivals = vec![1.0; 40];
        let mut s = start(&arrivals, &[], 1, 100.0);
        s.head_wait = 120.0;
        assert!(
            late_documents(&s, 50, 10, 60.0) > 0.0,
            "the head waited past the target"
        );
        s.head_wait = 0.0;
        // 50 pods ready in 90 s drain the 100 documents within 2 s: waits of about 92 s.
        assert!(late_documents(&s, 50, 10, 60.0) > 0.0);
        assert_eq!(late_documents(&s, 50, 10, 120.0), 0.0);
    }
}
