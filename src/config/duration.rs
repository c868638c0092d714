//! Human durations as written in the file: `90s`, `5m`, `1h30m`, `14d`, `500ms`, `0s`.
//!
//! A tiny parser rather than `humantime`'s: the accepted syntax is exactly the one the JSON
//! Schema's pattern describes (so a later CRD accepts the same strings), bare numbers are
//! rejected (is `90` seconds or minutes?), and the error says what to write instead.

use std::borrow::Cow;
use std::time::Duration;

/// A duration exactly as written in the file, parsed by validation (so every bad duration in
/// a file is reported at once, each with its key and line).
///
/// Any scalar is accepted here, numbers included, so that `interval: 90` reaches validation and
/// gets the "write a duration with a unit" hint rather than a type error.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct DurationText(pub String);

/// The units and their length in milliseconds, smallest first.
const UNITS: [(&str, u64); 5] = [
    ("ms", 1),
    ("s", 1_000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
];

/// The syntax, as a regular expression for the JSON Schema.
const PATTERN: &str = "^([0-9]+(ms|s|m|h|d))+$";

/// What to write, appended to every duration error.
pub const DURATION_HINT: &str =
    "write a duration with a unit, e.g. `90s`, `5m`, `1h30m`, `14d` or `500ms`";

/// Parse a duration: one or more `<whole number><unit>` parts, units `ms`, `s`, `m`, `h`, `d`.
///
/// The error is a short statement of what is wrong (without the hint, see [`DURATION_HINT`]).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".into());
    }
    if text.parse::<f64>().is_ok() {
        return Err(format!("`{text}` has no unit"));
    }
    if text.starts_with('-') {
        return Err(format!("`{text}` is negative"));
    }
    if text.contains(char::is_whitespace) {
        return Err(format!("`{text}` contains spaces"));
    }
    let mut rest = text;
    let mut total_ms: u64 = 0;
    while !rest.is_empty() {
        let (number, after) = rest.split_at(leading(rest, |c| c.is_ascii_digit()));
        if number.is_empty() {
            return Err(format!("`{text}` is not a duration"));
        }
        let (unit, after) = after.split_at(leading(after, |c| !c.is_ascii_digit()));
        let factor = UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, factor)| *factor)
            .ok_or_else(|| unit_error(text, unit))?;
        total_ms = number
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(factor))
            .and_then(|ms| total_ms.checked_add(ms))
            .ok_or_else(|| format!("`{text}` is too long"))?;
        rest = after;
    }
    Ok(Duration::from_millis(total_ms))
}

/// Length in bytes of the prefix of `text` whose characters satisfy `keep`.
fn leading(text: &str, keep: impl Fn(char) -> bool) -> usize {
    text.find(|c: char| !keep(c)).unwrap_or(text.len())
}

/// The error for a number followed by something that is not a unit.
fn unit_error(text: &str, unit: &str) -> String {
    if unit.is_empty() {
        format!("`{text}` ends without a unit")
    } else if unit.starts_with('.') {
        format!("`{text}` has a fraction; use a smaller unit instead (`90m`, not `1.5h`)")
    } else {
        format!("`{text}` has an unknown unit `{unit}`")
    }
}

/// Format a duration in the syntax [`parse_duration`] reads back, largest units first:
/// `1h30m`, `14d`, `500ms`, `0s`.
pub fn format_duration(duration: Duration) -> String {
    let mut ms = duration.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, factor) in UNITS.iter().rev() {
        let factor = u128::from(*factor);
        if ms >= factor {
            out.push_str(&format!("{}{unit}", ms / factor));
            ms %= factor;
        }
    }
    out
}

impl From<Duration> for DurationText {
    fn from(duration: Duration) -> Self {
        Self(format_duration(duration))
    }
}

impl schemars::JsonSchema for DurationText {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": PATTERN,
            "description": "A duration: whole numbers with units ms, s, m, h, d, e.g. `90s`, `1h30m`, `14d`.",
            "examples": ["15s", "5m", "1h30m", "14d"],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_in_the_syntax_it_parses() {
        for ms in [
            0,
            1,
            999,
            1_000,
            90_000,
            5_400_000,
            14 * 86_400_000,
            86_400_001,
        ] {
            let duration = Duration::from_millis(ms);
            assert_eq!(parse_duration(&format_duration(duration)), Ok(duration));
        }
        assert_eq!(format_duration(Duration::from_secs(5_400)), "1h30m");
    }
}
