//! `queries:`: shared PromQL queries by name, each run once per interval for every target
//! that refers to it.

use super::context::Cx;
use super::template::uses_variables;
use crate::config::locate::join;
use crate::config::raw::RawSharedQuery;
use std::collections::BTreeMap;

/// The checked shared queries: name to PromQL.
pub type Queries = BTreeMap<String, String>;

/// Longest name of a shared query.
const MAX_NAME: usize = 63;

fn name_problem(name: &str) -> Option<String> {
    let mut chars = name.chars();
    match chars.next() {
        None => return Some("is empty".into()),
        Some(c) if !c.is_ascii_alphabetic() => {
            return Some(format!("\"{name}\" does not start with a letter"));
        }
        Some(_) => {}
    }
    if let Some(bad) = chars.find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-')) {
        return Some(format!("\"{name}\" contains `{bad}`"));
    }
    (name.len() > MAX_NAME).then(|| format!("\"{name}\" is longer than {MAX_NAME} characters"))
}

/// The valid entries of `queries:`; each bad one is a problem.
pub fn resolve_queries(raw: &BTreeMap<String, RawSharedQuery>, cx: &mut Cx<'_>) -> Queries {
    let mut queries = Queries::new();
    for (name, query) in raw {
        let path = join("queries", name);
        let mut ok = true;
        if let Some(problem) = name_problem(name) {
            cx.error(
                &path,
                format!("query name {problem}"),
                "name it with letters, digits, `_` and `-`, starting with a letter, e.g. `enqueued`",
            );
            ok = false;
        }
        let promql = query.promql.trim();
        if promql.is_empty() {
            cx.error(
                &join(&path, "promql"),
                "empty query",
                "write a query whose series carry the labels targets match on, e.g. `sum by (namespace, deployment) (rate(docs_enqueued_total[1m]))`",
            );
            ok = false;
        } else if uses_variables(promql) {
            cx.error(
                &join(&path, "promql"),
                "a shared query cannot use `${...}`: it runs once for every target",
                "keep the labels that tell targets apart in the result (`sum by (namespace, deployment) (...)`) and pick each target's series with `match:` where the metric refers to the query",
            );
            ok = false;
        }
        if ok {
            queries.insert(name.clone(), query.promql.clone());
        }
    }
    queries
}

#[cfg(test)]
mod tests {
    use super::name_problem;

    #[test]
    fn query_names() {
        assert_eq!(name_problem("enqueued_rate-2"), None);
        assert!(name_problem("2x").is_some());
        assert!(name_problem("a b").is_some());
        assert!(name_problem("").is_some());
    }
}
