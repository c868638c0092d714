//! Debounce: many file events (an editor's write, a ConfigMap's symlink swap) become one
//! reload once they settle.

use std::time::Duration;
use tokio::sync::mpsc;

/// Wait for a change, then until no further change arrives for `quiet`. `None` when the
/// channel closed.
pub async fn next_burst(changes: &mut mpsc::UnboundedReceiver<()>, quiet: Duration) -> Option<()> {
    changes.recv().await?;
    loop {
        match tokio::time::timeout(quiet, changes.recv()).await {
            Ok(Some(())) => continue,
            Ok(None) | Err(_) => return Some(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    #[tokio::test(start_paused = true)]
    async fn a_burst_of_changes_is_one_reload_after_it_settles() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let start = Instant::now();
        let sender = tokio::spawn(async move {
            for _ in 0..5 {
                tx.send(()).expect("receiver alive");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            // Keep the channel open past the quiet period.
            tokio::time::sleep(Duration::from_secs(10)).await;
            drop(tx);
        });
        assert_eq!(
            next_burst(&mut rx, Duration::from_millis(500)).await,
            Some(())
        );
        // Last change at 400 ms, then 500 ms quiet.
        assert_eq!(start.elapsed(), Duration::from_millis(900));
        // Nothing else was queued: the next call sees the channel close.
        assert_eq!(next_burst(&mut rx, Duration::from_millis(500)).await, None);
        sender.await.expect("sender task");
    }
}
