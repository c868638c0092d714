//! The pods asked for that are not ready yet, and when each should become ready.
//!
//! The planner needs to know when the capacity already starting arrives: a pod asked for a
//! minute ago is worth more than one asked for now. prescale remembers its own scale-ups;
//! the count still starting comes from each observation (pods minus ready ones), so pods
//! removed, started by someone else or slower than expected are reconciled every tick.

use std::collections::VecDeque;

/// Scale-ups not yet ready: `(ready at, pods)`, oldest first.
#[derive(Debug, Clone, Default)]
pub struct Starting {
    batches: VecDeque<(f64, u32)>,
}

/// Batches remembered at most (older ones are assumed ready).
const MAX_BATCHES: usize = 32;

impl Starting {
    /// Keep only what the observation says is still starting: the newest `starting` pods
    /// (a ReplicaSet removes unready pods first, and older ones are ready first).
    pub fn reconcile(&mut self, starting: u32) {
        let mut keep = starting;
        let mut kept = VecDeque::with_capacity(self.batches.len());
        while let Some((at, n)) = self.batches.pop_back() {
            if keep == 0 {
                break;
            }
            let n = n.min(keep);
            keep -= n;
            kept.push_front((at, n));
        }
        self.batches = kept;
    }

    /// Record a decision at `t` from `from` pods to `to`: new pods are ready `lead` seconds
    /// later; removed ones go latest-first.
    pub fn record(&mut self, t: f64, from: u32, to: u32, lead: f64) {
        if to > from {
            if self.batches.len() == MAX_BATCHES {
                self.batches.pop_front();
            }
            self.batches.push_back((t + lead, to - from));
        } else if to < from {
            let mut remove = from - to;
            while remove > 0 {
                let Some(last) = self.batches.back_mut() else {
                    break;
                };
                let n = last.1.min(remove);
                last.1 -= n;
                remove -= n;
                if last.1 == 0 {
                    self.batches.pop_back();
                }
            }
        }
    }

    /// When the `starting` pods observed at `t` become ready, earliest first, into `out`:
    /// the remembered batches, and pods nobody remembers at `t + lead` (the cautious guess).
    /// A pod late on its expected time is taken as ready at the next tick.
    pub fn ready_times(
        &self,
        t: f64,
        interval: f64,
        starting: u32,
        lead: f64,
        out: &mut Vec<(f64, u32)>,
    ) {
        out.clear();
        let known: u32 = self.batches.iter().map(|&(_, n)| n).sum();
        for &(at, n) in &self.batches {
            out.push((at.max(t + interval).min(t + lead.max(interval)), n));
        }
        if starting > known {
            out.push((t + lead, starting - known));
        }
        out.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_scale_ups_and_drops_what_became_ready() {
        let mut s = Starting::default();
        s.record(0.0, 2, 5, 90.0);
        s.record(30.0, 5, 7, 90.0);
        let mut out = Vec::new();
        s.reconcile(5);
        s.ready_times(45.0, 15.0, 5, 90.0, &mut out);
        assert_eq!(out, vec![(90.0, 3), (120.0, 2)]);
        // The first batch became ready: only the second is still starting.
        s.reconcile(2);
        s.ready_times(100.0, 15.0, 2, 90.0, &mut out);
        assert_eq!(out, vec![(120.0, 2)]);
    }

    #[test]
    fn removals_take_the_latest_pods_and_strangers_start_now() {
        let mut s = Starting::default();
        s.record(0.0, 1, 4, 90.0);
        s.record(15.0, 4, 6, 90.0);
        s.record(30.0, 6, 3, 90.0);
        let mut out = Vec::new();
        s.ready_times(30.0, 15.0, 4, 90.0, &mut out);
        assert_eq!(
            out,
            vec![(90.0, 2), (120.0, 2)],
            "two unknown pods ready a lead time from now"
        );
    }
}
