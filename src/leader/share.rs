//! How replicas share the shards: the rules each replica applies to what it last read of
//! every shard's Lease. Pure, so they are tested without a cluster or a clock.
//!
//! The Leases are the only shared state: a replica learns the others from the holders of
//! the shards' Leases (a holder whose Lease has not expired is alive), and asks for a shard
//! by writing a request into that Lease (an annotation, under its `resourceVersion`).
//!
//! - **Free shards** (never held, released, or expired): a replica takes one only while it
//!   holds fewer than its fair share, `ceil(shards / replicas)` with `replicas` the live
//!   holders and itself, one acquisition at a time, at jittered attempts. The first replica
//!   up takes every shard; a dead replica's shards go to the survivors below their share.
//! - **Balancing**: a replica that holds at least two shards fewer than a live holder asks
//!   that holder (the most loaded; ties to the lowest shard) for one shard, one request at a
//!   time. The holder, at its next renewal, hands the shard over if it still holds at least
//!   two more than the requester: it stops acting first, then releases the Lease, which is
//!   kept for the requester for one lease duration. Otherwise it drops the request. So the
//!   counts end at most one apart (hence nobody above `ceil(shards / replicas)`), moving one
//!   shard at a time per holder.

use std::collections::BTreeSet;

/// One shard's Lease as this replica last read it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeenLease {
    /// Its holder, when the Lease is held and has not expired (this replica's own Leases
    /// count while it holds them).
    pub holder: Option<String>,
}

/// `ceil(shards / replicas)`: the most any replica should hold when `replicas` are alive.
pub fn fair_share(shards: usize, replicas: usize) -> usize {
    shards.div_ceil(replicas.max(1))
}

/// The live replicas: every live holder, and `me`.
pub fn replicas<'a>(seen: &'a [SeenLease], me: &'a str) -> BTreeSet<&'a str> {
    seen.iter()
        .filter_map(|s| s.holder.as_deref())
        .chain(std::iter::once(me))
        .collect()
}

/// How many shards `who` holds.
pub fn held_by(seen: &[SeenLease], who: &str) -> usize {
    seen.iter()
        .filter(|s| s.holder.as_deref() == Some(who))
        .count()
}

/// May `me`, with `acquiring` acquisitions already under way, try to take a free shard?
pub fn may_take_free(seen: &[SeenLease], me: &str, acquiring: usize) -> bool {
    let share = fair_share(seen.len(), replicas(seen, me).len());
    held_by(seen, me) + acquiring < share
}

/// Should `me` ask the holder of `shard` to hand it over? Only the most loaded holder's
/// lowest shard is asked for, and only when that holder has at least two more than `me`.
pub fn should_request(seen: &[SeenLease], me: &str, shard: usize) -> bool {
    let Some(holder) = seen.get(shard).and_then(|s| s.holder.as_deref()) else {
        return false;
    };
    if holder == me {
        return false;
    }
    let mine = held_by(seen, me);
    // The most loaded other holder, ties to the one whose first shard comes first.
    let mut most: Option<(&str, usize)> = None;
    for s in seen {
        let Some(h) = s.holder.as_deref() else {
            continue;
        };
        if h == me {
            continue;
        }
        let n = held_by(seen, h);
        if most.is_none_or(|(_, m)| n > m) {
            most = Some((h, n));
        }
    }
    let Some((target, load)) = most else {
        return false;
    };
    let first_of_target = seen
        .iter()
        .position(|s| s.holder.as_deref() == Some(target));
    target == holder && first_of_target == Some(shard) && load >= mine + 2
}

/// Should `me`, holding `shard`, hand it over to `requester`? When `me` holds at least two
/// more than the requester.
pub fn should_hand_over(seen: &[SeenLease], me: &str, requester: &str) -> bool {
    requester != me && held_by(seen, me) >= held_by(seen, requester) + 2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(holders: &[Option<&str>]) -> Vec<SeenLease> {
        holders
            .iter()
            .map(|h| SeenLease {
                holder: h.map(str::to_string),
            })
            .collect()
    }

    #[test]
    fn fair_share_rounds_up() {
        assert_eq!(fair_share(6, 3), 2);
        assert_eq!(fair_share(7, 3), 3);
        assert_eq!(fair_share(6, 1), 6);
        assert_eq!(fair_share(1, 3), 1);
        assert_eq!(fair_share(6, 0), 6);
    }

    #[test]
    fn the_first_replica_takes_every_free_shard_and_others_stop_at_their_share() {
        let none = seen(&[None; 6]);
        assert!(may_take_free(&none, "a", 5));
        assert!(!may_take_free(&none, "a", 6));
        // a holds 2, b holds 1: three replicas seen by c -> share 2.
        let s = seen(&[Some("a"), Some("a"), Some("b"), None, None, None]);
        assert!(may_take_free(&s, "c", 1));
        assert!(!may_take_free(&s, "c", 2), "one at a time up to the share");
        // a sees only b besides itself: share 3, so one more under way reaches it.
        assert!(!may_take_free(&s, "a", 1));
        assert!(may_take_free(&s, "b", 0));
    }

    #[test]
    fn survivors_split_a_dead_replicas_shards() {
        // c died: its two Leases expired, so b and a see two replicas: share 3 each.
        let s = seen(&[Some("a"), Some("a"), Some("b"), Some("b"), None, None]);
        assert!(may_take_free(&s, "a", 0));
        assert!(!may_take_free(&s, "a", 1), "a takes one, not both");
        assert!(may_take_free(&s, "b", 0));
    }

    #[test]
    fn a_newcomer_asks_the_most_loaded_holder_for_its_first_shard_only() {
        let s = seen(&[
            Some("a"),
            Some("b"),
            Some("a"),
            Some("b"),
            Some("a"),
            Some("b"),
        ]);
        // c holds none; a and b hold 3 each: ask a (first to appear) for shard 0 only.
        assert!(should_request(&s, "c", 0));
        for shard in 1..6 {
            assert!(!should_request(&s, "c", shard), "shard {shard}");
        }
        // a hands over: it holds 3, c none.
        assert!(should_hand_over(&s, "a", "c"));
        // With a at 2 and c at 1, neither asks nor hands over.
        let s = seen(&[
            Some("c"),
            Some("b"),
            Some("a"),
            Some("b"),
            Some("a"),
            Some("b"),
        ]);
        assert!(should_request(&s, "c", 1), "b still has two more than c");
        assert!(!should_request(&s, "c", 2));
        assert!(!should_hand_over(&s, "a", "c"));
        let balanced = seen(&[
            Some("c"),
            Some("c"),
            Some("a"),
            Some("b"),
            Some("a"),
            Some("b"),
        ]);
        for shard in 0..6 {
            for me in ["a", "b", "c"] {
                assert!(!should_request(&balanced, me, shard), "{me} {shard}");
            }
        }
    }

    #[test]
    fn nobody_asks_for_its_own_shard_or_a_free_one() {
        let s = seen(&[Some("a"), Some("a"), Some("a"), None]);
        assert!(!should_request(&s, "a", 0));
        assert!(!should_request(&s, "b", 3));
        assert!(!should_hand_over(&s, "a", "a"));
    }

    /// Balancing converges from any start: with every replica applying the rules to the same
    /// view, counts end at most one apart and nobody above the fair share.
    #[test]
    fn balancing_converges_to_counts_at_most_one_apart() {
        for (shards, start) in [
            (6usize, vec![6usize, 0, 0]),
            (7, vec![7, 0, 0]),
            (6, vec![4, 2, 0]),
            (8, vec![8, 0]),
        ] {
            let names = ["a", "b", "c"];
            let mut holders: Vec<Option<&str>> = Vec::new();
            for (i, n) in start.iter().enumerate() {
                holders.extend(std::iter::repeat_n(Some(names[i]), *n));
            }
            let mut s = seen(&holders);
            let replicas = start.len();
            for _ in 0..shards * 2 {
                let moved = (0..shards).find_map(|shard| {
                    names[..replicas]
                        .iter()
                        .find(|me| should_request(&s, me, shard))
                        .map(|me| (shard, *me))
                });
                let Some((shard, me)) = moved else { break };
                let holder = s[shard].holder.clone().expect("held");
                assert!(should_hand_over(&s, &holder, me));
                s[shard].holder = Some(me.to_string());
            }
            let counts: Vec<usize> = names[..replicas].iter().map(|n| held_by(&s, n)).collect();
            let (lo, hi) = (counts.iter().min().copied(), counts.iter().max().copied());
            assert!(hi.zip(lo).is_some_and(|(h, l)| h - l <= 1), "{counts:?}");
            assert!(
                counts.iter().all(|c| *c <= fair_share(shards, replicas)),
                "{counts:?}"
            );
        }
    }
}
