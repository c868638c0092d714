//! Kubernetes resource quantities, for comparing requests with limits.

/// CPU in millicores: `50m`, `0.5`, `1`.
pub fn millicores(q: &str) -> f64 {
    match q.strip_suffix('m') {
        Some(milli) => milli.parse().expect("CPU millicores"),
        None => q.parse::<f64>().expect("CPU cores") * 1000.0,
    }
}

/// Memory in bytes: `64Mi`, `1Gi`, `128974848`, `129M`.
pub fn bytes(q: &str) -> f64 {
    const SUFFIXES: &[(&str, f64)] = &[
        ("Ki", 1024.0),
        ("Mi", 1024.0 * 1024.0),
        ("Gi", 1024.0 * 1024.0 * 1024.0),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
    ];
    for (suffix, factor) in SUFFIXES {
        if let Some(n) = q.strip_suffix(suffix) {
            return n.parse::<f64>().expect("memory quantity") * factor;
        }
    }
    q.parse().expect("memory quantity in bytes")
}

#[test]
fn quantities_parse_in_their_units() {
    assert_eq!(millicores("50m"), 50.0);
    assert_eq!(millicores("0.5"), 500.0);
    assert_eq!(bytes("64Mi"), 67_108_864.0);
    assert_eq!(bytes("1G"), 1e9);
    assert_eq!(bytes("1024"), 1024.0);
}
