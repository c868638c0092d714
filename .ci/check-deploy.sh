#!/usr/bin/env bash
# Checks every kustomization a user can apply from deploy/ (run .ci/install-deploy.sh first):
#   1. it renders with `kubectl kustomize`;
#   2. every built-in object validates against the Kubernetes 1.25 and 1.33 OpenAPI schemas
#      (kubernetes-validate --strict: unknown fields are errors);
#   3. checkov's Kubernetes checks pass; accepted findings are suppressed beside the object
#      they concern (checkov.io/skip annotations) or, for the demo's public images, in
#      deploy/examples/.checkov.yaml, each with its reason.
# Then checkov's Dockerfile checks on the image's Dockerfile.
# The structure tests (RBAC equal to src/permissions.rs, probes, securityContext, ...) are
# tests/deploy_manifests.rs, run by `cargo test`.
set -euo pipefail

cd "$(dirname "$0")/.."
VENV="${PRESCALE_DEPLOY_VENV:-/opt/prescale-deploy-venv}"
# The oldest Kubernetes docs/deploy.md promises the manifests work on (Pod Security
# admission is GA from 1.25), and the API version prescale's client is built for
# (k8s-openapi's v1_33 feature in Cargo.toml).
K8S_VERSIONS="1.25.0 1.33.0"
# Kinds that are not built into Kubernetes, which kubernetes-validate therefore cannot know
# (it only warns on them, so without this list a misspelt built-in kind would pass too).
# ServiceMonitor and PrometheusRule: the Prometheus Operator's CRDs, in the servicemonitor and
# monitoring overlays; their shape is asserted by tests/deploy_manifests.rs, the rules by
# tests/monitoring.rs (promtool).
CRD_KINDS_RE='kind (ServiceMonitor|PrometheusRule) with api version monitoring\.coreos\.com/v1 '

for tool in kubernetes-validate checkov; do
    if [ ! -x "$VENV/bin/$tool" ]; then
        echo "check-deploy: $VENV/bin/$tool is missing: run .ci/install-deploy.sh" >&2
        exit 1
    fi
done

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
failed=0

check() {
    local dir="$1" name rendered log
    name="$(echo "$dir" | tr '/' '-')"
    rendered="$out/$name.yaml"
    log="$out/$name.log"

    if ! kubectl kustomize "$dir" >"$rendered" 2>"$log"; then
        echo "FAIL $dir: kubectl kustomize"; cat "$log"; failed=1; return
    fi

    local version
    for version in $K8S_VERSIONS; do
        if ! "$VENV/bin/kubernetes-validate" --strict --quiet -k "$version" "$rendered" >"$log" 2>&1; then
            echo "FAIL $dir: schema validation (Kubernetes $version)"; cat "$log"; failed=1; return
        fi
        if grep "Couldn't find schema" "$log" | grep -Ev "$CRD_KINDS_RE" | grep -q .; then
            echo "FAIL $dir: objects of a kind Kubernetes $version does not have"; cat "$log"; failed=1; return
        fi
    done

    local config=()
    if [ -f "$dir/.checkov.yaml" ]; then config=(--config-file "$dir/.checkov.yaml"); fi
    # --skip-download: no network (guidelines, policies); the checks are in the package.
    if ! "$VENV/bin/checkov" -f "$rendered" --framework kubernetes --compact --quiet \
        --skip-download "${config[@]}" >"$log" 2>&1; then
        echo "FAIL $dir: checkov"; cat "$log"; failed=1; return
    fi
    echo "ok   $dir: renders ($(grep -c '^kind:' "$rendered") objects), validates against Kubernetes ${K8S_VERSIONS// / and }, checkov $(grep -o 'Passed checks: [0-9]*, Failed checks: [0-9]*, Skipped checks: [0-9]*' "$log")"
}

for dir in deploy/overlays/shadow deploy/overlays/active deploy/overlays/servicemonitor deploy/overlays/monitoring deploy/overlays/pod-metrics deploy/overlays/pod-deletion-cost deploy/overlays/autoscaler-floor deploy/overlays/statefulsets deploy/overlays/argo-rollouts deploy/overlays/namespaced deploy/overlays/sharded deploy/examples; do
    check "$dir"
done

# The image: checkov's Dockerfile checks (non-root USER, no ADD of URLs, pinned base, ...).
if "$VENV/bin/checkov" -f Dockerfile --framework dockerfile --compact --quiet --skip-download \
    >"$out/dockerfile.log" 2>&1; then
    echo "ok   Dockerfile: checkov $(grep -o 'Passed checks: [0-9]*, Failed checks: [0-9]*, Skipped checks: [0-9]*' "$out/dockerfile.log")"
else
    echo "FAIL Dockerfile: checkov"; cat "$out/dockerfile.log"; failed=1
fi

if [ "$failed" -ne 0 ]; then
    echo "check-deploy: FAILED" >&2
    exit 1
fi
echo "check-deploy: all deploy/ kustomizations and the Dockerfile pass"
