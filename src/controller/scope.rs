//! A namespaced install (`prescale run --namespaces a,b`, `deploy/overlays/namespaced`):
//! its RBAC are Roles in the listed namespaces only, so prescale watches HPAs and
//! ScaledObjects there only and refuses a config with a target elsewhere (its every call
//! would be forbidden), naming the target and the fix.

use crate::config::Config;

/// Reject a config with a target outside `namespaces` (`None`: the whole cluster).
pub fn check_namespaces(config: &Config, namespaces: Option<&[String]>) -> Result<(), String> {
    let Some(watched) = namespaces else {
        return Ok(());
    };
    let outside: Vec<String> = config
        .targets
        .iter()
        .filter(|t| !watched.contains(&t.scale_target_ref.namespace))
        .map(|t| format!("{} (namespace {})", t.name, t.scale_target_ref.namespace))
        .collect();
    if outside.is_empty() {
        return Ok(());
    }
    Err(format!(
        "targets {} are outside the namespaces this controller watches ({}): add the namespace to --namespaces and give prescale its Role there (deploy/overlays/namespaced), or remove the target",
        outside.join(", "),
        watched.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ScaleTargetRef, TargetConfig};

    fn config(ns: &str) -> Config {
        Config {
            targets: vec![TargetConfig {
                name: "web".into(),
                scale_target_ref: ScaleTargetRef::deployment(ns, "web"),
                ..TargetConfig::default()
            }],
            ..Config::default()
        }
    }

    #[test]
    fn a_target_outside_the_watched_namespaces_is_refused_by_name() {
        let watched = ["shop".to_string()];
        assert_eq!(check_namespaces(&config("shop"), Some(&watched)), Ok(()));
        let e = check_namespaces(&config("docs"), Some(&watched)).expect_err("outside");
        assert!(
            e.contains("web (namespace docs)") && e.contains("shop"),
            "{e}"
        );
        assert_eq!(check_namespaces(&config("docs"), None), Ok(()));
    }
}
