//! Picking one target's series out of a shared query's result by label values, through an
//! index built once per result and per set of label names (10,000 targets each scanning
//! 10,000 series would be 10^8 comparisons a tick; with the index each is one lookup).

use crate::metrics::prometheus::{InstantSeries, Labels, RangeSeries};
use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

/// A series with labels.
pub trait Labelled {
    /// Its labels.
    fn labels(&self) -> &Labels;
}

impl Labelled for InstantSeries {
    fn labels(&self) -> &Labels {
        &self.labels
    }
}

impl Labelled for RangeSeries {
    fn labels(&self) -> &Labels {
        &self.labels
    }
}

/// `(hash of the values for one set of label names, series index)`, sorted: one lookup is a
/// binary search, and the index is one allocation (a map of `Vec`s took one per series).
type Index = Vec<(u64, usize)>;

/// The series of one result, and the indexes built on them so far.
pub struct Selector<S> {
    series: Vec<S>,
    indexes: Mutex<HashMap<Vec<String>, Arc<Index>>>,
}

fn key<'v>(values: impl Iterator<Item = Option<&'v String>>) -> u64 {
    let mut h = DefaultHasher::new();
    for v in values {
        // `None` (label absent) and "" hash apart: a series without the label never matches.
        v.is_some().hash(&mut h);
        v.map(String::as_str).unwrap_or("").hash(&mut h);
    }
    h.finish()
}

impl<S: Labelled> Selector<S> {
    /// Index-free until the first [`Selector::select`].
    pub fn new(series: Vec<S>) -> Self {
        Self {
            series,
            indexes: Mutex::new(HashMap::new()),
        }
    }

    /// Every series.
    pub fn series(&self) -> &[S] {
        &self.series
    }

    /// The series carrying every label of `want` with its value (all of them when `want`
    /// is empty), in the result's order.
    pub fn select(&self, want: &Labels) -> Vec<&S> {
        if want.is_empty() {
            return self.series.iter().collect();
        }
        let index = {
            let mut indexes = self.indexes.lock().unwrap_or_else(|p| p.into_inner());
            // Found without allocating (a result has an index or two: one per set of label
            // names its readers match on); built on the first reader with these names.
            let known = indexes
                .iter()
                .find(|(names, _)| names.iter().eq(want.keys()))
                .map(|(_, index)| index.clone());
            known.unwrap_or_else(|| {
                indexes
                    .entry(want.keys().cloned().collect())
                    .or_insert_with_key(|names| {
                        let mut index: Index = self
                            .series
                            .iter()
                            .enumerate()
                            .map(|(i, s)| {
                                let labels = s.labels();
                                (key(names.iter().map(|n| labels.get(n))), i)
                            })
                            .collect();
                        // By hash, then by position: a target's series stay in the result's
                        // order.
                        index.sort_unstable();
                        Arc::new(index)
                    })
                    .clone()
            })
        };
        let wanted = key(want.values().map(Some));
        let first = index.partition_point(|&(h, _)| h < wanted);
        index[first..]
            .iter()
            .take_while(|&&(h, _)| h == wanted)
            .map(|&(_, i)| &self.series[i])
            // A hash collision must not hand a target another's series.
            .filter(|s| want.iter().all(|(k, v)| s.labels().get(k) == Some(v)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(ns: &str, deployment: &str) -> InstantSeries {
        InstantSeries {
            labels: Labels::from([
                ("namespace".to_string(), ns.to_string()),
                ("deployment".to_string(), deployment.to_string()),
            ]),
            t: 0.0,
            value: 1.0,
            raw: "1".into(),
        }
    }

    fn want(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_target_gets_exactly_the_series_with_its_labels() {
        let s = Selector::new(vec![
            series("shop", "web"),
            series("shop", "api"),
            series("batch", "web"),
        ]);
        let found = s.select(&want(&[("namespace", "shop"), ("deployment", "web")]));
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].labels.get("namespace").map(String::as_str),
            Some("shop")
        );
        assert_eq!(s.select(&want(&[("deployment", "web")])).len(), 2);
        assert_eq!(s.select(&want(&[("deployment", "nope")])).len(), 0);
        assert_eq!(s.select(&want(&[("missing", "")])).len(), 0);
        assert_eq!(s.select(&Labels::new()).len(), 3);
    }
}
