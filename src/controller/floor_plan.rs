//! What to write under an HPA or ScaledObject: pure, from the object as read and prescale's
//! recommendation, so every rule about floors is tested without a cluster.
//!
//! - The floor is `max(owner's value, recommendation)`, capped at the object's max (the API
//!   server or KEDA would reject a min above it). The autoscaler keeps reacting above it.
//! - While the floor is above the owner's value, prescale holds it: the field says the
//!   floor and two annotations remember the owner's value and the floor.
//! - When the recommendation falls to the owner's value or below, the field returns to the
//!   owner's value exactly (removed if it was unset) and the annotations go.
//! - A field that differs from the floor prescale remembers setting (or that another field
//!   manager set) was changed by the owner: their new value is the one returned to.
//! - Nothing is written when nothing would change.

use crate::actuator::{FIELD_MANAGER, FloorObject, FloorPatch, Held};

/// The owner changed the min field while prescale held a floor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerEdit {
    /// The owner's value prescale remembered.
    pub from: Option<u32>,
    /// Their new value (`None`: they removed the field).
    pub to: Option<u32>,
    /// The floor prescale had set.
    pub floor: u32,
    /// Who changed it (the field manager), when known.
    pub by: Option<String>,
}

/// What to do with one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FloorPlan {
    /// The owner's value, returned to when the floor falls back (`None`: unset).
    pub owner: Option<u32>,
    /// The min in force once the write (if any) is made.
    pub floor: u32,
    /// The min in force now.
    pub current: u32,
    /// The write, or `None` when the object already says what it should.
    pub write: Option<FloorPatch>,
    /// The owner's change seen on this read, to report.
    pub owner_edit: Option<OwnerEdit>,
    /// The recommendation was above the object's max and was capped to it.
    pub capped_from: Option<u32>,
}

/// Plan the floor under `obj` for `recommended` replicas.
pub fn plan_floor(obj: &FloorObject, recommended: u32) -> FloorPlan {
    let current = obj.min_in_force();
    let (owner, holding, owner_edit) = match &obj.held {
        Held::Holding { owner, floor } => {
            let changed_value = obj.min != Some(*floor);
            let changed_by_other = obj
                .min_manager
                .as_deref()
                .is_some_and(|m| m != FIELD_MANAGER);
            if changed_value || changed_by_other {
                let edit = OwnerEdit {
                    from: *owner,
                    to: obj.min,
                    floor: *floor,
                    by: obj.min_manager.clone().filter(|m| m != FIELD_MANAGER),
                };
                // The owner's new value is what a floor is held over from now on; the
                // remembered value is rewritten with the next write.
                (obj.min, false, Some(edit))
            } else {
                (*owner, true, None)
            }
        }
        // Nothing remembered (or unreadable): the field is the owner's.
        Held::None | Held::Unreadable(_) => (obj.min, false, None),
    };
    let owner_in_force = owner.unwrap_or(obj.kind.default_min());
    let capped = recommended.min(obj.max);
    let capped_from = (recommended > obj.max).then_some(recommended);
    let want = owner_in_force.max(capped).max(obj.kind.least_min());
    let write = if want > owner_in_force {
        let patch = FloorPatch {
            min: Some(want),
            hold: Some((owner, want)),
        };
        let remembered = matches!(&obj.held, Held::Holding { owner: o, floor: f } if holding && *o == owner && *f == want);
        (!(remembered && obj.min == Some(want))).then_some(patch)
    } else if holding || matches!(obj.held, Held::Unreadable(_)) || owner_edit.is_some() {
        // Return: the owner's value exactly, and forget the floor.
        let patch = FloorPatch {
            min: owner,
            hold: None,
        };
        let annotations_left = !matches!(obj.held, Held::None);
        (annotations_left || obj.min != owner).then_some(patch)
    } else {
        None
    };
    FloorPlan {
        owner,
        floor: if write.is_some() {
            want.max(owner_in_force)
        } else {
            current
        },
        current,
        write,
        owner_edit,
        capped_from,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actuator::FloorKind;

    fn obj(
        kind: FloorKind,
        min: Option<u32>,
        max: u32,
        held: Held,
        by: Option<&str>,
    ) -> FloorObject {
        FloorObject {
            kind,
            name: "web".into(),
            namespace: "shop".into(),
            resource_version: "1".into(),
            min,
            max,
            held,
            min_manager: by.map(str::to_string),
            reference: Default::default(),
        }
    }

    fn hpa(min: u32, held: Held, by: Option<&str>) -> FloorObject {
        obj(FloorKind::Hpa, Some(min), 20, held, by)
    }

    fn holding(owner: u32, floor: u32) -> Held {
        Held::Holding {
            owner: Some(owner),
            floor,
        }
    }

    #[test]
    fn a_recommendation_above_the_owners_value_raises_the_floor_and_remembers_it() {
        let p = plan_floor(&hpa(2, Held::None, Some("kubectl")), 7);
        assert_eq!(
            p.write,
            Some(FloorPatch {
                min: Some(7),
                hold: Some((Some(2), 7))
            })
        );
        assert_eq!((p.owner, p.floor, p.current), (Some(2), 7, 2));
    }

    #[test]
    fn at_or_below_the_owners_value_nothing_is_written() {
        for r in [0, 1, 2] {
            assert_eq!(plan_floor(&hpa(2, Held::None, None), r).write, None, "{r}");
        }
    }

    #[test]
    fn a_held_floor_follows_the_recommendation_and_is_not_rewritten_unchanged() {
        let held = hpa(7, holding(2, 7), Some(FIELD_MANAGER));
        assert_eq!(plan_floor(&held, 7).write, None);
        assert_eq!(
            plan_floor(&held, 9).write,
            Some(FloorPatch {
                min: Some(9),
                hold: Some((Some(2), 9))
            })
        );
        assert_eq!(
            plan_floor(&held, 4).write,
            Some(FloorPatch {
                min: Some(4),
                hold: Some((Some(2), 4))
            })
        );
    }

    #[test]
    fn when_the_peak_passes_the_owners_value_comes_back_exactly() {
        let held = hpa(7, holding(2, 7), Some(FIELD_MANAGER));
        let p = plan_floor(&held, 1);
        assert_eq!(
            p.write,
            Some(FloorPatch {
                min: Some(2),
                hold: None
            })
        );
        assert_eq!(p.floor, 2);
        // A ScaledObject whose owner never set minReplicaCount gets the field removed.
        let so = obj(
            FloorKind::ScaledObject,
            Some(5),
            100,
            Held::Holding {
                owner: None,
                floor: 5,
            },
            Some(FIELD_MANAGER),
        );
        assert_eq!(
            plan_floor(&so, 0).write,
            Some(FloorPatch {
                min: None,
                hold: None
            })
        );
    }

    #[test]
    fn the_owners_edit_while_a_floor_is_held_becomes_the_value_returned_to() {
        // prescale held 7 over 2; the owner set 3.
        let edited = hpa(3, holding(2, 7), Some("kubectl-edit"));
        let p = plan_floor(&edited, 7);
        assert_eq!(
            p.owner_edit,
            Some(OwnerEdit {
                from: Some(2),
                to: Some(3),
                floor: 7,
                by: Some("kubectl-edit".into())
            })
        );
        // The floor is held again, over the new value.
        assert_eq!(
            p.write,
            Some(FloorPatch {
                min: Some(7),
                hold: Some((Some(3), 7))
            })
        );
        // And when the peak has passed, 3 is what comes back.
        assert_eq!(
            plan_floor(&edited, 1).write,
            Some(FloorPatch {
                min: Some(3),
                hold: None
            })
        );
        // An owner who set a value above the recommendation keeps it; prescale only drops
        // its annotations.
        let above = hpa(9, holding(2, 7), Some("kubectl-edit"));
        let p = plan_floor(&above, 7);
        assert_eq!(
            p.write,
            Some(FloorPatch {
                min: Some(9),
                hold: None
            })
        );
        assert_eq!(p.floor, 9);
    }

    #[test]
    fn the_same_value_set_by_someone_else_is_an_edit_too() {
        let p = plan_floor(&hpa(7, holding(2, 7), Some("argocd-controller")), 7);
        assert_eq!(p.owner_edit.map(|e| e.to), Some(Some(7)));
        // 7 is now the owner's own: nothing is held over it.
        assert_eq!(
            p.write,
            Some(FloorPatch {
                min: Some(7),
                hold: None
            })
        );
    }

    #[test]
    fn a_recommendation_above_the_max_is_capped_and_said() {
        let p = plan_floor(&obj(FloorKind::Hpa, Some(2), 10, Held::None, None), 25);
        assert_eq!(p.capped_from, Some(25));
        assert_eq!(p.floor, 10);
    }

    #[test]
    fn unreadable_annotations_are_cleaned_up() {
        let broken = hpa(2, Held::Unreadable("x".into()), None);
        assert_eq!(
            plan_floor(&broken, 1).write,
            Some(FloorPatch {
                min: Some(2),
                hold: None
            })
        );
        assert_eq!(
            plan_floor(&broken, 5).write,
            Some(FloorPatch {
                min: Some(5),
                hold: Some((Some(2), 5))
            })
        );
    }
}
