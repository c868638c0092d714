//! The pods of the bench's workload: each with the time it becomes ready.

/// Pods grouped by ready time, in ascending ready-time order. Pods added by one decision
/// share a ready time, so a handful of groups describe the whole workload.
#[derive(Debug, Clone, PartialEq)]
pub struct Pods {
    groups: Vec<(f64, u32)>,
    total: u32,
}

impl Pods {
    /// One pod, ready at t = 0 (BENCH.md's initial state).
    pub fn initial() -> Self {
        Self::all_ready(1)
    }

    /// `n` pods, all ready at t = 0.
    pub fn all_ready(n: u32) -> Self {
        Pods {
            groups: if n == 0 { Vec::new() } else { vec![(0.0, n)] },
            total: n,
        }
    }

    /// A workload seen at time `t` with `ready` pods ready and `starting` more that will be
    /// ready at `ready_at` (a running Deployment, where the bench starts from one pod).
    pub fn existing(ready: u32, starting: u32, t: f64, ready_at: f64) -> Self {
        let groups = [(t, ready), (ready_at.max(t), starting)]
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .collect();
        Pods {
            groups,
            total: ready + starting,
        }
    }

    /// Pods that exist, ready or starting.
    pub fn total(&self) -> u32 {
        self.total
    }

    /// Pods whose ready time is at or before `t`.
    pub fn ready_at(&self, t: f64) -> u32 {
        let starting: u32 = self
            .groups
            .iter()
            .rev()
            .take_while(|(at, _)| *at > t)
            .map(|(_, n)| n)
            .sum();
        self.total - starting
    }

    /// Move to `desired` pods at time `t`: new pods are ready at `t + startup`; removals
    /// take the latest ready time first (starting pods before ready ones, as a ReplicaSet does).
    pub fn scale_to(&mut self, desired: u32, t: f64, startup: f64) {
        if desired > self.total {
            let ready_at = t + startup;
            let added = desired - self.total;
            match self.groups.last_mut() {
                Some((at, n)) if *at == ready_at => *n += added,
                _ => {
                    // Ready times only grow with t at a fixed start-up, so pushing keeps order;
                    // insert in place for the general case.
                    let pos = self.groups.partition_point(|(at, _)| *at <= ready_at);
                    self.groups.insert(pos, (ready_at, added));
                }
            }
            self.total = desired;
        } else {
            let mut remove = self.total - desired;
            while remove > 0 {
                let Some((_, n)) = self.groups.last_mut() else {
                    break;
                };
                let take = remove.min(*n);
                *n -= take;
                remove -= take;
                if *n == 0 {
                    self.groups.pop();
                }
            }
            self.total = desired;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_pods_are_ready_after_startup() {
        let mut pods = Pods::initial();
        pods.scale_to(4, 15.0, 90.0);
        assert_eq!(pods.total(), 4);
        assert_eq!(pods.ready_at(104.9), 1);
        assert_eq!(
            pods.ready_at(105.0),
            4,
            "a pod whose ready time equals t is ready"
        );
    }

    #[test]
    fn an_existing_workload_keeps_its_ready_and_starting_pods() {
        let mut pods = Pods::existing(2, 3, 100.0, 160.0);
        assert_eq!((pods.total(), pods.ready_at(100.0)), (5, 2));
        assert_eq!(pods.ready_at(160.0), 5);
        pods.scale_to(3, 110.0, 90.0);
        assert_eq!((pods.total(), pods.ready_at(200.0)), (3, 3));
        assert_eq!(Pods::existing(0, 0, 0.0, 0.0).total(), 0);
    }

    #[test]
    fn removal_takes_starting_pods_first_latest_ready_time_first() {
        let mut pods = Pods::initial();
        pods.scale_to(3, 0.0, 90.0); // 2 ready at 90
        pods.scale_to(5, 15.0, 90.0); // 2 ready at 105
        pods.scale_to(4, 30.0, 90.0); // removes one of the 105 group
        assert_eq!(pods.ready_at(90.0), 3);
        assert_eq!(pods.ready_at(105.0), 4);
        pods.scale_to(2, 30.0, 90.0); // removes the other 105 and one 90
        assert_eq!(pods.ready_at(200.0), 2);
        assert_eq!(
            pods.ready_at(30.0),
            1,
            "the ready pod is kept while starting ones remain"
        );
        pods.scale_to(1, 30.0, 90.0);
        assert_eq!(
            pods.ready_at(30.0),
            1,
            "the last starting pod went before the ready one"
        );
    }
}
