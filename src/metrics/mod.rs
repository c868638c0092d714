//! Metric sources: Prometheus HTTP API and /metrics scraping.
