#!/usr/bin/env bash
# Installs what the deploy/ checks need (.ci/check-deploy.sh, tests/deploy_manifests.rs):
#   - kubectl, for `kubectl kustomize` (Debian's kubernetes-client when kubectl is absent);
#   - kubernetes-validate and checkov from PyPI, pinned, in their own virtualenv so their
#     many dependencies cannot clash with anything else on the machine.
# Idempotent and non-interactive; safe to run on every CI run.
set -euo pipefail

VENV="${PRESCALE_DEPLOY_VENV:-/opt/prescale-deploy-venv}"
KUBERNETES_VALIDATE_VERSION=1.37.0
CHECKOV_VERSION=3.3.30

if ! command -v kubectl >/dev/null 2>&1; then
    echo "install-deploy: installing kubectl (Debian package kubernetes-client)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq kubernetes-client >/dev/null
fi

# deploy/ uses current kustomize syntax (`resources:` directories, `labels:`), which
# needs the kustomize built into kubectl 1.21 or later. Debian 12's kubernetes-client is
# 1.20 (kustomize v2.0.3) and cannot render it; Debian 13's is recent enough.
if ! kubectl kustomize "$(dirname "$0")/../deploy/overlays/shadow" >/dev/null 2>&1; then
    echo "install-deploy: $(command -v kubectl) cannot render deploy/:" >&2
    kubectl kustomize "$(dirname "$0")/../deploy/overlays/shadow" 2>&1 | head -3 >&2 || true
    echo "install-deploy: it needs kubectl >= 1.21 (kustomize >= v4); install a newer kubectl" >&2
    exit 1
fi

have_pinned() {
    [ -x "$VENV/bin/python" ] && "$VENV/bin/python" - "$KUBERNETES_VALIDATE_VERSION" "$CHECKOV_VERSION" <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version
try:
    ok = (version("kubernetes-validate"), version("checkov")) == tuple(sys.argv[1:3])
except PackageNotFoundError:
    ok = False
sys.exit(0 if ok else 1)
PY
}

if ! have_pinned; then
    echo "install-deploy: installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION and checkov $CHECKOV_VERSION into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" "checkov==$CHECKOV_VERSION"
fi
echo "install-deploy: kubectl $(kubectl version --client 2>/dev/null | head -1 | sed 's/^Client Version: //'), tools in $VENV"
