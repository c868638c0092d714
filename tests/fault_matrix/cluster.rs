//! Faults in what prescale is told and what it scales: an invalid config reloaded, the
//! target Deployment deleted and re-created, an HPA created while the watch is down, a
//! person's `kubectl scale`, a GitOps tool resetting `spec.replicas`.

use crate::api_double::{ApiDouble, Fault};
use crate::controller_harness::{eventually, one_target, start, target};
use crate::measure::{Figures, NS, Recovery, Row, figures, report, scale_answers, ticks_until};

/// An invalid config (minReplicas above maxReplicas) is rejected whole; the good one
/// stays in force; the next valid one applies.
pub async fn invalid_reload() -> Row {
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "web", 1, 1);
    api.put_deployment(NS, "api", 1, 1);
    let good = format!(
        "{}{}",
        one_target("web", "web", "active", 2),
        target("api", "api", "active", 2)
    );
    let c = start(&api, &good).await;
    eventually(10, "web and api at 2", || async {
        api.replicas(NS, "web") == Some(2) && api.replicas(NS, "api") == Some(2)
    })
    .await;

    c.write_config(
        &one_target("web", "web", "active", 9).replace("maxReplicas: 20", "maxReplicas: 2"),
    );
    eventually(10, "the invalid reload rejected", || async {
        c.metric("prescale_config_reload_total{result=\"rejected\"}")
            .await
            == Some(1.0)
    })
    .await;
    // The good config is still in force for both targets: a re-created `api` (which the
    // invalid config drops) is scaled to the good config's minimum again.
    api.delete("deployments", NS, "api");
    api.put_deployment(NS, "api", 1, 1);
    eventually(10, "the good config still scales api", || async {
        api.replicas(NS, "api") == Some(2)
    })
    .await;
    let mut lost = 0;
    for t in ["web", "api"] {
        if c.recommendation(t)
            .await
            .is_none_or(|r| r["recommendedReplicas"] != 2)
        {
            lost += 1;
        }
    }
    let lost = u32::from(lost > 0);
    assert_eq!(api.replicas(NS, "web"), Some(2));

    // Fixed: the next valid config applies.
    let before = c.ticks("web").await;
    c.write_config(&one_target("web", "web", "active", 4));
    eventually(10, "the valid config applied", || async {
        api.replicas(NS, "web") == Some(4)
    })
    .await;
    let took = (c.ticks("web").await - before) as u64;
    Row {
        fault: "invalid config reloaded (minReplicas above maxReplicas)",
        property: "rejected whole and counted; the last good config stays in force for every target; the next valid one applies",
        measured: "prescale_config_reload_total{result=\"rejected\"} 1; both targets kept the good config; the fixed config applied".into(),
        figures: Figures {
            configs_lost: lost,
            ..figures(&api, c, &["web", "api"], 2, None).await
        },
        recovery: Recovery::Ticks { took, bound: 8 },
    }
}

/// The Deployment is deleted (404), then re-created below the minimum with a new uid.
pub async fn recreated() -> Row {
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "web", 3, 3);
    let c = start(&api, &one_target("web", "web", "active", 3)).await;
    eventually(10, "first tick", || async {
        c.recommendation("web")
            .await
            .is_some_and(|r| r["error"].is_null())
    })
    .await;

    api.delete("deployments", NS, "web");
    eventually(10, "not found reported", || async {
        c.recommendation("web")
            .await
            .is_some_and(|r| r["error"].as_str().is_some_and(|e| e.contains("not found")))
    })
    .await;
    c.more_ticks("web", 3).await;
    assert!(
        c.metric("prescale_tick_errors_total{target=\"web\",stage=\"deployment\"}")
            .await
            .is_some_and(|v| v >= 1.0)
    );
    let missing = report(&c, "web").await;
    assert!(
        scale_answers(&api, "web").is_empty(),
        "no write to a missing Deployment"
    );
    // Re-created below the minimum: scaled as a new object, not taken for a person's
    // scale from the old object's memory.
    api.put_deployment(NS, "web", 1, 1);
    let took = ticks_until(&c, "web", 10, "the new web scaled to 3", || async {
        api.replicas(NS, "web") == Some(3)
    })
    .await;
    assert_eq!(
        c.metric("prescale_manual_scale_total{target=\"web\"}")
            .await,
        None
    );
    Row {
        fault: "target Deployment deleted, then re-created",
        property: "no write to the missing object (404 held, with the reason); the new object (new uid) is scaled from its own state, not the old one's",
        measured: format!(
            "no /scale request while deleted (error: {}); the re-created one scaled 1 → 3, no manual scale counted",
            missing["error"]
                .as_str()
                .unwrap_or("")
                .split(':')
                .next()
                .unwrap_or("")
        ),
        figures: figures(&api, c, &["web"], 3, None).await,
        recovery: Recovery::Ticks { took, bound: 6 },
    }
}

/// An HPA for the target is created while the watches are cut and HPA lists fail.
pub async fn hpa_while_watch_down() -> Row {
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "web", 1, 1);
    let c = start(&api, &one_target("web", "web", "active", 3)).await;
    eventually(10, "web scaled to 3", || async {
        api.replicas(NS, "web") == Some(3)
    })
    .await;
    api.cut_watches();
    api.inject(Fault::status(
        "GET",
        "horizontalpodautoscalers",
        500,
        10_000,
    ));
    api.put_hpa(NS, "web-hpa", "web");
    // Counted before: the ticks before the caches first synced.
    let conflicts = "prescale_tick_errors_total{target=\"web\",stage=\"conflicts\"}";
    let before = c.metric(conflicts).await.unwrap_or(0.0);
    eventually(10, "the failing watch is no longer trusted", || async {
        c.metric(conflicts).await.is_some_and(|n| n > before)
    })
    .await;
    // prescale now wants 4, but cannot tell whether web is someone else's: it holds.
    c.write_config(&one_target("web", "web", "active", 4));
    eventually(10, "held as unsynced", || async {
        c.recommendation("web")
            .await
            .is_some_and(|r| r["recommendedReplicas"] == 4 && r["action"] == "hold:unsynced")
            && c.metric("prescale_write_blocked{target=\"web\",kind=\"unsynced\"}")
                .await
                == Some(1.0)
    })
    .await;
    c.more_ticks("web", 3).await;
    assert_eq!(api.replicas(NS, "web"), Some(3));
    api.clear_faults();
    api.restore_watches();
    let took = ticks_until(&c, "web", 20, "the new HPA seen", || async {
        c.recommendation("web")
            .await
            .is_some_and(|r| r["action"] == "hold:other_autoscaler")
    })
    .await;
    c.more_ticks("web", 3).await;
    assert_eq!(api.scale_writes(), [3], "nothing written over the HPA");
    Row {
        fault: "HPA created while the watch is down",
        property: "no write while the HPA cache cannot be trusted (`hold:unsynced`); once it lists again the HPA is seen and the target left to it",
        measured:
            "/scale writes: [3] (before the cut) only; held unsynced, then `hold:other_autoscaler`"
                .into(),
        figures: figures(&api, c, &["web"], 3, None).await,
        recovery: Recovery::Ticks { took, bound: 15 },
    }
}

/// A person scales below the minimum: reported, not fought within the cooldown.
pub async fn manual_scale() -> Row {
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "web", 3, 3);
    let c = start(&api, &one_target("web", "web", "active", 3)).await;
    eventually(10, "first tick", || async {
        c.recommendation("web").await.is_some()
    })
    .await;
    api.scale_by_hand(NS, "web", 1);
    let took = ticks_until(&c, "web", 10, "manual scale seen and said", || async {
        c.metric("prescale_manual_scale_total{target=\"web\"}")
            .await
            == Some(1.0)
            && api
                .event_reasons("web")
                .contains(&"ManualScale".to_string())
    })
    .await;
    c.more_ticks("web", 5).await;
    assert_eq!(api.replicas(NS, "web"), Some(1));
    assert!(api.scale_writes().is_empty(), "{:?}", api.writes());
    assert_eq!(report(&c, "web").await["action"], "hold:manual_scale");
    Row {
        fault: "manual `kubectl scale` (below minReplicas)",
        property: "the person's value is kept for the cooldown (300 s): counted, an Event, `hold:manual_scale`; no write (recovered: the hold decided)",
        measured: "prescale_manual_scale_total 1 and a ManualScale Event; /scale writes during the cooldown: 0".into(),
        figures: figures(&api, c, &["web"], 1, None).await,
        recovery: Recovery::Ticks { took, bound: 5 },
    }
}

/// The notes of the Events about `web` with `reason`, in creation order.
fn notes(api: &ApiDouble, reason: &str) -> Vec<String> {
    api.events_about("web")
        .iter()
        .filter(|e| e["reason"] == reason)
        .filter_map(|e| e["note"].as_str().map(str::to_string))
        .collect()
}

/// A GitOps tool syncs the manifest's replicas: written back once; a tool resetting every
/// write is left alone.
pub async fn gitops_reset() -> Row {
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "web", 1, 1);
    let c = start(&api, &one_target("web", "web", "active", 3)).await;
    eventually(10, "prescale scaled to 3", || async {
        api.replicas(NS, "web") == Some(3)
    })
    .await;
    // Argo CD syncs the manifest's replicas: 1. Not a person (whose scale would hold
    // writes for 5 minutes): written back at once, and said how to stop it. The Event is
    // queued by the tick that writes: waited for too.
    api.sync_replicas_as(NS, "web", 1, "argocd-controller");
    let took = ticks_until(&c, "web", 10, "3 written back, and said", || async {
        api.replicas(NS, "web") == Some(3)
            && api.scale_writes().len() == 2
            && !notes(&api, "GitOpsReset").is_empty()
    })
    .await;
    let reset = notes(&api, "GitOpsReset");
    assert_eq!(reset.len(), 1, "{reset:?}");
    assert!(
        reset[0].contains("argocd-controller") && reset[0].contains("ignoreDifferences"),
        "{}",
        reset[0]
    );
    assert!(notes(&api, "ManualScale").is_empty());
    assert_eq!(
        c.metric("prescale_gitops_resets_total{target=\"web\"}")
            .await,
        Some(1.0)
    );
    // It resets again: the tool resets every write. prescale stops fighting it.
    api.sync_replicas_as(NS, "web", 1, "argocd-controller");
    eventually(10, "writes left to the GitOps tool, said", || async {
        c.recommendation("web")
            .await
            .is_some_and(|r| r["action"] == "hold:gitops")
            && c.metric("prescale_write_blocked{target=\"web\",kind=\"gitops\"}")
                .await
                == Some(1.0)
            && !notes(&api, "GitOpsConflict").is_empty()
    })
    .await;
    c.more_ticks("web", 5).await;
    assert_eq!(api.replicas(NS, "web"), Some(1));
    assert_eq!(api.scale_writes(), [3, 3], "no fight with the tool");
    Row {
        fault: "GitOps tool resetting `spec.replicas` (Argo CD's field manager)",
        property: "a reset is written back once (not taken for a person); a tool that resets every write is left alone (`hold:gitops`), no write war",
        measured: "/scale writes: 3, 3 (the write-back); then `hold:gitops`, no further write"
            .into(),
        figures: figures(&api, c, &["web"], 1, None).await,
        recovery: Recovery::Ticks { took, bound: 4 },
    }
}
