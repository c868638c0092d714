//! Sharding on Kubernetes Leases (`prescale run --shards N`), in-process against the API
//! double through the real kube client: replicas split the shards' Leases at most their fair
//! share each, a crashed replica's shards pass to the others once its Leases expire, a new
//! replica gets its share by asking (the others hand shards over one at a time), and with
//! the API double's record of every write: each target is written only under its shard's
//! Lease, never by two replicas ([`api_double::ApiDouble::assert_never_two_writers_under`]).
//!
//! Each replica runs on its own tokio runtime, so a crash is the runtime dropped: every task
//! stops where it is, nothing is released (as with SIGKILL).

#[path = "support/api_double/mod.rs"]
mod api_double;
#[path = "support/controller_harness.rs"]
mod controller_harness;
#[path = "support/metrics_double.rs"]
mod metrics_double;

use api_double::ApiDouble;
use controller_harness::{HEAD, Running, Setup, eventually, start_with, target};
use prescale::leader::{LeaseSettings, fence_name, lease_name, shard_of};
use std::collections::BTreeMap;
use std::time::Duration;

const NS: &str = "shop";
const SHARDS: u32 = 6;
const LEASE: Duration = Duration::from_secs(3);
const DEPLOYMENTS: usize = 8;

fn lease(identity: &str, shards: u32) -> LeaseSettings {
    LeaseSettings {
        lease_duration: LEASE,
        renew_deadline: Duration::from_secs(2),
        retry_period: Duration::from_millis(100),
        shards,
        ..LeaseSettings::new("prescale-leader".into(), "prescale".into(), identity.into())
    }
}

/// Every Deployment `w0..` as an active target with at least `min` replicas.
fn config(min: u32) -> String {
    let mut yaml = HEAD.to_string();
    for i in 0..DEPLOYMENTS {
        yaml.push_str(&target(&format!("w{i}"), &format!("w{i}"), "active", min));
    }
    yaml
}

/// A replica on its own runtime: dropping the runtime is a crash.
struct Replica {
    running: Option<Running>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Replica {
    async fn start(api: &ApiDouble, identity: &str, min: u32) -> Replica {
        Self::start_sharded(api, identity, min, SHARDS).await
    }

    /// A replica run with `--shards shards`.
    async fn start_sharded(api: &ApiDouble, identity: &str, min: u32, shards: u32) -> Replica {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let (api, identity) = (api.clone(), identity.to_string());
        let (runtime, running) = tokio::task::spawn_blocking(move || {
            let running = runtime.block_on(start_with(
                &api,
                &config(min),
                Setup {
                    lease: Some(lease(&identity, shards)),
                    token: Some(identity.clone()),
                    ..Setup::default()
                },
            ));
            (runtime, running)
        })
        .await
        .expect("start replica");
        Replica {
            running: Some(running),
            runtime: Some(runtime),
        }
    }

    fn running(&self) -> &Running {
        self.running.as_ref().expect("running")
    }

    /// Stop as on SIGTERM: step down and release every Lease held.
    async fn stop(mut self) {
        let (running, runtime) = (self.running.take(), self.runtime.take());
        if let (Some(running), Some(runtime)) = (running, runtime) {
            tokio::task::spawn_blocking(move || {
                runtime
                    .block_on(running.stop())
                    .expect("a graceful stop succeeds");
                runtime.shutdown_background();
            })
            .await
            .expect("stop replica");
        }
    }

    /// Stop every task at once without releasing anything.
    fn crash(&mut self) {
        self.running = None;
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.crash();
    }
}

/// The holder of each shard's Lease, as the API server has it.
fn holders(api: &ApiDouble) -> Vec<Option<String>> {
    holders_of(api, SHARDS)
}

/// The holder of each Lease of `shards` shards.
fn holders_of(api: &ApiDouble, shards: u32) -> Vec<Option<String>> {
    (0..shards)
        .map(|s| {
            api.get(
                "leases",
                "prescale",
                &lease_name("prescale-leader", s, shards),
            )
            .and_then(|l| l["spec"]["holderIdentity"].as_str().map(str::to_string))
        })
        .collect()
}

/// Leases of `shards` shards held, per holder.
fn counts_of(api: &ApiDouble, shards: u32) -> BTreeMap<String, usize> {
    let mut c = BTreeMap::new();
    for h in holders_of(api, shards).into_iter().flatten() {
        *c.entry(h).or_default() += 1;
    }
    c
}

fn shard_of_deployment(name: &str) -> u32 {
    shard_of("apps", "Deployment", NS, name, SHARDS)
}

/// The Lease a write to the Deployment at `path` must be made under.
fn lease_of(path: &str) -> Option<String> {
    let name = path.rsplit('/').next()?;
    Some(lease_name(
        "prescale-leader",
        shard_of_deployment(name),
        SHARDS,
    ))
}

fn all_at(api: &ApiDouble, replicas: u32) -> bool {
    (0..DEPLOYMENTS).all(|i| api.replicas(NS, &format!("w{i}")) == Some(replicas))
}

/// Raise every target's minimum to `min` on `replicas` and check that each Deployment is
/// then written by the holder of its shard's Lease, and only by it.
async fn every_target_written_by_its_shards_holder(
    api: &ApiDouble,
    replicas: &[&Replica],
    min: u32,
) {
    let before = api.applied_scale_writes().len();
    let owners = holders(api);
    for r in replicas {
        r.running().write_config(&config(min));
    }
    eventually(20, &format!("every Deployment at {min}"), || async {
        all_at(api, min)
    })
    .await;
    assert_eq!(holders(api), owners, "no shard moved meanwhile");
    let writes = api.applied_scale_writes();
    assert!(writes.len() >= before + DEPLOYMENTS);
    for w in &writes[before..] {
        let name = w.deployment.rsplit('/').next().unwrap_or_default();
        let holder = owners[shard_of_deployment(name) as usize].as_deref();
        assert_eq!(
            Some(w.writer.as_str()),
            holder,
            "{name} (shard {}) written by {} while {holder:?} holds its Lease",
            shard_of_deployment(name),
            w.writer
        );
    }
}

async fn balanced(api: &ApiDouble, who: &[&str], each: usize) {
    balanced_of(api, SHARDS, who, each).await;
}

/// Wait until `who` hold `each` of the `shards` shards' Leases each.
async fn balanced_of(api: &ApiDouble, shards: u32, who: &[&str], each: usize) {
    let want: BTreeMap<String, usize> = who.iter().map(|w| (w.to_string(), each)).collect();
    eventually(
        30,
        &format!("{who:?} hold {each} of {shards} shards each"),
        || async { counts_of(api, shards) == want },
    )
    .await;
}

/// The API double with the Deployments `w0..`, one replica each.
async fn setup_api() -> ApiDouble {
    let api = ApiDouble::start().await;
    for i in 0..DEPLOYMENTS {
        api.put_deployment(NS, &format!("w{i}"), 1, 1);
    }
    api
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_hold_two_of_six_shards_each_and_write_their_own_targets_only() {
    let api = setup_api().await;
    let mut replicas = Vec::new();
    for id in ["a", "b", "c"] {
        replicas.push(Replica::start(&api, id, 2).await);
    }
    balanced(&api, &["a", "b", "c"], 2).await;
    eventually(20, "every Deployment at 2", || async { all_at(&api, 2) }).await;
    for r in &replicas {
        eventually(10, "prescale_shards_held 2", || async {
            r.running().metric("prescale_shards_held").await == Some(2.0)
        })
        .await;
    }
    let refs: Vec<&Replica> = replicas.iter().collect();
    every_target_written_by_its_shards_holder(&api, &refs, 3).await;
    // Each replica exports the series of its shards' targets only: over the three, every
    // target exactly once.
    let mut exported = BTreeMap::new();
    for r in &replicas {
        for i in 0..DEPLOYMENTS {
            let series = format!("prescale_recommended_replicas{{target=\"w{i}\"}}");
            if r.running().metric(&series).await.is_some() {
                *exported.entry(i).or_insert(0) += 1;
            }
        }
    }
    assert!(
        (0..DEPLOYMENTS).all(|i| exported.get(&i) == Some(&1)),
        "{exported:?}"
    );
    api.assert_never_two_writers_under(lease_of);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_replicas_shards_pass_to_the_others_within_the_lease_and_never_two_writers() {
    let api = setup_api().await;
    let a = Replica::start(&api, "a", 2).await;
    let b = Replica::start(&api, "b", 2).await;
    let mut c = Replica::start(&api, "c", 2).await;
    balanced(&api, &["a", "b", "c"], 2).await;
    eventually(20, "every Deployment at 2", || async { all_at(&api, 2) }).await;

    // c dies mid-flight, holding its two shards; a and b keep deciding (and now want 4).
    let crashed = tokio::time::Instant::now();
    c.crash();
    for r in [&a, &b] {
        r.running().write_config(&config(4));
    }
    balanced(&api, &["a", "b"], 3).await;
    let took = crashed.elapsed();
    // Its Leases expire a lease duration after the survivors last saw them renewed; a
    // survivor's next (jittered) attempt takes each: within the lease duration and two
    // retry periods, here with room for a loaded machine.
    assert!(
        took < LEASE + Duration::from_secs(2),
        "took {took:?} to take over c's shards"
    );
    eprintln!("c's shards taken over {took:?} after the crash");
    eventually(20, "every Deployment at 4", || async { all_at(&api, 4) }).await;
    every_target_written_by_its_shards_holder(&api, &[&a, &b], 5).await;
    api.assert_never_two_writers_under(lease_of);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_replica_gets_its_share_handed_over_one_shard_at_a_time() {
    let api = setup_api().await;
    let a = Replica::start(&api, "a", 2).await;
    let b = Replica::start(&api, "b", 2).await;
    balanced(&api, &["a", "b"], 3).await;
    eventually(20, "every Deployment at 2", || async { all_at(&api, 2) }).await;
    let releases_before = releases(&api);

    // Writes go on while shards move. (c starts with the new config: a change written
    // while its config watcher is still being set up could be missed.)
    let c = Replica::start(&api, "c", 3).await;
    for r in [&a, &b] {
        r.running().write_config(&config(3));
    }
    balanced(&api, &["a", "b", "c"], 2).await;
    // Exactly two hand-overs (a release each), one from a and one from b: no churn.
    let released = releases(&api)[releases_before.len()..].to_vec();
    assert_eq!(released.len(), 2, "{released:?}");
    assert_ne!(released[0].1, released[1].1, "{released:?}");
    eventually(20, "every Deployment at 3", || async { all_at(&api, 3) }).await;
    every_target_written_by_its_shards_holder(&api, &[&a, &b, &c], 4).await;
    api.assert_never_two_writers_under(lease_of);
}

/// A rolling change of `--shards` (4 to 6, as a Deployment's rolling update makes it): the new
/// replicas wait while any replica of the old count leads, take every shard once the old
/// ones have stopped (one releasing its Leases, one crashed with them), and no Deployment
/// is ever written by a new replica before the old ones' last write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_change_of_the_shard_count_waits_for_the_old_count_and_never_has_two_writers() {
    let api = setup_api().await;
    let a = Replica::start_sharded(&api, "a", 2, 4).await;
    let mut b = Replica::start_sharded(&api, "b", 2, 4).await;
    balanced_of(&api, 4, &["a", "b"], 2).await;
    eventually(20, "every Deployment at 2", || async { all_at(&api, 2) }).await;

    // The new replicas come with the new count and a new config (at least 3 replicas).
    let c = Replica::start_sharded(&api, "c", 3, 6).await;
    let d = Replica::start_sharded(&api, "d", 3, 6).await;
    for r in [&c, &d] {
        eventually(10, "prescale_shards_fenced 1", || async {
            r.running().metric("prescale_shards_fenced").await == Some(1.0)
        })
        .await;
    }
    assert!(
        holders_of(&api, 6).iter().all(Option::is_none),
        "no Lease of the new count is taken while the old count leads: {:?}",
        holders_of(&api, 6)
    );
    assert!(all_at(&api, 2), "only the old replicas write");

    // The rolling update stops the old replicas: a on SIGTERM (it releases its Leases), b
    // killed (its Leases expire).
    a.stop().await;
    b.crash();
    balanced_of(&api, 6, &["c", "d"], 3).await;
    eventually(20, "every Deployment at 3", || async { all_at(&api, 3) }).await;
    for r in [&c, &d] {
        assert_eq!(
            r.running().metric("prescale_shards_fenced").await,
            Some(0.0)
        );
    }
    let fence = api
        .get("leases", "prescale", &fence_name("prescale-leader"))
        .expect("the fence Lease");
    assert_eq!(fence["metadata"]["annotations"]["prescale.io/shards"], "6");
    assert_eq!(
        fence["metadata"]["annotations"]["prescale.io/shards-generation"],
        "2"
    );
    // Per Deployment, every write of the old count comes before the first of the new one.
    let writes = api.applied_scale_writes();
    for i in 0..DEPLOYMENTS {
        let name = format!("/w{i}");
        let of = |who: &[&str]| -> Vec<usize> {
            writes
                .iter()
                .enumerate()
                .filter(|(_, w)| w.deployment.ends_with(&name) && who.contains(&w.writer.as_str()))
                .map(|(k, _)| k)
                .collect()
        };
        let (old, new) = (of(&["a", "b"]), of(&["c", "d"]));
        assert!(!old.is_empty() && !new.is_empty(), "w{i}: {writes:#?}");
        assert!(
            old.iter().max() < new.iter().min(),
            "w{i} written by the old count after the new count's first write: {writes:#?}"
        );
    }
}

/// Each release of a shard's Lease (its holder cleared by an update): the Lease and who
/// released it.
fn releases(api: &ApiDouble) -> Vec<(String, String)> {
    let fence = format!("/leases/{}", fence_name("prescale-leader"));
    api.writes()
        .into_iter()
        .filter(|w| w.method == "PUT" && w.path.contains("/leases/") && w.status < 300)
        .filter(|w| !w.path.ends_with(&fence))
        .filter(|w| w.body["spec"]["holderIdentity"].is_null())
        .map(|w| {
            (
                w.body["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                w.token.unwrap_or_default(),
            )
        })
        .collect()
}
