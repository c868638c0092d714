//! With `--shards` above 1, which targets' series a replica exports: those of the shards it
//! leads, so that over all replicas each target's series come from exactly one (its shard's
//! holder) and nothing is counted twice. Every replica computes every target (a hand-over is
//! warm); the others' series are kept out of `/metrics` when it is encoded.

use std::collections::{BTreeSet, HashMap};

/// The shards held and each target's shard.
#[derive(Debug, Default)]
pub struct ShardExport {
    /// `None`: one shard, every target exported while leading.
    held: Option<BTreeSet<u32>>,
    of_target: HashMap<String, u32>,
}

impl ShardExport {
    /// Record the shards led now; `true` when that changed.
    pub fn set_held(&mut self, held: BTreeSet<u32>) -> bool {
        if self.held.as_ref() == Some(&held) {
            return false;
        }
        self.held = Some(held);
        true
    }

    /// Record `target`'s shard, or forget the target (`None`).
    pub fn place(&mut self, target: &str, shard: Option<u32>) {
        match shard {
            Some(s) => {
                self.of_target.insert(target.to_string(), s);
            }
            None => {
                self.of_target.remove(target);
            }
        }
    }

    /// Whether some targets' series are kept out (`--shards` above 1); otherwise every
    /// series is exported and [`Self::filter_into`] need not run.
    pub fn filters(&self) -> bool {
        self.held.is_some()
    }

    /// Append to `out` the lines of OpenMetrics `text` whose `target` label names a target of
    /// a held shard (and every line without one: descriptors, series of no target).
    pub fn filter_into(&self, text: &str, out: &mut String) {
        let Some(held) = &self.held else {
            out.push_str(text);
            return;
        };
        for line in text.split_inclusive('\n') {
            let keep = line.starts_with('#')
                || target_label(line)
                    .is_none_or(|t| self.of_target.get(&t).is_some_and(|s| held.contains(s)));
            if keep {
                out.push_str(line);
            }
        }
    }
}

/// The value of the `target` label of a sample line (`name{target="web",...} 1`),
/// unescaped.
fn target_label(line: &str) -> Option<String> {
    let (_, labels) = line.split_once('{')?;
    let mut rest = labels;
    loop {
        let (key, after) = rest.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next()? {
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (i, '"') => break i,
                (_, c) => value.push(c),
            }
        };
        if key.trim_start_matches(',') == "target" {
            return Some(value);
        }
        rest = after[end + 1..].strip_prefix(',')?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(e: &ShardExport, text: &str) -> String {
        let mut out = String::new();
        e.filter_into(text, &mut out);
        out
    }

    #[test]
    fn only_the_targets_of_held_shards_are_exported() {
        let text = "# HELP prescale_recommended_replicas x\n\
# TYPE prescale_recommended_replicas gauge\n\
prescale_recommended_replicas{target=\"web\",namespace=\"shop\",deployment=\"web\"} 3\n\
prescale_recommended_replicas{target=\"wo\\\"rker\",namespace=\"shop\",deployment=\"w\"} 2\n\
prescale_ticks_total{stage=\"x\",target=\"web\"} 1\n\
prescale_other 4\n";
        let mut e = ShardExport::default();
        assert!(!e.filters());
        assert_eq!(filter(&e, text), text, "one shard: everything");
        e.place("web", Some(0));
        e.place("wo\"rker", Some(1));
        assert!(e.set_held(BTreeSet::from([1])));
        assert!(!e.set_held(BTreeSet::from([1])), "unchanged");
        assert!(e.filters());
        let out = filter(&e, text);
        assert!(out.contains("target=\"wo\\\"rker\""), "{out}");
        assert!(!out.contains("target=\"web\""), "{out}");
        assert!(
            out.contains("# TYPE") && out.contains("prescale_other 4"),
            "{out}"
        );
        e.place("wo\"rker", None);
        assert!(
            !filter(&e, text).contains("rker"),
            "a removed target is not exported"
        );
    }

    #[test]
    fn the_target_label_is_found_anywhere_and_unescaped() {
        assert_eq!(
            target_label("m{target=\"a\\\\b\"} 1").as_deref(),
            Some("a\\b")
        );
        assert_eq!(
            target_label("m{le=\"0.5\",target=\"a,b\"} 1").as_deref(),
            Some("a,b")
        );
        assert_eq!(target_label("m{le=\"0.5\"} 1"), None);
        assert_eq!(target_label("m 1"), None);
    }
}
