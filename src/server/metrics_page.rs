//! `GET /metrics` streamed: the page is encoded on the blocking pool into chunks that are sent
//! as they fill, so at most a few chunks are resident at once instead of the whole page (about
//! 40 MB at 10,000 targets, built on every scrape).

use crate::telemetry::Telemetry;
use axum::body::{Body, Bytes};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Bytes a chunk holds before it is sent.
const CHUNK_BYTES: usize = 256 * 1024;
/// Chunks encoded ahead of what the scraper has read.
const CHUNKS_AHEAD: usize = 2;

/// Writes into chunks of `limit` bytes, each sent on `tx` once full (and the last by
/// [`ChunkWriter::finish`]). A scraper that went away ends the encoding with an error.
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

    fn send(&mut self) -> std::fmt::Result {
        if self.chunk.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(&mut self.chunk, String::with_capacity(self.limit));
        // Blocking: this runs on the blocking pool, waiting for the scraper to read.
        self.tx
            .blocking_send(Bytes::from(full))
            .map_err(|_| std::fmt::Error)
    }

    fn finish(mut self) -> std::fmt::Result {
        self.send()
    }
}

impl std::fmt::Write for ChunkWriter {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.chunk.push_str(s);
        if self.chunk.len() >= self.limit {
            self.send()?;
        }
        Ok(())
    }
}

/// The `/metrics` page of `telemetry` as a streamed body.
pub fn streamed(telemetry: Arc<Telemetry>) -> Body {
    let (tx, rx) = mpsc::channel::<Bytes>(CHUNKS_AHEAD);
    tokio::task::spawn_blocking(move || {
        let mut writer = ChunkWriter::new(CHUNK_BYTES, tx);
        let written = telemetry.encode_to(&mut writer);
        if let Err(e) = written.and_then(|()| writer.finish()) {
            // A scraper that closed the connection, or a metric that could not be encoded:
            // the page ends early (without `# EOF`, so a scraper sees it incomplete).
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
        let writer = tokio::task::spawn_blocking({
            let page = page.clone();
            move || {
                let mut w = ChunkWriter::new(1000, tx);
                for line in page.split_inclusive('\n') {
                    w.write_str(line)?;
                }
                w.finish()
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
