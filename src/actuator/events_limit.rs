//! The per-stream step of Event rate limiting (the other is [`super::EventSink`]'s queue,
//! which bounds the whole controller's rate): which of one target's decision Events
//! (`Recommendation`, `Rescaled`, `FloorRaised`...) are worth publishing, in the spirit of
//! Kubernetes' own event aggregation: a reader of `kubectl get events` wants to see each
//! turn of the load, not one Event per tick on a ramp.
//!
//! An Event is published when the value moves in a new direction (the first move, up after
//! down, down after up), or when `min_interval` has passed since the last one published;
//! otherwise it is suppressed, and the next one published says how many were. Pure: the
//! caller passes the time, so it is tested without a clock and reusable by any publisher
//! of per-object Events.

use std::time::Duration;
use tokio::time::Instant;

/// Which way a value moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// It rose.
    Up,
    /// It fell.
    Down,
}

/// What to do with one candidate Event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Publish it; `suppressed` Events were held back since the last one published.
    Publish {
        /// Changes not published since the last Event.
        suppressed: u32,
    },
    /// Hold it back (counted, and said in the next Event published).
    Suppress,
    /// The value is the one last published: there is nothing to say.
    Unchanged,
}

/// The rate limit state of one stream of Events (one target's decisions).
#[derive(Debug, Clone, Default)]
pub struct EventLimiter {
    last_value: Option<u32>,
    last_direction: Option<Direction>,
    last_published: Option<Instant>,
    suppressed: u32,
}

impl EventLimiter {
    /// Whether an Event for a change to `value` at `now` is published, with `min_interval`
    /// between Events in the same direction. The first value is always published; a value
    /// equal to the last one published is [`Verdict::Unchanged`].
    pub fn check(&mut self, value: u32, now: Instant, min_interval: Duration) -> Verdict {
        let Some(last) = self.last_value else {
            return self.publish(value, None, now);
        };
        if value == last {
            return Verdict::Unchanged;
        }
        let direction = if value > last {
            Direction::Up
        } else {
            Direction::Down
        };
        let turned = self.last_direction != Some(direction);
        let due = self
            .last_published
            .is_none_or(|at| now.saturating_duration_since(at) >= min_interval);
        if turned || due {
            self.publish(value, Some(direction), now)
        } else {
            self.suppressed += 1;
            Verdict::Suppress
        }
    }

    fn publish(&mut self, value: u32, direction: Option<Direction>, now: Instant) -> Verdict {
        let suppressed = std::mem::take(&mut self.suppressed);
        self.last_value = Some(value);
        self.last_direction = direction;
        self.last_published = Some(now);
        Verdict::Publish { suppressed }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIVE_MIN: Duration = Duration::from_secs(300);

    fn at(start: Instant, s: u64) -> Instant {
        start + Duration::from_secs(s)
    }

    #[test]
    fn a_ramp_publishes_its_first_step_then_one_per_interval() {
        let start = Instant::now();
        let mut l = EventLimiter::default();
        assert_eq!(
            l.check(2, start, FIVE_MIN),
            Verdict::Publish { suppressed: 0 }
        );
        // Up, every 15 s: the first move up is a new direction, the rest wait.
        assert_eq!(
            l.check(3, at(start, 15), FIVE_MIN),
            Verdict::Publish { suppressed: 0 }
        );
        for (i, v) in (4..=10).enumerate() {
            assert_eq!(
                l.check(v, at(start, 30 + 15 * i as u64), FIVE_MIN),
                Verdict::Suppress
            );
        }
        assert_eq!(
            l.check(11, at(start, 15 + 300), FIVE_MIN),
            Verdict::Publish { suppressed: 7 }
        );
    }

    #[test]
    fn a_change_of_direction_is_always_published() {
        let start = Instant::now();
        let mut l = EventLimiter::default();
        l.check(5, start, FIVE_MIN);
        l.check(8, at(start, 15), FIVE_MIN);
        assert_eq!(l.check(9, at(start, 30), FIVE_MIN), Verdict::Suppress);
        assert_eq!(
            l.check(4, at(start, 45), FIVE_MIN),
            Verdict::Publish { suppressed: 1 }
        );
        assert_eq!(
            l.check(6, at(start, 60), FIVE_MIN),
            Verdict::Publish { suppressed: 0 }
        );
    }

    #[test]
    fn an_unchanged_value_is_never_published_and_zero_interval_publishes_every_change() {
        let start = Instant::now();
        let mut l = EventLimiter::default();
        l.check(5, start, Duration::ZERO);
        assert_eq!(
            l.check(5, at(start, 900), Duration::ZERO),
            Verdict::Unchanged
        );
        for v in 6..10 {
            assert_eq!(
                l.check(v, at(start, u64::from(v)), Duration::ZERO),
                Verdict::Publish { suppressed: 0 }
            );
        }
    }
}
