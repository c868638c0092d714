//! Checks of names and URLs: Kubernetes DNS-1123 names, Prometheus metric and label names,
//! HTTP(S) URLs. Each returns what is wrong, or `None` when the text is fine.

/// A DNS-1123 label (namespaces): at most 63 lowercase letters, digits and `-`, starting and
/// ending with a letter or digit.
pub fn dns_label_problem(name: &str) -> Option<String> {
    if name.len() > 63 {
        return Some(format!("\"{name}\" is longer than 63 characters"));
    }
    segment_problem(name, name)
}

/// A DNS-1123 subdomain (Deployment and target names): at most 253 characters, dot-separated
/// labels of lowercase letters, digits and `-`.
pub fn dns_subdomain_problem(name: &str) -> Option<String> {
    if name.len() > 253 {
        return Some(format!("\"{name}\" is longer than 253 characters"));
    }
    name.split('.')
        .find_map(|segment| segment_problem(name, segment))
}

fn segment_problem(name: &str, segment: &str) -> Option<String> {
    if name.is_empty() {
        return Some("is empty".into());
    }
    if let Some(bad) = segment
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Some(format!("\"{name}\" contains `{bad}`"));
    }
    if segment.is_empty() || segment.starts_with('-') || segment.ends_with('-') {
        return Some(format!(
            "\"{name}\" must start and end with a letter or digit"
        ));
    }
    None
}

/// What to write instead of a bad DNS-1123 name.
pub const DNS_HINT: &str = "use lowercase letters, digits and `-`, starting and ending with a letter or digit, e.g. `summarizer`";

/// A Prometheus metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn metric_name_problem(name: &str) -> Option<String> {
    identifier_problem(name, |c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// A Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn label_name_problem(name: &str) -> Option<String> {
    identifier_problem(name, |c| c.is_ascii_alphanumeric() || c == '_')
}

fn identifier_problem(name: &str, allowed: impl Fn(char) -> bool) -> Option<String> {
    let Some(first) = name.chars().next() else {
        return Some("is empty".into());
    };
    if first.is_ascii_digit() {
        return Some(format!("\"{name}\" starts with a digit"));
    }
    name.chars()
        .find(|c| !allowed(*c))
        .map(|bad| format!("\"{name}\" contains `{bad}`"))
}

/// An absolute `http` or `https` URL with a host.
pub fn url_problem(url: &str) -> Option<String> {
    match reqwest::Url::parse(url) {
        Err(error) => Some(format!("\"{url}\" is not a valid URL ({error})")),
        Ok(parsed) if !matches!(parsed.scheme(), "http" | "https") => Some(format!(
            "\"{url}\" has scheme `{}`; only http and https are supported",
            parsed.scheme()
        )),
        Ok(parsed) if parsed.host_str().is_none_or(str::is_empty) => {
            Some(format!("\"{url}\" has no host"))
        }
        Ok(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names() {
        assert_eq!(dns_label_problem("docs-2"), None);
        assert!(dns_label_problem("docs.prod").is_some());
        assert_eq!(dns_subdomain_problem("summarizer.v2"), None);
        assert!(dns_subdomain_problem("Summarizer").is_some());
        assert!(dns_subdomain_problem("-a").is_some());
        assert!(dns_subdomain_problem("a..b").is_some());
        assert!(dns_label_problem(&"a".repeat(64)).is_some());
    }

    #[test]
    fn metric_and_label_names() {
        assert_eq!(metric_name_problem("docs:queue_depth"), None);
        assert!(metric_name_problem("docs-queue").is_some());
        assert!(label_name_problem("a:b").is_some());
        assert!(label_name_problem("9a").is_some());
    }

    #[test]
    fn urls() {
        assert_eq!(url_problem("http://prometheus.monitoring.svc:9090"), None);
        assert!(url_problem("prometheus:9090").is_some());
        assert!(url_problem("ftp://host/").is_some());
        assert!(url_problem("not a url").is_some());
    }
}
