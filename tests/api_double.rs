//! The API double's semantics, checked through the real kube client and prescale's
//! actuator: the controller tests rely on these behaving as the real API server does.

#[path = "support/api_double/mod.rs"]
mod api_double;

use api_double::{ApiDouble, Fault};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, PostParams};
use prescale::actuator::{AutoscalerCache, ClusterError, KubeCluster, WatchSettings};
use prescale::config::ScaleTargetRef;
use std::time::Duration;

fn web() -> ScaleTargetRef {
    ScaleTargetRef::deployment("shop", "web")
}

#[tokio::test]
async fn a_scale_write_with_a_stale_resource_version_gets_409_and_a_fresh_one_succeeds() {
    let api = ApiDouble::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = KubeCluster::new(api.client(dir.path()).await, Duration::from_secs(5));
    api.put_deployment("shop", "web", 2, 2);
    let stale = cluster.read_deployment(&web()).await.expect("read");
    api.scale_by_hand("shop", "web", 4);

    let err = cluster
        .scale(&web(), stale.replicas, 5, &stale.resource_version)
        .await
        .expect_err("stale write");
    assert!(matches!(err, ClusterError::Conflict { .. }), "{err}");
    assert_eq!(api.replicas("shop", "web"), Some(4));

    let fresh = cluster.read_deployment(&web()).await.expect("read");
    assert_eq!((fresh.replicas, fresh.generation), (4, 2));
    cluster
        .scale(&web(), fresh.replicas, 5, &fresh.resource_version)
        .await
        .expect("fresh write");
    let after = cluster.read_deployment(&web()).await.expect("read");
    assert_eq!((after.replicas, after.ready, after.generation), (5, 5, 3));
}

#[tokio::test]
async fn a_write_that_changes_nothing_or_lacks_a_resource_version_is_never_sent() {
    let api = ApiDouble::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = KubeCluster::new(api.client(dir.path()).await, Duration::from_secs(5));
    api.put_deployment("shop", "web", 2, 2);
    let view = cluster.read_deployment(&web()).await.expect("read");
    cluster
        .scale(&web(), 2, 2, &view.resource_version)
        .await
        .expect("nothing to do");
    let err = cluster
        .scale(&web(), 2, 5, "")
        .await
        .expect_err("no resourceVersion");
    assert!(
        matches!(err, ClusterError::NoResourceVersion { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("not writing without one"), "{err}");
    assert!(api.writes().is_empty(), "{:?}", api.writes());
    assert_eq!(api.replicas("shop", "web"), Some(2));

    // The double keeps the API server's rule that makes this matter: a patch that changes
    // nothing leaves the resourceVersion alone, so it would not fence a later writer.
    let patch = serde_json::json!({
        "metadata": { "resourceVersion": view.resource_version },
        "spec": { "replicas": 2 },
    });
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(api.client(dir.path()).await, "shop");
    let scale = deployments
        .patch_scale(
            "web",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .expect("no-op patch");
    assert_eq!(
        scale.metadata.resource_version.as_deref(),
        Some(view.resource_version.as_str())
    );
    assert!(api.writes().iter().all(|w| w.noop), "{:?}", api.writes());
}

#[tokio::test]
async fn missing_objects_404_and_injected_faults_are_classified() {
    let api = ApiDouble::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = KubeCluster::new(api.client(dir.path()).await, Duration::from_secs(2));
    let err = cluster.read_deployment(&web()).await.expect_err("missing");
    assert!(matches!(err, ClusterError::NotFound { .. }), "{err}");

    api.put_deployment("shop", "web", 1, 1);
    // One 429 with Retry-After is retried by the kube client itself; a 500 is not.
    api.inject(Fault::status("GET", "/deployments/web", 429, 1));
    assert!(cluster.read_deployment(&web()).await.is_ok());
    api.inject(Fault::status("GET", "/deployments/web", 500, 1));
    let e = cluster.read_deployment(&web()).await.expect_err("500");
    assert_eq!(e.label(), "server_error");
    api.inject(Fault {
        method: Some("GET"),
        path_contains: "/deployments/web".into(),
        kind: api_double::FaultKind::Delay(Duration::from_secs(5)),
        times: 1,
        token: None,
    });
    let e3 = cluster.read_deployment(&web()).await.expect_err("timeout");
    assert_eq!(e3.label(), "timeout");
    assert!(cluster.read_deployment(&web()).await.is_ok());
}

/// Poll `cond` every 50 ms until it holds, failing after `secs` seconds.
async fn eventually(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {secs}s waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_autoscaler_cache_follows_hpas_and_scaled_objects_through_watches() {
    let api = ApiDouble::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let settings = WatchSettings {
        crd_recheck: Duration::from_millis(500),
        ..WatchSettings::default()
    };
    let (cache, tasks) = AutoscalerCache::start(
        api.watch_client_as(dir.path(), "test").await,
        settings,
        None,
        stop,
    );
    api.put_hpa("shop", "other-hpa", "other");
    api.put_hpa("elsewhere", "web-hpa", "web");
    // Not synced yet: the answer would be a guess, so it is an error.
    assert!(matches!(
        cache.other_autoscalers(&web()),
        Err(ClusterError::NotSynced { .. })
    ));
    // No KEDA installed: discovery says so, which means "none".
    tokio::time::timeout(Duration::from_secs(10), cache.wait_synced())
        .await
        .expect("synced");
    assert!(cache.other_autoscalers(&web()).expect("synced").is_empty());

    // Changes arrive through the open watch, without another list.
    let lists_before = lists_of(&api, "horizontalpodautoscalers");
    api.put_hpa("shop", "web-hpa", "web");
    eventually(10, "the HPA is seen", || {
        cache.other_autoscalers(&web()).expect("synced").len() == 1
    })
    .await;
    assert_eq!(lists_of(&api, "horizontalpodautoscalers"), lists_before);
    api.delete("horizontalpodautoscalers", "shop", "web-hpa");
    eventually(10, "the deleted HPA is forgotten", || {
        cache.other_autoscalers(&web()).expect("synced").is_empty()
    })
    .await;

    // The watches are cut off while an HPA is created and the history is compacted: the
    // watch resumes from a version that is gone (410), so the cache lists again and
    // catches up; until then it keeps its last known state.
    api.cut_watches();
    eventually(10, "the watch retried and refused", || {
        api.requests().iter().any(|r| {
            r.rbac()
                .is_some_and(|(_, res, verb)| res == "horizontalpodautoscalers" && verb == "watch")
                && r.status == 503
        })
    })
    .await;
    api.put_hpa("shop", "web-hpa", "web");
    api.compact();
    assert!(cache.other_autoscalers(&web()).expect("synced").is_empty());
    let lists_before = lists_of(&api, "horizontalpodautoscalers");
    api.restore_watches();
    eventually(20, "the HPA created while cut off is seen", || {
        cache.other_autoscalers(&web()).expect("synced").len() == 1
    })
    .await;
    assert!(lists_of(&api, "horizontalpodautoscalers") > lists_before);
    api.delete("horizontalpodautoscalers", "shop", "web-hpa");
    eventually(10, "the deleted HPA is forgotten again", || {
        cache.other_autoscalers(&web()).expect("synced").is_empty()
    })
    .await;

    // KEDA installed later: discovery, checked again, finds it.
    api.put_scaled_object("shop", "web-so", "web");
    eventually(20, "the ScaledObject is seen", || {
        cache
            .other_autoscalers(&web())
            .expect("synced")
            .iter()
            .map(|o| o.to_string())
            .eq(["ScaledObject web-so".to_string()])
    })
    .await;
    // KEDA removed again: its ScaledObjects are gone, HPAs keep working.
    api.uninstall_keda();
    api.put_hpa("shop", "web-hpa", "web");
    eventually(10, "only the HPA is seen", || {
        cache
            .other_autoscalers(&web())
            .expect("synced")
            .iter()
            .map(|o| o.to_string())
            .eq(["HorizontalPodAutoscaler web-hpa".to_string()])
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

fn lists_of(api: &ApiDouble, resource: &str) -> usize {
    api.requests()
        .iter()
        .filter_map(|r| r.rbac())
        .filter(|(_, res, verb)| res == resource && verb == "list")
        .count()
}

#[tokio::test]
async fn a_watch_streams_changes_from_a_resource_version_and_410s_after_compaction() {
    use futures::StreamExt;
    use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
    use kube::api::{ListParams, WatchEvent, WatchParams};
    let api = ApiDouble::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let hpas: Api<HorizontalPodAutoscaler> = Api::all(api.client(dir.path()).await);
    api.put_hpa("shop", "a", "web");
    let list = hpas.list(&ListParams::default()).await.expect("list");
    let rv = list
        .metadata
        .resource_version
        .expect("collection resourceVersion");
    assert_eq!(list.items.len(), 1);

    api.put_hpa("shop", "b", "web");
    api.delete("horizontalpodautoscalers", "shop", "a");
    let mut stream = hpas
        .watch(&WatchParams::default(), &rv)
        .await
        .expect("watch")
        .boxed();
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("an event")
            .expect("open")
            .expect("decodes")
    };
    assert!(
        matches!(next().await, WatchEvent::Added(h) if h.metadata.name.as_deref() == Some("b"))
    );
    assert!(
        matches!(next().await, WatchEvent::Deleted(h) if h.metadata.name.as_deref() == Some("a"))
    );
    api.put_hpa("shop", "b", "api");
    assert!(
        matches!(next().await, WatchEvent::Modified(h) if h.metadata.name.as_deref() == Some("b"))
    );
    // Idle and the version moved on elsewhere: a bookmark carries it.
    api.put_deployment("shop", "web", 1, 1);
    assert!(matches!(next().await, WatchEvent::Bookmark(_)));

    api.compact();
    let mut old = hpas
        .watch(&WatchParams::default(), &rv)
        .await
        .expect("watch")
        .boxed();
    let gone = tokio::time::timeout(Duration::from_secs(5), old.next())
        .await
        .expect("an event")
        .expect("open")
        .expect("decodes");
    assert!(
        matches!(gone, WatchEvent::Error(ref s) if s.code == 410),
        "{gone:?}"
    );
}

#[tokio::test]
async fn leases_conflict_on_double_create_and_on_stale_update() {
    let api = ApiDouble::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let leases: Api<Lease> = Api::namespaced(api.client(dir.path()).await, "prescale");
    let mut lease = Lease::default();
    lease.metadata.name = Some("l".into());
    let created = leases
        .create(&PostParams::default(), &lease)
        .await
        .expect("create");
    let again = leases.create(&PostParams::default(), &lease).await;
    assert!(matches!(again, Err(kube::Error::Api(s)) if s.code == 409));
    let mut renewed = created.clone();
    renewed.spec = Some(k8s_openapi::api::coordination::v1::LeaseSpec {
        holder_identity: Some("me".into()),
        ..Default::default()
    });
    let updated = leases
        .replace("l", &PostParams::default(), &renewed)
        .await
        .expect("update with current version");
    assert_ne!(
        updated.metadata.resource_version,
        created.metadata.resource_version
    );
    let stale = leases.replace("l", &PostParams::default(), &renewed).await;
    assert!(matches!(stale, Err(kube::Error::Api(s)) if s.code == 409));
}
