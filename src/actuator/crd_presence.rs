//! KEDA's ScaledObject CRD is optional, and most clusters do not have it. Whether it is
//! installed is a state found through API discovery (`GET /apis/keda.sh/v1alpha1`), checked
//! again every few minutes while it is absent; it is never an error loop of failing lists.
//! While absent there are no ScaledObjects, and the cache says so (empty, synced).

use super::cache_watch::{Backoff, Ended, WatchHealth, WatchSettings, Watched, keep_watching};
use super::scale_kind::DISCOVERY_DEADLINE;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::reflector;
use kube::runtime::watcher::Event;
use tokio::sync::watch;

const WHAT: &str = "ScaledObjects (keda.sh/v1alpha1)";

/// What discovery said about the CRD.
enum Presence {
    Installed,
    Absent,
}

/// Does the API server serve `ar`'s resource? `Err` when discovery itself failed.
async fn discover(client: &Client, ar: &ApiResource) -> Result<Presence, String> {
    let asked = client.list_api_group_resources(&ar.api_version);
    match tokio::time::timeout(DISCOVERY_DEADLINE, asked).await {
        Ok(Ok(list)) => Ok(if list.resources.iter().any(|r| r.name == ar.plural) {
            Presence::Installed
        } else {
            Presence::Absent
        }),
        Ok(Err(kube::Error::Api(s))) if s.code == 404 => Ok(Presence::Absent),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {DISCOVERY_DEADLINE:?}")),
    }
}

/// Keep the ScaledObject cache: watched while KEDA is installed, empty (and synced) while
/// it is not, found again by discovery when it is installed later.
pub async fn keep_scaled_objects(
    client: Client,
    ar: ApiResource,
    namespace: Option<String>,
    mut writer: reflector::store::Writer<DynamicObject>,
    health: watch::Sender<WatchHealth>,
    settings: WatchSettings,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = Backoff::new(settings.backoff_min, settings.backoff_max);
    // Logged once per change: `Some(true)` installed, `Some(false)` absent.
    let mut said: Option<bool> = None;
    loop {
        let presence = discover(&client, &ar).await;
        let installed = match presence {
            Ok(Presence::Installed) => true,
            Ok(Presence::Absent) => false,
            Err(e) => {
                if health.borrow().failing_since.is_none() {
                    tracing::warn!(resource = WHAT, error = %e, "API discovery of keda.sh/v1alpha1 failed; keeping the last known state and retrying with back-off");
                    health.send_modify(|h| h.failing_since = Some(tokio::time::Instant::now()));
                } else {
                    tracing::debug!(resource = WHAT, error = %e, "API discovery failed again");
                }
                let wait = backoff.next_delay();
                tokio::select! {
                    _ = stop.wait_for(|s| *s) => return,
                    () = tokio::time::sleep(wait) => {}
                }
                continue;
            }
        };
        backoff.reset();
        if installed {
            if said != Some(true) {
                tracing::info!(resource = WHAT, "KEDA is installed; watching ScaledObjects");
                said = Some(true);
            }
            let watched = Watched {
                what: WHAT,
                absent_ends: true,
                health: &health,
                settings,
            };
            let api: Api<DynamicObject> = match &namespace {
                None => Api::all_with(client.clone(), &ar),
                Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
            };
            match keep_watching(api, &mut writer, watched, &mut stop).await {
                Ended::Stopped => return,
                // Not served any more (404): the CRD was removed, which is the absent state
                // below, re-checked after `crd_recheck` like any absence (never at once, so
                // a discovery that still lists it while the resource 404s is no loop).
                Ended::Absent => {}
            }
        }
        // No CRD, no ScaledObjects: replace the cache with an empty set.
        writer.apply_watcher_event(&Event::Init);
        writer.apply_watcher_event(&Event::InitDone);
        let before = health.send_replace(WatchHealth {
            synced: true,
            failing_since: None,
        });
        if said != Some(false) {
            tracing::info!(
                resource = WHAT,
                recheck_s = settings.crd_recheck.as_secs_f64(),
                "KEDA is not installed (keda.sh/v1alpha1 scaledobjects is not served): there are no ScaledObjects; checking API discovery again periodically"
            );
            said = Some(false);
        } else if before.failing_since.is_some() {
            tracing::info!(resource = WHAT, "API discovery answers again");
        }
        let wait = settings.crd_recheck;
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}
