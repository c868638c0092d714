//! The RBAC in `deploy/` is tested against `prescale::permissions::API_CALLS`; this test
//! proves that list is the truth: the controller is driven through every code path that
//! touches the Kubernetes API (shadow and active targets, a write, an HPA and a
//! ScaledObject conflict, a write that loses with 409 and re-reads, a target whose metric is
//! scraped from every ready pod, Events, leader election's acquire, renew and release, a
//! reload),
//! every request the API double receives is mapped to the RBAC check it needs, and the set
//! of those checks must equal `API_CALLS`: no call that RBAC would forbid, no grant unused.
//!
//! The floor and work-aware scale-down modes (`actuation: hpaMinReplicas` /
//! `kedaMinReplicaCount`, `podDeletionCost`) are driven the same way: their calls are
//! exactly the core's plus their features' `API_CALLS` entries, each of which is used.
//!
//! The namespaced install (`deploy/overlays/namespaced`) is checked against its rendered
//! RBAC itself: run with that overlay's `--namespaces`, every request the controller makes
//! must be allowed by the overlay's Roles in the request's namespace (nothing cluster-wide),
//! and every rule of those Roles must be used.

#[path = "support/api_double/mod.rs"]
mod api_double;
#[path = "support/controller_harness.rs"]
mod controller_harness;
#[path = "support/metrics_double.rs"]
mod metrics_double;
#[path = "deploy_manifests/rbac.rs"]
mod rbac;
#[path = "deploy_manifests/render.rs"]
mod render;
#[path = "support/skip.rs"]
mod skip;

use api_double::{ApiDouble, Fault, FaultKind, Request};
use controller_harness::{
    HEAD, Setup, active_target, eventually, kind_target, start_full, start_with, target,
};
use prescale::leader::LeaseSettings;
use prescale::permissions::{API_CALLS, DISCOVERY, Feature, Scope, kind_discovery_path};
use std::collections::BTreeSet;
use std::time::Duration;

const NS: &str = "shop";
/// The controller's own namespace (where its Lease lives).
const OWN_NS: &str = "prescale";

type Check = (String, String, String);

/// The features the first test's targets use: the core calls, and pods listed for a target
/// scraped from every pod. (The floor's and the deletion cost's are driven by their own
/// test below; their overlays' RBAC equals their `API_CALLS` entries:
/// tests/deploy_manifests.rs.)
const FEATURES: &[Feature] = &[Feature::Core, Feature::PodMetrics];

fn granted(scope: Option<Scope>) -> BTreeSet<Check> {
    granted_for(FEATURES, scope)
}

fn granted_for(features: &[Feature], scope: Option<Scope>) -> BTreeSet<Check> {
    API_CALLS
        .iter()
        .filter(|c| features.contains(&c.feature) && scope.is_none_or(|s| c.scope == s))
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

/// Leader election for the test: fast, in `namespace`.
fn lease_in(namespace: &str) -> LeaseSettings {
    LeaseSettings {
        lease_duration: Duration::from_millis(3000),
        renew_deadline: Duration::from_millis(2000),
        retry_period: Duration::from_millis(100),
        ..LeaseSettings::new(
            "prescale-leader".into(),
            namespace.into(),
            "prescale-0".into(),
        )
    }
}

/// The core paths of targets in `ns`: a shadow target, an active write, an HPA's and a
/// ScaledObject's target, and a write that loses with 409 and re-reads. Returns their
/// config entries (targets named `{ns}-{deployment}`).
fn core_paths(api: &ApiDouble, ns: &str) -> String {
    for name in ["shadowed", "written", "with-hpa", "with-so", "conflicted"] {
        api.put_deployment(ns, name, 1, 1);
    }
    api.put_hpa(ns, "hpa", "with-hpa");
    api.put_scaled_object(ns, "so", "with-so");
    // A person scales it just before prescale's write arrives: the write loses with 409 and
    // the tick re-reads the Deployment with a GET (the only GET: ticks read a watch cache).
    api.inject(Fault {
        method: Some("PATCH"),
        path_contains: format!("/namespaces/{ns}/deployments/conflicted/scale"),
        kind: FaultKind::ConcurrentScale(2),
        times: 1,
        token: None,
    });
    [
        ("shadowed", "shadow"),
        ("written", "active"),
        ("with-hpa", "active"),
        ("with-so", "active"),
        ("conflicted", "active"),
    ]
    .iter()
    .map(|(name, mode)| {
        target(&format!("{ns}-{name}"), name, mode, 3)
            .replace("namespace: shop,", &format!("namespace: {ns},"))
    })
    .collect()
}

/// Every path of [`core_paths`] in `ns` has been taken.
fn core_paths_taken(api: &ApiDouble, ns: &str) -> bool {
    let events = api.events();
    let has = |object: &str, reason: &str| {
        events.iter().any(|e| {
            e["regarding"]["namespace"] == ns
                && e["regarding"]["name"] == object
                && e["reason"] == reason
        })
    };
    api.replicas(ns, "written") == Some(3)
        && has("shadowed", "Recommendation")
        && has("written", "Rescaled")
        && has("with-hpa", "OtherAutoscaler")
        && has("with-so", "OtherAutoscaler")
        && api.requests().iter().any(|r| {
            r.method == "GET"
                && r.path == format!("/apis/apps/v1/namespaces/{ns}/deployments/conflicted")
        })
}

/// The namespace a request is made in (`None`: cluster-wide, e.g. a list across all
/// namespaces), by the API server's path conventions.
fn namespace_of(request: &Request) -> Option<String> {
    let segs: Vec<&str> = request.path.trim_matches('/').split('/').collect();
    match segs.as_slice() {
        ["api", _, "namespaces", ns, _, ..] | ["apis", _, _, "namespaces", ns, _, ..] => {
            Some((*ns).to_owned())
        }
        _ => None,
    }
}

/// Requests outside any resource are only the discovery paths every authenticated user may
/// read (the built-in system:discovery ClusterRole).
fn assert_only_discovery_outside_resources(requests: &[Request]) {
    assert_only_discovery_of(requests, &[]);
}

/// As [`assert_only_discovery_outside_resources`], with the discovery paths of the
/// non-Deployment kinds in `api_versions` allowed too.
fn assert_only_discovery_of(requests: &[Request], api_versions: &[&str]) {
    let kinds: Vec<String> = api_versions
        .iter()
        .map(|v| kind_discovery_path(v))
        .collect();
    let unmapped: Vec<_> = requests
        .iter()
        .filter(|r| {
            r.rbac().is_none() && !DISCOVERY.contains(&r.path.as_str()) && !kinds.contains(&r.path)
        })
        .collect();
    assert!(
        unmapped.is_empty(),
        "requests outside any resource (RBAC would need nonResourceURLs): {unmapped:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_calls_the_controller_makes_are_exactly_the_calls_rbac_grants() {
    let api = ApiDouble::start().await;
    let core = core_paths(&api, NS);
    api.put_deployment(NS, "pod-scraped", 1, 1);
    api.put_pod(NS, "pod-scraped-1", "pod-scraped", "127.0.0.9", true);
    // Its queue depth comes from every ready pod: each tick lists the Deployment's pods.
    let pod_scraped = target("pod-scraped", "pod-scraped", "shadow", 1).replace(
        "queueDepth: { promql: 'sum(queue_depth)' }",
        "queueDepth: { scrape: { pods: { port: 9 }, metric: queue_depth } }",
    );
    let yaml = format!("{HEAD}{core}{pod_scraped}");
    let c = start_full(&api, &yaml, Some(lease_in(OWN_NS)), None).await;

    eventually(15, "leader, a write, and every Event", || async {
        core_paths_taken(&api, NS)
            && api
                .requests()
                .iter()
                .any(|r| r.path == format!("/api/v1/namespaces/{NS}/pods") && r.status == 200)
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
        c.recommendation(&format!("{NS}-shadowed")).await.is_none()
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
    assert_only_discovery_outside_resources(&requests);
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
            assert_eq!(
                namespace_of(r).as_deref(),
                Some(OWN_NS),
                "{check:?} outside {OWN_NS}: {} {}",
                r.method,
                r.path
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_namespaced_overlay_grants_exactly_the_calls_made_with_its_namespaces() {
    const OVERLAY: &str = "deploy/overlays/namespaced";
    let Some(docs) = render::one(OVERLAY) else {
        return;
    };
    // As deployed: the Deployment's namespace (POD_NAMESPACE: the Lease, Events about its
    // Pod), its ServiceAccount's bindings, and its `--namespaces`.
    let deployment = render::named(docs, "Deployment", "prescale");
    let own_ns = render::str_at(deployment, "/metadata/namespace");
    let account = render::str_at(deployment, "/spec/template/spec/serviceAccountName");
    let access = rbac::Access::of(docs, own_ns, account);
    let args = rbac::strings(
        &deployment["spec"]["template"]["spec"]["containers"][0]["args"],
        "args",
    );
    let at = args
        .iter()
        .position(|a| a == "--namespaces")
        .expect("the namespaced overlay sets --namespaces");
    let watched: Vec<String> = args[at + 1].split(',').map(str::to_owned).collect();

    let api = ApiDouble::start().await;
    let mut yaml = HEAD.to_owned();
    for ns in &watched {
        yaml.push_str(&core_paths(&api, ns));
    }
    // Another namespace's workload and autoscaler: never read, never written.
    const ELSEWHERE: &str = "elsewhere";
    api.put_deployment(ELSEWHERE, "other", 1, 1);
    api.put_hpa(ELSEWHERE, "other-hpa", "other");
    let c = start_with(
        &api,
        &yaml,
        Setup {
            lease: Some(lease_in(own_ns)),
            namespaces: Some(watched.clone()),
            own_namespace: Some(own_ns.to_owned()),
            ..Setup::default()
        },
    )
    .await;

    eventually(15, "every core path in every watched namespace", || async {
        watched.iter().all(|ns| core_paths_taken(&api, ns))
    })
    .await;
    eventually(10, "the Lease renewed", || async {
        lease_writes(&api, "POST") >= 1 && lease_writes(&api, "PUT") >= 1
    })
    .await;
    // A target outside --namespaces is refused (its every call would be forbidden), with an
    // Event on the controller's own Pod in its own namespace.
    let outside = target("outside", "other", "shadow", 1)
        .replace("namespace: shop,", &format!("namespace: {ELSEWHERE},"));
    c.write_config(&format!("{yaml}{outside}"));
    eventually(10, "a ConfigRejected Event", || async {
        api.event_reasons("prescale-0")
            .iter()
            .any(|r| r == "ConfigRejected")
    })
    .await;
    c.stop().await.expect("clean stop");

    let requests = api.requests();
    assert_only_discovery_outside_resources(&requests);
    let made: BTreeSet<rbac::Permission> = requests
        .iter()
        .filter_map(|r| {
            r.rbac()
                .map(|(group, resource, verb)| (namespace_of(r), group, resource, verb))
        })
        .collect();
    let forbidden: Vec<_> = made
        .iter()
        .filter(|(ns, group, resource, verb)| !access.allows(ns.as_deref(), group, resource, verb))
        .collect();
    let unused: Vec<_> = access
        .each()
        .into_iter()
        .filter(|(scope, group, resource, verb)| {
            !made.iter().any(|(ns, g, r, v)| {
                (g, r, v) == (group, resource, verb) && (scope.is_none() || scope == ns)
            })
        })
        .collect();
    assert!(
        forbidden.is_empty() && unused.is_empty(),
        "{OVERLAY}'s RBAC does not match the calls made with --namespaces {}.\n  made but not granted (RBAC would forbid them): {forbidden:?}\n  granted but never made: {unused:?}",
        watched.join(",")
    );
    assert!(
        !requests.iter().any(|r| r.path.contains(ELSEWHERE)),
        "nothing outside the watched namespaces is read"
    );
}

/// An active target at test speed scaling the Deployment `name`.
fn quick_target(name: &str, extra: &str) -> String {
    active_target(name, &format!("namespace: {NS}, name: {name}"), extra)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_floor_and_deletion_cost_modes_make_exactly_their_features_calls() {
    let api = ApiDouble::start().await;
    // A floor under an HPA and one under a ScaledObject, raised for the load.
    api.put_deployment(NS, "hpa-floor", 1, 1);
    api.put_hpa_with(NS, "hpa-floor", "hpa-floor", Some(1), 20);
    api.put_deployment(NS, "keda-floor", 1, 1);
    api.put_scaled_object_with(NS, "keda-floor", "keda-floor", Some(1), None);
    // A scale-down that marks its pods first.
    api.put_deployment(NS, "marked", 3, 3);
    for (i, ip) in ["127.0.0.21", "127.0.0.22", "127.0.0.23"]
        .iter()
        .enumerate()
    {
        api.put_pod(NS, &format!("marked-{i}"), "marked", ip, true);
    }
    let yaml = format!(
        "{HEAD}{}{}{}",
        quick_target(
            "hpa-floor",
            "    minReplicas: 0\n    actuation: hpaMinReplicas\n"
        ),
        quick_target(
            "keda-floor",
            "    minReplicas: 0\n    actuation: kedaMinReplicaCount\n"
        ),
        quick_target(
            "marked",
            "    minReplicas: 1\n    podDeletionCost: { enabled: true }\n"
        ),
    );
    let c = start_full(&api, &yaml, Some(lease_in(OWN_NS)), None).await;
    c.metrics.set("hpa-floor", 0.0, 4.0);
    c.metrics.set("keda-floor", 0.0, 4.0);
    c.metrics.set("marked", 0.0, 1.0);
    eventually(15, "both floors raised and the scale-down made", || async {
        let raised = |resource, name, field| {
            api.spec_number(resource, NS, name, field)
                .is_some_and(|n| n > 1)
        };
        raised("horizontalpodautoscalers", "hpa-floor", "minReplicas")
            && raised("scaledobjects", "keda-floor", "minReplicaCount")
            && api.replicas(NS, "marked") == Some(1)
    })
    .await;
    c.stop().await.expect("clean stop");

    let requests = api.requests();
    assert_only_discovery_outside_resources(&requests);
    let observed: BTreeSet<Check> = requests.iter().filter_map(|r| r.rbac()).collect();
    let features = [
        Feature::Core,
        Feature::AutoscalerFloor,
        Feature::PodDeletionCost,
    ];
    let expected = granted_for(&features, None);
    let forbidden: Vec<_> = observed.difference(&expected).collect();
    assert!(
        forbidden.is_empty(),
        "made but not granted by Core, AutoscalerFloor and PodDeletionCost: {forbidden:?}"
    );
    // Every call of the two features was made (the core's are the first test's business:
    // this one makes no conflict and no reload).
    let own = granted_for(&[Feature::AutoscalerFloor, Feature::PodDeletionCost], None);
    let unused: Vec<_> = own.difference(&observed).collect();
    assert!(
        unused.is_empty(),
        "granted to the floor or the deletion cost but never made: {unused:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_kinds_scale_through_their_scale_subresource_with_exactly_their_features_calls() {
    let api = ApiDouble::start().await;
    api.put_scalable("statefulsets", NS, "db", 1, Some(1));
    api.put_scalable("rollouts", NS, "canary", 1, Some(1));
    // A custom resource that reports only status.replicas and a string status.selector.
    api.put_scalable("workers", NS, "ocr", 1, None);
    // The first write to the StatefulSet and to the Rollout loses with 409: each tick
    // re-reads its object with a GET and decides again.
    for path in ["statefulsets/db/scale", "rollouts/canary/scale"] {
        api.inject(Fault {
            method: Some("PATCH"),
            path_contains: format!("/namespaces/{NS}/{path}"),
            kind: FaultKind::Status(409),
            times: 1,
            token: None,
        });
    }
    let yaml = format!(
        "{HEAD}{}{}{}",
        kind_target("db", "db", "apps/v1", "StatefulSet"),
        kind_target("canary", "canary", "argoproj.io/v1alpha1", "Rollout"),
        kind_target("ocr", "ocr", "example.com/v1", "Worker"),
    );
    let c = start_full(&api, &yaml, Some(lease_in(OWN_NS)), None).await;
    for name in ["db", "canary", "ocr"] {
        c.metrics.set(name, 0.0, 4.0);
    }
    eventually(15, "each kind scaled up through /scale", || async {
        [
            ("statefulsets", "db"),
            ("rollouts", "canary"),
            ("workers", "ocr"),
        ]
        .iter()
        .all(|(resource, name)| api.replicas_of(resource, NS, name).is_some_and(|r| r > 1))
    })
    .await;
    // The custom resource keeps its count where its CRD's scale paths say (not in
    // status.replicas, and no ready count): it is read from its /scale subresource's
    // status. Its Events are about the object by its own kind.
    // (A tick reports what it read before its write: wait for a tick after it.)
    eventually(
        15,
        "the Worker's scaled-up replicas read as ready",
        || async {
            c.recommendation("ocr").await.is_some_and(|ocr| {
                ocr["readyReplicas"].as_u64().is_some_and(|r| r > 1)
                    && ocr["readyReplicas"] == ocr["currentReplicas"]
            })
        },
    )
    .await;
    let regarding: BTreeSet<(String, String)> = api
        .events()
        .iter()
        .map(|e| {
            (
                e["regarding"]["kind"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                e["regarding"]["apiVersion"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    for kind in [
        ("StatefulSet", "apps/v1"),
        ("Rollout", "argoproj.io/v1alpha1"),
        ("Worker", "example.com/v1"),
    ] {
        assert!(
            regarding.contains(&(kind.0.to_string(), kind.1.to_string())),
            "an Event about the {} by its kind: {regarding:?}",
            kind.0
        );
    }
    c.stop().await.expect("clean stop");

    let requests = api.requests();
    let versions = ["apps/v1", "argoproj.io/v1alpha1", "example.com/v1"];
    assert_only_discovery_of(&requests, &versions);
    let discovered: BTreeSet<String> = requests
        .iter()
        .filter(|r| r.rbac().is_none())
        .map(|r| r.path.clone())
        .collect();
    let expected_discovery: BTreeSet<String> = DISCOVERY
        .iter()
        .map(|p| p.to_string())
        .chain(versions.iter().map(|v| kind_discovery_path(v)))
        .collect();
    assert_eq!(
        discovered, expected_discovery,
        "each kind's group version is discovered"
    );
    // No Deployment is read or written for these targets.
    assert!(
        !requests.iter().any(|r| r.path.contains("/deployments")),
        "a Deployment call for targets of other kinds"
    );
    let observed: BTreeSet<Check> = requests.iter().filter_map(|r| r.rbac()).collect();
    // The custom resource is granted as docs/deploy.md ("Other kinds") says: read and
    // watch the resource, read and patch its /scale.
    let custom: BTreeSet<Check> = [
        ("workers", "get"),
        ("workers", "list"),
        ("workers", "watch"),
        ("workers/scale", "get"),
        ("workers/scale", "patch"),
    ]
    .iter()
    .map(|(r, v)| ("example.com".to_string(), r.to_string(), v.to_string()))
    .collect();
    let features = [Feature::Core, Feature::StatefulSets, Feature::ArgoRollouts];
    let expected: BTreeSet<Check> = granted_for(&features, None)
        .union(&custom)
        .cloned()
        .collect();
    let forbidden: Vec<_> = observed.difference(&expected).collect();
    assert!(forbidden.is_empty(), "made but not granted: {forbidden:?}");
    let own = granted_for(&[Feature::StatefulSets, Feature::ArgoRollouts], None);
    let unused: Vec<_> = own.difference(&observed).collect();
    assert!(
        unused.is_empty(),
        "granted to StatefulSets or Argo Rollouts but never made: {unused:?}"
    );
}
