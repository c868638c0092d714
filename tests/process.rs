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
    NS, config_text, free_port, holder, signal, spawn, wait_exit, wait_for, writers,
};
use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_one_writes_the_other_takes_over_and_sigterm_releases_the_lease() {
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "web", 1, 1);
    let dir_a = tempfile::tempdir().expect("tempdir");
    let dir_b = tempfile::tempdir().expect("tempdir");
    let a = spawn(&api, dir_a.path(), "a", 3);
    let b = spawn(&api, dir_b.path(), "b", 3);

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
}

#[tokio::test]
async fn an_invalid_config_at_start_exits_1_naming_the_file_and_the_problem() {
    let api = ApiDouble::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("prescale.yaml");
    std::fs::write(
        &path,
        config_text(3).replace("maxReplicas: 20", "maxReplicas: 2"),
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_prescale"))
        .args(["run", "--no-leader-election", "--config"])
        .arg(&path)
        .args(["--admin-addr", &format!("127.0.0.1:{}", free_port())])
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
    std::fs::write(&path, config_text(3)).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_prescale"))
        .args(["run", "--config"])
        .arg(&path)
        .args(["--admin-addr", &format!("127.0.0.1:{}", free_port())])
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
