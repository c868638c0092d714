//! YAML text to [`RawConfig`], turning `serde_saphyr`'s errors (syntax, unknown keys, wrong
//! types, unknown enum values) into a [`Problem`] with key path, position and a hint.
//!
//! `serde_path_to_error` supplies the key path; `serde_saphyr` supplies the position. Serde
//! stops at the first such error, so these are reported one at a time.

use super::error::{ConfigError, Problem, Report};
use super::locate::Position;
use super::raw::RawConfig;
use super::suggest::closest;
use serde_saphyr::Error as YamlError;

/// Parse `text` (named `origin` in messages) into the raw configuration.
pub fn decode(text: &str, origin: &str) -> Result<RawConfig, ConfigError> {
    if is_blank(text) {
        return Err(ConfigError::Empty {
            origin: origin.to_owned(),
        });
    }
    let mut path = String::new();
    serde_saphyr::with_deserializer_from_str(text, |deserializer| {
        serde_path_to_error::deserialize(deserializer).map_err(|error| {
            path = error.path().to_string();
            error.into_inner()
        })
    })
    .map_err(|error| {
        ConfigError::Syntax(Report::new(origin, vec![problem(clean_path(&path), &error)]))
    })
}

/// Nothing but blank lines, comments and document markers.
fn is_blank(text: &str) -> bool {
    text.lines().map(str::trim).all(|line| {
        line.is_empty() || line.starts_with('#') || line == "---" || line == "..."
    })
}

/// `serde_path_to_error` writes the root as `.` and keys it could not read as `?`.
fn clean_path(path: &str) -> &str {
    let path = path.trim_end_matches(".?").trim_end_matches('?');
    if path == "." { "" } else { path }
}

fn problem(path: &str, error: &YamlError) -> Problem {
    let (message, hint) = describe(error.without_snippet());
    Problem {
        position: error.location().and_then(Position::from_location),
        path: path.to_owned(),
        message,
        hint,
    }
}

/// What went wrong and what to write instead.
fn describe(error: &YamlError) -> (String, String) {
    match error {
        YamlError::SerdeUnknownField {
            field, expected, ..
        } => ("unknown key".into(), choice_hint(field, expected, "keys")),
        YamlError::SerdeUnknownVariant {
            variant, expected, ..
        } => (
            format!("unknown value \"{variant}\""),
            choice_hint(variant, expected, "values"),
        ),
        YamlError::SerdeMissingField { field, .. } => {
            (format!("missing key `{field}`"), missing_hint(field))
        }
        YamlError::SerdeInvalidType {
            unexpected,
            expected,
            ..
        }
        | YamlError::SerdeInvalidValue {
            unexpected,
            expected,
            ..
        } => (
            format!("wrong type: found {unexpected}, expected {expected}"),
            type_hint(expected),
        ),
        YamlError::InvalidScalar { ty, .. } => (format!("not a valid {ty}"), type_hint(ty)),
        YamlError::Unexpected { expected, .. } => {
            (format!("wrong type: expected {expected}"), type_hint(expected))
        }
        YamlError::NullIntoString { .. } => (
            "no value".into(),
            "write a value after the colon (quote it if it is empty: `\"\"`)".into(),
        ),
        YamlError::DuplicateMappingKey { key, .. } => (
            match key {
                Some(key) => format!("key `{key}` appears twice"),
                None => "a key appears twice".into(),
            },
            "keep only one of them".into(),
        ),
        YamlError::AliasError { error, .. } => describe(error.without_snippet()),
        other => (
            without_position(&other.to_string()),
            "fix the YAML syntax: check indentation, quotes and brackets".into(),
        ),
    }
}

/// "did you mean X?" when one choice is close, else the list of choices.
fn choice_hint(word: &str, choices: &[&'static str], noun: &str) -> String {
    let all = choices.join(", ");
    match closest(word, choices) {
        Some(best) => format!("did you mean `{best}`? (known {noun} here: {all})"),
        None if choices.is_empty() => format!("no {noun} are allowed here"),
        None => format!("write one of: {all}"),
    }
}

fn missing_hint(field: &str) -> String {
    match field {
        "targets" => "add `targets:` with a list of targets (`targets: []` to run none)".into(),
        "scaleTargetRef" => {
            "add `scaleTargetRef: {namespace: NAMESPACE, name: DEPLOYMENT}`".into()
        }
        "metrics" => "add `metrics:` with `queueDepth` and/or `arrivalRate`".into(),
        "url" => "add `url: http://HOST:PORT`".into(),
        _ => format!("add `{field}: ...`"),
    }
}

/// What to write for a value of type `expected` (a Rust type name or a serde description).
fn type_hint(expected: &str) -> String {
    let kind = expected.trim_start_matches("a ").trim_start_matches("an ");
    if kind.starts_with('u') && kind[1..].chars().all(|c| c.is_ascii_digit()) {
        "write a whole number >= 0, e.g. `3`".into()
    } else if kind.starts_with('i') && kind[1..].chars().all(|c| c.is_ascii_digit()) {
        "write a whole number, e.g. `3`".into()
    } else if kind.starts_with('f') && kind[1..].chars().all(|c| c.is_ascii_digit()) {
        "write a number, e.g. `0.85`".into()
    } else if kind.contains("bool") {
        "write `true` or `false`".into()
    } else if kind.contains("mapping") || kind.contains("map") || kind.starts_with("struct") {
        "write a mapping: indented `key: value` lines, or `{key: value}`".into()
    } else if kind.contains("sequence") {
        "write a list: `- item` lines, or `[a, b]`".into()
    } else if kind.contains("scalar") || kind.contains("string") {
        "write a single value (a number, word or quoted string), not a list or mapping".into()
    } else {
        format!("write {expected}")
    }
}

/// `serde_saphyr` appends " at line L, column C"; the report shows the position itself.
fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(cut) => message[..cut].to_owned(),
        None => message.to_owned(),
    }
}
