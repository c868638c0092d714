//! Runs `prescale::controller::run` in-process against the API double, with a config file
//! in a temp directory (watched for reloads) and the admin server on a free port.
#![allow(dead_code)]

use super::api_double::ApiDouble;
use super::metrics_double::SetMetrics;
use prescale::actuator::WatchSettings;
use prescale::controller::{RunError, RunOptions, run};
use prescale::leader::LeaseSettings;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A controller running in this test.
pub struct Running {
    /// The API double it talks to.
    pub api: ApiDouble,
    /// Holds the config file and kubeconfig.
    pub dir: tempfile::TempDir,
    /// The config file.
    pub config_path: PathBuf,
    /// Admin server address.
    pub admin: SocketAddr,
    /// Metric readings the test sets.
    pub metrics: Arc<SetMetrics>,
    stop: watch::Sender<bool>,
    handle: JoinHandle<Result<(), RunError>>,
}

/// Start with `yaml` as the config, no leader election.
pub async fn start(api: &ApiDouble, yaml: &str) -> Running {
    start_full(api, yaml, None, None).await
}

/// The autoscaler watches' timings in tests: KEDA looked for twice a second, retries
/// from 200 ms, a failing watch trusted for 2 s.
pub fn test_watch_settings() -> WatchSettings {
    WatchSettings {
        stale_after: Duration::from_secs(2),
        crd_recheck: Duration::from_millis(500),
        backoff_min: Duration::from_millis(200),
        backoff_max: Duration::from_secs(2),
    }
}

/// A quick Lease for `identity`: 3 s, renew deadline 2 s, retried every 100 ms.
pub fn quick_lease(identity: &str) -> LeaseSettings {
    LeaseSettings {
        lease_duration: Duration::from_secs(3),
        renew_deadline: Duration::from_secs(2),
        retry_period: Duration::from_millis(100),
        ..LeaseSettings::new("prescale-leader".into(), "prescale".into(), identity.into())
    }
}

/// The leader Lease's holder (the Lease [`quick_lease`] names).
pub fn lease_holder(api: &ApiDouble) -> Option<String> {
    api.get("leases", "prescale", "prescale-leader")
        .and_then(|l| l["spec"]["holderIdentity"].as_str().map(str::to_string))
}

/// Two replicas of target `web` (Deployment `shop/web` at 1 replica), started by `start`
/// with their identity: `a` first, leading and scaling `web` to 3, then `b`, ticking as
/// a follower.
pub async fn leader_and_follower<F, Fut>(api: &ApiDouble, start: F) -> (Running, Running)
where
    F: Fn(&'static str) -> Fut,
    Fut: std::future::Future<Output = Running>,
{
    api.put_deployment("shop", "web", 1, 1);
    let a = start("a").await;
    eventually(15, "a leads and scales web to 3", || async {
        lease_holder(api).as_deref() == Some("a") && api.replicas("shop", "web") == Some(3)
    })
    .await;
    let b = start("b").await;
    eventually(10, "b ticks as a follower", || async {
        b.recommendation("web")
            .await
            .is_some_and(|r| r["action"] == "hold:follower")
    })
    .await;
    (a, b)
}

/// Start with optional leader election and a source factory (default: the `SetMetrics`
/// of the returned `Running`, whatever the config).
pub async fn start_full(
    api: &ApiDouble,
    yaml: &str,
    lease: Option<LeaseSettings>,
    factory: Option<prescale::controller::SourceFactory>,
) -> Running {
    start_with(
        api,
        yaml,
        Setup {
            lease,
            factory,
            ..Setup::default()
        },
    )
    .await
}

/// Like [`start_full`], with the controller's wall clock given by the test.
pub async fn start_clocked(
    api: &ApiDouble,
    yaml: &str,
    lease: Option<LeaseSettings>,
    factory: Option<prescale::controller::SourceFactory>,
    clock: prescale::controller::Clock,
) -> Running {
    start_with(
        api,
        yaml,
        Setup {
            lease,
            factory,
            clock: Some(clock),
            ..Setup::default()
        },
    )
    .await
}

/// A namespaced install (`--namespaces`): watches and accepts targets in `namespaces` only.
pub async fn start_namespaced(
    api: &ApiDouble,
    yaml: &str,
    lease: Option<LeaseSettings>,
    namespaces: &[&str],
) -> Running {
    start_with(
        api,
        yaml,
        Setup {
            lease,
            namespaces: Some(namespaces.iter().map(|n| n.to_string()).collect()),
            ..Setup::default()
        },
    )
    .await
}

/// [`start_full`], authenticating to the API double with `token` (the writer's identity
/// in its write log), with the autoscaler watches' timings `watch` and a deadline of
/// `api_deadline` for each Kubernetes API call.
pub async fn start_as(
    api: &ApiDouble,
    yaml: &str,
    lease: Option<LeaseSettings>,
    factory: Option<prescale::controller::SourceFactory>,
    token: &str,
    watch: WatchSettings,
    api_deadline: Duration,
) -> Running {
    start_with(
        api,
        yaml,
        Setup {
            lease,
            factory,
            token: Some(token.to_string()),
            watch: Some(watch),
            api_deadline: Some(api_deadline),
            ..Setup::default()
        },
    )
    .await
}

/// How [`start_with`] runs the controller; `Default` is what [`start`] does.
#[derive(Default)]
pub struct Setup {
    /// Leader election settings (`None`: none, always leading).
    pub lease: Option<LeaseSettings>,
    /// The metrics source factory (`None`: the returned `SetMetrics`).
    pub factory: Option<prescale::controller::SourceFactory>,
    /// The wall clock (`None`: the system's).
    pub clock: Option<prescale::controller::Clock>,
    /// How ticks read Deployments.
    pub reads: prescale::controller::ReadMode,
    /// The bearer token the controller's client sends (`None`: `test`), which tells
    /// instances apart in the API double's records.
    pub token: Option<String>,
    /// The autoscaler watches' timings (`None`: [`test_watch_settings`]).
    pub watch: Option<WatchSettings>,
    /// The deadline of each Kubernetes API call (`None`: 2 s).
    pub api_deadline: Option<Duration>,
    /// A namespaced install (`--namespaces`); `None`: the whole cluster.
    pub namespaces: Option<Vec<String>>,
    /// The namespace of the controller's own Pod (`POD_NAMESPACE`; `None`: `prescale`).
    pub own_namespace: Option<String>,
    /// How the config file is loaded (`None`: `prescale::config::load`).
    pub load: Option<prescale::reload::Loader>,
    /// The readings the controller's source serves (`None`: new, empty ones), so a test
    /// can set them before the first tick.
    pub metrics: Option<Arc<SetMetrics>>,
}

/// Start the controller as `setup` says.
pub async fn start_with(api: &ApiDouble, yaml: &str, setup: Setup) -> Running {
    let Setup {
        lease,
        factory,
        clock,
        reads,
        token,
        watch,
        api_deadline,
        namespaces,
        own_namespace,
        load,
        metrics,
    } = setup;
    let clock = clock.unwrap_or_else(prescale::controller::system_clock);
    let token = token.as_deref().unwrap_or("test");
    let watch = watch.unwrap_or_else(test_watch_settings);
    let api_deadline = api_deadline.unwrap_or(Duration::from_secs(2));
    // Logs go through libtest's capture, shown only for a failing test.
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("info")
        .try_init();
    let dir = tempfile::tempdir().expect("tempdir");
    let config_path = dir.path().join("prescale.yaml");
    std::fs::write(&config_path, yaml).expect("write config");
    let client = api.client_as(dir.path(), token).await;
    let watch_client = api.watch_client_as(dir.path(), token).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind admin");
    let admin = listener.local_addr().expect("admin addr");
    // Readings the test sets (tests/e2e.rs runs the real Prometheus source instead).
    let metrics = metrics.unwrap_or_default();
    let (stop, stop_rx) = watch::channel(false);
    let opts = RunOptions {
        config_path: config_path.clone(),
        load: load.unwrap_or_else(|| prescale::reload::loader(prescale::config::load)),
        client,
        watch_client,
        source: factory.unwrap_or_else(|| prescale::controller::fixed_source(metrics.clone())),
        admin: listener,
        lease,
        autoscaler_watch: watch,
        pod: Some(k8s_openapi::api::core::v1::ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            name: Some("prescale-0".into()),
            namespace: Some(own_namespace.unwrap_or_else(|| "prescale".into())),
            ..Default::default()
        }),
        api_deadline,
        reload_quiet: Duration::from_millis(100),
        grace: Duration::from_secs(10),
        clock,
        namespaces,
        reads,
        // As `prescale run` by default.
        tick_slot: Duration::from_secs(1),
        events: prescale::actuator::EventLimits::default(),
    };
    let handle = tokio::spawn(run(opts, stop_rx));
    Running {
        api: api.clone(),
        dir,
        config_path,
        admin,
        metrics,
        stop,
        handle,
    }
}

impl Running {
    /// GET an admin path; returns status and body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let url = format!("http://{}{path}", self.admin);
        match reqwest::get(&url).await {
            Ok(r) => {
                let code = r.status().as_u16();
                (code, r.text().await.unwrap_or_default())
            }
            Err(_) => (0, String::new()),
        }
    }

    /// The target's entry in `/recommendations`.
    pub async fn recommendation(&self, target: &str) -> Option<serde_json::Value> {
        let (code, body) = self.get("/recommendations").await;
        if code != 200 {
            return None;
        }
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        v["targets"]
            .as_array()?
            .iter()
            .find(|t| t["target"] == target)
            .cloned()
    }

    /// The value of the sample in `/metrics` named as `series` (`name{label="value",...}`)
    /// and carrying at least its labels (a series has more, e.g. `namespace`).
    pub async fn metric(&self, series: &str) -> Option<f64> {
        let (_, body) = self.get("/metrics").await;
        sample(&body, series)
    }

    /// Ticks `target` has finished on this instance, leader or follower (from
    /// `/recommendations`: per-target metrics are exported by the leader only).
    pub async fn ticks(&self, target: &str) -> f64 {
        self.recommendation(target)
            .await
            .and_then(|r| r["ticks"].as_f64())
            .unwrap_or(0.0)
    }

    /// Wait until `target` has finished `n` more ticks (instead of sleeping for "a few").
    pub async fn more_ticks(&self, target: &str, n: u32) {
        let goal = self.ticks(target).await + f64::from(n);
        eventually(10, &format!("{n} more ticks of {target}"), || async {
            self.ticks(target).await >= goal
        })
        .await;
    }

    /// Replace the config file (atomically, by rename, as a ConfigMap update does).
    pub fn write_config(&self, yaml: &str) {
        let tmp = self.dir.path().join(".prescale.yaml.tmp");
        std::fs::write(&tmp, yaml).expect("write config");
        std::fs::rename(&tmp, &self.config_path).expect("rename config");
    }

    /// Ask for shutdown and wait for `run` to return.
    pub async fn stop(self) -> Result<(), RunError> {
        self.stop_joined().await.expect("run task")
    }

    /// Ask for shutdown and wait for `run` to return, or for its task to have panicked
    /// (the `JoinError` tells).
    pub async fn stop_joined(self) -> Result<Result<(), RunError>, tokio::task::JoinError> {
        self.stop.send_replace(true);
        self.handle.await
    }
}

/// Split `name{a="x",b="y"}` into the name and its label pairs.
pub fn parse_series(series: &str) -> (&str, Vec<(String, String)>) {
    let Some((name, rest)) = series.split_once('{') else {
        return (series, Vec::new());
    };
    let body = rest.strip_suffix('}').unwrap_or(rest);
    let mut labels = Vec::new();
    let mut chars = body.chars().peekable();
    while chars.peek().is_some() {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if chars.next() != Some('"') {
            break;
        }
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => value.extend(chars.next()),
                '"' => break,
                c => value.push(c),
            }
        }
        labels.push((key.trim_start_matches(',').to_string(), value));
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
    (name, labels)
}

/// The value of the first sample in OpenMetrics `body` named as `series` and carrying at
/// least its labels.
pub fn sample(body: &str, series: &str) -> Option<f64> {
    let (want_name, want_labels) = parse_series(series);
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (name, labels) = parse_series(series);
            (name == want_name && want_labels.iter().all(|w| labels.contains(w)))
                .then(|| value.parse().ok())
                .flatten()
        })
}

/// Poll `cond` every 50 ms until it holds, failing the test after `secs` seconds.
pub async fn eventually<F, Fut>(secs: u64, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if cond().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {secs}s waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The head of a config file: the Prometheus the targets' PromQL metrics name. The
/// controller tests feed readings through `SetMetrics`, so it is never queried.
pub const HEAD: &str = "prometheus:\n  url: http://127.0.0.1:9\ntargets:\n";

/// One target entry (without the head): `mode` active or shadow, `min` replicas at least.
pub fn target(name: &str, deployment: &str, mode: &str, min: u32) -> String {
    format!(
        "  - name: {name}
    scaleTargetRef: {{ namespace: shop, name: {deployment} }}
    mode: {mode}
    interval: 200ms
    minReplicas: {min}
    maxReplicas: 20
    metrics:
      queueDepth: {{ promql: 'sum(queue_depth)' }}
      arrivalRate: {{ promql: 'sum(rate(arrivals_total[1m]))' }}
"
    )
}

/// The keys that run a target at test speed under the planner: 200 ms ticks, a 1 s
/// start-up and a 1 s SLO (so it sizes for arrivals above capacity within a tick or two,
/// not after the minutes a default 60 s SLO lets a queue absorb), exact steps
/// (`releaseTolerance: 0`) and no forecast: the recommendation follows the arrival rate
/// the test sets, and each scale-up and scale-down is one the test chose.
pub const TEST_SPEED: &str = "    interval: 200ms
    startupTime: 1s
    slo: { queueWait: 1s }
    plan: { releaseTolerance: 0 }
    forecast: { enabled: false }
";

/// An active target at test speed ([`TEST_SPEED`]) scaling the object `scale_target_ref`
/// names (the flow mapping's inside, e.g. `namespace: shop, name: web`), with `extra` keys.
pub fn active_target(name: &str, scale_target_ref: &str, extra: &str) -> String {
    format!(
        "  - name: {name}
    scaleTargetRef: {{ {scale_target_ref} }}
    mode: active
{TEST_SPEED}    maxReplicas: 20
{extra}    metrics:
      queueDepth: {{ promql: 'sum(queue_depth)' }}
      arrivalRate: {{ promql: 'sum(rate(arrivals_total[1m]))' }}
"
    )
}

/// [`active_target`] scaling `name`, an object of `kind` in `api_version`, in namespace
/// `shop`.
pub fn kind_target(target: &str, name: &str, api_version: &str, kind: &str) -> String {
    active_target(
        target,
        &format!("apiVersion: {api_version}, kind: {kind}, namespace: shop, name: {name}"),
        "",
    )
}

/// A whole config with one target.
pub fn one_target(name: &str, deployment: &str, mode: &str, min: u32) -> String {
    format!("{HEAD}{}", target(name, deployment, mode, min))
}
