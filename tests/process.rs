//! `prescale run` as real processes against the API double: two instances at once (exactly
//! one writes; kill it and the other takes over within the lease time), and SIGTERM
//! (finishes, releases the Lease, exits 0). A leader paused past its lease (SIGSTOP) or
//! killed mid-tick (SIGKILL) is a scenario of the fault matrix (`tests/fault_matrix.rs`).

#[path = "support/api_double/mod.rs"]
mod api_double;
#[path = "support/process_harness.rs"]
mod process_harness;

use api_double::ApiDouble;
use process_harness::{
    NS, config_text, holder, signal, spawn, spawn_with, wait_exit, wait_for, writers,
};
use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_one_writes_the_other_takes_over_and_sigterm_releases_the_lease() {
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "web", 1, 1);
    let dir_a = tempfile::tempdir().expect("tempdir");
    let dir_b = tempfile::tempdir().expect("tempdir");
    let a = spawn(&api, dir_a.path(), "a", 3).await;
    let b = spawn(&api, dir_b.path(), "b", 3).await;

    wait_for(30, "the leader scales web to 3", || {
        api.replicas(NS, "web") == Some(3)
    })
    .await;
    let leader = holder(&api).expect("a leader");
    // Five more ticks of both instances: still exactly one write, by the leader, and
    // every Event comes from the leader.
    a.more_ticks(5).await;
    b.more_ticks(5).await;
    assert_eq!(writers(&api), vec![leader.clone()]);
    let instances: Vec<String> = api
        .events()
        .iter()
        .filter_map(|e| e["reportingInstance"].as_str().map(str::to_string))
        .collect();
    assert!(
        !instances.is_empty() && instances.iter().all(|i| *i == leader),
        "{instances:?}"
    );

    // Kill the leader outright (no release). The survivor's config now asks for 4: it
    // takes over once the Lease expires and scales. (As a follower it saw the leader's
    // write to 3 and, from managedFields, knew it was prescale's, not a person's.)
    let (mut dead, survivor, mut survivor_instance) = if leader == "a" {
        (a, "b", b)
    } else {
        (b, "a", a)
    };
    dead.child.kill().expect("SIGKILL");
    wait_exit(&mut dead.child, 10).await;
    survivor_instance.set_min_replicas(4);
    wait_for(30, "the survivor takes over and scales", || {
        api.replicas(NS, "web") == Some(4)
    })
    .await;
    assert_eq!(holder(&api).as_deref(), Some(survivor));
    assert_eq!(writers(&api), vec![leader.clone(), survivor.to_string()]);
    api.assert_never_two_writers();

    // SIGTERM: the tick in flight finishes, the Lease is released, exit 0.
    signal(&survivor_instance.child, libc::SIGTERM);
    let status = wait_exit(&mut survivor_instance.child, 15).await;
    assert!(status.success(), "exit status {status}");
    assert_eq!(holder(&api), None, "Lease released on SIGTERM");
    // Log lines are written by a thread of their own: the last ones, logged just before
    // exit, are written out before the process ends, not lost with it.
    let log = std::fs::read_to_string(survivor_instance.dir.join("stderr.log")).unwrap_or_default();
    let last = log.lines().last().unwrap_or_default();
    assert!(
        log.contains("\"SIGTERM received\"") && log.contains("released the Lease"),
        "the lines logged at exit are missing; the log ends with {last:?}"
    );
}

/// The Deployments of the sharded test: with 4 shards, one in each.
const SHARDED: &[&str] = &["w0", "w1", "w2", "w3"];
const SHARDS: u32 = 4;

fn shard_holders(api: &ApiDouble) -> Vec<Option<String>> {
    (0..SHARDS)
        .map(|s| {
            let name = prescale::leader::lease_name("prescale-leader", s, SHARDS);
            api.get("leases", "prescale", &name)
                .and_then(|l| l["spec"]["holderIdentity"].as_str().map(str::to_string))
        })
        .collect()
}

fn held_by(api: &ApiDouble, who: &str) -> usize {
    shard_holders(api)
        .iter()
        .filter(|h| h.as_deref() == Some(who))
        .count()
}

fn all_at(api: &ApiDouble, replicas: u32) -> bool {
    SHARDED
        .iter()
        .all(|d| api.replicas(NS, d) == Some(replicas))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sharded_processes_split_the_shards_and_a_paused_one_never_writes_after_they_moved() {
    let api = ApiDouble::start().await;
    for d in SHARDED {
        api.put_deployment(NS, d, 1, 1);
    }
    let dir_a = tempfile::tempdir().expect("tempdir");
    let dir_b = tempfile::tempdir().expect("tempdir");
    let shards = ["--shards", "4"];
    let mut a = spawn_with(&api, dir_a.path(), "a", 2, SHARDED, &shards).await;
    let mut b = spawn_with(&api, dir_b.path(), "b", 2, SHARDED, &shards).await;
    wait_for(
        30,
        "a and b hold two shards each, every Deployment at 2",
        || held_by(&api, "a") == 2 && held_by(&api, "b") == 2 && all_at(&api, 2),
    )
    .await;

    // a is paused (SIGSTOP) holding two shards: b takes them once they expire (4 s) and,
    // asked for 3, writes every Deployment. When a resumes (SIGCONT) its terms have ended
    // before any of its tasks runs; it asks for its share back and writes only the
    // Deployments of the shards it is handed again.
    signal(&a.child, libc::SIGSTOP);
    b.set_min_replicas(3);
    a.set_min_replicas(3);
    wait_for(
        30,
        "b holds every shard and every Deployment is at 3",
        || held_by(&api, "b") == 4 && all_at(&api, 3),
    )
    .await;
    signal(&a.child, libc::SIGCONT);
    wait_for(30, "a is handed two shards back", || {
        held_by(&api, "a") == 2 && held_by(&api, "b") == 2
    })
    .await;
    a.set_min_replicas(4);
    b.set_min_replicas(4);
    wait_for(30, "every Deployment at 4", || all_at(&api, 4)).await;
    api.assert_never_two_writers_under(|path| {
        let name = path.rsplit('/').next()?;
        let shard = prescale::leader::shard_of("apps", "Deployment", NS, name, SHARDS);
        Some(prescale::leader::lease_name(
            "prescale-leader",
            shard,
            SHARDS,
        ))
    });

    // SIGTERM: each releases every Lease it holds and exits 0.
    for instance in [&mut a, &mut b] {
        signal(&instance.child, libc::SIGTERM);
        let status = wait_exit(&mut instance.child, 15).await;
        assert!(status.success(), "exit status {status}");
    }
    assert_eq!(shard_holders(&api), vec![None; SHARDS as usize]);
}

#[tokio::test]
async fn an_invalid_config_at_start_exits_1_naming_the_file_and_the_problem() {
    let api = ApiDouble::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("prescale.yaml");
    std::fs::write(
        &path,
        config_text(&["web"], 3).replace("maxReplicas: 20", "maxReplicas: 2"),
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_prescale"))
        .args(["run", "--no-leader-election", "--config"])
        .arg(&path)
        .args(["--admin-addr", "127.0.0.1:0"])
        .env("KUBECONFIG", api.write_kubeconfig(dir.path(), "x"))
        .env("RUST_LOG", "off")
        .output()
        .expect("run prescale");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&path.display().to_string())
            && stderr.contains("minReplicas 3 is greater than maxReplicas 2"),
        "{stderr}"
    );
    assert!(api.writes().is_empty());
}

#[tokio::test]
async fn a_lease_duration_that_is_not_whole_seconds_is_rejected_before_anything_runs() {
    let api = ApiDouble::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("prescale.yaml");
    std::fs::write(&path, config_text(&["web"], 3)).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_prescale"))
        .args(["run", "--config"])
        .arg(&path)
        .args(["--admin-addr", "127.0.0.1:0"])
        .args(["--lease-duration", "1500ms", "--renew-deadline", "1s"])
        .args(["--retry-period", "200ms"])
        .env("KUBECONFIG", api.write_kubeconfig(dir.path(), "x"))
        .env("POD_NAMESPACE", "prescale")
        .env("RUST_LOG", "off")
        .output()
        .expect("run prescale");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--lease-duration 1.5s") && stderr.contains("whole number of seconds"),
        "{stderr}"
    );
    assert!(api.requests().is_empty(), "{:?}", api.requests());
}
