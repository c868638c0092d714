//! The RBAC in `deploy/` is tested against `prescale::permissions::API_CALLS`; this test
//! proves that list is the truth: the controller is driven through every code path that
//! touches the Kubernetes API (shadow and active targets, a write, an HPA and a
//! ScaledObject conflict, a write that loses with 409 and re-reads, a target whose metric is
//! scraped from every ready pod, Events, leader election's acquire, renew and release, a
//! reload),
//! every request the API double receives is mapped to the RBAC check it needs, and the set
//! of those checks must equal `API_CALLS`: no call that RBAC would forbid, no grant unused.

#[path = "support/api_double/mod.rs"]
mod api_double;
#[path = "support/controller_harness.rs"]
mod controller_harness;
#[path = "support/metrics_double.rs"]
mod metrics_double;

use api_double::{ApiDouble, Fault, FaultKind};
use controller_harness::{HEAD, eventually, start_full, target};
use prescale::leader::LeaseSettings;
use prescale::permissions::{API_CALLS, DISCOVERY, Feature, Scope};
use std::collections::BTreeSet;
use std::time::Duration;

const NS: &str = "shop";
/// The controller's own namespace (where its Lease lives).
const OWN_NS: &str = "prescale";

type Check = (String, String, String);

/// The features this test's targets use: the core calls, and pods listed for a target
/// scraped from every pod. (The floor's and the deletion cost's calls are not driven
/// here; their overlays' RBAC equals their `API_CALLS` entries: tests/deploy_manifests.rs.)
const FEATURES: &[Feature] = &[Feature::Core, Feature::PodMetrics];

fn granted(scope: Option<Scope>) -> BTreeSet<Check> {
    API_CALLS
        .iter()
        .filter(|c| FEATURES.contains(&c.feature) && scope.is_none_or(|s| c.scope == s))
        .flat_map(|c| {
            c.verbs
                .iter()
                .map(|v| (c.group.to_string(), c.resource.to_string(), v.to_string()))
        })
        .collect()
}

fn lease_writes(api: &ApiDouble, method: &str) -> usize {
    api.requests()
        .iter()
        .filter(|r| r.method == method && r.path.contains("/leases"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_calls_the_controller_makes_are_exactly_the_calls_rbac_grants() {
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "shadowed", 1, 1);
    api.put_deployment(NS, "written", 1, 1);
    api.put_deployment(NS, "with-hpa", 1, 1);
    api.put_deployment(NS, "with-so", 1, 1);
    api.put_hpa(NS, "hpa", "with-hpa");
    api.put_scaled_object(NS, "so", "with-so");
    // A person scales it just before prescale's write arrives: the write loses with 409 and
    // the tick re-reads the Deployment with a GET (the only GET: ticks read a watch cache).
    api.put_deployment(NS, "conflicted", 1, 1);
    api.inject(Fault {
        method: Some("PATCH"),
        path_contains: "/deployments/conflicted/scale".into(),
        kind: FaultKind::ConcurrentScale(2),
        times: 1,
        token: None,
    });
    api.put_deployment(NS, "pod-scraped", 1, 1);
    api.put_pod(NS, "pod-scraped-1", "pod-scraped", "127.0.0.9", true);
    // Its queue depth comes from every ready pod: each tick lists the Deployment's pods.
    let pod_scraped = target("pod-scraped", "pod-scraped", "shadow", 1).replace(
        "queueDepth: { promql: 'sum(queue_depth)' }",
        "queueDepth: { scrape: { pods: { port: 9 }, metric: queue_depth } }",
    );
    let yaml = format!(
        "{HEAD}{}{}{}{}{}{pod_scraped}",
        target("shadowed", "shadowed", "shadow", 3),
        target("written", "written", "active", 3),
        target("with-hpa", "with-hpa", "active", 3),
        target("with-so", "with-so", "active", 3),
        target("conflicted", "conflicted", "active", 3),
    );
    let lease = LeaseSettings {
        lease_duration: Duration::from_millis(3000),
        renew_deadline: Duration::from_millis(2000),
        retry_period: Duration::from_millis(100),
        ..LeaseSettings::new("prescale-leader".into(), OWN_NS.into(), "prescale-0".into())
    };
    let c = start_full(&api, &yaml, Some(lease), None).await;

    eventually(15, "leader, a write, and every Event", || async {
        let has =
            |object: &str, reason: &str| api.event_reasons(object).iter().any(|r| r == reason);
        api.replicas(NS, "written") == Some(3)
            && has("shadowed", "Recommendation")
            && has("written", "Rescaled")
            && has("with-hpa", "OtherAutoscaler")
            && has("with-so", "OtherAutoscaler")
            && api
                .requests()
                .iter()
                .any(|r| r.path == format!("/api/v1/namespaces/{NS}/pods") && r.status == 200)
            && api.requests().iter().any(|r| {
                r.method == "GET"
                    && r.path == format!("/apis/apps/v1/namespaces/{NS}/deployments/conflicted")
            })
    })
    .await;
    // The Lease was created (acquire) and then renewed.
    eventually(10, "the Lease renewed", || async {
        lease_writes(&api, "POST") >= 1 && lease_writes(&api, "PUT") >= 1
    })
    .await;

    // A rejected reload reports itself with an Event on the controller's own Pod; a valid
    // one removes a target.
    c.write_config(&yaml.replace("maxReplicas: 20", "maxReplicas: 2"));
    eventually(10, "a ConfigRejected Event", || async {
        api.event_reasons("prescale-0")
            .iter()
            .any(|r| r == "ConfigRejected")
    })
    .await;
    c.write_config(&format!(
        "{HEAD}{}",
        target("written", "written", "active", 3)
    ));
    eventually(10, "the reload applied", || async {
        c.recommendation("shadowed").await.is_none()
    })
    .await;

    let puts_before_stop = lease_writes(&api, "PUT");
    c.stop().await.expect("clean stop");
    // Released on stop: the Lease's holder is cleared with an update.
    assert!(lease_writes(&api, "PUT") > puts_before_stop);
    assert_eq!(
        api.get("leases", OWN_NS, "prescale-leader").expect("lease")["spec"]["holderIdentity"],
        serde_json::Value::Null
    );

    let requests = api.requests();
    // Outside any resource, only the discovery paths every authenticated user may read
    // (the built-in system:discovery ClusterRole).
    let unmapped: Vec<_> = requests
        .iter()
        .filter(|r| r.rbac().is_none() && !DISCOVERY.contains(&r.path.as_str()))
        .collect();
    assert!(
        unmapped.is_empty(),
        "requests outside any resource (RBAC would need nonResourceURLs): {unmapped:?}"
    );
    let discovered: BTreeSet<&str> = requests
        .iter()
        .filter(|r| r.rbac().is_none())
        .map(|r| r.path.as_str())
        .collect();
    assert_eq!(
        discovered,
        DISCOVERY.iter().copied().collect(),
        "DISCOVERY lists exactly the discovery paths read"
    );
    let observed: BTreeSet<Check> = requests.iter().filter_map(|r| r.rbac()).collect();
    let expected = granted(None);
    let forbidden: Vec<_> = observed.difference(&expected).collect();
    let unused: Vec<_> = expected.difference(&observed).collect();
    assert!(
        forbidden.is_empty() && unused.is_empty(),
        "API_CALLS does not match the calls made.\n  made but not granted (RBAC would forbid them): {forbidden:?}\n  granted but never made: {unused:?}"
    );

    // What is granted only in the controller's own namespace is only used there.
    let own_namespace_only: BTreeSet<Check> = granted(Some(Scope::OwnNamespace))
        .difference(&granted(Some(Scope::Cluster)))
        .cloned()
        .collect();
    for r in &requests {
        let Some(check) = r.rbac() else {
            continue; // discovery, checked above
        };
        if own_namespace_only.contains(&check) {
            assert!(
                r.path.contains(&format!("/namespaces/{OWN_NS}/")),
                "{check:?} outside {OWN_NS}: {} {}",
                r.method,
                r.path
            );
        }
    }
}
