//! Kubernetes API faults on the write path and on the watches, through the real kube
//! client against the API double: 409, 429, 500, requests that time out, a watch whose
//! resourceVersion is gone (410), and watches cut off.

use crate::api_double::{ApiDouble, Fault, FaultKind};
use crate::controller_harness::{Running, eventually, one_target, start};
use crate::measure::{NS, Recovery, Row, figures, scale_answers, ticks_until};
use std::time::Duration;

/// `web` at 1 replica, prescale wanting 3, with `faults` armed before it starts.
async fn wanting_three(faults: Vec<Fault>) -> (ApiDouble, Running) {
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "web", 1, 1);
    for f in faults {
        api.inject(f);
    }
    let c = start(&api, &one_target("web", "web", "active", 3)).await;
    (api, c)
}

/// Wait until every armed fault has fired; then the ticks until web is at 3.
async fn recovered(api: &ApiDouble, c: &Running) -> (u64, usize) {
    eventually(30, "every injected fault fired", || async {
        api.faults_armed() == 0
    })
    .await;
    let fault_end = api.writes().len();
    let took = ticks_until(c, "web", 30, "web scaled to 3", || async {
        api.replicas(NS, "web") == Some(3)
    })
    .await;
    (took, fault_end)
}

/// A write that loses a race (409 Conflict): re-read, decided again, written.
pub async fn conflict() -> Row {
    let (api, c) = wanting_three(vec![Fault::status(
        "PATCH",
        "/deployments/web/scale",
        409,
        1,
    )])
    .await;
    let (took, _) = recovered(&api, &c).await;
    let answers = scale_answers(&api, "web");
    assert_eq!(answers, [409, 200], "one conflict, then the re-read write");
    Row {
        fault: "API 409 Conflict on the /scale write",
        property: "the Deployment is read again and the decision made again; never an unconditional write",
        measured: "/scale answers 409, 200: written once re-read".into(),
        figures: figures(&api, c, &["web"], 1, None).await,
        recovery: Recovery::Ticks { took, bound: 4 },
    }
}

/// Three `status` answers (429 Too Many Requests, 500 Internal Server Error) to the write.
pub async fn write_failures(status: u16) -> Row {
    let (api, c) = wanting_three(vec![Fault::status(
        "PATCH",
        "/deployments/web/scale",
        status,
        3,
    )])
    .await;
    let (took, _) = recovered(&api, &c).await;
    let answers = scale_answers(&api, "web");
    assert_eq!(
        answers,
        [status, status, status, 200],
        "backed off, then written"
    );
    // A 429 is retried by the kube client itself, after the Retry-After it names (1 s
    // here), within the tick's one write; a 500 fails the write, counted, and the tick
    // backs off.
    let server_errors = c
        .metric("prescale_scale_writes_total{target=\"web\",result=\"server_error\"}")
        .await;
    if status == 429 {
        assert_eq!(server_errors, None, "no failed write");
    } else {
        assert_eq!(server_errors, Some(3.0), "each failed write counted");
    }
    Row {
        fault: if status == 429 {
            "API 429 Too Many Requests on the /scale write (×3)"
        } else {
            "API 500 Internal Server Error on the /scale write (×3)"
        },
        property: if status == 429 {
            "retried after the Retry-After the API server names; never a flood of retries"
        } else {
            "the write fails, is counted, and the tick backs off; retried on a later tick, one attempt per tick"
        },
        measured: if status == 429 {
            "/scale answers 429, 429, 429, 200: retried by the kube client after Retry-After (1 s), no failed write".into()
        } else {
            "/scale answers 500, 500, 500, 200; prescale_scale_writes_total{result=\"server_error\"} 3".to_string()
        },
        figures: figures(&api, c, &["web"], 1, None).await,
        recovery: Recovery::Ticks {
            took,
            bound: if status == 429 { 5 } else { 10 },
        },
    }
}

/// Two writes that hang past the API deadline (2 s here): given up on, then written.
pub async fn timeouts() -> Row {
    let (api, c) = wanting_three(vec![Fault {
        method: Some("PATCH"),
        path_contains: "/deployments/web/scale".into(),
        kind: FaultKind::Delay(Duration::from_secs(30)),
        times: 2,
        token: None,
    }])
    .await;
    eventually(15, "the timeout is reported", || async {
        c.recommendation("web")
            .await
            .is_some_and(|r| r["error"].as_str().is_some_and(|e| e.contains("no answer")))
    })
    .await;
    let (took, _) = recovered(&api, &c).await;
    Row {
        fault: "API request timeout (the /scale write hangs 30 s, ×2)",
        property: "the write is given up at the API deadline and reported (`no answer`); the next tick retries",
        measured:
            "error `no answer` in /recommendations; written on the attempt after the two hung ones"
                .into(),
        figures: figures(&api, c, &["web"], 1, None).await,
        recovery: Recovery::Ticks { took, bound: 10 },
    }
}

/// Watches cut (an API server restart, a network cut: open watches end, new ones get
/// 503) while a person scales web to 2 (below the minimum, 3: prescale would raise it); with `compacted`, the history is compacted too, so
/// resuming from the last resourceVersion answers 410 Gone and the caches list again.
/// Either way the person's change is seen once the watches are back, and not overwritten.
async fn watch_outage(compacted: bool) -> (ApiDouble, Running, u64, usize) {
    let (api, c) = wanting_three(Vec::new()).await;
    eventually(10, "web at 3", || async {
        api.replicas(NS, "web") == Some(3)
    })
    .await;
    api.cut_watches();
    api.scale_by_hand(NS, "web", 2);
    if compacted {
        api.compact();
    }
    let restored = api.requests().len();
    api.restore_watches();
    let took = ticks_until(&c, "web", 20, "the person's 2 seen", || async {
        c.recommendation("web")
            .await
            .is_some_and(|r| r["currentReplicas"] == 2 && r["action"] == "hold:manual_scale")
    })
    .await;
    c.more_ticks("web", 3).await;
    assert_eq!(api.replicas(NS, "web"), Some(2));
    assert_eq!(
        api.scale_writes(),
        [3],
        "nothing written over the person's 2"
    );
    // Lists of the Deployments since the watches were restored.
    let relists = api.requests()[restored..]
        .iter()
        .filter(|r| {
            r.method == "GET" && r.path.ends_with("/deployments") && !r.query.contains("watch=")
        })
        .count();
    (api, c, took, relists)
}

/// [`watch_outage`] with the history compacted: 410 Gone.
pub async fn watch_gone() -> Row {
    let (api, c, took, relists) = watch_outage(true).await;
    assert!(relists >= 1, "the 410 made the Deployment cache list again");
    Row {
        fault: "watch 410 Gone (history compacted while the watch was down)",
        property: "the cache lists again and sees every change made meanwhile; nothing written from the stale cache",
        measured: "410 in the resumed watch, the cache listed again; a person's scale to 2 made meanwhile seen (`hold:manual_scale`) and kept (no write)".into(),
        figures: figures(&api, c, &["web"], 2, None).await,
        recovery: Recovery::Ticks { took, bound: 20 },
    }
}

/// [`watch_outage`]: the watches resume.
pub async fn watch_cut() -> Row {
    let (api, c, took, _) = watch_outage(false).await;
    Row {
        fault: "watches cut (open watches end, new ones get 503)",
        property: "the watches come back on their own (back-off) and deliver what changed meanwhile; nothing written from the stale cache",
        measured: "a person's scale to 2 made during the cut seen (`hold:manual_scale`) and kept (no write)".into(),
        figures: figures(&api, c, &["web"], 2, None).await,
        recovery: Recovery::Ticks { took, bound: 20 },
    }
}
