//! The controller against the Kubernetes API double, in-process, through the real kube
//! client: shadow and active modes, other autoscalers, the paused annotation, a person's
//! scale racing a write, a hung API server, and config reload. The faults of the fault
//! matrix (a deleted Deployment, 409, 429 and 5xx, a failing autoscaler watch, manual
//! scaling, an invalid reload...) are its scenarios: `tests/fault_matrix.rs`.
//!
//! The decision core is a black box here. Until it lands, `decide` keeps the current
//! replicas within [minReplicas, maxReplicas], so these tests make prescale want a change
//! by putting a Deployment below `minReplicas`.

#[path = "support/api_double/mod.rs"]
mod api_double;
#[path = "support/controller_harness.rs"]
mod controller_harness;
#[path = "support/metrics_double.rs"]
mod metrics_double;

use api_double::{ApiDouble, Fault, FaultKind};
use controller_harness::{
    Setup, eventually, one_target, start, start_clocked, start_full, start_with, target,
};
use std::sync::Arc;
use std::time::Duration;

const NS: &str = "shop";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_mode_reports_the_recommendation_everywhere_and_never_writes() {
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "web", 1, 1);
    let c = start(&api, &one_target("web", "web", "shadow", 3)).await;

    eventually(10, "recommendation in /recommendations", || async {
        c.recommendation("web")
            .await
            .is_some_and(|r| r["recommendedReplicas"] == 3)
    })
    .await;
    let r = c.recommendation("web").await.expect("report");
    assert_eq!(r["currentReplicas"], 1);
    assert_eq!(r["action"], "hold:shadow");
    assert!(r["startupSeconds"].is_number() && r["capacityPerReplica"].is_number());
    assert_eq!(
        c.metric("prescale_recommended_replicas{target=\"web\"}")
            .await,
        Some(3.0)
    );
    assert_eq!(
        c.metric("prescale_current_replicas{target=\"web\"}").await,
        Some(1.0)
    );
    eventually(10, "a Recommendation Event", || async {
        api.event_reasons("web")
            .contains(&"Recommendation".to_string())
    })
    .await;

    // Five more ticks: still no write, and the Event is not repeated every tick.
    c.more_ticks("web", 5).await;
    assert_eq!(api.replicas(NS, "web"), Some(1));
    assert!(api.scale_writes().is_empty(), "{:?}", api.writes());
    let recs = api
        .event_reasons("web")
        .iter()
        .filter(|r| *r == "Recommendation")
        .count();
    assert_eq!(recs, 1, "one Event per change of recommendation");

    // The recommendation changes (a higher minimum): a new Event says so.
    c.write_config(&one_target("web", "web", "shadow", 5));
    eventually(10, "a second Recommendation Event", || async {
        api.events().iter().any(|e| {
            e["reason"] == "Recommendation"
                && e["note"]
                    .as_str()
                    .is_some_and(|n| n.contains("recommends 5 replicas"))
        })
    })
    .await;
    assert_eq!(api.replicas(NS, "web"), Some(1));
    assert!(api.scale_writes().is_empty());
    c.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_mode_writes_through_scale_once_and_reports_rescaled() {
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "web", 1, 1);
    let c = start(&api, &one_target("web", "web", "active", 3)).await;

    eventually(10, "replicas raised to 3", || async {
        api.replicas(NS, "web") == Some(3)
    })
    .await;
    eventually(10, "a Rescaled Event", || async {
        api.event_reasons("web").contains(&"Rescaled".to_string())
    })
    .await;
    c.more_ticks("web", 4).await;
    // Written once, through the /scale subresource, and not again while unchanged.
    assert_eq!(api.scale_writes(), vec![3]);
    let w = api
        .writes()
        .into_iter()
        .find(|w| w.path.ends_with("/scale"))
        .expect("scale write");
    assert_eq!(w.method, "PATCH");
    assert_eq!(
        w.path,
        "/apis/apps/v1/namespaces/shop/deployments/web/scale"
    );
    assert!(w.body["metadata"]["resourceVersion"].is_string());
    c.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_competing_hpa_or_scaled_object_blocks_writes_and_is_reported() {
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "web", 1, 1);
    api.put_deployment(NS, "api", 1, 1);
    api.put_hpa(NS, "web-hpa", "web");
    api.put_scaled_object(NS, "api-so", "api");
    let yaml = format!(
        "{}{}",
        one_target("web", "web", "active", 3),
        target("api", "api", "active", 3)
    );
    let c = start(&api, &yaml).await;

    eventually(10, "both blocked and reported", || async {
        c.metric("prescale_write_blocked{target=\"web\",kind=\"hpa\"}")
            .await
            == Some(1.0)
            && c.metric("prescale_write_blocked{target=\"api\",kind=\"scaledobject\"}")
                .await
                == Some(1.0)
    })
    .await;
    eventually(10, "warning Events", || async {
        api.event_reasons("web")
            .contains(&"OtherAutoscaler".to_string())
            && api
                .event_reasons("api")
                .contains(&"OtherAutoscaler".to_string())
    })
    .await;
    // The recommendation is still computed and shown.
    let r = c.recommendation("web").await.expect("report");
    assert_eq!(r["recommendedReplicas"], 3);
    assert_eq!(r["action"], "hold:other_autoscaler");
    c.more_ticks("web", 3).await;
    c.more_ticks("api", 3).await;
    assert!(api.scale_writes().is_empty(), "{:?}", api.writes());
    assert_eq!(api.replicas(NS, "web"), Some(1));
    assert_eq!(api.replicas(NS, "api"), Some(1));

    // The HPA goes away: the watch reports it and prescale takes over on the next tick.
    api.delete("horizontalpodautoscalers", NS, "web-hpa");
    eventually(10, "web scaled once the HPA is gone", || async {
        api.replicas(NS, "web") == Some(3)
    })
    .await;
    assert_eq!(api.replicas(NS, "api"), Some(1));

    // An HPA created while prescale runs reaches the cache through the watch (no list per
    // tick) and blocks the next change: the report shows the new recommendation held.
    api.put_hpa(NS, "web-hpa-2", "web");
    eventually(10, "the new HPA blocks web", || async {
        c.metric("prescale_write_blocked{target=\"web\",kind=\"hpa\"}")
            .await
            == Some(1.0)
    })
    .await;
    c.write_config(&format!(
        "{}{}",
        one_target("web", "web", "active", 5),
        target("api", "api", "active", 3)
    ));
    eventually(10, "5 recommended and held", || async {
        c.recommendation("web").await.is_some_and(|r| {
            r["recommendedReplicas"] == 5 && r["action"] == "hold:other_autoscaler"
        })
    })
    .await;
    assert_eq!(api.replicas(NS, "web"), Some(3));
    c.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_write_before_the_autoscaler_caches_have_synced_and_readyz_says_so() {
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "web", 1, 1);
    // The HPA list fails: whether an HPA owns `web` is unknown.
    api.inject(Fault::status(
        "GET",
        "horizontalpodautoscalers",
        500,
        10_000,
    ));
    let c = start(&api, &one_target("web", "web", "active", 3)).await;

    eventually(10, "the tick holds and /readyz says why", || async {
        let (code, body) = c.get("/readyz").await;
        code == 503
            && body.contains("caches have not synced")
            && c.recommendation("web")
                .await
                .is_some_and(|r| r["recommendedReplicas"] == 3 && r["action"] == "hold:unsynced")
    })
    .await;
    assert!(api.scale_writes().is_empty(), "{:?}", api.writes());

    // The API server recovers: the watch's back-off retry lists, and writes begin.
    api.clear_faults();
    eventually(30, "written once the caches synced", || async {
        api.replicas(NS, "web") == Some(3)
    })
    .await;
    eventually(10, "ready", || async { c.get("/readyz").await.0 == 200 }).await;
    c.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_deployment_is_not_written_and_is_reported() {
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "web", 1, 1);
    api.annotate(NS, "web", "prescale.io/paused", "true");
    let c = start(&api, &one_target("web", "web", "active", 3)).await;

    eventually(10, "Paused Event and metric", || async {
        api.event_reasons("web").contains(&"Paused".to_string())
            && c.metric("prescale_write_blocked{target=\"web\",kind=\"paused\"}")
                .await
                == Some(1.0)
    })
    .await;
    c.more_ticks("web", 3).await;
    assert!(api.scale_writes().is_empty());
    assert_eq!(
        c.recommendation("web").await.expect("report")["action"],
        "hold:paused"
    );

    api.annotate(NS, "web", "prescale.io/paused", "false");
    eventually(10, "scaled after unpausing", || async {
        api.replicas(NS, "web") == Some(3)
    })
    .await;
    c.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_who_scales_during_our_write_wins_the_race() {
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "web", 1, 1);
    // At the moment prescale writes 3, a person sets 2: prescale's write carries the old
    // resourceVersion and loses with 409; it re-reads, sees the person's change, and
    // does not overwrite it.
    api.inject(Fault {
        method: Some("PATCH"),
        path_contains: "/deployments/web/scale".into(),
        kind: FaultKind::ConcurrentScale(2),
        times: 1,
        token: None,
    });
    let c = start(&api, &one_target("web", "web", "active", 3)).await;
    eventually(10, "manual scale seen after the 409", || async {
        c.metric("prescale_manual_scale_total{target=\"web\"}")
            .await
            == Some(1.0)
    })
    .await;
    c.more_ticks("web", 3).await;
    assert_eq!(api.replicas(NS, "web"), Some(2));
    let scale: Vec<u16> = api
        .writes()
        .iter()
        .filter(|w| w.path.ends_with("/scale"))
        .map(|w| w.status)
        .collect();
    assert_eq!(scale, vec![409]);
    c.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_api_server_times_out_and_one_failing_target_does_not_stall_another() {
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "slow", 1, 1);
    api.put_deployment(NS, "fast", 1, 1);
    // Ticks read Deployments from a watch cache; the write is the call that hangs.
    api.inject(Fault {
        method: Some("PATCH"),
        path_contains: "/deployments/slow/scale".into(),
        kind: FaultKind::Delay(Duration::from_secs(30)),
        times: 100,
        token: None,
    });
    let yaml = format!(
        "{}{}",
        one_target("slow", "slow", "active", 3),
        target("fast", "fast", "active", 3)
    );
    let c = start(&api, &yaml).await;
    eventually(10, "fast target scaled while slow hangs", || async {
        api.replicas(NS, "fast") == Some(3)
    })
    .await;
    eventually(10, "slow target's timeout reported", || async {
        c.recommendation("slow")
            .await
            .is_some_and(|r| r["error"].as_str().is_some_and(|e| e.contains("no answer")))
    })
    .await;
    assert_eq!(api.replicas(NS, "slow"), Some(1));
    c.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_changed_while_the_controller_loads_it_is_applied() {
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "web", 1, 1);
    // The first load reads the file, and before it returns the file changes (a ConfigMap
    // update landing while prescale starts): the change must come as a reload, not wait
    // for the next one.
    let first = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let load = prescale::reload::loader(move |path: &std::path::Path| {
        let config = prescale::config::load(path);
        if first.swap(false, std::sync::atomic::Ordering::SeqCst) {
            let tmp = path.with_extension("new");
            std::fs::write(&tmp, one_target("web", "web", "active", 4)).expect("write");
            std::fs::rename(&tmp, path).expect("rename");
        }
        config
    });
    let setup = Setup {
        load: Some(load),
        ..Setup::default()
    };
    let _c = start_with(&api, &one_target("web", "web", "active", 2), setup).await;
    eventually(
        10,
        "the change made during the first load applied",
        || async { api.replicas(NS, "web") == Some(4) },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_applies_a_valid_change_and_removing_a_target_stops_it() {
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "web", 1, 1);
    api.put_deployment(NS, "api", 1, 1);
    let c = start(&api, &one_target("web", "web", "active", 2)).await;
    eventually(10, "web at 2", || async {
        api.replicas(NS, "web") == Some(2)
    })
    .await;
    assert_eq!(c.get("/readyz").await.0, 200);

    // Valid: web's minimum rises and a target is added.
    let yaml = format!(
        "{}{}",
        one_target("web", "web", "active", 4),
        target("api", "api", "active", 2)
    );
    c.write_config(&yaml);
    eventually(10, "reload applied", || async {
        api.replicas(NS, "web") == Some(4) && api.replicas(NS, "api") == Some(2)
    })
    .await;
    assert_eq!(
        c.metric("prescale_config_reload_total{result=\"applied\"}")
            .await,
        Some(1.0)
    );

    // An invalid config is rejected whole, the good one kept: the fault matrix
    // (`tests/fault_matrix.rs`, "invalid config reloaded").

    // Removing a target stops it and drops its report.
    c.write_config(&one_target("web", "web", "active", 4));
    eventually(10, "api removed", || async {
        c.recommendation("api").await.is_none()
    })
    .await;
    assert_eq!(
        c.metric("prescale_current_replicas{target=\"api\"}").await,
        None
    );
    c.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_server_serves_health_readiness_and_openmetrics() {
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "web", 2, 2);
    let c = start(&api, &one_target("web", "web", "shadow", 1)).await;
    assert_eq!(c.get("/healthz").await.0, 200);
    eventually(10, "ready after the first tick", || async {
        c.get("/readyz").await.0 == 200
    })
    .await;
    let (code, body) = c.get("/metrics").await;
    assert_eq!(code, 200);
    assert!(
        body.contains("prescale_tick_duration_seconds_bucket"),
        "{body}"
    );
    assert!(
        body.trim_end().ends_with("# EOF"),
        "OpenMetrics ends with # EOF"
    );
    c.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_follows_a_configmap_style_symlink_swap() {
    use std::os::unix::fs::symlink;
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "web", 1, 1);
    let c = start(&api, &one_target("web", "web", "active", 2)).await;
    eventually(10, "web at 2", || async {
        api.replicas(NS, "web") == Some(2)
    })
    .await;

    // Lay the file out as the kubelet does for a mounted ConfigMap:
    // prescale.yaml -> ..data/prescale.yaml, ..data -> ..v1/
    let dir = c.dir.path();
    std::fs::create_dir(dir.join("..v1")).expect("mkdir");
    std::fs::copy(&c.config_path, dir.join("..v1/prescale.yaml")).expect("copy");
    symlink("..v1", dir.join("..data")).expect("symlink");
    symlink("..data/prescale.yaml", dir.join("link.tmp")).expect("symlink");
    std::fs::rename(dir.join("link.tmp"), &c.config_path).expect("rename");
    // Same content: seen, loaded, and found unchanged, before the real update comes.
    eventually(10, "the re-layout is seen as unchanged", || async {
        c.metric("prescale_config_reload_total{result=\"unchanged\"}")
            .await
            .is_some()
    })
    .await;

    // The update: a new directory, and ..data swapped to it by rename. The file itself
    // (the symlink prescale.yaml) is never touched.
    std::fs::create_dir(dir.join("..v2")).expect("mkdir");
    std::fs::write(
        dir.join("..v2/prescale.yaml"),
        one_target("web", "web", "active", 5),
    )
    .expect("write");
    symlink("..v2", dir.join("..data_tmp")).expect("symlink");
    std::fs::rename(dir.join("..data_tmp"), dir.join("..data")).expect("swap");
    eventually(10, "web at 5 after the swap", || async {
        api.replicas(NS, "web") == Some(5)
    })
    .await;
    c.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_that_moves_prometheus_builds_a_new_source_or_is_rejected_whole() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "web", 1, 1);
    let builds = Arc::new(AtomicUsize::new(0));
    let factory: prescale::controller::SourceFactory = {
        let builds = builds.clone();
        Arc::new(move |c: &prescale::config::Config| {
            let url = c
                .prometheus
                .as_ref()
                .map(|p| p.url.clone())
                .unwrap_or_default();
            if url.contains("127.0.0.3") {
                return Err(format!("cannot build a client for {url}"));
            }
            builds.fetch_add(1, Ordering::SeqCst);
            Ok(Arc::new(metrics_double::SetMetrics::default())
                as Arc<dyn prescale::metrics::MetricsSource>)
        })
    };
    let c = start_full(
        &api,
        &one_target("web", "web", "active", 2),
        None,
        Some(factory),
    )
    .await;
    eventually(10, "web at 2", || async {
        api.replicas(NS, "web") == Some(2)
    })
    .await;
    assert_eq!(builds.load(Ordering::SeqCst), 1);

    // A change elsewhere keeps the source.
    c.write_config(&one_target("web", "web", "active", 3));
    eventually(10, "web at 3", || async {
        api.replicas(NS, "web") == Some(3)
    })
    .await;
    assert_eq!(builds.load(Ordering::SeqCst), 1);

    // Prometheus moves: a new source.
    let moved = one_target("web", "web", "active", 4).replace("127.0.0.1:9", "127.0.0.2:9");
    c.write_config(&moved);
    eventually(10, "web at 4", || async {
        api.replicas(NS, "web") == Some(4)
    })
    .await;
    assert_eq!(builds.load(Ordering::SeqCst), 2);

    // A source that cannot be built rejects the whole config: minReplicas 6 is not applied.
    let broken = one_target("web", "web", "active", 6).replace("127.0.0.1:9", "127.0.0.3:9");
    c.write_config(&broken);
    eventually(10, "rejected", || async {
        c.metric("prescale_config_reload_total{result=\"rejected\"}")
            .await
            == Some(1.0)
    })
    .await;
    c.more_ticks("web", 3).await;
    assert_eq!(api.replicas(NS, "web"), Some(4));
    c.stop().await.expect("clean stop");
}

/// A source whose first read panics: stands for a bug anywhere in a tick.
struct PanicsOnce(std::sync::atomic::AtomicBool);

impl prescale::metrics::MetricsSource for PanicsOnce {
    fn read<'a>(
        &'a self,
        _target: &'a prescale::config::TargetConfig,
    ) -> futures::future::BoxFuture<'a, prescale::metrics::TargetReadings> {
        let first = !self.0.swap(true, std::sync::atomic::Ordering::SeqCst);
        Box::pin(async move {
            assert!(!first, "a bug in the first tick");
            prescale::metrics::TargetReadings::default()
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_tick_is_counted_and_the_target_keeps_running() {
    use std::sync::Arc;
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "web", 1, 1);
    let source: Arc<dyn prescale::metrics::MetricsSource> =
        Arc::new(PanicsOnce(std::sync::atomic::AtomicBool::new(false)));
    let factory = prescale::controller::fixed_source(source);
    let c = start_full(
        &api,
        &one_target("web", "web", "active", 3),
        None,
        Some(factory),
    )
    .await;
    eventually(10, "scaled on a later tick", || async {
        api.replicas(NS, "web") == Some(3)
    })
    .await;
    assert_eq!(
        c.metric("prescale_tick_errors_total{target=\"web\",stage=\"panic\"}")
            .await,
        Some(1.0)
    );
    c.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_warms_the_forecaster_and_removed_targets_are_forgotten() {
    use std::sync::Arc;
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "warm", 1, 1);
    api.put_deployment(NS, "cold", 1, 1);
    let source = Arc::new(metrics_double::SetMetrics::default());
    // An hour of 30 documents/s before start for `warm`; none for `cold`. Now, both see
    // the same readings.
    source.set_history("warm", 30.0, 3600.0, 15.0);
    source.set("warm", 0.0, 1.0);
    source.set("cold", 0.0, 1.0);
    let factory = prescale::controller::fixed_source(source.clone());
    let yaml = format!(
        "{}{}",
        one_target("warm", "warm", "shadow", 1),
        target("cold", "cold", "shadow", 1)
    );
    let c = start_full(&api, &yaml, None, Some(factory)).await;
    eventually(10, "both decided", || async {
        c.recommendation("warm").await.is_some() && c.recommendation("cold").await.is_some()
    })
    .await;
    let rate = |r: serde_json::Value| r["forecastArrivalRate"].as_f64().unwrap_or(0.0);
    let warm = rate(c.recommendation("warm").await.expect("warm"));
    let cold = rate(c.recommendation("cold").await.expect("cold"));
    assert!(warm > 10.0 && cold < 5.0, "warm {warm}, cold {cold}");

    c.write_config(&one_target("warm", "warm", "shadow", 1));
    eventually(10, "cold removed and forgotten", || async {
        source.forgotten() == ["cold"]
    })
    .await;
    c.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_window_in_force_raises_the_recommendation_and_is_named_as_its_reason() {
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "web", 1, 1);
    // 02:30 UTC on 2026-06-10: inside the 02:00-04:00 window (02:00 Berlin time is 00:00 UTC
    // in summer, so the same window there would be over).
    let now = Arc::new(|| 1_781_058_600.0) as prescale::controller::Clock;
    let yaml = format!(
        "{}    schedules:
      - {{ name: nightly-batch, cron: '0 2 * * *', duration: 2h, minReplicas: 7 }}
      - {{ name: berlin-batch, cron: '0 2 * * *', timezone: Europe/Berlin, duration: 2h, minReplicas: 9 }}
",
        one_target("web", "web", "shadow", 3)
    );
    let c = start_clocked(&api, &yaml, None, None, now).await;

    eventually(10, "the window's floor in /recommendations", || async {
        c.recommendation("web")
            .await
            .is_some_and(|r| r["recommendedReplicas"] == 7)
    })
    .await;
    let r = c.recommendation("web").await.expect("report");
    let reasons = r["reasons"].as_array().expect("reasons");
    let schedules: Vec<_> = reasons
        .iter()
        .filter(|reason| reason["kind"] == "schedule")
        .collect();
    assert_eq!(
        schedules,
        [&serde_json::json!({"kind": "schedule", "name": "nightly-batch", "min": 7})],
        "{r}"
    );
    assert_eq!(
        c.metric("prescale_decision_reason{target=\"web\",reason=\"schedule:nightly-batch\"}")
            .await,
        Some(1.0)
    );
    assert_eq!(api.replicas(NS, "web"), Some(1), "shadow never writes");
    c.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_at_zero_wakes_on_the_first_document_and_sleeps_again_when_the_queue_is_empty() {
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "sleepy", 0, 0);
    // A one-second start-up and hold, and no forecast: the plan lets go of its pod within
    // seconds of the load stopping (the defaults would hold it for ten minutes).
    let yaml = format!(
        "{}    startupTime: 1s
    plan: {{ holdFor: 1s }}
    forecast: {{ enabled: false }}
    activationThreshold: {{ queueDepth: 2, arrivalRate: 0 }}
",
        one_target("sleepy", "sleepy", "active", 0)
    );
    let c = start(&api, &yaml).await;
    // Asleep: two documents waiting is at the threshold, not above it.
    c.metrics.set("sleepy", 2.0, 0.0);
    c.more_ticks("sleepy", 5).await;
    assert_eq!(api.replicas(NS, "sleepy"), Some(0));
    assert!(api.scale_writes().is_empty(), "{:?}", api.writes());
    let r = c.recommendation("sleepy").await.expect("report");
    assert_eq!(r["recommendedReplicas"], 0, "{r}");
    assert!(
        r["reasons"]
            .as_array()
            .expect("reasons")
            .contains(&serde_json::json!({"kind": "activation", "active": false})),
        "{r}"
    );

    // A third document: awake, written through /scale.
    c.metrics.set("sleepy", 3.0, 0.0);
    eventually(10, "woken to at least one replica", || async {
        api.replicas(NS, "sleepy").is_some_and(|n| n >= 1)
    })
    .await;
    let woke = api.scale_writes();
    assert!(woke.first().is_some_and(|&n| n >= 1), "{woke:?}");
    // The reason was published (the series exists once a tick gave it).
    assert!(
        c.metric("prescale_decision_reason{target=\"sleepy\",reason=\"activation:queueDepth\"}")
            .await
            .is_some()
    );

    // The queue is served and nothing arrives any more: back to zero.
    c.metrics.set("sleepy", 0.0, 0.0);
    eventually(20, "asleep again", || async {
        api.replicas(NS, "sleepy") == Some(0)
    })
    .await;
    let writes = api.scale_writes();
    assert_eq!(writes.last(), Some(&0), "{writes:?}");
    assert!(
        writes[..writes.len() - 1].iter().all(|&n| n >= 1),
        "{writes:?}"
    );
    // And it stays there: no write while asleep.
    c.more_ticks("sleepy", 5).await;
    assert_eq!(api.scale_writes(), writes);
    c.stop().await.expect("clean stop");
}
