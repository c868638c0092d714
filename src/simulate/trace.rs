//! Load traces: `timestamp_s,value` CSV files with a regular step.

use std::path::Path;

/// A load trace: documents that arrived in each interval of `step_s` seconds, from t = 0.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// Where the trace came from (a file path, or `synthetic`).
    pub name: String,
    /// Interval length in seconds (a multiple of the bench tick).
    pub step_s: u64,
    /// Documents that arrived in `[i * step_s, (i + 1) * step_s)`.
    pub values: Vec<f64>,
}

/// Why a trace could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The file could not be read.
    #[error("{path}: cannot read the trace: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The content is not a valid trace.
    #[error("{origin}:{line}: {problem}; {fix}")]
    Invalid {
        /// File name.
        origin: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        problem: String,
        /// What to write instead.
        fix: &'static str,
    },
}

const HEADER_FIX: &str = "the first line must be the header `timestamp_s,value`";
const ROW_FIX: &str =
    "each row is `timestamp_s,value`: whole seconds from 0 and a count of arrivals >= 0";
const STEP_FIX: &str =
    "timestamps must be evenly spaced from 0, by a step that is a multiple of 15 s";

impl Trace {
    /// Read a trace file.
    pub fn load(path: &Path) -> Result<Trace, TraceError> {
        let text = std::fs::read_to_string(path).map_err(|source| TraceError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parse trace text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Trace, TraceError> {
        let invalid = |line: usize, problem: String, fix: &'static str| TraceError::Invalid {
            origin: origin.to_string(),
            line,
            problem,
            fix,
        };
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        match lines.next() {
            Some((_, header)) if header.trim() == "timestamp_s,value" => {}
            Some((i, header)) => {
                return Err(invalid(
                    i + 1,
                    format!("unexpected header `{}`", header.trim()),
                    HEADER_FIX,
                ));
            }
            None => return Err(invalid(1, "the file is empty".into(), HEADER_FIX)),
        }
        let mut step_s = 0u64;
        let mut values = Vec::new();
        for (i, row) in lines {
            let line = i + 1;
            let (ts, value) = row
                .trim()
                .split_once(',')
                .ok_or_else(|| invalid(line, format!("`{}` has no comma", row.trim()), ROW_FIX))?;
            let ts: u64 = ts.trim().parse().map_err(|_| {
                invalid(
                    line,
                    format!("timestamp `{}` is not a whole number of seconds", ts.trim()),
                    ROW_FIX,
                )
            })?;
            let value: f64 = value.trim().parse().map_err(|_| {
                invalid(
                    line,
                    format!("value `{}` is not a number", value.trim()),
                    ROW_FIX,
                )
            })?;
            if !value.is_finite() || value < 0.0 {
                return Err(invalid(
                    line,
                    format!("value {value} is not a finite count >= 0"),
                    ROW_FIX,
                ));
            }
            if values.is_empty() && ts != 0 {
                return Err(invalid(
                    line,
                    format!("the first timestamp is {ts}, not 0"),
                    STEP_FIX,
                ));
            }
            if values.len() == 1 {
                step_s = ts;
                if step_s == 0 || !step_s.is_multiple_of(15) {
                    return Err(invalid(line, format!("the step is {step_s} s"), STEP_FIX));
                }
            }
            let expected = step_s * values.len() as u64;
            if values.len() > 1 && ts != expected {
                return Err(invalid(
                    line,
                    format!("timestamp {ts}, expected {expected}"),
                    STEP_FIX,
                ));
            }
            values.push(value);
        }
        if values.len() < 2 {
            return Err(invalid(
                1,
                "a trace needs at least two rows".into(),
                STEP_FIX,
            ));
        }
        Ok(Trace {
            name: origin.to_string(),
            step_s,
            values,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_regular_trace() {
        let t = Trace::parse("timestamp_s,value\n0,1\n60,2.5\n120,0\n", "t.csv").unwrap();
        assert_eq!(t.step_s, 60);
        assert_eq!(t.values, vec![1.0, 2.5, 0.0]);
    }

    #[test]
    fn rejects_bad_traces_naming_the_line() {
        let cases = [
            ("ts,v\n0,1\n15,1\n", ":1:", "header"),
            ("timestamp_s,value\n15,1\n30,1\n", ":2:", "first timestamp"),
            ("timestamp_s,value\n0,1\n20,1\n", ":3:", "step is 20"),
            ("timestamp_s,value\n0,1\n15,1\n31,1\n", ":4:", "expected 30"),
            ("timestamp_s,value\n0,1\n15,-1\n", ":3:", "finite count"),
            ("timestamp_s,value\n0,1\n15,x\n", ":3:", "not a number"),
            ("timestamp_s,value\n0,1\n15\n", ":3:", "no comma"),
            ("", ":1:", "empty"),
            ("timestamp_s,value\n0,1\n", ":1:", "two rows"),
        ];
        for (text, line, what) in cases {
            let err = Trace::parse(text, "t.csv").unwrap_err().to_string();
            assert!(
                err.contains(line) && err.contains(what),
                "{text:?} gave {err}"
            );
        }
    }
}
