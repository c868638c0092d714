//! "Did you mean ...?" for misspelt keys and values.

/// The candidate closest to `word` by edit distance (case-insensitive), if it is close enough
/// to be a likely typo: at most a third of the word's length, and at least one edit allowed.
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word = word.to_lowercase();
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|candidate| (edit_distance(&word, &candidate.to_lowercase()), *candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_only_close_words() {
        let keys = ["minReplicas", "maxReplicas", "mode"];
        assert_eq!(closest("minReplica", &keys), Some("minReplicas"));
        assert_eq!(closest("MaxReplicas", &keys), Some("maxReplicas"));
        assert_eq!(closest("pod", &["Pods", "Percent"]), Some("Pods"));
        assert_eq!(closest("completely", &keys), None);
    }
}
