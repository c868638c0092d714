//! Renders a kustomization with `kubectl kustomize` and parses the multi-document YAML.
#![allow(dead_code)]

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

/// Every kustomization under `deploy/` that a user can apply.
pub const KUSTOMIZATIONS: &[&str] = &[
    "deploy/overlays/shadow",
    "deploy/overlays/active",
    "deploy/overlays/servicemonitor",
    "deploy/overlays/monitoring",
    "deploy/overlays/pod-metrics",
    "deploy/overlays/pod-deletion-cost",
    "deploy/overlays/autoscaler-floor",
    "deploy/overlays/statefulsets",
    "deploy/overlays/argo-rollouts",
    "deploy/overlays/namespaced",
    "deploy/overlays/sharded",
    "deploy/examples",
];

/// Set to `1` to skip these tests where `kubectl` cannot be installed.
const SKIP_ENV: &str = "PRESCALE_SKIP_DEPLOY_TESTS";

/// The rendered objects of every kustomization, rendered once per test binary; `None` when
/// `kubectl` is absent and the tests were asked to skip.
pub fn all() -> Option<&'static BTreeMap<&'static str, Vec<Value>>> {
    static RENDERED: OnceLock<Option<BTreeMap<&'static str, Vec<Value>>>> = OnceLock::new();
    RENDERED.get_or_init(render_all).as_ref()
}

/// The rendered objects of one kustomization (see [`all`]).
pub fn one(dir: &str) -> Option<&'static [Value]> {
    all().map(|rendered| {
        rendered
            .get(dir)
            .unwrap_or_else(|| panic!("{dir} is not in KUSTOMIZATIONS"))
            .as_slice()
    })
}

fn render_all() -> Option<BTreeMap<&'static str, Vec<Value>>> {
    if Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_err()
    {
        if std::env::var(SKIP_ENV).as_deref() == Ok("1") {
            crate::skip::skip(
                "the deploy manifest tests",
                &format!(
                    "kubectl is not installed and {SKIP_ENV}=1; deploy/ is NOT checked by this run"
                ),
                "run .ci/install-deploy.sh to install kubectl",
            );
            return None;
        }
        panic!(
            "kubectl is not installed: run .ci/install-deploy.sh to install it \
             (or set {SKIP_ENV}=1 to skip the deploy manifest tests)"
        );
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    Some(
        KUSTOMIZATIONS
            .iter()
            .map(|dir| (*dir, render(root, dir)))
            .collect(),
    )
}

/// Render `dir` (relative to `root`); call [`all`] first, which checks for `kubectl`.
pub fn render(root: &Path, dir: &str) -> Vec<Value> {
    let output = Command::new("kubectl")
        .args(["kustomize", dir])
        .current_dir(root)
        .output()
        .expect("run kubectl kustomize");
    assert!(
        output.status.success(),
        "kubectl kustomize {dir} failed (deploy/ needs kubectl 1.21 or later, see \
         .ci/install-deploy.sh):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("kustomize output is UTF-8");
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text)
        .unwrap_or_else(|e| panic!("rendered {dir} is not YAML: {e}"));
    let docs: Vec<Value> = docs.into_iter().filter(|d| !d.is_null()).collect();
    assert!(!docs.is_empty(), "{dir} rendered no objects");
    docs
}

/// All objects of `kind`.
pub fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

/// The one object of `kind` named `name`; panics naming what is missing.
pub fn named<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    let found: Vec<&Value> = of_kind(docs, kind)
        .into_iter()
        .filter(|d| d["metadata"]["name"] == name)
        .collect();
    assert_eq!(found.len(), 1, "expected exactly one {kind} {name}");
    found[0]
}

/// A string field, panicking with its path when it is missing.
pub fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("missing string at {pointer} in {value}"))
}
