//! What one replica's shard electors share: what each last read of its Lease, which shards
//! this replica leads, and the one acquisition, request and hand-over it may have under way
//! at a time. The rules themselves are [`super::share`]'s.

use super::share::{SeenLease, may_take_free, should_hand_over, should_request};
use crate::telemetry::Telemetry;
use prometheus_client::metrics::gauge::Gauge;
use std::sync::{Arc, Mutex};
use tokio::time::{Duration, Instant};

/// The annotation a replica writes into a shard's Lease to ask its holder for it; the
/// holder's next renewal grants it (releases the Lease, keeping the annotation, so the Lease
/// is kept for the requester for one lease duration) or drops it.
pub const REQUEST_ANNOTATION: &str = "prescale.io/shard-requested-by";

#[derive(Debug)]
struct State {
    seen: Vec<SeenLease>,
    /// Whether each shard's Lease was read at least once: nothing is taken or asked for
    /// before the whole picture is known.
    read: Vec<bool>,
    leading: Vec<bool>,
    acquiring: usize,
    request: Option<(usize, Instant)>,
    handing_over: Option<usize>,
}

/// Shared by one replica's shard electors.
#[derive(Debug)]
pub struct ShardBoard {
    me: String,
    lease_duration: Duration,
    /// `prescale_shards_held`.
    shards_held: Gauge,
    state: Mutex<State>,
}

impl ShardBoard {
    /// A board for `shards` shards of replica `me`, whose requests are given up after
    /// `lease_duration`.
    pub fn new(
        shards: usize,
        me: String,
        lease_duration: Duration,
        telemetry: Arc<Telemetry>,
    ) -> Arc<Self> {
        Arc::new(Self {
            me,
            lease_duration,
            shards_held: telemetry.shards_held.clone(),
            state: Mutex::new(State {
                seen: vec![SeenLease::default(); shards],
                read: vec![false; shards],
                leading: vec![false; shards],
                acquiring: 0,
                request: None,
                handing_over: None,
            }),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The state stays consistent under a panic elsewhere: each update is one statement.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Record what `shard`'s Lease holds now: its live holder, or `None` when free or expired.
    pub fn saw(&self, shard: usize, holder: Option<&str>) {
        let mut s = self.state();
        if let Some(seen) = s.seen.get_mut(shard) {
            seen.holder = holder.map(str::to_string);
        }
        if let Some(read) = s.read.get_mut(shard) {
            *read = true;
        }
        // A request is settled once the shard is this replica's.
        if holder == Some(self.me.as_str()) && s.request.is_some_and(|(r, _)| r == shard) {
            s.request = None;
        }
    }

    /// Reserve the right to try taking a free shard; `false` when at the fair share (or
    /// not every Lease was read yet). Pair with [`Self::end_acquire`].
    pub fn begin_acquire(&self) -> bool {
        let mut s = self.state();
        if !s.read.iter().all(|r| *r) || !may_take_free(&s.seen, &self.me, s.acquiring) {
            return false;
        }
        s.acquiring += 1;
        true
    }

    /// The acquisition attempt is over (won or lost).
    pub fn end_acquire(&self) {
        let mut s = self.state();
        s.acquiring = s.acquiring.saturating_sub(1);
    }

    /// Whether to ask the holder of `shard` for it now; if so the request is recorded as
    /// under way (one at a time, given up after a lease duration).
    pub fn begin_request(&self, shard: usize) -> bool {
        let now = Instant::now();
        let mut s = self.state();
        if s.request
            .is_some_and(|(_, at)| now < at + self.lease_duration)
            || !s.read.iter().all(|r| *r)
            || !should_request(&s.seen, &self.me, shard)
        {
            return false;
        }
        s.request = Some((shard, now));
        true
    }

    /// The request for `shard` could not be written: another may be tried at once.
    pub fn request_failed(&self, shard: usize) {
        let mut s = self.state();
        if s.request.is_some_and(|(r, _)| r == shard) {
            s.request = None;
        }
    }

    /// Whether to hand `shard` over to `requester` now; if so it is recorded as under way
    /// (one at a time). Pair with [`Self::end_hand_over`].
    pub fn begin_hand_over(&self, shard: usize, requester: &str) -> bool {
        let mut s = self.state();
        if s.handing_over.is_some() || !should_hand_over(&s.seen, &self.me, requester) {
            return false;
        }
        s.handing_over = Some(shard);
        true
    }

    /// The hand-over of `shard` is done (released, or left to expire).
    pub fn end_hand_over(&self, shard: usize) {
        let mut s = self.state();
        if let Some(seen) = s.seen.get_mut(shard) {
            seen.holder = None;
        }
        if s.handing_over == Some(shard) {
            s.handing_over = None;
        }
    }

    /// Whether this replica leads `shard`; kept in `prescale_shards_held`.
    pub fn set_leading(&self, shard: usize, leading: bool) {
        let mut s = self.state();
        if let Some(l) = s.leading.get_mut(shard) {
            *l = leading;
        }
        let held = s.leading.iter().filter(|l| **l).count();
        self.shards_held.set(held as i64);
    }

    /// A fraction in `[0, 1)` of the retry period by which a follower's next attempt at
    /// `shard` is put off, different per replica, shard and attempt (FNV-1a, no randomness
    /// to seed), so replicas do not all try a free Lease at the same instant.
    pub fn jitter(&self, shard: usize, attempt: u64) -> f64 {
        let hash = super::fnv1a(
            self.me
                .bytes()
                .chain((shard as u64).to_le_bytes())
                .chain(attempt.to_le_bytes()),
        );
        (hash % 1_000) as f64 / 1_000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn board(me: &str) -> Arc<ShardBoard> {
        ShardBoard::new(
            4,
            me.into(),
            Duration::from_secs(15),
            Arc::new(Telemetry::new()),
        )
    }

    #[test]
    fn nothing_is_taken_before_every_lease_was_read() {
        let b = board("a");
        b.saw(0, None);
        b.saw(1, None);
        b.saw(2, None);
        assert!(!b.begin_acquire());
        b.saw(3, Some("b"));
        // b holds one: two replicas, share 2.
        assert!(b.begin_acquire());
        assert!(b.begin_acquire());
        assert!(!b.begin_acquire(), "two under way reach the share");
        b.end_acquire();
        b.saw(0, Some("a"));
        assert!(!b.begin_acquire(), "one held, one under way");
    }

    #[tokio::test(start_paused = true)]
    async fn one_request_at_a_time_until_it_is_settled_or_given_up() {
        let b = board("c");
        for shard in 0..4 {
            b.saw(shard, Some(if shard < 3 { "a" } else { "b" }));
        }
        assert!(b.begin_request(0));
        assert!(!b.begin_request(0), "already asked");
        tokio::time::sleep(Duration::from_secs(15)).await;
        assert!(b.begin_request(0), "given up after a lease duration");
        b.request_failed(0);
        assert!(b.begin_request(0), "a failed write is retried");
        b.saw(0, Some("c"));
        // c holds 1, a holds 2: balanced.
        assert!(!b.begin_request(1));
    }

    #[test]
    fn one_hand_over_at_a_time() {
        let b = board("a");
        for shard in 0..4 {
            b.saw(shard, Some("a"));
        }
        assert!(b.begin_hand_over(0, "b"));
        assert!(!b.begin_hand_over(1, "b"));
        b.end_hand_over(0);
        assert!(b.begin_hand_over(1, "b"), "a holds 3, b none");
        b.end_hand_over(1);
        b.saw(0, Some("b"));
        b.saw(1, Some("b"));
        assert!(!b.begin_hand_over(2, "b"), "2 and 2");
    }

    #[test]
    fn shards_held_counts_the_shards_led() {
        let b = board("a");
        b.set_leading(1, true);
        b.set_leading(3, true);
        assert_eq!(b.shards_held.get(), 2);
        b.set_leading(1, false);
        assert_eq!(b.shards_held.get(), 1);
    }

    #[test]
    fn jitter_differs_between_replicas_and_stays_below_one() {
        let (a, b) = (board("a"), board("b"));
        let ja: Vec<f64> = (0..50).map(|i| a.jitter(0, i)).collect();
        let jb: Vec<f64> = (0..50).map(|i| b.jitter(0, i)).collect();
        assert_ne!(ja, jb);
        assert!(ja.iter().chain(&jb).all(|j| (0.0..1.0).contains(j)));
    }
}
