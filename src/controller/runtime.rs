//! `prescale run` as a library call: load the config, start leader election, the targets,
//! the admin server and the config watcher, apply reloads, and shut down in order.

use super::scope::check_namespaces;
use super::writers::check_one_writer;
use super::{Clock, Health, Reports, Shared, Supervisor};
use crate::actuator::{
    AutoscalerCache, ClusterReads, DirectReads, EventLimits, EventSink, EventSpec, KubeCluster,
    WatchSettings, WatchedReads,
};
use crate::config::{Config, PrometheusConfig};
use crate::leader::{Leadership, LeaseSettings, LeaseSettingsError, ShardLeaders};
use crate::live_report::LiveReports;
use crate::metrics::MetricsSource;
use crate::reload::{Loader, Reloaded, watch_config};
use crate::server::{AdminState, serve};
use crate::telemetry::{ReloadLabels, Telemetry};
use k8s_openapi::api::core::v1::ObjectReference;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Everything `prescale run` needs, built by the CLI (or a test).
pub struct RunOptions {
    /// The config file.
    pub config_path: PathBuf,
    /// Loads and validates it.
    pub load: Loader,
    /// The Kubernetes client.
    pub client: kube::Client,
    /// Builds the metrics source for a config (at start, and again when a reload changes
    /// the `prometheus:` section).
    pub source: SourceFactory,
    /// The admin server's listener.
    pub admin: tokio::net::TcpListener,
    /// Leader election settings; `None` runs as the only instance (always leader).
    pub lease: Option<LeaseSettings>,
    /// The client of the HPA and ScaledObject watches: built without kube's own retry of
    /// 429/503/504 (`Config::default_retry = false`), which would hide a failing watch for
    /// minutes inside one request; the watches retry with their own back-off instead.
    pub watch_client: kube::Client,
    /// How the HPA and ScaledObject watches retry, when a failing one stops being
    /// trusted, and how often a missing KEDA is looked for.
    pub autoscaler_watch: WatchSettings,
    /// This instance's own Pod (for Events about the controller itself, e.g. a rejected config).
    pub pod: Option<ObjectReference>,
    /// Deadline of each Kubernetes API call.
    pub api_deadline: Duration,
    /// Config changes are applied once they settle for this long.
    pub reload_quiet: Duration,
    /// Shutdown must finish within this (the Pod's termination grace period, less margin).
    pub grace: Duration,
    /// The wall clock ([`super::system_clock`] but in tests).
    pub clock: Clock,
    /// The namespaces a namespaced install watches (`--namespaces`); `None`: the whole
    /// cluster. HPAs and ScaledObjects are watched there only, and a target elsewhere is
    /// refused.
    pub namespaces: Option<Vec<String>>,
    /// How ticks read Deployments and pods.
    pub reads: ReadMode,
    /// Width of the slots targets' ticks are gathered in (`--tick-slot`; zero: spread evenly).
    pub tick_slot: std::time::Duration,
    /// How fast Events are published.
    pub events: EventLimits,
}

/// How ticks read the Deployments (and pods) of their targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ReadMode {
    /// Watch-backed caches of the targets' namespaces: no API call per tick (needs `list`
    /// and `watch` on Deployments, and on pods for metrics scraped from every pod).
    #[default]
    Watch,
    /// A GET of each Deployment (and a list of its pods) on every tick: needs only `get`
    /// (and `list` on pods), at one API call per target per tick.
    Get,
}

/// Builds the metrics source for a config; the error names what to fix.
pub type SourceFactory =
    Arc<dyn Fn(&Config) -> Result<Arc<dyn MetricsSource>, String> + Send + Sync>;

/// A factory that always gives `source`, whatever the config (tests, fixed sources).
pub fn fixed_source(source: Arc<dyn MetricsSource>) -> SourceFactory {
    Arc::new(move |_: &Config| Ok(source.clone()))
}

/// Why `prescale run` could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The config at start is invalid: there is no last good config to keep running with.
    #[error("{0}")]
    Config(String),
    /// The config directory cannot be watched.
    #[error(transparent)]
    Watch(#[from] crate::reload::ReloadError),
    /// The Lease timings cannot keep one leader at a time.
    #[error(transparent)]
    Lease(#[from] LeaseSettingsError),
}

/// Run the controller until `shutdown` turns true; then finish the ticks in flight,
/// release the Lease and return.
pub async fn run(opts: RunOptions, mut shutdown: watch::Receiver<bool>) -> Result<(), RunError> {
    if let Some(lease) = &opts.lease {
        lease.validate()?;
    }
    // Watch before the first load, so a change written while it loads is not missed (it
    // comes as a reload), and before starting anything else, so a failure leaves nothing
    // running. A config that does not load is reported before a watch that failed: its
    // message names the file and the fix.
    let (reload_tx, mut reload_rx) = mpsc::channel(4);
    let watching = watch_config(
        opts.config_path.clone(),
        opts.load.clone(),
        opts.reload_quiet,
        reload_tx,
    );
    let loaded = (opts.load)(&opts.config_path)
        .map_err(RunError::Config)
        .and_then(|config| {
            check_one_writer(&config)
                .and_then(|()| check_namespaces(&config, opts.namespaces.as_deref()))
                .map_err(|e| RunError::Config(format!("{}: {e}", opts.config_path.display())))?;
            let source = (opts.source)(&config).map_err(RunError::Config)?;
            Ok((config, source))
        });
    let (config, source) = match loaded {
        Ok(loaded) => loaded,
        Err(e) => {
            if let Ok(task) = &watching {
                task.abort();
            }
            return Err(e);
        }
    };
    let watcher = watching?;

    let telemetry = Arc::new(Telemetry::new());
    let health = Arc::new(Health::default());
    let reports = Reports::default();
    let live_reports = LiveReports::default();
    let (stop_tx, stop_rx) = watch::channel(false);

    // Events name this instance: the Lease identity, or the Pod's name without election.
    let identity = opts
        .lease
        .as_ref()
        .map(|l| l.identity.clone())
        .or_else(|| opts.pod.as_ref().and_then(|p| p.name.clone()));
    // Without leader election this instance is always the leader; the sender is kept for
    // the whole run so receivers never see the channel close. With it, one elector per
    // shard (one shard: the single Lease).
    let (leaders, electors, _always_leader) = match opts.lease.clone() {
        Some(settings) => {
            let (leaders, electors) = crate::leader::elect(
                opts.client.clone(),
                settings,
                telemetry.clone(),
                health.clone(),
                stop_rx.clone(),
            );
            (leaders, electors, None)
        }
        None => {
            let (mut leader_tx, leader_rx) = crate::leader::channel();
            leader_tx.lead_always();
            telemetry.is_leader.set(1);
            telemetry.shards_held.set(1);
            (ShardLeaders::single(leader_rx), Vec::new(), Some(leader_tx))
        }
    };

    // Per-target series are exported while leading (sharded: those of the shards led). Set
    // before any target ticks (without election this instance leads from the start), then
    // follow the Leases.
    let exporting = if leaders.count() == 1 {
        let leader = leaders.cluster().clone();
        telemetry.set_exporting_targets(leader.is_leader());
        tokio::spawn(export_while_leading(leader, telemetry.clone()))
    } else {
        telemetry.set_held_shards(leaders.held().into_iter().collect());
        tokio::spawn(export_held_shards(leaders.clone(), telemetry.clone()))
    };

    // One watch per resource for the whole controller, not one list per target per tick.
    let (autoscalers, cache_tasks) = AutoscalerCache::start(
        opts.watch_client.clone(),
        opts.autoscaler_watch,
        opts.namespaces.as_deref(),
        stop_rx.clone(),
    );
    let synced = {
        let (cache, health) = (autoscalers.clone(), health.clone());
        tokio::spawn(async move {
            cache.wait_synced().await;
            health.set_autoscalers_synced();
        })
    };
    let cluster = KubeCluster::new(opts.client.clone(), opts.api_deadline);
    let reads: Arc<dyn ClusterReads> = match opts.reads {
        // Like the autoscaler watches: no retry hidden inside one request.
        ReadMode::Watch => Arc::new(WatchedReads::new(
            opts.watch_client.clone(),
            cluster.clone(),
        )),
        ReadMode::Get => Arc::new(DirectReads::new(cluster.clone())),
    };
    let events = EventSink::new(
        opts.client.clone(),
        identity,
        opts.events,
        telemetry.clone(),
    );
    let shared = Arc::new(Shared {
        cluster,
        reads: reads.clone(),
        autoscalers,
        events: events.clone(),
        source: std::sync::RwLock::new(source),
        telemetry: telemetry.clone(),
        leaders,
        reports: reports.clone(),
        health: health.clone(),
        live_reports: live_reports.clone(),
        clock: opts.clock.clone(),
        tick_slot: opts.tick_slot,
    });
    let mut supervisor = Supervisor::new(shared.clone());
    let applied = supervisor.apply(&config).await;
    // The targets' settings are the supervisor's (shared with their tasks) from here on:
    // the loaded copy is not kept (at 10,000 targets it was ~30 MB held twice).
    let mut prometheus = config.prometheus.clone();
    drop(config);
    health.set_config_loaded();
    tracing::info!(config = %opts.config_path.display(), targets = ?applied.added, "config loaded");

    let admin_state = AdminState {
        telemetry: telemetry.clone(),
        reports,
        health: health.clone(),
        live_reports,
        clock: opts.clock,
    };
    let server = tokio::spawn(serve(opts.admin, admin_state, stop_rx.clone()));
    let reload_opts = ReloadOptions {
        config_path: opts.config_path,
        source: opts.source,
        pod: opts.pod,
        namespaces: opts.namespaces,
    };

    loop {
        tokio::select! {
            _ = async { shutdown.wait_for(|s| *s).await.map(|_| ()) } => break,
            reloaded = reload_rx.recv() => {
                let Some(reloaded) = reloaded else {
                    tracing::error!("the config watcher stopped; config changes are no longer applied");
                    // Keep running with the config in force until shutdown.
                    let _ = shutdown.wait_for(|s| *s).await;
                    break;
                };
                apply_reload(&mut supervisor, &mut prometheus, reloaded, &reload_opts, &shared).await;
            }
        }
    }

    tracing::info!("shutting down: finishing ticks in flight, then releasing the Lease");
    let stopping = async {
        supervisor.shutdown().await;
        stop_tx.send_replace(true);
        for e in electors {
            if let Err(err) = e.await {
                tracing::error!(error = %err, "leader elector ended abnormally");
            }
        }
        synced.abort();
        exporting.abort();
        reads.stop();
        events.close();
        for task in cache_tasks {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "autoscaler watch ended abnormally");
            }
        }
        match server.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "admin server failed"),
            Err(e) => tracing::error!(error = %e, "admin server ended abnormally"),
        }
    };
    if tokio::time::timeout(opts.grace, stopping).await.is_err() {
        tracing::error!(
            grace_s = opts.grace.as_secs_f64(),
            "shutdown did not finish within the grace period"
        );
    }
    watcher.abort();
    Ok(())
}

/// Export per-target series exactly while this instance leads.
async fn export_while_leading(mut leader: Leadership, telemetry: Arc<Telemetry>) {
    loop {
        // Every renewal and every step-down (the renew deadline's timer included) publishes
        // a change; an unchanged answer leaves the series alone.
        telemetry.set_exporting_targets(leader.is_leader());
        if !leader.changed().await {
            return;
        }
    }
}

/// With --shards above 1: export the series of the targets of the shards led, following
/// every shard's Lease.
async fn export_held_shards(mut leaders: ShardLeaders, telemetry: Arc<Telemetry>) {
    loop {
        telemetry.set_held_shards(leaders.held().into_iter().collect());
        if !leaders.changed().await {
            return;
        }
    }
}

/// What a reload needs from the run's options (the rest of them are moved into tasks).
struct ReloadOptions {
    config_path: PathBuf,
    source: SourceFactory,
    pod: Option<ObjectReference>,
    namespaces: Option<Vec<String>>,
}

/// Apply a reloaded config, or reject it with a metric, a log line and an Event; the config
/// in force changes only when the new one is valid. `prometheus` is the section in force
/// (the targets in force are the supervisor's).
async fn apply_reload(
    supervisor: &mut Supervisor,
    prometheus: &mut Option<PrometheusConfig>,
    reloaded: Reloaded,
    opts: &ReloadOptions,
    shared: &Shared,
) {
    let path = opts.config_path.display().to_string();
    let checked = match reloaded {
        Reloaded::Valid(c) => check_one_writer(&c)
            .and_then(|()| check_namespaces(&c, opts.namespaces.as_deref()))
            .map(|()| c)
            .map_err(|e| format!("{path}: {e}")),
        Reloaded::Invalid(e) => Err(e),
    };
    // A new `prometheus:` section needs a new source; if it cannot be built, the whole
    // config is rejected so the old config and its source stay in force together.
    let checked = checked.and_then(|new| {
        if new.prometheus == *prometheus {
            return Ok((new, None));
        }
        (opts.source)(&new)
            .map(|s| (new, Some(s)))
            .map_err(|e| format!("{path}: {e}"))
    });
    match checked {
        Ok((new, _)) if new.prometheus == *prometheus && supervisor.runs(&new) => {
            count_reload(&shared.telemetry, "unchanged")
        }
        Ok((new, source)) => {
            if let Some(source) = source {
                shared.set_source(source);
            }
            let applied = supervisor.apply(&new).await;
            *prometheus = new.prometheus;
            count_reload(&shared.telemetry, "applied");
            tracing::info!(config = %path, added = ?applied.added, removed = ?applied.removed, changed = ?applied.changed, "config reloaded");
        }
        Err(error) => {
            count_reload(&shared.telemetry, "rejected");
            tracing::error!(config = %path, %error, "new config rejected; the previous config stays in force");
            reject_event(shared, opts.pod.as_ref(), &error).await;
        }
    }
}

fn count_reload(telemetry: &Telemetry, result: &str) {
    telemetry
        .config_reload
        .get_or_create(&ReloadLabels {
            result: result.into(),
        })
        .inc();
}

async fn reject_event(shared: &Shared, pod: Option<&ObjectReference>, error: &str) {
    let Some(pod) = pod else { return };
    if !shared.is_leader() {
        return;
    }
    shared
        .events
        .publish(
            &Arc::new(pod.clone()),
            EventSpec {
                warning: true,
                reason: "ConfigRejected",
                action: "Reload",
                note: format!("new config rejected, the previous one stays in force: {error}"),
            },
        )
        .await;
}
