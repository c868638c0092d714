//! `scaleTargetRef`: which object a target scales. Any kind with a `/scale` subresource, named
//! as in an HPA's `scaleTargetRef` (`apiVersion`, `kind`, plus the namespace); whether the API
//! server really serves that kind with `/scale` is found through discovery at run time.

use super::context::Cx;
use super::names::{dns_label_problem, dns_subdomain_problem};
use super::target::name_check;
use crate::config::raw::RawScaleTargetRef;
use crate::config::types::{DEFAULT_SCALE_API_VERSION, DEFAULT_SCALE_KIND, ScaleTargetRef};

/// Built-in kinds people reach for that have no `/scale` subresource, and why.
const NOT_SCALABLE: &[(&str, &str)] = &[
    (
        "DaemonSet",
        "a DaemonSet runs one pod per node and has no replica count",
    ),
    ("Job", "a Job's parallelism is not a `/scale` subresource"),
    (
        "CronJob",
        "a CronJob starts Jobs on a schedule and has no replica count",
    ),
    ("Pod", "a Pod is one replica"),
];

/// The checked `scaleTargetRef` at `path` (`targets[i].scaleTargetRef`).
pub fn resolve_scale_target_ref(
    raw: &RawScaleTargetRef,
    path: &str,
    cx: &mut Cx<'_>,
) -> ScaleTargetRef {
    name_check(
        cx,
        &format!("{path}.namespace"),
        &raw.namespace,
        dns_label_problem,
    );
    name_check(
        cx,
        &format!("{path}.name"),
        &raw.name,
        dns_subdomain_problem,
    );
    let api_version = raw
        .api_version
        .clone()
        .unwrap_or_else(|| DEFAULT_SCALE_API_VERSION.into());
    let kind = raw
        .kind
        .clone()
        .unwrap_or_else(|| DEFAULT_SCALE_KIND.into());
    if let Some(problem) = api_version_problem(&api_version) {
        cx.error(
            &format!("{path}.apiVersion"),
            format!("apiVersion \"{api_version}\" {problem}"),
            "write GROUP/VERSION as in the object's own `apiVersion:` (`apps/v1`, `argoproj.io/v1alpha1`), or `v1` for the core group",
        );
    }
    if let Some(problem) = kind_problem(&kind) {
        cx.error(
            &format!("{path}.kind"),
            format!("kind \"{kind}\" {problem}"),
            "write the kind as in the object's own `kind:` (`Deployment`, `StatefulSet`, `Rollout`)",
        );
    } else if let Some((_, why)) = NOT_SCALABLE.iter().find(|(k, _)| *k == kind) {
        cx.error(
            &format!("{path}.kind"),
            format!("{kind} cannot be scaled: {why}, so it has no `/scale` subresource"),
            "point scaleTargetRef at a Deployment, StatefulSet, or another kind with a `/scale` subresource",
        );
    }
    let reference = ScaleTargetRef {
        api_version,
        kind,
        namespace: raw.namespace.clone(),
        name: raw.name.clone(),
    };
    if matches!(
        reference.kind.as_str(),
        "Deployment" | "StatefulSet" | "ReplicaSet"
    ) && reference.group() != "apps"
        && api_version_problem(&reference.api_version).is_none()
    {
        cx.error(
            &format!("{path}.apiVersion"),
            format!(
                "{}s are served in the `apps` group, not in \"{}\"",
                reference.kind, reference.api_version
            ),
            "write `apiVersion: apps/v1`",
        );
    }
    reference
}

/// `v1`, or `group/version` with a DNS-subdomain group and a Kubernetes version
/// (`v1`, `v2beta1`, `v1alpha1`).
fn api_version_problem(api_version: &str) -> Option<String> {
    let (group, version) = match api_version.split_once('/') {
        Some((g, v)) => (Some(g), v),
        None => (None, api_version),
    };
    if let Some(group) = group {
        if group.is_empty() {
            return Some("has an empty group before `/`".into());
        }
        if let Some(problem) = dns_subdomain_problem(group) {
            return Some(format!(
                "has a group that is not a DNS subdomain: {problem}"
            ));
        }
    }
    if !is_version(version) {
        return Some(format!(
            "has \"{version}\" as its version, which is not a Kubernetes API version (v1, v2beta1, v1alpha1)"
        ));
    }
    None
}

/// `v<digits>` optionally followed by `alpha<digits>` or `beta<digits>`.
fn is_version(v: &str) -> bool {
    let Some(rest) = v.strip_prefix('v') else {
        return false;
    };
    let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || rest.starts_with('0') {
        return false;
    }
    let tail = &rest[digits..];
    if tail.is_empty() {
        return true;
    }
    let level = tail
        .strip_prefix("alpha")
        .or_else(|| tail.strip_prefix("beta"));
    level.is_some_and(|n| {
        !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) && !n.starts_with('0')
    })
}

/// A kind is an UpperCamelCase identifier.
fn kind_problem(kind: &str) -> Option<String> {
    if kind.is_empty() {
        return Some("is empty".into());
    }
    if !kind.starts_with(|c: char| c.is_ascii_uppercase()) {
        return Some("does not start with an uppercase letter (kinds are UpperCamelCase)".into());
    }
    if let Some(bad) = kind.chars().find(|c| !c.is_ascii_alphanumeric()) {
        return Some(format!(
            "contains '{bad}' (kinds are letters and digits only)"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_kubernetes_versions() {
        for ok in ["v1", "v2", "v1beta1", "v1alpha2", "v10"] {
            assert!(is_version(ok), "{ok}");
        }
        for bad in [
            "1", "v", "v0", "v01", "v1beta", "v1gamma1", "V1", "v1beta01",
        ] {
            assert!(!is_version(bad), "{bad}");
        }
    }

    #[test]
    fn api_versions_name_a_group_and_a_version() {
        assert_eq!(api_version_problem("apps/v1"), None);
        assert_eq!(api_version_problem("argoproj.io/v1alpha1"), None);
        assert_eq!(api_version_problem("v1"), None);
        assert!(api_version_problem("/v1").is_some());
        assert!(api_version_problem("apps").is_some());
        assert!(api_version_problem("Apps/v1").is_some());
    }

    #[test]
    fn kinds_are_upper_camel_case() {
        assert_eq!(kind_problem("StatefulSet"), None);
        assert!(kind_problem("statefulset").is_some());
        assert!(kind_problem("Stateful-Set").is_some());
        assert!(kind_problem("").is_some());
    }
}
