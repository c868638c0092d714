//! Rejected configuration text and the problems its report names, shared by the config tests.

use prescale::config;

/// The origin every test file is parsed as.
pub const ORIGIN: &str = "prescale.yaml";

/// The error report for `text`, which must be rejected.
pub fn report(text: &str) -> String {
    match config::parse(text, ORIGIN) {
        Ok(config) => panic!("accepted:\n{text}\nas {config:#?}"),
        Err(error) => error.to_string(),
    }
}

/// Assert that `report` has a problem at `line` for key `path` mentioning each of `words`.
#[track_caller]
pub fn assert_problem(report: &str, line: u32, path: &str, words: &[&str]) {
    let found = report.lines().any(|problem| {
        problem.starts_with(&format!("{ORIGIN}:{line}:"))
            && problem.contains(&format!(" {path}: "))
            && words.iter().all(|word| problem.contains(word))
    });
    assert!(
        found,
        "expected a problem at line {line} for `{path}` mentioning {words:?}; got:\n{report}"
    );
}
