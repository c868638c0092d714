//! The API double's semantics, checked through the real kube client and prescale's
//! actuator: the controller tests rely on these behaving as the real API server does.

#[path = "support/api_double/mod.rs"]
mod api_double;

use api_double::{ApiDouble, Fault};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, PostParams};
use prescale::actuator::{ClusterError, KubeCluster};
use prescale::config::ScaleTargetRef;
use std::time::Duration;

fn web() -> ScaleTargetRef {
    ScaleTargetRef {
        namespace: "shop".into(),
        name: "web".into(),
    }
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
        .scale(&web(), 5, &stale.resource_version)
        .await
        .expect_err("stale write");
    assert!(matches!(err, ClusterError::Conflict { .. }), "{err}");
    assert_eq!(api.replicas("shop", "web"), Some(4));

    let fresh = cluster.read_deployment(&web()).await.expect("read");
    assert_eq!((fresh.replicas, fresh.generation), (4, 2));
    cluster
        .scale(&web(), 5, &fresh.resource_version)
        .await
        .expect("fresh write");
    let after = cluster.read_deployment(&web()).await.expect("read");
    assert_eq!((after.replicas, after.ready, after.generation), (5, 5, 3));
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

#[tokio::test]
async fn other_autoscalers_are_found_only_when_they_target_the_deployment() {
    let api = ApiDouble::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let cluster = KubeCluster::new(api.client(dir.path()).await, Duration::from_secs(5));
    // No KEDA installed: the ScaledObject list 404s, which means "none".
    assert!(
        cluster
            .other_autoscalers(&web())
            .await
            .expect("list")
            .is_empty()
    );
    api.put_hpa("shop", "other-hpa", "other");
    api.put_scaled_object("shop", "web-so", "web");
    let found = cluster.other_autoscalers(&web()).await.expect("list");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].to_string(), "ScaledObject web-so");
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
    let updated = leases
        .replace("l", &PostParams::default(), &created)
        .await
        .expect("update with current version");
    assert_ne!(
        updated.metadata.resource_version,
        created.metadata.resource_version
    );
    let stale = leases.replace("l", &PostParams::default(), &created).await;
    assert!(matches!(stale, Err(kube::Error::Api(s)) if s.code == 409));
}
