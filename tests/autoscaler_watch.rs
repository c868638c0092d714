//! The HPA and ScaledObject caches against the API double, counting the requests they
//! make. In a cluster without KEDA (most of them), KEDA's absence is a state found by API
//! discovery and checked again every `crd_recheck`, never a loop of failing ScaledObject
//! lists; a watch whose lists keep failing backs off instead of re-listing every second;
//! and a watch that has been failing for longer than `stale_after` makes the cache's
//! answer an error (writes hold) until it recovers.

#[path = "support/api_double/mod.rs"]
mod api_double;

use api_double::{ApiDouble, Fault, Request};
use prescale::actuator::{AutoscalerCache, ClusterError, WatchSettings};
use prescale::config::ScaleTargetRef;
use std::time::Duration;
use tokio::time::Instant;

fn web() -> ScaleTargetRef {
    ScaleTargetRef::deployment("shop", "web")
}

/// Poll `cond` every 20 ms until it holds, failing after `secs` seconds.
async fn eventually(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out after {secs}s: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn discoveries(api: &ApiDouble) -> Vec<Request> {
    api.requests()
        .into_iter()
        .filter(|r| r.path == "/apis/keda.sh/v1alpha1")
        .collect()
}

/// List and watch requests on `resource`.
fn lists_and_watches(api: &ApiDouble, resource: &str) -> usize {
    api.requests()
        .iter()
        .filter_map(|r| r.rbac())
        .filter(|(_, res, _)| res == resource)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_keda_discovery_is_asked_every_recheck_and_scaled_objects_are_never_listed() {
    let api = ApiDouble::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = WatchSettings {
        crd_recheck: Duration::from_millis(400),
        ..WatchSettings::default()
    };
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let (cache, tasks) = AutoscalerCache::start(
        api.watch_client_as(dir.path(), "test").await,
        settings,
        None,
        stop,
    );
    tokio::time::timeout(Duration::from_secs(10), cache.wait_synced())
        .await
        .expect("synced: no KEDA means no ScaledObjects");
    assert!(cache.other_autoscalers(&web()).expect("synced").is_empty());

    // Five discoveries, each answered 404, spaced by the recheck period: the request rate
    // is one per period, and not one ScaledObject list or watch was tried.
    eventually(10, "five discoveries", || discoveries(&api).len() >= 5).await;
    let elapsed = started.elapsed();
    let asked = discoveries(&api);
    assert!(asked.iter().all(|r| r.status == 404), "{asked:?}");
    assert!(
        elapsed >= settings.crd_recheck * (asked.len() as u32 - 1),
        "{} discoveries in {elapsed:?}: faster than one per {:?}",
        asked.len(),
        settings.crd_recheck
    );
    assert_eq!(lists_and_watches(&api, "scaledobjects"), 0);

    // KEDA installed: the next discovery finds it, and the ScaledObject is watched.
    api.put_scaled_object("shop", "web-so", "web");
    eventually(10, "the ScaledObject is seen", || {
        cache
            .other_autoscalers(&web())
            .is_ok_and(|found| found.len() == 1)
    })
    .await;
    // Removed again: the watch ends on 404, the cache empties, and discovery takes over
    // again instead of a loop of lists.
    api.uninstall_keda();
    eventually(10, "the ScaledObject is forgotten", || {
        cache.other_autoscalers(&web()).is_ok_and(|f| f.is_empty())
    })
    .await;
    let lists = lists_and_watches(&api, "scaledobjects");
    let before = discoveries(&api).len();
    eventually(10, "three more discoveries", || {
        discoveries(&api).len() >= before + 3
    })
    .await;
    assert!(
        lists_and_watches(&api, "scaledobjects") <= lists + 1,
        "ScaledObjects listed again while KEDA is absent"
    );

    stop_tx.send_replace(true);
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(5), t)
            .await
            .expect("watches stop")
            .expect("watch task");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_watch_backs_off_and_past_its_bound_the_cache_answers_with_an_error() {
    let api = ApiDouble::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = WatchSettings {
        stale_after: Duration::from_secs(2),
        crd_recheck: Duration::from_secs(60),
        backoff_min: Duration::from_millis(200),
        backoff_max: Duration::from_secs(30),
    };
    let attempts = |api: &ApiDouble| lists_and_watches(api, "horizontalpodautoscalers");

    // Every HPA list fails from the start (an API server in trouble, missing RBAC). Each
    // retry starts a fresh list, which kube's watcher announces with `Init`; a back-off
    // that `Init` resets would retry every ~0.2 s. Doubling from 0.2 s with jitter, five
    // attempts take at least 0.1 + 0.2 + 0.4 + 0.8 s.
    api.inject(Fault::status(
        "GET",
        "horizontalpodautoscalers",
        500,
        10_000,
    ));
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let (cache, tasks) = AutoscalerCache::start(
        api.watch_client_as(dir.path(), "test").await,
        settings,
        None,
        stop,
    );
    eventually(20, "five attempts", || attempts(&api) >= 5).await;
    assert!(
        started.elapsed() >= Duration::from_millis(1_500),
        "five attempts in {:?}: the retries do not back off",
        started.elapsed()
    );
    assert!(matches!(
        cache.other_autoscalers(&web()),
        Err(ClusterError::NotSynced { .. })
    ));
    api.clear_faults();
    tokio::time::timeout(Duration::from_secs(40), cache.wait_synced())
        .await
        .expect("synced once the lists succeed");
    assert!(cache.other_autoscalers(&web()).expect("synced").is_empty());

    // Watches are cut off and an HPA is created meanwhile, which the cache cannot see.
    // Within the bound the last known state is still the answer; past it, the answer is
    // an error naming the failing watch.
    api.cut_watches();
    let failing_since = Instant::now();
    api.put_hpa("shop", "web-hpa", "web");
    eventually(10, "the cache stops answering", || {
        cache.other_autoscalers(&web()).is_err()
    })
    .await;
    assert!(failing_since.elapsed() >= settings.stale_after);
    let e = cache.other_autoscalers(&web()).expect_err("untrusted");
    assert!(matches!(e, ClusterError::WatchFailing { .. }), "{e}");
    assert!(
        e.to_string().contains("HorizontalPodAutoscalers") && e.to_string().contains("writes hold"),
        "{e}"
    );

    // Recovery: the watch resumes, streams the HPA created meanwhile, and answers again.
    api.restore_watches();
    eventually(40, "the new HPA is seen", || {
        cache
            .other_autoscalers(&web())
            .is_ok_and(|found| found.len() == 1)
    })
    .await;

    stop_tx.send_replace(true);
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(5), t)
            .await
            .expect("watches stop")
            .expect("watch task");
    }
}
