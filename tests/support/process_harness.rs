//! `prescale run` as real processes against the API double, with leader election on a
//! quick Lease (4 s, renew deadline 3 s), each instance's identity its bearer token.
#![allow(dead_code)]

use super::api_double::ApiDouble;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The namespace of target `web`'s Deployment.
pub const NS: &str = "shop";

/// The admin server's address as `prescale run` logged it (`admin server listening`) in
/// its JSON log at `log`: the tests pass `--admin-addr 127.0.0.1:0`, since a port found
/// free and then passed on can be taken in between (by any connection's local port) and
/// the process then exits instead of starting. Fails naming the log when the process exits
/// first or nothing is logged within 30 s.
pub async fn logged_admin_addr(child: &mut Child, log: &Path) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let listening = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|l| l["fields"]["message"] == "admin server listening");
        if let Some(addr) = listening
            .as_ref()
            .and_then(|l| l["fields"]["addr"].as_str())
        {
            return addr.to_string();
        }
        let exited = child.try_wait().expect("try_wait");
        assert!(
            exited.is_none() && tokio::time::Instant::now() < deadline,
            "prescale run ({}) has no admin server ({exited:?}); its log {}:\n{text}",
            child.id(),
            log.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A config whose targets scale the Deployments `targets` of namespace [`NS`] (`web` in the
/// unsharded tests), each with at least `min` replicas.
pub fn config_text(targets: &[&str], min: u32) -> String {
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
pub struct Instance {
    /// The process.
    pub child: Child,
    /// Its config file, kubeconfig and `stderr.log`.
    pub dir: PathBuf,
    /// Its admin server, `host:port`.
    pub admin: String,
    /// The Deployments its targets scale.
    pub targets: &'static [&'static str],
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
    pub fn set_min_replicas(&self, min: u32) {
        let tmp = self.dir.join(".new.yaml");
        std::fs::write(&tmp, config_text(self.targets, min)).expect("write config");
        std::fs::rename(&tmp, self.dir.join("prescale.yaml")).expect("rename config");
    }

    /// Target `web`'s entry in `/recommendations`.
    pub async fn recommendation(&self) -> Option<serde_json::Value> {
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
    pub async fn ticks(&self) -> f64 {
        self.recommendation()
            .await
            .and_then(|r| r["ticks"].as_f64())
            .unwrap_or(0.0)
    }

    /// Wait until this instance has finished `n` more ticks (instead of sleeping).
    pub async fn more_ticks(&self, n: u32) {
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

/// Start `prescale run` with its files in `dir`, as `identity` (Pod name and bearer token),
/// with the one target `web`; returns once its admin server listens.
pub async fn spawn(api: &ApiDouble, dir: &Path, identity: &str, min: u32) -> Instance {
    spawn_with(api, dir, identity, min, &["web"], &[]).await
}

/// [`spawn`] with the targets of `targets` and `extra` arguments.
pub async fn spawn_with(
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
    let log = dir.join("stderr.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_prescale"))
        .args(["run", "--config"])
        .arg(&config)
        .args(["--admin-addr", "127.0.0.1:0"])
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
        .stderr(Stdio::from(
            std::fs::File::create(&log).expect("create stderr.log"),
        ))
        .spawn()
        .expect("spawn prescale run");
    let admin = logged_admin_addr(&mut child, &log).await;
    Instance {
        child,
        dir: dir.to_path_buf(),
        admin,
        targets,
    }
}

/// The leader Lease's holder.
pub fn holder(api: &ApiDouble) -> Option<String> {
    api.get("leases", "prescale", "prescale-leader")
        .and_then(|l| l["spec"]["holderIdentity"].as_str().map(str::to_string))
}

/// Tokens of the successful `/scale` writes, in order.
pub fn writers(api: &ApiDouble) -> Vec<String> {
    api.applied_scale_writes()
        .into_iter()
        .map(|w| w.writer)
        .collect()
}

/// Poll `cond` every 50 ms; fail the test naming `what` after `secs` seconds.
pub async fn wait_for(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Send `signal` to the child process.
pub fn signal(child: &Child, signal: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).expect("pid fits");
    // SAFETY: sending a signal to a child process this test spawned and has not reaped.
    let rc = unsafe { libc::kill(pid, signal) };
    assert_eq!(rc, 0, "kill({signal}) failed");
}

/// Wait for the child to exit, failing the test after `secs` seconds.
pub async fn wait_exit(child: &mut Child, secs: u64) -> std::process::ExitStatus {
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

impl Instance {
    /// Whether the process has logged a panic (its stderr is `stderr.log` in its dir).
    pub fn panicked(&self) -> bool {
        std::fs::read_to_string(self.dir.join("stderr.log"))
            .is_ok_and(|log| log.contains("panicked at"))
    }
}
