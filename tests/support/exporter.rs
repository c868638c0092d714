//! A test exporter: an HTTP server on 127.0.0.1 serving Prometheus text exposition whose
//! values the test controls.
//!
//! It serves a queue-depth gauge, an enqueued-documents counter and a wait-time histogram.
//! Counters can grow linearly with wall time at a set rate, so that Prometheus's `rate()`
//! and `histogram_quantile()` over them have exact expected values; or be set by hand, for
//! tests that pass their own clock. It runs on its own thread and runtime, so one exporter
//! can be shared by all tests of a binary. Several can share a port on different loopback
//! addresses ([`Exporter::start_at`]), as pods of one Deployment share a container port.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Upper bounds of the wait histogram's buckets (the last is `+Inf`).
pub const WAIT_BUCKETS: [f64; 4] = [1.0, 2.0, 4.0, f64::INFINITY];

/// Fraction of waits at or below each bucket bound in the linear mode: 50% <= 1s,
/// 90% <= 2s, all <= 4s. Its p95 is 3s (PromQL interpolates 2 + 2 * (95-90)/10).
pub const WAIT_FRACTIONS: [f64; 4] = [0.5, 0.9, 1.0, 1.0];

/// The p95 of [`WAIT_FRACTIONS`] as `histogram_quantile` computes it.
pub const WAIT_P95: f64 = 3.0;

/// A counter that is either set by hand or grows at `per_s` from `base` since `since`.
#[derive(Debug, Clone, Copy)]
struct Linear {
    base: f64,
    per_s: f64,
    since: Instant,
}

impl Linear {
    fn at(&self, now: Instant) -> f64 {
        self.base + self.per_s * now.duration_since(self.since).as_secs_f64()
    }
}

#[derive(Debug)]
struct State {
    queue_depth: f64,
    enqueued: Linear,
    /// Cumulative bucket counts, one per [`WAIT_BUCKETS`] entry.
    wait: [Linear; 4],
    /// When set, served instead of the metrics.
    raw: Option<String>,
    /// Counters and buckets carry the time they were rendered as their own timestamp, so
    /// rates between scrapes are exact whenever the scraper happens to ask.
    timestamps: bool,
}

/// A running exporter; stops when dropped.
pub struct Exporter {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Exporter {
    /// Start serving on a free port of 127.0.0.1, with every value at zero.
    pub fn start() -> Self {
        Self::start_at("127.0.0.1:0".parse().expect("address")).expect("bind exporter port")
    }

    /// One exporter at each of `hosts` (e.g. `127.0.0.2`), all on one port, as the pods of a
    /// Deployment share a container port. The port is picked free on the first host; when
    /// another socket holds it on one of the others, another port is tried (five in all).
    /// The error names the address that could not be bound.
    pub fn start_sharing_port(hosts: &[&str]) -> std::io::Result<Vec<Self>> {
        let at = |host: &str, port: u16| {
            let addr: SocketAddr = format!("{host}:{port}").parse().expect("address");
            Self::start_at(addr).map_err(|e| std::io::Error::new(e.kind(), format!("{addr}: {e}")))
        };
        let mut attempts = 0;
        loop {
            attempts += 1;
            let Some((first, others)) = hosts.split_first() else {
                return Ok(Vec::new());
            };
            let first = at(first, 0)?;
            let port = first.port();
            let others: std::io::Result<Vec<Self>> = others.iter().map(|h| at(h, port)).collect();
            match others {
                Ok(others) => return Ok(std::iter::once(first).chain(others).collect()),
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && attempts < 5 => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Start serving on `addr` (port 0: a free one), with every value at zero; the bind's
    /// error when the address cannot be had.
    pub fn start_at(addr: SocketAddr) -> std::io::Result<Self> {
        let now = Instant::now();
        let zero = Linear {
            base: 0.0,
            per_s: 0.0,
            since: now,
        };
        let state = Arc::new(Mutex::new(State {
            queue_depth: 0.0,
            enqueued: zero,
            wait: [zero; 4],
            raw: None,
            timestamps: false,
        }));
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr().expect("exporter address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = state.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("exporter runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let app = axum::Router::new().route(
                    "/metrics",
                    axum::routing::get(move || {
                        let state = served.clone();
                        async move { render(&state) }
                    }),
                );
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await;
            });
        });
        Ok(Self {
            addr,
            state,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The port it serves on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Give counters and histogram buckets their render time as explicit timestamps.
    pub fn set_timestamps(&self, on: bool) {
        self.lock().timestamps = on;
    }

    /// `host:port`, as a Prometheus scrape target.
    pub fn host_port(&self) -> String {
        self.addr.to_string()
    }

    /// The URL of the metrics page.
    pub fn url(&self) -> String {
        format!("http://{}/metrics", self.addr)
    }

    /// Set the queue depth gauge (`queue_depth{queue="docs"}`).
    pub fn set_queue_depth(&self, depth: f64) {
        self.lock().queue_depth = depth;
    }

    /// Set the enqueued-documents counter to `total` and stop it growing.
    pub fn set_enqueued(&self, total: f64) {
        self.lock().enqueued = Linear {
            base: total,
            per_s: 0.0,
            since: Instant::now(),
        };
    }

    /// Make the enqueued-documents counter grow by `per_s` from its current value.
    pub fn set_arrival_rate(&self, per_s: f64) {
        let now = Instant::now();
        let mut s = self.lock();
        s.enqueued = Linear {
            base: s.enqueued.at(now),
            per_s,
            since: now,
        };
    }

    /// Set the wait histogram's cumulative bucket counts (one per [`WAIT_BUCKETS`]) and stop
    /// them growing.
    pub fn set_wait_buckets(&self, counts: [f64; 4]) {
        let now = Instant::now();
        let mut s = self.lock();
        for (bucket, count) in s.wait.iter_mut().zip(counts) {
            *bucket = Linear {
                base: count,
                per_s: 0.0,
                since: now,
            };
        }
    }

    /// Make the wait histogram receive `per_s` observations distributed as
    /// [`WAIT_FRACTIONS`].
    pub fn set_wait_rate(&self, per_s: f64) {
        self.set_wait_rate_as(per_s, WAIT_FRACTIONS);
    }

    /// Make the wait histogram receive `per_s` observations, `fractions` of them at or below
    /// each of [`WAIT_BUCKETS`] (cumulative, the last 1).
    pub fn set_wait_rate_as(&self, per_s: f64, fractions: [f64; 4]) {
        let now = Instant::now();
        let mut s = self.lock();
        for (bucket, fraction) in s.wait.iter_mut().zip(fractions) {
            *bucket = Linear {
                base: bucket.at(now),
                per_s: per_s * fraction,
                since: now,
            };
        }
    }

    /// Serve `text` instead of the metrics (e.g. garbage); `None` goes back to the metrics.
    pub fn serve_raw(&self, text: Option<&str>) {
        self.lock().raw = text.map(str::to_string);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn render(state: &Mutex<State>) -> String {
    let s = state.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(raw) = &s.raw {
        return raw.clone();
    }
    let now = Instant::now();
    let stamp = if s.timestamps {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_millis();
        format!(" {ms}")
    } else {
        String::new()
    };
    let mut out = String::new();
    out.push_str("# HELP queue_depth Documents waiting.\n# TYPE queue_depth gauge\n");
    out.push_str(&format!(
        "queue_depth{{queue=\"docs\"}} {}\n",
        s.queue_depth
    ));
    // A second queue, so that an unqualified selector matches two series.
    out.push_str("queue_depth{queue=\"other\"} 1\n");
    out.push_str("# HELP documents_enqueued_total Documents enqueued.\n");
    out.push_str("# TYPE documents_enqueued_total counter\n");
    out.push_str(&format!(
        "documents_enqueued_total{{queue=\"docs\"}} {}{stamp}\n",
        s.enqueued.at(now)
    ));
    out.push_str("# HELP queue_wait_seconds Time documents waited.\n");
    out.push_str("# TYPE queue_wait_seconds histogram\n");
    for (bound, bucket) in WAIT_BUCKETS.iter().zip(&s.wait) {
        let le = if bound.is_infinite() {
            "+Inf".to_string()
        } else {
            bound.to_string()
        };
        out.push_str(&format!(
            "queue_wait_seconds_bucket{{queue=\"docs\",le=\"{le}\"}} {}{stamp}\n",
            bucket.at(now)
        ));
    }
    let count = s.wait[3].at(now);
    out.push_str(&format!(
        "queue_wait_seconds_sum{{queue=\"docs\"}} {}{stamp}\n",
        count
    ));
    out.push_str(&format!(
        "queue_wait_seconds_count{{queue=\"docs\"}} {count}{stamp}\n"
    ));
    out
}
