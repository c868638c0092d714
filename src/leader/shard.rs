//! Which shard a target belongs to, and the name of each shard's Lease. Pure.
//!
//! A target's shard is a stable hash (FNV-1a, 64 bits, no random key: every replica and every
//! release computes the same) of the identity of the object it scales (API group, kind,
//! namespace, name), modulo the number of shards. The config's one-writer check allows one
//! target per scaled object, so a write to an object is always made under one shard's
//! Lease. Renaming a target does not move it; pointing it at another object may.

/// The most shards `--shards` accepts: each replica reads every shard's Lease once per retry
/// period, so the Lease traffic grows with the count (64 shards at the default 2 s is 32 GETs
/// a second per replica).
pub const MAX_SHARDS: u32 = 64;

/// FNV-1a (64-bit) of `bytes`: stable across processes and releases, unlike std's
/// randomly keyed hasher.
pub fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// [`fnv1a`] of `parts`, each followed by a separator byte no Kubernetes name contains, so
/// `("ab", "c")` and `("a", "bc")` differ.
fn identity_hash(parts: &[&str]) -> u64 {
    fnv1a(
        parts
            .iter()
            .flat_map(|p| p.bytes().chain(std::iter::once(b'/'))),
    )
}

/// The shard (in `0..shards`) of the object `group`/`kind`/`namespace`/`name` (`group` empty
/// for the core group). One shard when `shards` is 0 or 1.
pub fn shard_of(group: &str, kind: &str, namespace: &str, name: &str, shards: u32) -> u32 {
    if shards <= 1 {
        return 0;
    }
    (identity_hash(&[group, kind, namespace, name]) % u64::from(shards)) as u32
}

/// The Lease of shard `shard` of `shards`: `base` itself for one shard (the Lease of a
/// single leader keeps its name, so an upgrade keeps working), otherwise
/// `<base>-NN-of-MM` as Knative's buckets.
pub fn lease_name(base: &str, shard: u32, shards: u32) -> String {
    if shards <= 1 {
        return base.to_string();
    }
    format!("{base}-{shard:02}-of-{shards:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shard_of_an_object_never_changes() {
        // Pinned values: a change here moves targets between Leases on upgrade, which is
        // safe (Leases still exclude each other) but must be deliberate.
        assert_eq!(shard_of("apps", "Deployment", "shop", "web", 6), 0);
        assert_eq!(shard_of("apps", "Deployment", "shop", "worker", 6), 2);
        assert_eq!(shard_of("argoproj.io", "Rollout", "shop", "web", 6), 4);
        assert_eq!(
            identity_hash(&["apps", "Deployment", "shop", "web"]),
            0x3060_6cf7_3b49_5270
        );
        assert_eq!(shard_of("apps", "Deployment", "shop", "web", 1), 0);
        assert_eq!(shard_of("apps", "Deployment", "shop", "web", 0), 0);
    }

    #[test]
    fn every_part_of_the_identity_counts() {
        let base = identity_hash(&["apps", "Deployment", "shop", "web"]);
        for other in [
            ["", "Deployment", "shop", "web"],
            ["apps", "StatefulSet", "shop", "web"],
            ["apps", "Deployment", "shop2", "web"],
            ["apps", "Deployment", "shop", "web2"],
            ["apps", "Deployment", "sho", "pweb"],
        ] {
            assert_ne!(identity_hash(&other), base, "{other:?}");
        }
    }

    #[test]
    fn targets_spread_evenly_over_the_shards() {
        for shards in [2u32, 3, 6, 16, MAX_SHARDS] {
            let n = 10_000u32;
            let mut per = vec![0u32; shards as usize];
            for i in 0..n {
                let ns = format!("team-{}", i % 37);
                let name = format!("queue-worker-{i}");
                per[shard_of("apps", "Deployment", &ns, &name, shards) as usize] += 1;
            }
            let mean = f64::from(n) / f64::from(shards);
            for (s, &c) in per.iter().enumerate() {
                assert!(
                    (f64::from(c) - mean).abs() < mean * 0.3,
                    "{shards} shards: shard {s} has {c}, mean {mean}: {per:?}"
                );
            }
        }
    }

    #[test]
    fn one_shard_keeps_the_single_leases_name_and_more_are_numbered() {
        assert_eq!(lease_name("prescale-leader", 0, 1), "prescale-leader");
        assert_eq!(
            lease_name("prescale-leader", 0, 6),
            "prescale-leader-00-of-06"
        );
        assert_eq!(
            lease_name("prescale-leader", 5, 6),
            "prescale-leader-05-of-06"
        );
        assert_eq!(lease_name("p", 12, 64), "p-12-of-64");
    }
}
