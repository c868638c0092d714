//! Whether this instance may act now, and the token a writer holds while it acts.
//!
//! The elector publishes a [`Term`]: leading until an instant (the start of the last
//! successful renewal plus the renew deadline), or following. Readers never trust a flag
//! that someone must remember to clear: validity is computed against the monotonic clock
//! at the moment of asking, so a process that was paused (SIGSTOP, a stalled node) and
//! resumes past its deadline is a follower before any of its tasks runs, whichever the
//! runtime wakes first. A writer holds a [`LeaderToken`] and runs its request through
//! [`LeaderToken::guard`], which cancels the request the instant leadership ends.

use std::future::Future;
use tokio::sync::watch;
use tokio::time::Instant;

/// What the elector last published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Term {
    /// Another instance may hold the Lease: do not act.
    Follower,
    /// Leading in term `id` (a new id each time leadership is gained).
    Leading {
        /// The term's number: a token of an earlier term is void even if leading again.
        id: u64,
        /// Leadership ends at this instant unless a renewal moves it; `None` without
        /// leader election (the only instance, always leading).
        until: Option<Instant>,
    },
}

impl Term {
    /// The term id when leading at `now`.
    fn leading_at(self, now: Instant) -> Option<u64> {
        match self {
            Term::Leading { id, until } if until.is_none_or(|u| now < u) => Some(id),
            _ => None,
        }
    }
}

/// The elector's side: publishes terms.
#[derive(Debug)]
pub struct LeadershipSender {
    tx: watch::Sender<Term>,
    terms: u64,
}

/// The readers' side: whether this instance leads now, and tokens for writers.
#[derive(Debug, Clone)]
pub struct Leadership {
    rx: watch::Receiver<Term>,
}

/// A new channel, following.
pub fn channel() -> (LeadershipSender, Leadership) {
    let (tx, rx) = watch::channel(Term::Follower);
    (LeadershipSender { tx, terms: 0 }, Leadership { rx })
}

impl LeadershipSender {
    /// Lead until `until`: a renewal within the current term, or a new term.
    pub fn lead_until(&mut self, until: Instant) {
        // A term whose deadline passed is over even if no step-down was published yet.
        let id = match self.tx.borrow().leading_at(Instant::now()) {
            Some(id) => id,
            None => {
                self.terms += 1;
                self.terms
            }
        };
        self.tx.send_replace(Term::Leading {
            id,
            until: Some(until),
        });
    }

    /// Lead for good (no leader election: the only instance).
    pub fn lead_always(&mut self) {
        self.terms += 1;
        self.tx.send_replace(Term::Leading {
            id: self.terms,
            until: None,
        });
    }

    /// Stop leading now; every token is void from this instant.
    pub fn step_down(&self) {
        self.tx.send_replace(Term::Follower);
    }

    /// Whether the published term still leads at `now` (the elector's own view).
    pub fn is_leading(&self, now: Instant) -> bool {
        self.tx.borrow().leading_at(now).is_some()
    }

    /// The published term.
    pub fn term(&self) -> Term {
        *self.tx.borrow()
    }

    /// A reader of this channel.
    pub fn subscribe(&self) -> Leadership {
        Leadership {
            rx: self.tx.subscribe(),
        }
    }
}

impl Leadership {
    /// Whether this instance leads at this instant.
    pub fn is_leader(&self) -> bool {
        self.rx.borrow().leading_at(Instant::now()).is_some()
    }

    /// A token for acting in the current term, or `None` when not leading now.
    pub fn token(&self) -> Option<LeaderToken> {
        let id = self.rx.borrow().leading_at(Instant::now())?;
        Some(LeaderToken {
            id,
            rx: self.rx.clone(),
        })
    }

    /// The term as last published (for reports and tests; use [`Self::is_leader`] or a
    /// token to decide whether to act).
    pub fn term(&self) -> Term {
        *self.rx.borrow()
    }

    /// Wait until the published term changes (for reports and tests); `false` once the
    /// elector is gone.
    pub async fn changed(&mut self) -> bool {
        self.rx.changed().await.is_ok()
    }
}

/// Leadership ended before or while the guarded request ran; the request was not sent or
/// was cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "leadership ended (renew deadline passed or the Lease was lost); the write was not sent or was cancelled"
)]
pub struct LeadershipLost;

/// The right to act in one term, checked against the clock each time it is used.
#[derive(Debug, Clone)]
pub struct LeaderToken {
    id: u64,
    rx: watch::Receiver<Term>,
}

impl LeaderToken {
    /// Whether the term is still current and its deadline not passed, at this instant.
    pub fn is_valid(&self) -> bool {
        self.rx.borrow().leading_at(Instant::now()) == Some(self.id)
    }

    /// Resolves the instant the term ends: a step-down, a new term, or the deadline (as
    /// moved by renewals) passing.
    pub async fn lost(&mut self) {
        loop {
            let term = *self.rx.borrow_and_update();
            let until = match term {
                Term::Leading { id, until } if id == self.id => until,
                _ => return,
            };
            match until {
                Some(until) => {
                    tokio::select! {
                        biased;
                        changed = self.rx.changed() => if changed.is_err() { return },
                        // The deadline passed with no renewal published meanwhile (one would
                        // have woken the branch above first): the term is over.
                        () = tokio::time::sleep_until(until) => return,
                    }
                }
                None => {
                    if self.rx.changed().await.is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// Run `request` only while the term lasts: not at all when it has already ended, and
    /// cancelled (dropped) the instant it ends.
    pub async fn guard<F: Future>(&mut self, request: F) -> Result<F::Output, LeadershipLost> {
        if !self.is_valid() {
            return Err(LeadershipLost);
        }
        let mut watcher = self.clone();
        tokio::select! {
            biased;
            () = watcher.lost() => Err(LeadershipLost),
            out = request => Ok(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn a_token_is_valid_until_the_deadline_and_renewals_move_it() {
        let (mut tx, leadership) = channel();
        assert!(leadership.token().is_none());
        let t0 = Instant::now();
        tx.lead_until(t0 + Duration::from_secs(10));
        let token = leadership.token().expect("leading");
        tokio::time::sleep(Duration::from_secs(9)).await;
        assert!(token.is_valid());
        // Renewed at 9 s: the same term, ten more seconds.
        tx.lead_until(t0 + Duration::from_secs(19));
        tokio::time::sleep(Duration::from_secs(9)).await;
        assert!(token.is_valid() && leadership.is_leader());
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!token.is_valid(), "the deadline passed without renewal");
        assert!(!leadership.is_leader());
    }

    #[tokio::test(start_paused = true)]
    async fn a_token_of_an_earlier_term_stays_void() {
        let (mut tx, leadership) = channel();
        tx.lead_until(Instant::now() + Duration::from_secs(10));
        let old = leadership.token().expect("leading");
        tx.step_down();
        assert!(!old.is_valid());
        tx.lead_until(Instant::now() + Duration::from_secs(10));
        assert!(!old.is_valid(), "a new term does not revive an old token");
        assert!(leadership.token().expect("leading").is_valid());
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_flight_is_cancelled_at_the_deadline() {
        let (mut tx, leadership) = channel();
        let t0 = Instant::now();
        tx.lead_until(t0 + Duration::from_secs(10));
        let mut token = leadership.token().expect("leading");
        // A write the API server takes 30 s to answer.
        let slow = tokio::time::sleep(Duration::from_secs(30));
        assert_eq!(token.guard(slow).await, Err(LeadershipLost));
        assert_eq!(Instant::now(), t0 + Duration::from_secs(10));
        // Once over, nothing more is sent.
        let sent = std::sync::atomic::AtomicBool::new(false);
        let request = async { sent.store(true, std::sync::atomic::Ordering::SeqCst) };
        assert_eq!(token.guard(request).await, Err(LeadershipLost));
        assert!(!sent.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[tokio::test(start_paused = true)]
    async fn a_step_down_cancels_at_once_and_a_quick_request_completes() {
        let (mut tx, leadership) = channel();
        tx.lead_until(Instant::now() + Duration::from_secs(10));
        let mut token = leadership.token().expect("leading");
        assert_eq!(token.guard(async { 7 }).await, Ok(7));
        let t0 = Instant::now();
        let stepping_down = async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            tx.step_down();
        };
        let (written, ()) = tokio::join!(
            token.guard(tokio::time::sleep(Duration::from_secs(5))),
            stepping_down
        );
        assert_eq!(written, Err(LeadershipLost));
        assert_eq!(Instant::now(), t0 + Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn without_election_the_token_never_expires() {
        let (mut tx, leadership) = channel();
        tx.lead_always();
        let mut token = leadership.token().expect("leading");
        tokio::time::sleep(Duration::from_secs(86_400 * 365)).await;
        assert!(token.is_valid());
        assert_eq!(
            token
                .guard(tokio::time::sleep(Duration::from_secs(60)))
                .await,
            Ok(())
        );
    }
}
