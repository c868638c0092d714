//! End to end: `prescale run` as a process against the Kubernetes API double, reading its
//! metrics from a real Prometheus that scrapes a test exporter. Raise the queue, and an
//! active target's replicas rise; a shadow target's do not move, while the recommendation
//! shows in `/recommendations`, the metrics and an Event. Then SIGTERM: exit 0.

mod support;

#[path = "support/api_double/mod.rs"]
mod api_double;
#[path = "support/process_harness.rs"]
mod process_harness;

use api_double::ApiDouble;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::exporter::Exporter;
use support::prometheus::{Job, PrometheusServer, skip_without_binary};

const NS: &str = "shop";

struct Env {
    api: ApiDouble,
    exporter: Exporter,
    _prometheus: PrometheusServer,
    _dir: tempfile::TempDir,
    child: Child,
    admin: String,
}

/// Exporter, Prometheus scraping it every second, the API double with Deployment `docs` at
/// one replica, and `prescale run` for it in `mode`. `None` (skipped) without Prometheus.
async fn start(test: &str, mode: &str) -> Option<Env> {
    // reqwest (the test's HTTP client) is built without a default TLS provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let exporter = Exporter::start();
    let jobs = [Job {
        name: "exporter".into(),
        target: exporter.host_port(),
    }];
    let Some(prometheus) = PrometheusServer::start(&jobs).expect("prometheus starts") else {
        skip_without_binary(test);
        return None;
    };
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "docs", 1, 1);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("prescale.yaml");
    std::fs::write(
        &config,
        format!(
            "prometheus:
  url: {url}
targets:
  - name: docs
    scaleTargetRef: {{ namespace: shop, name: docs }}
    mode: {mode}
    interval: 2s
    minReplicas: 1
    maxReplicas: 20
    startupTime: 30s
    capacity: {{ perReplica: 2.0 }}
    forecast: {{ history: 1h }}
    metrics:
      queueDepth: {{ promql: 'sum(queue_depth{{queue=\"docs\"}})' }}
      arrivalRate: {{ promql: 'sum(rate(documents_enqueued_total{{queue=\"docs\"}}[10s]))' }}
",
            url = prometheus.url()
        ),
    )
    .expect("write config");
    let log = dir.path().join("stderr.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_prescale"))
        .args(["run", "--no-leader-election", "--config"])
        .arg(&config)
        .args(["--admin-addr", "127.0.0.1:0"])
        .env("KUBECONFIG", api.write_kubeconfig(dir.path(), "prescale"))
        .env("POD_NAME", "prescale-0")
        .env("POD_NAMESPACE", "prescale")
        .env("RUST_LOG", "warn,prescale::cli::run=info")
        .stdout(Stdio::null())
        .stderr(Stdio::from(
            std::fs::File::create(&log).expect("create stderr.log"),
        ))
        .spawn()
        .expect("spawn prescale run");
    let admin = process_harness::logged_admin_addr(&mut child, &log).await;
    Some(Env {
        api,
        exporter,
        _prometheus: prometheus,
        _dir: dir,
        child,
        admin,
    })
}

impl Env {
    async fn get(&self, path: &str) -> Option<String> {
        let r = reqwest::get(format!("http://{}{path}", self.admin))
            .await
            .ok()?;
        r.status().is_success().then_some(())?;
        r.text().await.ok()
    }

    async fn recommendation(&self) -> Option<serde_json::Value> {
        let body = self.get("/recommendations").await?;
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        v["targets"].as_array()?.first().cloned()
    }

    /// Poll `cond` every 200 ms for up to `secs`.
    async fn wait(&self, secs: u64, what: &str, mut cond: impl AsyncFnMut(&Env) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        while !cond(self).await {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out after {secs}s waiting for {what}; last report: {:?}",
                self.recommendation().await
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// SIGTERM, and expect exit 0.
    async fn stop(mut self) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid fits");
        // SAFETY: signalling a child this test spawned and has not reaped.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                assert!(status.success(), "exit status {status}");
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no exit after SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raising_the_queue_raises_an_active_targets_replicas() {
    let Some(env) = start(
        "raising_the_queue_raises_an_active_targets_replicas",
        "active",
    )
    .await
    else {
        return;
    };
    env.exporter.set_queue_depth(0.0);
    env.exporter.set_arrival_rate(0.5);
    env.wait(60, "a first decision from real metrics", async |e| {
        e.recommendation()
            .await
            .is_some_and(|r| r["error"].is_null() && r["recommendedReplicas"].is_u64())
    })
    .await;
    assert_eq!(env.api.replicas(NS, "docs"), Some(1));

    env.exporter.set_queue_depth(2000.0);
    env.exporter.set_arrival_rate(40.0);
    env.wait(60, "replicas to rise", async |e| {
        e.api.replicas(NS, "docs").is_some_and(|r| r > 1)
    })
    .await;
    assert!(
        env.api
            .event_reasons("docs")
            .contains(&"Rescaled".to_string())
    );
    assert!(env.api.scale_writes().iter().all(|r| *r > 1));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raising_the_queue_in_shadow_mode_only_recommends() {
    let Some(env) = start("raising_the_queue_in_shadow_mode_only_recommends", "shadow").await
    else {
        return;
    };
    env.exporter.set_queue_depth(2000.0);
    env.exporter.set_arrival_rate(40.0);
    env.wait(60, "a recommendation above one replica", async |e| {
        e.recommendation()
            .await
            .is_some_and(|r| r["recommendedReplicas"].as_u64().is_some_and(|n| n > 1))
    })
    .await;
    let r = env.recommendation().await.expect("report");
    assert_eq!(r["currentReplicas"], 1);
    assert_eq!(r["action"], "hold:shadow");
    assert!(!r["reasons"].as_array().expect("reasons").is_empty());
    let metrics = env.get("/metrics").await.expect("metrics");
    // Per-target series carry the Deployment's namespace and name (kube-state-metrics' labels).
    let target = "target=\"docs\",namespace=\"shop\",deployment=\"docs\"";
    let recommended = metrics
        .lines()
        .find_map(|l| l.strip_prefix(&format!("prescale_recommended_replicas{{{target}}} ")))
        .and_then(|v| v.parse::<f64>().ok());
    assert!(recommended.is_some_and(|v| v > 1.0), "{metrics}");
    assert!(metrics.contains(&format!(
        "prescale_decision_reason{{{target},reason=\"winner:"
    )));
    env.wait(10, "a Recommendation Event", async |e| {
        e.api.events().iter().any(|ev| {
            ev["reason"] == "Recommendation"
                && ev["regarding"]["name"] == "docs"
                && ev["reportingInstance"] == "prescale-0"
        })
    })
    .await;
    assert_eq!(env.api.replicas(NS, "docs"), Some(1));
    assert!(env.api.scale_writes().is_empty());
    env.stop().await;
}
