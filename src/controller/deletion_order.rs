//! Which pods a scale-down should remove first, and the deletion costs that say so. Pure.
//!
//! The ReplicaSet controller removes, in order: pods not yet scheduled, pending, not ready,
//! then the lowest `controller.kubernetes.io/pod-deletion-cost`, then (among equals) the
//! most recently ready and the newest. prescale ranks the pods it may mark the same way
//! but by work first: not ready first, then the least in-flight work (when each pod's work
//! is known), then the newest; and gives the first `remove` of them costs below every
//! unmarked pod's 0, lowest first. Pods that carry someone else's cost are left alone, as
//! are pods already terminating (no longer counted by the ReplicaSet).

use crate::actuator::CostMark;

/// The lowest cost prescale sets; the next pods get `+1`, `+2`...: all below 0, the cost of
/// an unmarked pod.
pub const FIRST_COST: i32 = -1000;

/// What the ordering needs to know about one pod.
#[derive(Debug, Clone, PartialEq)]
pub struct PodFacts {
    /// `metadata.name`.
    pub name: String,
    /// Its `Ready` condition is `True`.
    pub ready: bool,
    /// `metadata.deletionTimestamp` is set.
    pub terminating: bool,
    /// `metadata.creationTimestamp`, Unix seconds.
    pub created: f64,
    /// In-flight work, when measured (`None`: not measured, or its read failed).
    pub in_flight: Option<f64>,
    /// The deletion cost on it now.
    pub mark: CostMark,
}

/// The marks to write: costs to set (in order of removal) and prescale's old marks to clear.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CostPlan {
    /// `(pod, cost)` for pods whose cost must change.
    pub set: Vec<(String, i32)>,
    /// Pods whose mark from an earlier scale-down no longer applies.
    pub clear: Vec<String>,
    /// The pods chosen to go first, in order (for logs and tests).
    pub chosen: Vec<String>,
}

/// Plan the costs for removing `remove` pods. `by_work` is whether in-flight work was
/// measured; pods whose reading failed then go after those measured (their work is unknown).
pub fn plan_costs(pods: &[PodFacts], remove: u32, by_work: bool) -> CostPlan {
    let mut candidates: Vec<&PodFacts> = pods
        .iter()
        .filter(|p| !p.terminating && !matches!(p.mark, CostMark::Foreign))
        .collect();
    candidates.sort_by(|a, b| {
        let work = |p: &PodFacts| {
            if by_work {
                p.in_flight.unwrap_or(f64::INFINITY)
            } else {
                0.0
            }
        };
        // Not ready first (false < true); less work first; newest first; then by name.
        a.ready
            .cmp(&b.ready)
            .then(work(a).total_cmp(&work(b)))
            .then(b.created.total_cmp(&a.created))
            .then(a.name.cmp(&b.name))
    });
    let chosen: Vec<&PodFacts> = candidates.into_iter().take(remove as usize).collect();
    let mut plan = CostPlan::default();
    for (rank, pod) in chosen.iter().enumerate() {
        let cost = FIRST_COST.saturating_add(i32::try_from(rank).unwrap_or(i32::MAX));
        plan.chosen.push(pod.name.clone());
        if pod.mark != CostMark::Ours(cost) {
            plan.set.push((pod.name.clone(), cost));
        }
    }
    for pod in pods {
        if matches!(pod.mark, CostMark::Ours(_))
            && !pod.terminating
            && !plan.chosen.contains(&pod.name)
        {
            plan.clear.push(pod.name.clone());
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, ready: bool, created: f64, in_flight: Option<f64>) -> PodFacts {
        PodFacts {
            name: name.into(),
            ready,
            terminating: false,
            created,
            in_flight,
            mark: CostMark::None,
        }
    }

    #[test]
    fn the_least_busy_pods_go_first() {
        let pods = [
            pod("busy", true, 1.0, Some(5.0)),
            pod("idle", true, 2.0, Some(0.0)),
            pod("some", true, 3.0, Some(2.0)),
        ];
        let p = plan_costs(&pods, 2, true);
        assert_eq!(p.chosen, ["idle", "some"]);
        assert_eq!(
            p.set,
            [
                ("idle".to_string(), FIRST_COST),
                ("some".to_string(), FIRST_COST + 1)
            ]
        );
    }

    #[test]
    fn without_work_not_ready_then_newest_go_first() {
        let pods = [
            pod("old", true, 1.0, None),
            pod("new", true, 9.0, None),
            pod("starting", false, 5.0, None),
        ];
        assert_eq!(plan_costs(&pods, 2, false).chosen, ["starting", "new"]);
    }

    #[test]
    fn pods_whose_work_is_unknown_go_after_measured_ones() {
        let pods = [
            pod("unknown", true, 9.0, None),
            pod("busy", true, 1.0, Some(3.0)),
        ];
        assert_eq!(plan_costs(&pods, 1, true).chosen, ["busy"]);
    }

    #[test]
    fn someone_elses_cost_and_terminating_pods_are_left_alone_and_old_marks_cleared() {
        let mut foreign = pod("protected", true, 9.0, Some(0.0));
        foreign.mark = CostMark::Foreign;
        let mut leaving = pod("leaving", true, 9.0, Some(0.0));
        leaving.terminating = true;
        let mut marked_before = pod("was-idle", true, 1.0, Some(7.0));
        marked_before.mark = CostMark::Ours(FIRST_COST);
        let mut already = pod("idle", true, 2.0, Some(1.0));
        already.mark = CostMark::Ours(FIRST_COST);
        let pods = [foreign, leaving, marked_before, already];
        let p = plan_costs(&pods, 1, true);
        assert_eq!(p.chosen, ["idle"]);
        assert!(p.set.is_empty(), "already marked as wanted: {:?}", p.set);
        assert_eq!(p.clear, ["was-idle"]);
    }
}
