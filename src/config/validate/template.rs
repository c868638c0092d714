//! `${namespace}`, `${name}` and `${target}` in a metric's `promql` and in a shared query's
//! `match` values: one entry under `defaults.metrics` serves every target, each getting its
//! own Deployment's namespace and name and its own target name.

use crate::config::types::MetricSource;

/// The variables a template may use.
pub const VARIABLES: [&str; 3] = ["namespace", "name", "target"];

/// One target's values of the variables.
#[derive(Debug, Clone, Copy)]
pub struct Vars<'a> {
    /// The Deployment's namespace.
    pub namespace: &'a str,
    /// The Deployment's name.
    pub name: &'a str,
    /// The target's name.
    pub target: &'a str,
}

impl Vars<'_> {
    fn get(&self, variable: &str) -> Option<&str> {
        match variable {
            "namespace" => Some(self.namespace),
            "name" => Some(self.name),
            "target" => Some(self.target),
            _ => None,
        }
    }
}

/// What is wrong with the `${...}` in `text`, if anything: an unknown variable or an
/// unterminated `${`.
pub fn template_problem(text: &str) -> Option<String> {
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        let after = &rest[at + 2..];
        let Some(end) = after.find('}') else {
            return Some(format!("`${{` without a closing `}}` in {text:?}"));
        };
        let variable = &after[..end];
        if !VARIABLES.contains(&variable) {
            return Some(format!(
                "unknown variable `${{{variable}}}` (known: ${{namespace}}, ${{name}}, ${{target}})"
            ));
        }
        rest = &after[end + 1..];
    }
    None
}

/// Whether `text` uses any variable.
pub fn uses_variables(text: &str) -> bool {
    text.contains("${")
}

/// `text` with every variable replaced by its value (a checked template: unknown variables
/// are left as written).
pub fn substitute(text: &str, vars: &Vars<'_>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        match after.find('}') {
            Some(end) => {
                let variable = &after[..end];
                match vars.get(variable) {
                    Some(value) => out.push_str(value),
                    None => out.push_str(&rest[at..at + 3 + end]),
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[at..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// `source` for one target: its PromQL and `match` values with the target's variables.
pub fn for_target(source: &MetricSource, vars: &Vars<'_>) -> MetricSource {
    match source {
        MetricSource::Promql {
            query,
            aggregate,
            ignore_null_values,
        } => MetricSource::Promql {
            query: substitute(query, vars),
            aggregate: *aggregate,
            ignore_null_values: *ignore_null_values,
        },
        MetricSource::Shared {
            name,
            query,
            labels,
            aggregate,
            ignore_null_values,
        } => MetricSource::Shared {
            name: name.clone(),
            query: query.clone(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.clone(), substitute(v, vars)))
                .collect(),
            aggregate: *aggregate,
            ignore_null_values: *ignore_null_values,
        },
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VARS: Vars<'static> = Vars {
        namespace: "shop",
        name: "web",
        target: "web-queue",
    };

    #[test]
    fn variables_are_replaced_and_checked() {
        assert_eq!(
            substitute(
                r#"sum(q{namespace="${namespace}",deployment="${name}"})"#,
                &VARS
            ),
            r#"sum(q{namespace="shop",deployment="web"})"#
        );
        assert_eq!(substitute("${target}-jobs", &VARS), "web-queue-jobs");
        assert_eq!(substitute("no variables", &VARS), "no variables");
        assert_eq!(template_problem("${namespace}/${name}/${target}"), None);
        assert!(
            template_problem("${deployment}")
                .is_some_and(|p| p.contains("unknown variable `${deployment}`"))
        );
        assert!(template_problem("${name").is_some_and(|p| p.contains("without a closing")));
    }
}
