//! Targets of other kinds than Deployment (`scaleTargetRef.apiVersion`/`kind`), through the
//! controller and the real kube client against the API double: what a user sees when the
//! kind cannot be scaled (not served, misspelt, served without `/scale`, forbidden by RBAC),
//! and the per-tick GET reads (`--cluster-reads get`) for a custom resource. The calls each
//! kind makes are tests/api_calls.rs's business.

#[path = "support/api_double/mod.rs"]
mod api_double;
#[path = "support/controller_harness.rs"]
mod controller_harness;
#[path = "support/metrics_double.rs"]
mod metrics_double;

use api_double::{ApiDouble, Fault, FaultKind};
use controller_harness::{HEAD, Setup, eventually, kind_target, start_with};
use prescale::controller::ReadMode;

const NS: &str = "shop";

/// The error `/recommendations` reports for `target`, once there is one.
async fn error_of(c: &controller_harness::Running, target: &str) -> String {
    let error = || async {
        c.recommendation(target)
            .await
            .and_then(|r| r["error"].as_str().map(str::to_string))
    };
    eventually(15, &format!("an error reported for {target}"), || async {
        error().await.is_some()
    })
    .await;
    error().await.unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kind_that_cannot_be_scaled_says_what_is_missing_and_the_fix() {
    let api = ApiDouble::start().await;
    api.put_scalable("widgets", NS, "gadget", 2, None);
    api.put_scalable("statefulsets", NS, "db", 1, Some(1));
    // prescale may not list StatefulSets (the statefulsets component not installed).
    api.inject(Fault {
        method: Some("GET"),
        path_contains: format!("/namespaces/{NS}/statefulsets"),
        kind: FaultKind::Status(403),
        times: u32::MAX,
        token: None,
    });
    let yaml = format!(
        "{HEAD}{}{}{}{}",
        kind_target("no-scale", "gadget", "example.com/v1", "Widget"),
        kind_target("no-crd", "thing", "missing.example.com/v1", "Thing"),
        kind_target("misspelt", "db", "apps/v1", "Statefulset"),
        kind_target("forbidden", "db", "apps/v1", "StatefulSet"),
    );
    let c = start_with(&api, &yaml, Setup::default()).await;
    for name in ["no-scale", "no-crd", "misspelt", "forbidden"] {
        c.metrics.set(name, 0.0, 4.0);
    }

    let no_scale = error_of(&c, "no-scale").await;
    assert!(
        no_scale.contains("Widget.example.com shop/gadget")
            && no_scale.contains("widgets.example.com has no /scale subresource")
            && no_scale.contains("subresources: {scale:"),
        "{no_scale}"
    );
    let no_crd = error_of(&c, "no-crd").await;
    assert!(
        no_crd.contains("does not serve missing.example.com/v1")
            && no_crd.contains("install the CRD"),
        "{no_crd}"
    );
    let misspelt = error_of(&c, "misspelt").await;
    assert!(
        misspelt.contains("apps/v1 has no kind Statefulset")
            && misspelt.contains("StatefulSet")
            && misspelt.contains("fix scaleTargetRef.kind"),
        "{misspelt}"
    );
    let forbidden = error_of(&c, "forbidden").await;
    assert!(
        forbidden.contains("StatefulSets (apps/v1) in namespace shop")
            && forbidden.contains("403")
            && forbidden.contains("RBAC: list, watch"),
        "{forbidden}"
    );
    // None of them was written, and the metric counts the failures by their label.
    assert_eq!(api.replicas_of("widgets", NS, "gadget"), Some(2));
    assert_eq!(api.replicas_of("statefulsets", NS, "db"), Some(1));
    assert!(
        !api.writes().iter().any(|w| w.path.contains("/scale")),
        "a /scale write for a kind that cannot be scaled"
    );
    c.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_resource_is_read_with_a_get_per_tick_and_written_through_scale() {
    let api = ApiDouble::start().await;
    api.put_scalable("workers", NS, "ocr", 1, None);
    // Forbidden to write its /scale at first: the error names the subresource and the fix.
    api.inject(Fault {
        method: Some("PATCH"),
        path_contains: format!("/namespaces/{NS}/workers/ocr/scale"),
        kind: FaultKind::Status(403),
        times: u32::MAX,
        token: None,
    });
    let yaml = format!(
        "{HEAD}{}",
        kind_target("ocr", "ocr", "example.com/v1", "Worker")
    );
    let c = start_with(
        &api,
        &yaml,
        Setup {
            reads: ReadMode::Get,
            ..Setup::default()
        },
    )
    .await;
    c.metrics.set("ocr", 0.0, 4.0);
    let forbidden = error_of(&c, "ocr").await;
    assert!(
        forbidden.contains("Worker.example.com shop/ocr /scale")
            && forbidden.contains("403")
            && forbidden.contains("grant that verb on that resource"),
        "{forbidden}"
    );
    assert_eq!(api.replicas_of("workers", NS, "ocr"), Some(1));
    api.clear_faults();
    eventually(15, "the Worker scaled up once allowed", || async {
        api.replicas_of("workers", NS, "ocr").is_some_and(|r| r > 1)
    })
    .await;
    c.stop().await.expect("clean stop");
    let requests = api.requests();
    let gets = requests
        .iter()
        .filter(|r| {
            r.method == "GET"
                && r.path == format!("/apis/example.com/v1/namespaces/{NS}/workers/ocr")
        })
        .count();
    assert!(gets >= 2, "a GET of the Worker per tick: {gets}");
    assert!(
        !requests
            .iter()
            .any(|r| r.path.starts_with("/apis/example.com/v1/namespaces")
                && r.query.contains("watch")),
        "no watch of Workers with --cluster-reads get"
    );
    // Discovery was asked once for the kind, not once per tick.
    let discovered = requests
        .iter()
        .filter(|r| r.path == "/apis/example.com/v1")
        .count();
    assert_eq!(discovered, 1, "one discovery call for the kind");
}
