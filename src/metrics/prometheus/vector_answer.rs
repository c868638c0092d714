//! An instant query's vector answer decoded straight into series, without a JSON tree first.
//!
//! A shared query answers with one series per target, every tick: 10,000 series at 10,000
//! targets, three queries a tick. Walked as a `serde_json::Value` tree, each series is a map
//! of maps and strings built only to be copied out again, and those short-lived allocations
//! left free memory resident among the long-lived ones (at 10,000 targets the RSS fell by
//! about 20 MiB without them; the tick CPU did not measurably move). This reads the usual
//! answer in one pass, as [`super::range_answer`] does for range queries.
//!
//! Only answers that are exactly what [`super::decode::decode_instant`] accepts as a vector
//! are read here: anything else (an error status, a scalar or other result type, a malformed
//! series or sample) gives `None`, and the caller decodes it the careful way, whose errors
//! name what is wrong.

use super::decode::{InstantResult, InstantSeries};
use super::one_pass::{Present, Sample, SeriesLabels, Written, successful_result};
use serde::Deserialize;

/// The answer if it is a successful vector whose every series and sample is well formed.
pub(super) fn decode_vector(body: &[u8]) -> Option<InstantResult> {
    let (items, warnings) = successful_result::<Item>(body, "vector")?;
    let mut series = Vec::with_capacity(items.len());
    for item in items {
        if item.histogram.0 {
            return None;
        }
        let Sample(t, Written { value, raw }) = item.value?;
        series.push(InstantSeries {
            labels: item.metric.0,
            t,
            value,
            raw,
        });
    }
    Some(InstantResult { series, warnings })
}

#[derive(Deserialize)]
struct Item {
    #[serde(default)]
    metric: SeriesLabels,
    #[serde(default)]
    histogram: Present,
    value: Option<Sample<Written>>,
}

#[cfg(test)]
mod tests {
    use super::super::decode::decode_instant;
    use super::*;

    const URL: &str = "http://prom";

    /// The series with their values' bits (NaN != NaN), and the warnings.
    fn bits(r: &Option<InstantResult>) -> Option<(Vec<String>, Vec<String>)> {
        r.as_ref().map(|r| {
            let series = r
                .series
                .iter()
                .map(|s| {
                    format!(
                        "{:?} {} {} {}",
                        s.labels,
                        s.t.to_bits(),
                        s.value.to_bits(),
                        s.raw
                    )
                })
                .collect();
            (series, r.warnings.clone())
        })
    }

    #[test]
    fn the_fast_path_reads_what_the_careful_one_reads() {
        let body = br#"{"status":"success","warnings":["w1"],"infos":[{"x":1}],"data":{"resultType":"vector","result":[
            {"metric":{"queue":"a","__name__":"x","z":"\u00e9"},"value":[1700000000,"1.5"]},
            {"metric":{"queue":"b","queue":"c"},"value":[1700000015.5,"NaN"]},
            {"value":[1700000030,"+Inf"]},
            {"metric":{},"value":[1,"-2e-3"],"extra":{"ignored":[1,2]}}
        ]}}"#;
        let fast = decode_vector(body);
        assert!(fast.is_some());
        let careful = decode_instant(URL, "q", body).ok();
        assert_eq!(bits(&fast), bits(&careful));
        // The repeated label keeps its last value, as a map does.
        let second = &fast.as_ref().map(|r| r.series[1].labels.clone());
        assert_eq!(
            second
                .as_ref()
                .and_then(|l| l.get("queue"))
                .map(String::as_str),
            Some("c")
        );
    }

    #[test]
    fn anything_unusual_is_left_to_the_careful_decoder() {
        for body in [
            &br#"{"status":"error","errorType":"bad_data","error":"parse error"}"#[..],
            br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#,
            br#"{"status":"success","data":{"resultType":"scalar","result":[1,"2"]}}"#,
            br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":null,"value":[1,"1"]}]}}"#,
            br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":1},"value":[1,"1"]}]}}"#,
            br#"{"status":"success","data":{"resultType":"vector","result":[{"histogram":null,"value":[1,"1"]}]}}"#,
            br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{}}]}}"#,
            br#"{"status":"success","data":{"resultType":"vector","result":[{"value":[1,"x"]}]}}"#,
            br#"{"status":"success","data":{"resultType":"vector","result":[{"value":[1,"1",2]}]}}"#,
            br#"{"status":"success","data":{"resultType":"vector","result":[{"value":[1]}]}}"#,
            br#"{"status":"success","data":{"resultType":"vector","result":[{"value":["1","1"]}]}}"#,
            br#"{"status":"success","data":{"resultType":"vector","result":{}}}"#,
            br#"{"status":"success"}"#,
            b"<html>",
        ] {
            assert!(
                decode_vector(body).is_none(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        // Of these, the careful decoder accepts only the scalar.
        let scalar = br#"{"status":"success","data":{"resultType":"scalar","result":[1,"2"]}}"#;
        assert!(decode_instant(URL, "q", scalar).is_ok());
    }
}
