//! `prescale run`: the controller in a cluster (in-cluster config, or `KUBECONFIG` outside).

use super::CliResult;
use crate::actuator::{EventLimits, WatchSettings};
use crate::controller::{ReadMode, RunOptions, run as run_controller};
use crate::leader::{LeaseSettings, LeaseSettingsError};
use crate::telemetry::init_tracing;
use k8s_openapi::api::core::v1::ObjectReference;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Arguments of `prescale run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The config file; its directory is watched and changes are applied live.
    #[arg(long)]
    pub config: PathBuf,
    /// Address of the admin server (/healthz, /readyz, /metrics, /recommendations, /report);
    /// port 0 picks a free port, logged as `admin server listening` with its `addr`.
    #[arg(long, default_value = "0.0.0.0:8080")]
    pub admin_addr: String,
    /// Name of the leader-election Lease in the controller's namespace (POD_NAMESPACE).
    #[arg(long, default_value = "prescale-leader")]
    pub lease_name: String,
    /// Run without leader election (a single local instance that always acts).
    #[arg(long)]
    pub no_leader_election: bool,
    /// Split the targets into this many shards, each with its own Lease
    /// (`<lease-name>-NN-of-NN`), so that several replicas act at once, each on the shards
    /// it holds (at most its fair share: shards / replicas, rounded up). 1: the single Lease
    /// --lease-name, one acting replica at a time.
    #[arg(long, default_value = "1")]
    pub shards: u32,
    /// How long the Lease holds without renewal (whole seconds: the Lease records it so).
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
    pub lease_duration: Duration,
    /// The leader stops acting this long after the start of its last successful renewal,
    /// whatever request is in flight.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub renew_deadline: Duration,
    /// Time between attempts to acquire or renew the Lease.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub retry_period: Duration,
    /// Deadline of each Kubernetes API call.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub api_timeout: Duration,
    /// Targets' ticks are gathered in slots this wide, aligned on the clock, so that the
    /// targets of a slot tick one after another while the decision core is warm in the CPU's
    /// caches (at 10,000 targets it halved the CPU of a tick against ticks spread evenly);
    /// `0s` spreads them evenly over the interval instead (smaller bursts of API calls and
    /// queries, more CPU); a slot as wide as the interval puts every target in one.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub tick_slot: Duration,
    /// Config changes are applied once the directory has been quiet this long.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub reload_debounce: Duration,
    /// Shutdown (tick in flight, Lease release) must finish within this.
    #[arg(long, default_value = "25s", value_parser = humantime::parse_duration)]
    pub shutdown_grace: Duration,
    /// A namespaced install: watch only these namespaces (comma-separated), where Roles
    /// grant access instead of the ClusterRole; a target elsewhere is refused. Default: the
    /// whole cluster (a ClusterRole).
    #[arg(long, value_delimiter = ',', value_name = "NS,...")]
    pub namespaces: Vec<String>,
    /// How ticks read their Deployments (and pods): `watch` keeps watch-backed caches of the
    /// targets' namespaces (no API call per tick); `get` reads each Deployment with a GET
    /// every tick (for clusters that grant no list/watch on Deployments).
    #[arg(long, value_enum, default_value = "watch")]
    pub cluster_reads: ReadMode,
    /// Kubernetes Events published per second at most, on average (a queue keeps at most
    /// one pending Event per object and reason).
    #[arg(long, default_value = "5")]
    pub events_per_second: f64,
    /// Events that may be published at once after a quiet period.
    #[arg(long, default_value = "50")]
    pub events_burst: u32,
}

/// Why `prescale run` stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunCliError {
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// No Kubernetes client configuration.
    #[error(
        "cannot configure the Kubernetes client: {0}; outside a cluster set KUBECONFIG to a kubeconfig file"
    )]
    Kube(kube::Error),
    /// The admin address cannot be bound.
    #[error("cannot listen on --admin-addr {addr}: {source}; choose a free address:port")]
    Bind {
        /// The address.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// Leader election is on but there is no namespace for the Lease.
    #[error(
        "no namespace for the leader Lease: set POD_NAMESPACE (the deploy manifests set it from the downward API) or pass --no-leader-election"
    )]
    NoNamespace,
    /// The Event rate is not a positive number.
    #[error("--events-per-second must be a positive number, got {0}; e.g. `--events-per-second 5`")]
    EventRate(f64),
    /// Shards are held through Leases: without election there is nothing to split.
    #[error(
        "--shards {0} needs leader election: each shard is a Lease; drop --no-leader-election or --shards"
    )]
    ShardsWithoutElection(u32),
    /// The Lease timings cannot keep one leader at a time.
    #[error(transparent)]
    Lease(#[from] LeaseSettingsError),
    /// The signal handler could not be installed.
    #[error("cannot install the SIGTERM handler: {0}")]
    Signal(std::io::Error),
}

/// How often freed heap is returned to the OS ([`crate::heap::release_free_memory_every`]).
const RELEASE_FREE_MEMORY_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

fn identity() -> String {
    std::env::var("POD_NAME").unwrap_or_else(|_| {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "prescale".into());
        format!("{host}-{}", std::process::id())
    })
}

/// Run `prescale run` until SIGTERM or Ctrl-C.
pub fn run(args: RunArgs) -> CliResult {
    crate::heap::keep_large_buffers_out_of_the_heap();
    crate::heap::limit_arenas();
    let _log = init_tracing();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(RunCliError::Runtime)?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: RunArgs) -> CliResult {
    if !(args.events_per_second.is_finite() && args.events_per_second > 0.0) {
        return Err(RunCliError::EventRate(args.events_per_second).into());
    }
    // The Lease timings are checked before anything else.
    if args.no_leader_election && args.shards != 1 {
        return Err(RunCliError::ShardsWithoutElection(args.shards).into());
    }
    if !args.no_leader_election {
        LeaseSettings {
            lease_duration: args.lease_duration,
            renew_deadline: args.renew_deadline,
            retry_period: args.retry_period,
            shards: args.shards,
            ..LeaseSettings::new(args.lease_name.clone(), String::new(), String::new())
        }
        .validate()
        .map_err(RunCliError::Lease)?;
    }
    // kube is built with rustls on ring; make ring the process-wide provider for TLS.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = kube::Config::infer()
        .await
        .map_err(|e| RunCliError::Kube(kube::Error::InferConfig(e)))?;
    // The watches get a client without kube's built-in retries (see RunOptions).
    let mut watch_config = config.clone();
    watch_config.default_retry = false;
    let watch_client = kube::Client::try_from(watch_config).map_err(RunCliError::Kube)?;
    let client = kube::Client::try_from(config).map_err(RunCliError::Kube)?;
    let admin = tokio::net::TcpListener::bind(&args.admin_addr)
        .await
        .map_err(|source| RunCliError::Bind {
            addr: args.admin_addr.clone(),
            source,
        })?;
    // The address as bound: with port 0 the system picks it, and this line is where a
    // supervisor (or a test) learns it.
    match admin.local_addr() {
        Ok(addr) => tracing::info!(addr = %addr, "admin server listening"),
        Err(e) => {
            tracing::warn!(error = %e, addr = %args.admin_addr, "admin server listening; its bound address is unknown")
        }
    }
    let pod_name = std::env::var("POD_NAME").ok();
    let pod_namespace = std::env::var("POD_NAMESPACE").ok();
    let lease = if args.no_leader_election {
        None
    } else {
        let namespace = pod_namespace.clone().ok_or(RunCliError::NoNamespace)?;
        Some(LeaseSettings {
            lease_duration: args.lease_duration,
            renew_deadline: args.renew_deadline,
            retry_period: args.retry_period,
            shards: args.shards,
            ..LeaseSettings::new(args.lease_name.clone(), namespace, identity())
        })
    };
    let pod = match (pod_name, pod_namespace) {
        (Some(name), Some(namespace)) => Some(ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Pod".into()),
            name: Some(name),
            namespace: Some(namespace),
            ..ObjectReference::default()
        }),
        _ => None,
    };

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(RunCliError::Signal)?;
    tokio::spawn(async move {
        tokio::select! {
            _ = sigterm.recv() => tracing::info!("SIGTERM received"),
            _ = tokio::signal::ctrl_c() => tracing::info!("interrupt received"),
        }
        shutdown_tx.send_replace(true);
    });

    // Freed memory back to the OS once a minute (RSS stays near the heap in use).
    tokio::spawn(crate::heap::release_free_memory_every(
        RELEASE_FREE_MEMORY_EVERY,
    ));

    let opts = RunOptions {
        config_path: args.config,
        load: crate::reload::loader(crate::config::load),
        client,
        watch_client,
        source: Arc::new(|config: &crate::config::Config| {
            crate::metrics::Sources::new(config)
                .map(|s| Arc::new(s) as Arc<dyn crate::metrics::MetricsSource>)
                .map_err(|e| format!("cannot set up the metric sources: {e}"))
        }),
        admin,
        lease,
        autoscaler_watch: WatchSettings::default(),
        pod,
        api_deadline: args.api_timeout,
        reload_quiet: args.reload_debounce,
        grace: args.shutdown_grace,
        clock: crate::controller::system_clock(),
        namespaces: (!args.namespaces.is_empty()).then_some(args.namespaces),
        reads: args.cluster_reads,
        tick_slot: args.tick_slot,
        events: EventLimits {
            per_second: args.events_per_second,
            burst: args.events_burst,
        },
    };
    run_controller(opts, shutdown_rx).await?;
    Ok(())
}
