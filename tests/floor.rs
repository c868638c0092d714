//! A predictive floor under an HPA or a KEDA ScaledObject (`actuation: hpaMinReplicas` /
//! `kedaMinReplicaCount`), through the real kube client against the API double: the floor
//! is raised to the recommendation and returned to the owner's own value (remembered on
//! the object, so a new instance returns it too), written only on change with the object's
//! resourceVersion (a 409 re-reads), the owner's edit is adopted and said with an Event,
//! shadow mode only reports, and a missing autoscaler is said rather than guessed at.

#[path = "support/api_double/mod.rs"]
mod api_double;
#[path = "support/controller_harness.rs"]
mod controller_harness;
#[path = "support/metrics_double.rs"]
mod metrics_double;

use api_double::{ApiDouble, Fault, FaultKind};
use controller_harness::{HEAD, Running, TEST_SPEED, eventually, start};
use prescale::actuator::{FLOOR_ANNOTATION, OWNER_MIN_ANNOTATION};
use std::time::Duration;

const NS: &str = "shop";
const HPAS: &str = "horizontalpodautoscalers";
const SOS: &str = "scaledobjects";

/// A floor target on Deployment `web` at test speed ([`TEST_SPEED`]): the recommendation
/// follows the arrival rate the test sets (1 document/s per replica).
/// Its own `minReplicas` is 0: a floor is raised by demand only, never by prescale's
/// minimum (which would hold a ScaledObject that scales to zero at 1).
fn config(mode: &str, actuation: &str) -> String {
    format!(
        "{HEAD}  - name: web
    scaleTargetRef: {{ namespace: {NS}, name: web }}
    mode: {mode}
    actuation: {actuation}
{TEST_SPEED}    minReplicas: 0
    maxReplicas: 50
    events: {{ minInterval: 0s }}
    metrics:
      queueDepth: {{ promql: 'sum(queue_depth)' }}
      arrivalRate: {{ promql: 'sum(rate(arrivals_total[1m]))' }}
"
    )
}

async fn recommended(c: &Running) -> Option<u64> {
    c.recommendation("web")
        .await
        .and_then(|r| r["recommendedReplicas"].as_u64())
}

fn patches_of(api: &ApiDouble, resource: &str) -> Vec<api_double::Write> {
    api.writes()
        .into_iter()
        .filter(|w| w.method == "PATCH" && w.path.contains(&format!("/{resource}/")))
        .collect()
}

fn event_notes(api: &ApiDouble, object: &str, reason: &str) -> Vec<String> {
    api.events()
        .into_iter()
        .filter(|e| e["regarding"]["name"] == object && e["reason"] == reason)
        .filter_map(|e| e["note"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hpa_floor_is_raised_for_the_peak_follows_the_owner_and_is_returned_after() {
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "web", 2, 2);
    api.put_hpa_with(NS, "web-hpa", "web", Some(2), 20);
    let c = start(&api, &config("active", "hpaMinReplicas")).await;
    // The peak: 8 documents/s.
    c.metrics.set("web", 0.0, 8.0);

    let floor = || api.spec_number(HPAS, NS, "web-hpa", "minReplicas");
    eventually(
        10,
        "the HPA's floor raised to the recommendation",
        || async {
            let r = recommended(&c).await;
            r.is_some_and(|r| r > 2) && floor() == r
        },
    )
    .await;
    let raised = floor().expect("minReplicas");
    assert_eq!(
        api.annotation(HPAS, NS, "web-hpa", OWNER_MIN_ANNOTATION)
            .as_deref(),
        Some("2"),
        "the owner's value is remembered on the HPA"
    );
    assert_eq!(
        api.annotation(HPAS, NS, "web-hpa", FLOOR_ANNOTATION),
        Some(raised.to_string())
    );
    // prescale did not touch the Deployment: the HPA keeps scaling it, above the floor.
    assert!(api.scale_writes().is_empty(), "{:?}", api.writes());
    assert_eq!(api.replicas(NS, "web"), Some(2));
    // Each write is a merge patch carrying the resourceVersion it read, as prescale.
    let writes = patches_of(&api, HPAS);
    assert!(!writes.is_empty());
    for w in &writes {
        assert_eq!(
            w.path,
            format!("/apis/autoscaling/v2/namespaces/{NS}/{HPAS}/web-hpa")
        );
        assert!(
            w.body["metadata"]["resourceVersion"].is_string(),
            "{}",
            w.body
        );
    }
    assert!(
        api.requests()
            .iter()
            .filter(|r| r.method == "PATCH" && r.path.contains(HPAS))
            .all(|r| r.query.contains("fieldManager=prescale")),
        "written with prescale's own field manager"
    );
    eventually(10, "a FloorRaised Event on the HPA", || async {
        !event_notes(&api, "web-hpa", "FloorRaised").is_empty()
    })
    .await;
    let report = c.recommendation("web").await.expect("report");
    assert_eq!(report["floor"]["kind"], "HorizontalPodAutoscaler");
    assert_eq!(report["floor"]["name"], "web-hpa");
    assert_eq!(report["floor"]["ownerValue"], 2);
    assert_eq!(report["floor"]["holding"], true);
    assert_eq!(
        c.metric("prescale_floor_owner_replicas{target=\"web\"}")
            .await,
        Some(2.0)
    );

    // Steady load: no write while nothing changes.
    let before = patches_of(&api, HPAS).len();
    c.more_ticks("web", 5).await;
    assert_eq!(
        patches_of(&api, HPAS).len(),
        before,
        "a floor is written only on change"
    );

    // The owner raises their own minimum while prescale holds the floor: 3 becomes the
    // value returned to, an Event says so, and the floor is held over it again.
    api.edit_spec_by_hand(HPAS, NS, "web-hpa", "minReplicas", Some(3), "kubectl-edit");
    eventually(
        10,
        "the owner's 3 remembered and the floor held again",
        || async {
            api.annotation(HPAS, NS, "web-hpa", OWNER_MIN_ANNOTATION)
                .as_deref()
                == Some("3")
                && floor() == Some(raised)
        },
    )
    .await;
    let notes = event_notes(&api, "web-hpa", "FloorOwnerChanged");
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].contains("to 3 by kubectl-edit") && notes[0].contains("returns to"),
        "{}",
        notes[0]
    );

    // The peak passes: the floor returns to the owner's (new) value exactly, and prescale's
    // annotations go.
    c.metrics.set("web", 0.0, 0.0);
    eventually(10, "the floor returned to 3", || async {
        floor() == Some(3)
            && api
                .annotation(HPAS, NS, "web-hpa", OWNER_MIN_ANNOTATION)
                .is_none()
            && api
                .annotation(HPAS, NS, "web-hpa", FLOOR_ANNOTATION)
                .is_none()
    })
    .await;
    eventually(10, "a FloorReturned Event", || async {
        !event_notes(&api, "web-hpa", "FloorReturned").is_empty()
    })
    .await;
    c.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scaled_object_floor_survives_a_409_and_a_new_instance_returns_it() {
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "web", 1, 1);
    // The owner never set minReplicaCount (KEDA reads it as 0).
    api.put_scaled_object_with(NS, "web-so", "web", None, Some(30));
    // The first floor write loses a race: 409, re-read, written.
    api.inject(Fault::status("PATCH", "/scaledobjects/web-so", 409, 1));
    let c = start(&api, &config("active", "kedaMinReplicaCount")).await;
    c.metrics.set("web", 0.0, 6.0);
    let floor = || api.spec_number(SOS, NS, "web-so", "minReplicaCount");
    eventually(10, "the ScaledObject's floor raised", || async {
        let r = recommended(&c).await;
        r.is_some_and(|r| r > 1) && floor() == r
    })
    .await;
    let statuses: Vec<u16> = patches_of(&api, SOS).iter().map(|w| w.status).collect();
    assert_eq!(statuses.first(), Some(&409), "{statuses:?}");
    assert!(statuses[1..].iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(
        api.annotation(SOS, NS, "web-so", OWNER_MIN_ANNOTATION)
            .as_deref(),
        Some("unset")
    );
    c.stop().await.expect("clean stop");

    // Another instance (a new leader, a restarted pod) knows nothing in memory: the
    // annotations tell it the owner's value, and it returns the field to unset.
    let c = start(&api, &config("active", "kedaMinReplicaCount")).await;
    c.metrics.set("web", 0.0, 0.0);
    eventually(10, "minReplicaCount removed again", || async {
        api.get(SOS, NS, "web-so")
            .is_some_and(|o| o["spec"].get("minReplicaCount").is_none())
            && api
                .annotation(SOS, NS, "web-so", FLOOR_ANNOTATION)
                .is_none()
    })
    .await;
    c.stop().await.expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_reports_the_floor_it_would_set_and_a_missing_autoscaler_is_said() {
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "web", 1, 1);
    api.put_hpa_with(NS, "web-hpa", "web", Some(2), 3);
    // Deployment `api` only has the HPA KEDA made for its ScaledObject.
    api.put_deployment(NS, "api", 1, 1);
    api.put_scaled_object_with(NS, "api-so", "api", Some(1), None);
    api.put_keda_hpa(NS, "keda-hpa-api-so", "api", "api-so");
    let yaml = format!(
        "{}{}",
        config("shadow", "hpaMinReplicas"),
        config("active", "hpaMinReplicas")
            .trim_start_matches(HEAD)
            .replace("name: web\n", "name: api\n")
            .replace("name: web }", "name: api }")
    );
    // The ScaledObjects cache syncs late: the first ticks cannot know the autoscaler yet,
    // and the Recommendation Event must still come (with the floor) once they can.
    api.inject(Fault {
        method: Some("GET"),
        path_contains: "/scaledobjects".into(),
        kind: FaultKind::DelayThenServe(Duration::from_millis(800)),
        times: 1,
        token: None,
    });
    let c = start(&api, &yaml).await;
    // 12 documents/s: above the HPA's maxReplicas of 3.
    c.metrics.set("web", 0.0, 12.0);
    c.metrics.set("api", 0.0, 4.0);

    eventually(
        10,
        "the floor shadow mode would set, capped at the HPA's max",
        || async {
            c.recommendation("web").await.is_some_and(|r| {
                r["recommendedReplicas"].as_u64().is_some_and(|n| n > 3)
                    && r["floor"]["floor"] == 3
                    && r["floor"]["ownerValue"] == 2
                    && r["action"] == "hold:shadow"
            })
        },
    )
    .await;
    eventually(10, "a Recommendation Event naming the floor", || async {
        event_notes(&api, "web", "Recommendation")
            .iter()
            .any(|n| n.contains("would set HorizontalPodAutoscaler web-hpa spec.minReplicas to 3"))
    })
    .await;

    // `api` has no HPA of its own, only KEDA's: nothing is written, and the fix is said.
    eventually(10, "no autoscaler for api, said", || async {
        c.recommendation("api")
            .await
            .is_some_and(|r| r["action"] == "hold:no_autoscaler")
            && c.metric("prescale_write_blocked{target=\"api\",kind=\"no_autoscaler\"}")
                .await
                == Some(1.0)
    })
    .await;
    eventually(10, "a NoAutoscaler Warning Event", || async {
        event_notes(&api, "api", "NoAutoscaler")
            .iter()
            .any(|n| n.contains("keda-hpa-api-so") && n.contains("kedaMinReplicaCount"))
    })
    .await;
    c.more_ticks("web", 3).await;
    // Shadow mode and the blocked target neither read nor wrote any autoscaler object: the
    // watch caches answer.
    assert!(
        api.requests()
            .iter()
            .all(|r| !(r.path.contains("/horizontalpodautoscalers/")
                || r.path.contains("/scaledobjects/"))),
        "{:?}",
        api.requests()
    );
    assert_eq!(api.spec_number(HPAS, NS, "web-hpa", "minReplicas"), Some(2));
    c.stop().await.expect("clean stop");
}
