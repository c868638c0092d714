#!/usr/bin/env bash
# Installs the Prometheus server that the metric-source tests start on 127.0.0.1
# (tests/support/prometheus.rs), and with it `promtool`, which the backtest test uses to load
# a trace as history (tests/backtest_prometheus.rs). Idempotent and non-interactive; skips
# when present.
set -euo pipefail

if command -v prometheus >/dev/null 2>&1 || [ -x /usr/bin/prometheus ]; then
    echo "prometheus already installed: $( (prometheus --version 2>&1 || true) | head -n1)"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Without recommends: only the server binary is needed, not node-exporter and its collectors.
apt-get install -y -qq --no-install-recommends prometheus
echo "installed: $(prometheus --version 2>&1 | head -n1)"
