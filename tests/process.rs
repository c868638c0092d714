//! `prescale run` as real processes against the API double: two instances at once (exactly
//! one writes; kill it and the other takes over within the lease time), and SIGTERM
//! (finishes, releases the Lease, exits 0).

#[path = "support/api_double/mod.rs"]
mod api_double;

use api_double::ApiDouble;
use std::path::Path;
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

const CONFIG: &str = "prometheus:
  url: http://127.0.0.1:9
targets:
  - name: web
    scaleTargetRef: { namespace: shop, name: web }
    mode: active
    interval: 200ms
    minReplicas: 3
    maxReplicas: 20
    metrics:
      queueDepth: { promql: 'sum(queue_depth)' }
";

fn config(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("prescale.yaml");
    std::fs::write(&path, CONFIG).expect("write config");
    path
}

fn spawn(api: &ApiDouble, dir: &Path, identity: &str) -> Child {
    let kubeconfig = api.write_kubeconfig(dir, identity);
    Command::new(env!("CARGO_BIN_EXE_prescale"))
        .args(["run", "--config"])
        .arg(config(dir))
        .args(["--admin-addr", &format!("127.0.0.1:{}", free_port())])
        .args(["--lease-duration", "4s", "--renew-deadline", "3s"])
        .args(["--retry-period", "300ms", "--shutdown-grace", "10s"])
        .args(["--reload-debounce", "100ms"])
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
        .expect("spawn prescale run")
}

fn holder(api: &ApiDouble) -> Option<String> {
    api.get("leases", "prescale", "prescale-leader")
        .and_then(|l| l["spec"]["holderIdentity"].as_str().map(str::to_string))
}

/// Tokens of the successful `/scale` writes, in order.
fn writers(api: &ApiDouble) -> Vec<String> {
    api.writes()
        .into_iter()
        .filter(|w| w.path.ends_with("/scale") && w.status < 300)
        .map(|w| w.token.unwrap_or_default())
        .collect()
}

async fn wait_for(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn sigterm(child: &Child) {
    let pid = libc::pid_t::try_from(child.id()).expect("pid fits");
    // SAFETY: sending a signal to a child process this test spawned and has not reaped.
    let rc = unsafe { libc::kill(pid, libc::SIGTERM) };
    assert_eq!(rc, 0, "kill(SIGTERM) failed");
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
    let a = spawn(&api, dir_a.path(), "a");
    let b = spawn(&api, dir_b.path(), "b");

    wait_for(30, "the leader scales web to 3", || {
        api.replicas(NS, "web") == Some(3)
    })
    .await;
    let leader = holder(&api).expect("a leader");
    // Several more ticks of both instances: still exactly one write, by the leader, and
    // every Event comes from the leader.
    tokio::time::sleep(Duration::from_secs(1)).await;
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
    let (dead, survivor, mut survivor_child, survivor_dir) = if leader == "a" {
        (a, "b", b, dir_b.path())
    } else {
        (b, "a", a, dir_a.path())
    };
    let mut dead = dead;
    dead.kill().expect("SIGKILL");
    wait_exit(&mut dead, 10).await;
    let tmp = survivor_dir.join("new.yaml");
    std::fs::write(&tmp, CONFIG.replace("minReplicas: 3", "minReplicas: 4")).expect("write");
    std::fs::rename(&tmp, survivor_dir.join("prescale.yaml")).expect("rename");
    wait_for(30, "the survivor takes over and scales", || {
        api.replicas(NS, "web") == Some(4)
    })
    .await;
    assert_eq!(holder(&api).as_deref(), Some(survivor));
    assert_eq!(writers(&api), vec![leader.clone(), survivor.to_string()]);

    // SIGTERM: the tick in flight finishes, the Lease is released, exit 0.
    sigterm(&survivor_child);
    let status = wait_exit(&mut survivor_child, 15).await;
    assert!(status.success(), "exit status {status}");
    assert_eq!(holder(&api), None, "Lease released on SIGTERM");
}

#[tokio::test]
async fn an_invalid_config_at_start_exits_1_naming_the_file_and_the_problem() {
    let api = ApiDouble::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("prescale.yaml");
    std::fs::write(&path, CONFIG.replace("maxReplicas: 20", "maxReplicas: 2")).expect("write");
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
