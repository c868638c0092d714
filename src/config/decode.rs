//! YAML text to [`RawConfig`], turning `serde_saphyr`'s errors (syntax, unknown keys, wrong
//! types, unknown enum values) into a [`Problem`] with key path, position and a hint.
//!
//! `serde_path_to_error` supplies the key path; `serde_saphyr` supplies the position. Serde
//! stops at the first such error, so these are reported one at a time.

use super::error::{ConfigError, Problem, Report};
use super::locate::{Position, Positions};
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
        let mut problem = problem(clean_path(&path), &error);
        let indexed = || Positions::of(text).find(&problem.path);
        problem.position = match error.without_snippet() {
            // Point at the object missing the key; the parser's position is wherever it
            // noticed (the object's last key).
            YamlError::SerdeMissingField { .. } => indexed().or(problem.position),
            _ => problem.position.or_else(indexed),
        };
        ConfigError::Syntax(Report::new(origin, vec![problem]))
    })
}

/// Nothing but blank lines, comments and document markers.
fn is_blank(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .all(|line| line.is_empty() || line.starts_with('#') || line == "---" || line == "...")
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
        YamlError::InvalidScalar { ty, .. } => (format!("not a {}", human_type(ty)), type_hint(ty)),
        YamlError::Unexpected { expected, .. } => (
            format!("wrong type: expected {}", human_type(expected)),
            type_hint(expected),
        ),
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
        YamlError::MultipleDocuments { .. } => (
            "a second YAML document (after a `---` line)".into(),
            "keep the whole configuration in one document (remove this `---` and what follows, or merge it into the first)".into(),
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
        "scaleTargetRef" => "add `scaleTargetRef: {namespace: NAMESPACE, name: DEPLOYMENT}`".into(),
        "metrics" => "add `metrics:` with `queueDepth` and/or `arrivalRate`".into(),
        "url" => "add `url: http://HOST:PORT`".into(),
        _ => format!("add `{field}: ...`"),
    }
}

/// The kinds of value a message can expect, from `serde_saphyr`'s and serde's names for them.
enum Kind {
    Unsigned,
    Signed,
    Float,
    Bool,
    Mapping,
    List,
    Single,
    Other,
}

fn kind(expected: &str) -> Kind {
    let name = expected.trim_start_matches("a ").trim_start_matches("an ");
    let numbered = |prefix: char| {
        name.starts_with(prefix) && name.len() > 1 && name[1..].chars().all(|c| c.is_ascii_digit())
    };
    if numbered('u') {
        Kind::Unsigned
    } else if numbered('i') {
        Kind::Signed
    } else if numbered('f') || name.contains("float") {
        Kind::Float
    } else if name.contains("bool") {
        Kind::Bool
    } else if name.contains("map") || name.starts_with("struct") {
        Kind::Mapping
    } else if name.contains("sequence") {
        Kind::List
    } else if name.contains("scalar") || name.contains("string") {
        Kind::Single
    } else {
        Kind::Other
    }
}

/// `expected` in words.
fn human_type(expected: &str) -> String {
    match kind(expected) {
        Kind::Unsigned => "whole number >= 0".into(),
        Kind::Signed => "whole number".into(),
        Kind::Float => "number".into(),
        Kind::Bool => "boolean".into(),
        Kind::Mapping => "a mapping".into(),
        Kind::List => "a list".into(),
        Kind::Single => "a single value".into(),
        Kind::Other => expected.to_owned(),
    }
}

/// What to write for a value of type `expected`.
fn type_hint(expected: &str) -> String {
    match kind(expected) {
        Kind::Unsigned => "write a whole number >= 0, e.g. `3`".into(),
        Kind::Signed => "write a whole number, e.g. `3`".into(),
        Kind::Float => "write a number, e.g. `0.85`".into(),
        Kind::Bool => "write `true` or `false`".into(),
        Kind::Mapping => "write a mapping: indented `key: value` lines, or `{key: value}`".into(),
        Kind::List => "write a list: `- item` lines, or `[a, b]`".into(),
        Kind::Single => {
            "write a single value (a number, word or quoted string), not a list or mapping".into()
        }
        Kind::Other => format!("write {expected}"),
    }
}

/// `serde_saphyr` appends " at line L, column C"; the report shows the position itself.
fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(cut) => message[..cut].to_owned(),
        None => message.to_owned(),
    }
}
