//! One writer per scaled object: a config in which two targets would write to the same
//! object is rejected, since their writes would fight each other every tick.
//!
//! `config::load` already rejects any two targets on one object; the controller checks
//! again because its safety rests on this and the loader it is given is pluggable.

use crate::config::{Config, Mode};
use std::collections::BTreeMap;

/// Reject a config in which an active target shares its scaled object (the same kind and
/// API group, namespace and name) with another target.
pub fn check_one_writer(config: &Config) -> Result<(), String> {
    type Key<'a> = (&'a str, &'a str, &'a str, &'a str);
    let mut by_object: BTreeMap<Key<'_>, Vec<&crate::config::TargetConfig>> = BTreeMap::new();
    for t in &config.targets {
        let r = &t.scale_target_ref;
        by_object
            .entry((
                r.group(),
                r.kind.as_str(),
                r.namespace.as_str(),
                r.name.as_str(),
            ))
            .or_default()
            .push(t);
    }
    for targets in by_object.into_values() {
        if targets.len() > 1 && targets.iter().any(|t| t.mode == Mode::Active) {
            let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
            return Err(format!(
                "targets {} all scale {} and at least one is active: give each object one target, or make all but one shadow",
                names.join(", "),
                targets[0].scale_target_ref
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ScaleTargetRef, TargetConfig};

    fn target(name: &str, deployment: &str, mode: Mode) -> TargetConfig {
        TargetConfig {
            name: name.into(),
            scale_target_ref: ScaleTargetRef::deployment("ns", deployment),
            mode,
            ..TargetConfig::default()
        }
    }

    #[test]
    fn two_active_targets_on_one_deployment_are_rejected_naming_both() {
        let c = Config {
            targets: vec![
                target("a", "web", Mode::Active),
                target("b", "web", Mode::Shadow),
            ],
            ..Config::default()
        };
        let err = check_one_writer(&c).expect_err("must reject");
        assert!(err.contains("a, b") && err.contains("ns/web"), "{err}");
    }

    #[test]
    fn shadow_targets_may_share_and_active_targets_on_different_deployments_are_fine() {
        let c = Config {
            targets: vec![
                target("a", "web", Mode::Shadow),
                target("b", "web", Mode::Shadow),
                target("c", "api", Mode::Active),
            ],
            ..Config::default()
        };
        assert_eq!(check_one_writer(&c), Ok(()));
    }
}
