//! Property tests: whatever an endpoint or Prometheus sends, decoding never panics, and the
//! numbers that come out are real numbers.

use prescale::config::Aggregate;
use prescale::metrics::prometheus::{decode_instant, decode_range};
use prescale::metrics::scrape::{
    Bucket, ScrapeSource, ScrapeSpec, histogram_quantile, parse, select,
};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

/// Lines that look like exposition format, with the pieces that go wrong in practice.
fn exposition_line() -> impl Strategy<Value = String> {
    // A few names recur so that TYPE lines, counters and histogram buckets meet.
    let name = || {
        prop_oneof![
            Just("q".to_string()),
            Just("c_total".to_string()),
            Just("h".to_string()),
            Just("h_bucket".to_string()),
            "[a-z_]{1,12}",
        ]
    };
    let labels = proptest::option::of(prop_oneof![
        r#"\{([a-z]{1,3}="[^"\n]{0,6}",?){0,3}\}"#,
        r#"\{le="(0\.5|1|\+Inf|[0-9]{1,2}|x)"\}"#,
    ]);
    let value = prop_oneof![
        any::<f64>().prop_map(|v| v.to_string()),
        Just("NaN".to_string()),
        Just("+Inf".to_string()),
        Just("-Inf".to_string()),
        "[-+0-9.eE]{0,8}",
    ];
    let timestamp = proptest::option::of(prop_oneof![
        any::<i64>().prop_map(|t| t.to_string()),
        "[0-9]{0,20}",
    ]);
    let sample = (name(), labels, value, timestamp).prop_map(|(n, l, v, t)| {
        format!(
            "{n}{} {v}{}",
            l.unwrap_or_default(),
            t.map(|t| format!(" {t}")).unwrap_or_default()
        )
    });
    let kind = prop_oneof![
        Just("counter"),
        Just("gauge"),
        Just("histogram"),
        Just("summary"),
        Just("untyped"),
        Just("bogus"),
    ];
    prop_oneof![
        4 => sample,
        1 => (name(), kind).prop_map(|(n, k)| format!("# TYPE {n} {k}")),
        1 => "# HELP [a-z_]{1,12} .{0,20}",
        1 => ".{0,40}",
    ]
}

/// Arbitrary JSON shaped a bit like the API's answers, so decoding gets past the envelope.
fn json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        prop_oneof![
            Just("success".to_string()),
            Just("error".to_string()),
            Just("vector".to_string()),
            Just("scalar".to_string()),
            Just("matrix".to_string()),
            Just("NaN".to_string()),
            Just("+Inf".to_string()),
            ".{0,8}",
        ]
        .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let key = prop_oneof![
            Just("status".to_string()),
            Just("data".to_string()),
            Just("resultType".to_string()),
            Just("result".to_string()),
            Just("metric".to_string()),
            Just("value".to_string()),
            Just("values".to_string()),
            Just("warnings".to_string()),
            Just("histogram".to_string()),
            "[a-z]{1,5}",
        ];
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::btree_map(key, inner, 0..5)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn exposition_parsing_never_panics(lines in proptest::collection::vec(exposition_line(), 0..30)) {
        let text = lines.join("\n");
        if let Ok(page) = parse("http://x/metrics", &text, SystemTime::now()) {
            let labels = BTreeMap::from([("a".to_string(), "b".to_string())]);
            for sample in page.samples.iter().take(3) {
                let _ = select(&page, "http://x/metrics", &sample.metric, &BTreeMap::new());
                let _ = select(&page, "http://x/metrics", &sample.metric, &labels);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_parsers(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse("u", &text, SystemTime::now());
        let _ = decode_instant("u", "q", &bytes);
        let _ = decode_range("u", "q", &bytes);
    }

    #[test]
    fn promql_json_decoding_never_panics(value in json()) {
        let body = serde_json::to_vec(&value).unwrap();
        let _ = decode_instant("u", "q", &body);
        let _ = decode_range("u", "q", &body);
        // The same answer wrapped in a successful envelope reaches the result walking.
        for result_type in ["vector", "scalar", "matrix"] {
            let wrapped = serde_json::json!({
                "status": "success",
                "data": {"resultType": result_type, "result": value},
            });
            let body = serde_json::to_vec(&wrapped).unwrap();
            let _ = decode_instant("u", "q", &body);
            let _ = decode_range("u", "q", &body);
        }
    }

    #[test]
    fn histogram_quantile_stays_within_the_finite_bounds(
        q in 0.0f64..=1.0,
        bounds in proptest::collection::vec(0.001f64..1e6, 1..8),
        counts in proptest::collection::vec(0.0f64..1e6, 9),
    ) {
        let mut buckets: Vec<Bucket> = bounds
            .iter()
            .zip(&counts)
            .map(|(&upper, &count)| Bucket { upper, count })
            .collect();
        buckets.push(Bucket { upper: f64::INFINITY, count: counts[8] });
        let v = histogram_quantile(q, &buckets);
        let largest = bounds.iter().copied().fold(0.0, f64::max);
        prop_assert!(v.is_nan() || (0.0..=largest).contains(&v), "{v} outside [0, {largest}]");
    }

    #[test]
    fn scrape_computation_gives_a_finite_number_or_an_error(
        first in proptest::collection::vec(exposition_line(), 0..20),
        second in proptest::collection::vec(exposition_line(), 0..20),
        aggregate in proptest::option::of(prop_oneof![Just(Aggregate::Sum), Just(Aggregate::Max)]),
        quantile in proptest::option::of(0.0f64..=1.0),
    ) {
        static SOURCE: OnceLock<ScrapeSource> = OnceLock::new();
        let source = SOURCE.get_or_init(|| ScrapeSource::new().unwrap());
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        // Pick metric names that occur in the pages, so the computation is reached.
        let names: Vec<String> = first
            .iter()
            .chain(&second)
            .filter_map(|l| l.split(['{', ' ']).next().map(str::to_string))
            .filter(|n| !n.is_empty() && !n.starts_with('#'))
            .take(3)
            .collect();
        let no_labels = BTreeMap::new();
        for name in &names {
            let spec = ScrapeSpec { metric: name, labels: &no_labels, aggregate, quantile };
            for (i, lines) in [&first, &second].into_iter().enumerate() {
                let pages = [("http://a/metrics", Ok(lines.join("\n")))];
                let at = t0 + Duration::from_secs(15 * i as u64);
                let e = source.evaluate_pages(name, &pages, &spec, at);
                if let Ok(v) = e.value {
                    prop_assert!(v.is_finite(), "{name}: {v}");
                }
            }
        }
    }
}
