//! `GET /metrics` streamed: the page is encoded on the blocking pool into chunks that are sent
//! as they fill, so a scraper that keeps up finds a few chunks resident at once instead of the
//! whole page (about 40 MB at 10,000 targets, built on every scrape).
//!
//! The encoder never waits for the scraper while it encodes: it holds each family's lock while
//! it encodes that family, and a tick creating or removing a series waits for that lock on a
//! runtime worker. Had the encoder waited there for a scraper to read, the ticks would block
//! every worker, and the workers are what send the page to the scraper: the whole process
//! hung (found at 10,000 targets with a scraper slower than the encoding). So a full chunk
//! that cannot be handed over at once keeps filling, and only the last is waited for, once
//! the encoding has let go of every lock: a slow scraper costs memory (up to the page), never
//! a tick.

use crate::telemetry::Telemetry;
use axum::body::{Body, Bytes};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;

/// Bytes a chunk holds before it is handed over.
const CHUNK_BYTES: usize = 256 * 1024;
/// Chunks handed over ahead of what the scraper has read.
const CHUNKS_AHEAD: usize = 2;
/// How long the last chunk waits for a scraper that reads nothing (a scrape times out long
/// before: Prometheus' default is 10 s); then the encoding gives up its thread and its chunk.
const LAST_CHUNK_WAIT: Duration = Duration::from_secs(30);

/// Writes into chunks of at least `limit` bytes, each handed to `tx` once full if there is
/// room (else it keeps filling), and the last by [`ChunkWriter::finish`]. A scraper that went
/// away ends the encoding with an error.
struct ChunkWriter {
    chunk: String,
    limit: usize,
    tx: mpsc::Sender<Bytes>,
}

impl ChunkWriter {
    fn new(limit: usize, tx: mpsc::Sender<Bytes>) -> Self {
        ChunkWriter {
            chunk: String::with_capacity(limit),
            limit,
            tx,
        }
    }

    /// Hand the chunk over if the channel has room now; never waits (see the module's note).
    fn hand_over(&mut self) -> std::fmt::Result {
        match self.tx.try_reserve() {
            Ok(permit) => {
                let full = std::mem::replace(&mut self.chunk, String::with_capacity(self.limit));
                permit.send(Bytes::from(full));
                Ok(())
            }
            Err(TrySendError::Full(())) => Ok(()),
            Err(TrySendError::Closed(())) => Err(std::fmt::Error),
        }
    }

    /// Send what is left, waiting up to `wait` for the scraper (on `runtime`'s clock): called
    /// once the encoding holds no lock.
    fn finish(mut self, runtime: &tokio::runtime::Handle, wait: Duration) -> std::fmt::Result {
        if self.chunk.is_empty() {
            return Ok(());
        }
        let last = Bytes::from(std::mem::take(&mut self.chunk));
        // Blocking: this runs on the blocking pool, waiting for the scraper to read.
        match runtime.block_on(tokio::time::timeout(wait, self.tx.send(last))) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) | Err(_) => Err(std::fmt::Error),
        }
    }
}

impl std::fmt::Write for ChunkWriter {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.chunk.push_str(s);
        if self.chunk.len() >= self.limit {
            self.hand_over()?;
        }
        Ok(())
    }
}

/// The `/metrics` page of `telemetry` as a streamed body.
pub fn streamed(telemetry: Arc<Telemetry>) -> Body {
    let (tx, rx) = mpsc::channel::<Bytes>(CHUNKS_AHEAD);
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let mut writer = ChunkWriter::new(CHUNK_BYTES, tx);
        let written = telemetry.encode_to(&mut writer);
        if let Err(e) = written.and_then(|()| writer.finish(&runtime, LAST_CHUNK_WAIT)) {
            // A scraper that closed the connection or stopped reading, or a metric that could
            // not be encoded: the page ends early (without `# EOF`, so a scraper sees it
            // incomplete).
            tracing::debug!(error = %e, "the /metrics page was not written whole");
        }
    });
    let chunks = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, std::convert::Infallible>(chunk), rx))
    });
    Body::from_stream(chunks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write;

    #[tokio::test]
    async fn a_page_larger_than_a_chunk_arrives_whole_and_in_order() {
        let (tx, mut rx) = mpsc::channel(64);
        let page: String = (0..500).map(|i| format!("series_{i} {i}\n")).collect();
        let runtime = tokio::runtime::Handle::current();
        let writer = tokio::task::spawn_blocking({
            let page = page.clone();
            move || {
                let mut w = ChunkWriter::new(1000, tx);
                for line in page.split_inclusive('\n') {
                    w.write_str(line)?;
                }
                w.finish(&runtime, LAST_CHUNK_WAIT)
            }
        });
        let mut got = String::new();
        let mut chunks = 0;
        while let Some(chunk) = rx.recv().await {
            assert!(chunk.len() < 1000 + 32, "a chunk is sent once it fills");
            got.push_str(std::str::from_utf8(&chunk).expect("utf-8"));
            chunks += 1;
        }
        assert_eq!(writer.await.expect("joined"), Ok(()));
        assert_eq!(got, page);
        assert!(chunks > 5, "{chunks} chunks");
    }

    fn target(i: usize) -> crate::telemetry::TargetLabels {
        crate::telemetry::TargetLabels {
            target: format!("target-{i}").into(),
            namespace: "shop".into(),
            deployment: format!("worker-{i}").into(),
        }
    }

    /// One worker, as a tick and the page's sending share the runtime's workers: a tick that
    /// creates a series while a scraper reads nothing must go on, and the page still arrives
    /// whole once the scraper reads again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_scraper_that_stops_reading_never_holds_up_a_tick_creating_a_series() {
        use futures::StreamExt;
        let telemetry = Arc::new(Telemetry::new());
        telemetry.set_exporting_targets(true);
        // One family of many chunks (about 2 MB): the encoding is inside it for most of them.
        for i in 0..20_000 {
            telemetry
                .forecast_arrival_rate
                .get_or_create(&target(i))
                .set(1.5);
        }
        let mut page = streamed(telemetry.clone()).into_data_stream();
        let first = page.next().await.expect("a first chunk").expect("data");

        // The scraper reads nothing more; a tick creates a series of the same family (its
        // write lock), on a thread of its own so that a hang fails the test, not the suite.
        let created = tokio::task::spawn_blocking({
            let telemetry = telemetry.clone();
            move || {
                telemetry
                    .forecast_arrival_rate
                    .get_or_create(&target(20_000))
                    .set(2.5);
            }
        });
        let created = tokio::time::timeout(Duration::from_secs(60), created).await;
        assert!(
            matches!(created, Ok(Ok(()))),
            "creating a series waited for a scraper that does not read"
        );

        let mut got = std::str::from_utf8(&first).expect("utf-8").to_string();
        while let Some(chunk) = page.next().await {
            got.push_str(std::str::from_utf8(&chunk.expect("data")).expect("utf-8"));
        }
        assert!(got.ends_with("# EOF\n"), "the page ends whole");
        for i in [0, 9_999, 19_999] {
            let line = format!(
                "prescale_forecast_arrival_rate{{target=\"target-{i}\",namespace=\"shop\",deployment=\"worker-{i}\"}} 1.5"
            );
            assert!(got.contains(&line), "{line}");
        }
    }

    /// A scraper that keeps its connection but reads nothing holds the encoding's thread and
    /// last chunk for the wait given ([`LAST_CHUNK_WAIT`] in service; here short, on the real
    /// clock: a paused one does not advance while a blocking task runs), not for as long as it
    /// stays connected.
    #[tokio::test]
    async fn a_scraper_that_reads_nothing_is_given_up_after_a_while() {
        let wait = Duration::from_millis(50);
        let (tx, _kept_unread) = mpsc::channel(1);
        let runtime = tokio::runtime::Handle::current();
        let started = std::time::Instant::now();
        let result = tokio::task::spawn_blocking(move || {
            let mut w = ChunkWriter::new(10, tx);
            // The first chunk fills the channel; the last has nowhere to go.
            w.write_str("a line longer than ten bytes\n")?;
            w.write_str("the last line\n")?;
            w.finish(&runtime, wait)
        })
        .await
        .expect("joined");
        assert_eq!(result, Err(std::fmt::Error));
        assert!(started.elapsed() >= wait, "{:?}", started.elapsed());
    }

    #[tokio::test]
    async fn a_scraper_that_went_away_stops_the_encoding() {
        let (tx, rx) = mpsc::channel(1);
        drop(rx);
        let result = tokio::task::spawn_blocking(move || {
            let mut w = ChunkWriter::new(10, tx);
            w.write_str("a line longer than ten bytes\n")
        })
        .await
        .expect("joined");
        assert_eq!(result, Err(std::fmt::Error));
    }
}
