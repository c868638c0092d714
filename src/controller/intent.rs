//! A decision becomes an intent: write a new replica count, or hold and say why.
//!
//! Pure, so every rule about when prescale may touch a workload is tested without a
//! cluster: shadow mode, followers, a paused Deployment, another autoscaler, a person's
//! recent `kubectl scale`, an unknown answer about other autoscalers, a back-off after
//! 429/5xx, and "nothing to change".

use crate::config::Mode;

/// Why a write is withheld.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Hold {
    /// Shadow mode never writes.
    Shadow,
    /// Another instance holds the leader Lease.
    Follower,
    /// The Deployment carries `prescale.io/paused: "true"`.
    Paused,
    /// An HPA or ScaledObject targets the Deployment.
    OtherAutoscaler,
    /// Someone changed `spec.replicas` recently; not fought within the cooldown.
    ManualScale,
    /// Whether another autoscaler owns the Deployment is unknown: the HPA/ScaledObject
    /// caches have not synced, or their watch has been failing for too long to trust.
    Unsynced,
    /// The API server answered 429/5xx recently.
    Backoff,
    /// The recommendation equals `spec.replicas` (or the floor already in force).
    Unchanged,
    /// A floor target (`actuation: hpaMinReplicas|kedaMinReplicaCount`) has no autoscaler
    /// of that kind targeting its Deployment, or several.
    NoAutoscaler,
    /// A GitOps tool keeps resetting `spec.replicas` to the value in git: prescale stops
    /// fighting it until it is told to ignore the field.
    GitOps,
}

impl Hold {
    /// Short stable label (metrics, logs).
    pub fn label(self) -> &'static str {
        let action = self.action();
        action.strip_prefix("hold:").unwrap_or(action)
    }

    /// `hold:<label>`: the action of a tick that held (`/recommendations`, logs).
    pub fn action(self) -> &'static str {
        match self {
            Self::Shadow => "hold:shadow",
            Self::Follower => "hold:follower",
            Self::Paused => "hold:paused",
            Self::OtherAutoscaler => "hold:other_autoscaler",
            Self::ManualScale => "hold:manual_scale",
            Self::Unsynced => "hold:unsynced",
            Self::Backoff => "hold:backoff",
            Self::Unchanged => "hold:unchanged",
            Self::NoAutoscaler => "hold:no_autoscaler",
            Self::GitOps => "hold:gitops",
        }
    }
}

/// What to do with a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// Patch `spec.replicas` from `from` to `to`.
    Write {
        /// `spec.replicas` now.
        from: u32,
        /// The recommendation.
        to: u32,
    },
    /// Do not write.
    Hold(Hold),
}

/// Everything besides the numbers that decides whether prescale may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Guards {
    /// This instance holds the leader Lease.
    pub leader: bool,
    /// The paused annotation is set.
    pub paused: bool,
    /// Another autoscaler targets the Deployment.
    pub other_autoscaler: bool,
    /// A manual scale happened within the cooldown.
    pub manual_cooldown: bool,
    /// A GitOps tool is resetting `spec.replicas` after each write.
    pub gitops_conflict: bool,
    /// The other-autoscaler check has no trustworthy answer.
    pub unsynced: bool,
    /// Backing off after 429/5xx.
    pub backoff: bool,
}

/// Turn a recommendation into an intent. The order of the checks is the order of their
/// precedence in reports: the mode first (shadow never writes), then who may write, then
/// whether the workload is someone else's, then whether there is anything to change.
pub fn plan(mode: Mode, guards: Guards, current: u32, recommended: u32) -> Intent {
    let hold = if mode == Mode::Shadow {
        Some(Hold::Shadow)
    } else if guards.other_autoscaler {
        Some(Hold::OtherAutoscaler)
    } else if guards.paused {
        Some(Hold::Paused)
    } else if !guards.leader {
        Some(Hold::Follower)
    } else if current == recommended {
        Some(Hold::Unchanged)
    } else if guards.manual_cooldown {
        Some(Hold::ManualScale)
    } else if guards.gitops_conflict {
        Some(Hold::GitOps)
    } else if guards.unsynced {
        Some(Hold::Unsynced)
    } else if guards.backoff {
        Some(Hold::Backoff)
    } else {
        None
    };
    match hold {
        Some(h) => Intent::Hold(h),
        None => Intent::Write {
            from: current,
            to: recommended,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_holds_action_is_hold_and_its_label() {
        for h in [
            Hold::Shadow,
            Hold::Follower,
            Hold::Paused,
            Hold::OtherAutoscaler,
            Hold::ManualScale,
            Hold::Unsynced,
            Hold::Backoff,
            Hold::Unchanged,
            Hold::NoAutoscaler,
            Hold::GitOps,
        ] {
            assert_eq!(h.action(), format!("hold:{}", h.label()));
        }
    }

    fn leader() -> Guards {
        Guards {
            leader: true,
            ..Guards::default()
        }
    }

    #[test]
    fn active_leader_writes_a_changed_recommendation() {
        assert_eq!(
            plan(Mode::Active, leader(), 2, 5),
            Intent::Write { from: 2, to: 5 }
        );
    }

    #[test]
    fn shadow_never_writes_even_as_leader() {
        assert_eq!(
            plan(Mode::Shadow, leader(), 2, 5),
            Intent::Hold(Hold::Shadow)
        );
    }

    #[test]
    fn follower_does_not_write() {
        assert_eq!(
            plan(Mode::Active, Guards::default(), 2, 5),
            Intent::Hold(Hold::Follower)
        );
    }

    #[test]
    fn unchanged_recommendation_is_not_written() {
        assert_eq!(
            plan(Mode::Active, leader(), 4, 4),
            Intent::Hold(Hold::Unchanged)
        );
    }

    #[test]
    fn other_autoscaler_paused_manual_unsynced_and_backoff_each_block_a_write() {
        let cases = [
            (
                Guards {
                    other_autoscaler: true,
                    ..leader()
                },
                Hold::OtherAutoscaler,
            ),
            (
                Guards {
                    paused: true,
                    ..leader()
                },
                Hold::Paused,
            ),
            (
                Guards {
                    manual_cooldown: true,
                    ..leader()
                },
                Hold::ManualScale,
            ),
            (
                Guards {
                    gitops_conflict: true,
                    ..leader()
                },
                Hold::GitOps,
            ),
            (
                Guards {
                    unsynced: true,
                    ..leader()
                },
                Hold::Unsynced,
            ),
            (
                Guards {
                    backoff: true,
                    ..leader()
                },
                Hold::Backoff,
            ),
        ];
        for (guards, hold) in cases {
            assert_eq!(
                plan(Mode::Active, guards, 2, 5),
                Intent::Hold(hold),
                "{guards:?}"
            );
        }
    }

    #[test]
    fn ownership_is_reported_before_leadership() {
        // A follower still reports that another autoscaler owns the Deployment, so the
        // warning does not disappear when leadership moves.
        let g = Guards {
            other_autoscaler: true,
            ..Guards::default()
        };
        assert_eq!(
            plan(Mode::Active, g, 2, 5),
            Intent::Hold(Hold::OtherAutoscaler)
        );
    }
}
