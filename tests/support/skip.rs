//! The one way a test skips for a missing component (a binary, the shared traces, a
//! loopback address): loudly on a developer's machine, and as a failure under CI, where
//! `.ci/run` installs everything and a skip would hide a test that never ran.
#![allow(dead_code)]

use std::io::Write;

/// Whether this run is CI: `CI` is set to anything but empty, `0` or `false` (CI systems
/// set `CI=true`).
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false" | "FALSE"))
}

/// Skip `test` because `missing` is absent, saying how to get it (`fix`). Under CI this
/// panics: the component must be there. Elsewhere the message goes straight to stderr,
/// past the test harness's capture, so a skip is never silent.
pub fn skip(test: &str, missing: &str, fix: &str) {
    let message = format!("SKIPPED {test}: {missing}; {fix}");
    if under_ci() {
        panic!("{message}; under CI (CI=true) a missing component is a failure");
    }
    let _ = writeln!(std::io::stderr(), "\n!!!!!!!!!! {message} !!!!!!!!!!\n");
}
