//! A real Prometheus server for tests: its own port on 127.0.0.1, a temporary config and
//! data directory, `scrape_interval: 1s`; stopped (and restartable) by the test, killed on
//! drop.
//!
//! The server runs under a small `sh` wrapper that kills it when its stdin closes, so the
//! server dies with the test process even when the handle is never dropped (a shared
//! `static`) or the test binary is killed.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// Runs Prometheus (`$1`, with the other arguments) until it exits, or until stdin closes
/// (the handle dropped, or the test process gone), then SIGTERMs it and waits.
/// (A background job's stdin is /dev/null in `sh`, hence the copy of stdin on fd 3.)
const WRAPPER: &str = r#"exec 3<&0; bin="$1"; shift; "$bin" "$@" </dev/null 3<&- & pid=$!; (cat <&3 >/dev/null; kill "$pid" 2>/dev/null) & wait "$pid""#;

/// Longest wait for `/-/ready`.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the Prometheus binary is: `$PROMETHEUS_BIN`, else `/usr/bin/prometheus`, else
/// `prometheus` on `PATH`. `None` when there is none.
pub fn binary() -> Option<PathBuf> {
    tool("PROMETHEUS_BIN", "prometheus")
}

/// Where `promtool` is: `$PROMTOOL_BIN`, else `/usr/bin/promtool`, else `promtool` on
/// `PATH` (Debian's `prometheus` package ships both).
pub fn promtool() -> Option<PathBuf> {
    tool("PROMTOOL_BIN", "promtool")
}

fn tool(env: &str, name: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        return Some(PathBuf::from(path));
    }
    let debian = PathBuf::from("/usr/bin").join(name);
    if debian.exists() {
        return Some(debian);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.exists())
    })
}

/// Say loudly that a Prometheus test is skipped, or fail under CI, where the binary must
/// have been installed by `.ci/install-prometheus.sh`.
pub fn skip_without_binary(test: &str) {
    super::skip::skip(
        test,
        "no Prometheus binary",
        "install it with `.ci/install-prometheus.sh` or set PROMETHEUS_BIN",
    );
}

/// A scrape job: its name and the `host:port` it scrapes (path `/metrics`).
#[derive(Debug, Clone)]
pub struct Job {
    /// `job` label.
    pub name: String,
    /// `host:port` of the target.
    pub target: String,
}

/// A running (or stopped) Prometheus server.
pub struct PrometheusServer {
    binary: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    /// Served over TLS and/or with auth (`--web.config.file`).
    web_config: Option<WebConfig>,
    child: Option<(Child, ChildStdin)>,
}

/// Prometheus's `--web.config.file`: TLS and basic auth for its own API.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The file's YAML.
    pub yaml: String,
    /// Whether it turns TLS on (the URL is then `https://`).
    pub tls: bool,
}

impl PrometheusServer {
    /// Start Prometheus scraping `jobs` every second, and wait until it is ready.
    /// `Ok(None)` when there is no binary (the caller skips); `Err` with the server's log
    /// when it does not start.
    pub fn start(jobs: &[Job]) -> Result<Option<Self>, String> {
        Self::start_with(jobs, None)
    }

    /// [`Self::start`] with a `--web.config.file` securing the API.
    pub fn start_with(jobs: &[Job], web_config: Option<WebConfig>) -> Result<Option<Self>, String> {
        let Some(binary) = binary() else {
            return Ok(None);
        };
        let dir = tempfile::tempdir().expect("temporary directory for Prometheus");
        std::fs::write(dir.path().join("prometheus.yml"), config(jobs)).expect("write config");
        let mut server = Self {
            binary,
            dir,
            port: free_port(),
            web_config,
            child: None,
        };
        // A port found free can be taken before Prometheus binds it (by any connection's
        // local port): then another one, a few times.
        let mut attempts = 1;
        loop {
            match server.try_restart() {
                Ok(()) => return Ok(Some(server)),
                Err(e) if attempts < 3 && e.contains("address already in use") => {
                    attempts += 1;
                    server.port = free_port();
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The API's base URL.
    pub fn url(&self) -> String {
        let tls = self.web_config.as_ref().is_some_and(|w| w.tls);
        let scheme = if tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Stop the server (gracefully, so that its data survives for [`Self::restart`]).
    pub fn stop(&mut self) {
        if let Some((mut child, stdin)) = self.child.take() {
            // Closing stdin makes the wrapper send SIGTERM and wait for Prometheus.
            drop(stdin);
            let _ = child.wait();
        }
    }

    /// Start the server again on the same port with the same data, and wait until ready.
    pub fn restart(&mut self) {
        if let Err(e) = self.try_restart() {
            panic!("{e}");
        }
    }

    fn try_restart(&mut self) -> Result<(), String> {
        self.stop();
        let log = std::fs::File::create(self.log_path()).expect("Prometheus log file");
        let mut args = vec![
            format!(
                "--config.file={}",
                self.dir.path().join("prometheus.yml").display()
            ),
            format!(
                "--storage.tsdb.path={}",
                self.dir.path().join("data").display()
            ),
            format!("--web.listen-address=127.0.0.1:{}", self.port),
            "--log.level=warn".to_string(),
        ];
        if let Some(web) = &self.web_config {
            let path = self.dir.path().join("web.yml");
            std::fs::write(&path, &web.yaml).map_err(|e| format!("write web config: {e}"))?;
            args.push(format!("--web.config.file={}", path.display()));
        }
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(WRAPPER)
            .arg("prometheus-wrapper")
            .arg(&self.binary)
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("spawn Prometheus");
        let stdin = child.stdin.take().expect("wrapper stdin");
        self.child = Some((child, stdin));
        self.wait_ready()
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Some((child, _)) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(format!(
                    "Prometheus exited with {status} before it was ready; its log:\n{}",
                    self.log()
                ));
            }
            match http_status(self.port, "/-/ready") {
                Some(200) => return Ok(()),
                // A secured server refuses plain or anonymous requests: it is listening, and
                // the test's own client (with TLS and credentials) waits for the rest.
                Some(_) if self.web_config.is_some() => return Ok(()),
                _ => {}
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!(
            "Prometheus was not ready within {READY_TIMEOUT:?}; its log:\n{}",
            self.log()
        ))
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("prometheus.log")
    }

    /// The data directory (for tests that inspect or pre-fill it).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Stop the server, load `openmetrics` (OpenMetrics text, `# EOF` at the end) into its
    /// data directory as history blocks with `promtool tsdb create-blocks-from
    /// openmetrics`, and start it again on them: days of history without waiting for them.
    pub fn load_history(&mut self, promtool: &Path, openmetrics: &str) {
        let file = self.dir().join("history.om");
        std::fs::write(&file, openmetrics).expect("write the history");
        self.stop();
        let created = std::process::Command::new(promtool)
            .args(["tsdb", "create-blocks-from", "openmetrics", "--quiet"])
            .arg(&file)
            .arg(self.data_dir())
            .output()
            .expect("promtool runs");
        assert!(
            created.status.success(),
            "promtool: {}",
            String::from_utf8_lossy(&created.stderr)
        );
        self.restart();
    }

    /// The config directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn config(jobs: &[Job]) -> String {
    let mut yaml = String::from(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nscrape_configs:\n",
    );
    for job in jobs {
        yaml.push_str(&format!(
            "  - job_name: {:?}\n    static_configs:\n      - targets: [{:?}]\n",
            job.name, job.target
        ));
    }
    yaml
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// The HTTP status of `GET path` on 127.0.0.1:`port`, or `None` if nothing answers.
fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}
