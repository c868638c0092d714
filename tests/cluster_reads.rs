//! How ticks read the cluster: by default from watch-backed caches of the targets'
//! namespaces (no API call per tick, changes seen through the watch, namespaces followed as
//! the config changes); with `--cluster-reads get`, one GET per target per tick.

#[path = "support/api_double/mod.rs"]
mod api_double;
#[path = "support/controller_harness.rs"]
mod controller_harness;
#[path = "support/metrics_double.rs"]
mod metrics_double;

use api_double::{ApiDouble, Request};
use controller_harness::{HEAD, Setup, eventually, start_with, target};
use prescale::controller::ReadMode;

/// `target(...)` in namespace `ns` instead of `shop`.
fn target_in(ns: &str, name: &str) -> String {
    target(name, name, "shadow", 1).replace("namespace: shop", &format!("namespace: {ns}"))
}

fn deployment_requests(api: &ApiDouble) -> Vec<Request> {
    api.requests()
        .into_iter()
        .filter(|r| r.path.contains("/deployments"))
        .collect()
}

fn is_watch(r: &Request) -> bool {
    r.query.split('&').any(|kv| kv == "watch=true")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticks_read_a_watch_cache_of_the_targets_namespaces_and_never_get() {
    let api = ApiDouble::start().await;
    for name in ["a", "b", "c"] {
        api.put_deployment("shop", name, 1, 1);
    }
    api.put_deployment("other", "d", 1, 1);
    api.put_deployment("elsewhere", "e", 1, 1);
    let yaml = format!(
        "{HEAD}{}{}{}{}",
        target_in("shop", "a"),
        target_in("shop", "b"),
        target_in("shop", "c"),
        target_in("other", "d"),
    );
    let c = start_with(&api, &yaml, Setup::default()).await;
    for t in ["a", "b", "c", "d"] {
        c.more_ticks(t, 5).await;
    }

    let requests = deployment_requests(&api);
    let gets: Vec<_> = requests
        .iter()
        .filter(|r| r.method == "GET" && r.path.split('/').count() > 7)
        .collect();
    assert!(gets.is_empty(), "no GET of a Deployment: {gets:?}");
    let mut collections: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    collections.sort();
    collections.dedup();
    assert_eq!(
        collections,
        [
            "/apis/apps/v1/namespaces/other/deployments",
            "/apis/apps/v1/namespaces/shop/deployments"
        ],
        "only the targets' namespaces, never cluster-wide"
    );
    // Per namespace: one list and one watch (the double never ends a watch here).
    for ns in ["shop", "other"] {
        let path = format!("/apis/apps/v1/namespaces/{ns}/deployments");
        let of_ns: Vec<_> = requests.iter().filter(|r| r.path == path).collect();
        assert_eq!(
            of_ns.iter().filter(|r| !is_watch(r)).count(),
            1,
            "{of_ns:?}"
        );
        assert_eq!(of_ns.iter().filter(|r| is_watch(r)).count(), 1, "{of_ns:?}");
    }

    // A change is seen through the watch, without a read.
    api.scale_by_hand("shop", "b", 4);
    eventually(10, "the new replicas in b's report", || async {
        c.recommendation("b")
            .await
            .is_some_and(|r| r["currentReplicas"] == 4)
    })
    .await;
    // A Deployment created after its target started is found once it exists.
    let with_f = format!("{yaml}{}", target_in("other", "f"));
    c.write_config(&with_f);
    eventually(10, "f reported missing", || async {
        c.recommendation("f")
            .await
            .is_some_and(|r| r["error"].as_str().is_some_and(|e| e.contains("not found")))
    })
    .await;
    api.put_deployment("other", "f", 2, 2);
    eventually(10, "f read once created", || async {
        c.recommendation("f")
            .await
            .is_some_and(|r| r["currentReplicas"] == 2)
    })
    .await;

    // A reload into a new namespace starts following it.
    c.write_config(&format!("{with_f}{}", target_in("elsewhere", "e")));
    eventually(10, "e read from its namespace's cache", || async {
        c.recommendation("e")
            .await
            .is_some_and(|r| r["currentReplicas"] == 1)
    })
    .await;
    assert!(
        deployment_requests(&api)
            .iter()
            .all(|r| r.method != "GET" || r.path.split('/').count() <= 7),
        "still no GET of a Deployment"
    );
    c.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_get_reads_each_tick_gets_its_deployment_and_nothing_is_watched() {
    let api = ApiDouble::start().await;
    api.put_deployment("shop", "a", 1, 1);
    let setup = Setup {
        reads: ReadMode::Get,
        ..Setup::default()
    };
    let c = start_with(&api, &format!("{HEAD}{}", target_in("shop", "a")), setup).await;
    c.more_ticks("a", 1).await;
    let before = deployment_requests(&api).len();
    c.more_ticks("a", 4).await;
    let requests = deployment_requests(&api);
    assert!(
        requests
            .iter()
            .all(|r| r.method == "GET" && r.path == "/apis/apps/v1/namespaces/shop/deployments/a"),
        "only GETs of the Deployment: {requests:?}"
    );
    assert!(requests.len() - before >= 4, "one GET per tick");
    c.stop().await.expect("clean stop");
}
