//! `prescale run` as real processes against the API double: two instances at once (exactly
//! one writes; kill it and the other takes over within the lease time); a leader paused
//! past its lease (SIGSTOP) or killed mid-tick (SIGKILL) never writes after the new
//! leader's first write, as the double's write log with each writer's identity shows; and
//! SIGTERM (finishes, releases the Lease, exits 0).

#[path = "support/api_double/mod.rs"]
mod api_double;

use api_double::ApiDouble;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const NS: &str = "shop";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A config whose targets scale the Deployments `targets` (the first is `web` in the
/// unsharded tests), each with at least `min` replicas.
fn config_text(targets: &[&str], min: u32) -> String {
    let mut text = "prometheus:\n  url: http://127.0.0.1:9\ntargets:\n".to_string();
    for name in targets {
        text.push_str(&format!(
            "  - name: {name}
    scaleTargetRef: {{ namespace: shop, name: {name} }}
    mode: active
    interval: 200ms
    minReplicas: {min}
    maxReplicas: 20
    metrics:
      queueDepth: {{ promql: 'sum(queue_depth)' }}
"
        ));
    }
    text
}

/// A `prescale run` process, killed (SIGKILL) if the test ends without stopping it.
struct Instance {
    child: Child,
    dir: PathBuf,
    admin: String,
    targets: &'static [&'static str],
}

impl Drop for Instance {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            // SIGCONT first: a stopped process does not act on SIGKILL until continued.
            signal(&self.child, libc::SIGCONT);
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Instance {
    /// Replace the config file (atomically, as a ConfigMap update does).
    fn set_min_replicas(&self, min: u32) {
        let tmp = self.dir.join(".new.yaml");
        std::fs::write(&tmp, config_text(self.targets, min)).expect("write config");
        std::fs::rename(&tmp, self.dir.join("prescale.yaml")).expect("rename config");
    }

    /// Target `web`'s entry in `/recommendations`.
    async fn recommendation(&self) -> Option<serde_json::Value> {
        let body = reqwest::get(format!("http://{}/recommendations", self.admin))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        v["targets"].as_array()?.first().cloned()
    }

    /// Ticks of target `web` so far, leader or follower (per-target metrics are the
    /// leader's alone; `/recommendations` counts every instance's ticks).
    async fn ticks(&self) -> f64 {
        self.recommendation()
            .await
            .and_then(|r| r["ticks"].as_f64())
            .unwrap_or(0.0)
    }

    /// Wait until this instance has finished `n` more ticks (instead of sleeping).
    async fn more_ticks(&self, n: u32) {
        let goal = self.ticks().await + f64::from(n);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while self.ticks().await < goal {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{n} more ticks did not come"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn spawn(api: &ApiDouble, dir: &Path, identity: &str, min: u32) -> Instance {
    spawn_with(api, dir, identity, min, &["web"], &[])
}

/// [`spawn`] with the targets of `targets` and `extra` arguments.
fn spawn_with(
    api: &ApiDouble,
    dir: &Path,
    identity: &str,
    min: u32,
    targets: &'static [&'static str],
    extra: &[&str],
) -> Instance {
    // reqwest (the test's HTTP client) is built without a default TLS provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kubeconfig = api.write_kubeconfig(dir, identity);
    let config = dir.join("prescale.yaml");
    std::fs::write(&config, config_text(targets, min)).expect("write config");
    let admin = format!("127.0.0.1:{}", free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_prescale"))
        .args(["run", "--config"])
        .arg(&config)
        .args(["--admin-addr", &admin])
        .args(["--lease-duration", "4s", "--renew-deadline", "3s"])
        .args(["--retry-period", "300ms", "--shutdown-grace", "10s"])
        .args(["--reload-debounce", "100ms"])
        // A GET of the Deployment every tick, so that a read can be held up mid-tick (with
        // the default watch caches a tick's only request before a write is the write).
        .args(["--cluster-reads", "get"])
        .args(extra)
        .env("KUBECONFIG", kubeconfig)
        .env("POD_NAME", identity)
        .env("POD_NAMESPACE", "prescale")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(
            std::fs::File::create(dir.join("stderr.log"))
                .map(Stdio::from)
                .unwrap_or(Stdio::null()),
        )
        .spawn()
        .expect("spawn prescale run");
    Instance {
        child,
        dir: dir.to_path_buf(),
        admin,
        targets,
    }
}

fn holder(api: &ApiDouble) -> Option<String> {
    api.get("leases", "prescale", "prescale-leader")
        .and_then(|l| l["spec"]["holderIdentity"].as_str().map(str::to_string))
}

/// Tokens of the successful `/scale` writes, in order.
fn writers(api: &ApiDouble) -> Vec<String> {
    api.applied_scale_writes()
        .into_iter()
        .map(|w| w.writer)
        .collect()
}

async fn wait_for(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn signal(child: &Child, signal: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).expect("pid fits");
    // SAFETY: sending a signal to a child process this test spawned and has not reaped.
    let rc = unsafe { libc::kill(pid, signal) };
    assert_eq!(rc, 0, "kill({signal}) failed");
}

async fn wait_exit(child: &mut Child, secs: u64) -> std::process::ExitStatus {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "did not exit within {secs}s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_paused_past_its_lease_or_killed_mid_tick_never_writes_after_the_new_leader() {
    let api = ApiDouble::start().await;
    api.put_deployment(NS, "web", 1, 1);
    let dir_a = tempfile::tempdir().expect("tempdir");
    let dir_b = tempfile::tempdir().expect("tempdir");
    let a = spawn(&api, dir_a.path(), "a", 3);
    wait_for(30, "a leads and scales web to 3", || {
        holder(&api).as_deref() == Some("a") && api.replicas(NS, "web") == Some(3)
    })
    .await;
    let b = spawn(&api, dir_b.path(), "b", 3);
    b.more_ticks(3).await;

    // Paused mid-tick, past its lease. The Deployment is paused while the configs change:
    // a (leading) wants 5, b wants 4. a's next read of the Deployment is held up for 8 s
    // and a is stopped (SIGSTOP) while it waits. b takes over once the Lease expires (4 s),
    // the pause is lifted, and b writes 4; a's read is then answered, unpaused and with the
    // resourceVersion of b's write. When a continues, its tick goes on from that read
    // wanting 5: a write would succeed, and a's deadline, checked against the clock before
    // anything else of a has run, stops it.
    api.annotate(NS, "web", "prescale.io/paused", "true");
    a.set_min_replicas(5);
    b.set_min_replicas(4);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !a
        .recommendation()
        .await
        .is_some_and(|r| r["recommendedReplicas"] == 5 && r["action"] == "hold:paused")
    {
        assert!(tokio::time::Instant::now() < deadline, "a never wanted 5");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    api.serve_late("a", "GET", "/deployments/web", Duration::from_secs(8));
    wait_for(10, "a's read is held up", || {
        api.delayed_in_flight(Some("a")) == 1
    })
    .await;
    signal(&a.child, libc::SIGSTOP);
    wait_for(30, "b takes over", || holder(&api).as_deref() == Some("b")).await;
    api.annotate(NS, "web", "prescale.io/paused", "false");
    wait_for(10, "b scales web to 4", || {
        api.replicas(NS, "web") == Some(4)
    })
    .await;
    wait_for(15, "a's read is answered", || {
        api.delayed_in_flight(Some("a")) == 0
    })
    .await;
    signal(&a.child, libc::SIGCONT);
    a.more_ticks(3).await;
    assert_eq!(
        api.replicas(NS, "web"),
        Some(4),
        "{:?}",
        api.applied_scale_writes()
    );
    let report = a.recommendation().await.expect("a's report");
    assert_eq!(
        (
            report["recommendedReplicas"].clone(),
            report["action"].clone()
        ),
        (serde_json::json!(5), serde_json::json!("hold:follower"))
    );
    api.assert_never_two_writers();

    // Killed mid-tick: b's next write is held up for 2 s and b is killed (SIGKILL) while
    // it waits. Whether or not that write lands, a takes over and writes only after it
    // took the Lease.
    api.serve_late(
        "b",
        "PATCH",
        "/deployments/web/scale",
        Duration::from_secs(2),
    );
    b.set_min_replicas(6);
    wait_for(10, "b's write is held up", || {
        api.delayed_in_flight(Some("b")) == 1
    })
    .await;
    a.set_min_replicas(7);
    let mut b = b;
    b.child.kill().expect("SIGKILL");
    wait_exit(&mut b.child, 10).await;
    wait_for(30, "a takes over and scales web to 7", || {
        holder(&api).as_deref() == Some("a") && api.replicas(NS, "web") == Some(7)
    })
    .await;
    wait_for(15, "b's held-up write is over", || {
        api.delayed_in_flight(Some("b")) == 0
    })
    .await;
    api.assert_never_two_writers();
    let log: Vec<(String, u32)> = api
        .applied_scale_writes()
        .into_iter()
        .map(|w| (w.writer, w.replicas))
        .collect();
    assert!(
        log == [("a".into(), 3), ("b".into(), 4), ("a".into(), 7)]
            || log
                == [
                    ("a".into(), 3),
                    ("b".into(), 4),
                    ("b".into(), 6),
                    ("a".into(), 7)
                ],
        "{log:?}"
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
    let mut a = spawn_with(&api, dir_a.path(), "a", 2, SHARDED, &shards);
    let mut b = spawn_with(&api, dir_b.path(), "b", 2, SHARDED, &shards);
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
    std::fs::write(&path, config_text(&["web"], 3)).expect("write");
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
