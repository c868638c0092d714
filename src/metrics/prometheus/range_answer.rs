//! A range query's answer decoded straight into points, without a JSON tree first.
//!
//! A batched backfill asks for up to 200,000 points per range query; as a
//! `serde_json::Value` tree each `[t, "v"]` pair is an array of two values and a string,
//! about 130 bytes, so one answer took ~25 MB before it was turned into 16-byte points (the
//! start-up peak at 1,000 targets was mostly that, measured with heaptrack). This reads the
//! usual answer in one pass into the points themselves.
//!
//! Only answers that are exactly what [`super::decode::decode_range`] accepts are read here:
//! anything else (an error status, another result type, a malformed series or sample) gives
//! `None`, and the caller decodes it the careful way, whose errors name what is wrong.

use super::decode::{RangeResult, RangeSeries};
use super::one_pass::{Parsed, Present, Sample, SeriesLabels, successful_result};
use serde::Deserialize;
use serde::de::{Deserializer, SeqAccess, Visitor};
use std::fmt;

/// The answer if it is a successful matrix whose every series and sample is well formed.
pub(super) fn decode_matrix(body: &[u8]) -> Option<RangeResult> {
    let (items, warnings) = successful_result::<Item>(body, "matrix")?;
    let mut series = Vec::with_capacity(items.len());
    for item in items {
        if item.histograms.0 {
            return None;
        }
        series.push(RangeSeries {
            labels: item.metric.0,
            points: item.values?.0,
        });
    }
    Some(RangeResult { series, warnings })
}

#[derive(Deserialize)]
struct Item {
    #[serde(default)]
    metric: SeriesLabels,
    #[serde(default)]
    histograms: Present,
    values: Option<Points>,
}

/// `[[<unix seconds>, "<value>"], ...]`.
struct Points(Vec<(f64, f64)>);

impl<'de> Deserialize<'de> for Points {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Points;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of [time, \"value\"] pairs")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Points, A::Error> {
                let mut points = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(Sample(t, Parsed(v))) = seq.next_element()? {
                    points.push((t, v));
                }
                Ok(Points(points))
            }
        }
        d.deserialize_seq(V)
    }
}

#[cfg(test)]
mod tests {
    use super::super::decode::decode_range;
    use super::*;

    const URL: &str = "http://prom";

    #[test]
    fn the_fast_path_reads_what_the_careful_one_reads() {
        let body = br#"{"status":"success","warnings":["w1"],"infos":[{"x":1}],"data":{"resultType":"matrix","result":[
            {"metric":{"queue":"a","__name__":"x","z":"\u00e9"},"values":[[1700000000,"1.5"],[1700000015.5,"NaN"],[1700000030,"+Inf"],[1700000045,"-2e-3"]]},
            {"values":[]},
            {"metric":{},"values":[[1,"0"]],"extra":{"ignored":[1,2]}}
        ]}}"#;
        let fast = decode_matrix(body);
        assert!(fast.is_some());
        let careful = decode_range(URL, "q", body).ok();
        // NaN != NaN: compare the points' bits.
        let bits = |r: &Option<RangeResult>| {
            r.as_ref().map(|r| {
                let series: Vec<_> = r
                    .series
                    .iter()
                    .map(|s| {
                        let points: Vec<_> = s
                            .points
                            .iter()
                            .map(|(t, v)| (t.to_bits(), v.to_bits()))
                            .collect();
                        (s.labels.clone(), points)
                    })
                    .collect();
                (series, r.warnings.clone())
            })
        };
        assert_eq!(bits(&fast), bits(&careful));
    }

    #[test]
    fn anything_unusual_is_left_to_the_careful_decoder() {
        for body in [
            &br#"{"status":"error","errorType":"bad_data","error":"parse error"}"#[..],
            br#"{"status":"success","data":{"resultType":"vector","result":[]}}"#,
            br#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":null,"values":[]}]}}"#,
            br#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":1},"values":[]}]}}"#,
            br#"{"status":"success","data":{"resultType":"matrix","result":[{"histograms":null,"values":[]}]}}"#,
            br#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{}}]}}"#,
            br#"{"status":"success","data":{"resultType":"matrix","result":[{"values":[[1,"x"]]}]}}"#,
            br#"{"status":"success","data":{"resultType":"matrix","result":[{"values":[[1,"1",2]]}]}}"#,
            br#"{"status":"success","data":{"resultType":"matrix","result":[{"values":[[1]]}]}}"#,
            br#"{"status":"success","data":{"resultType":"matrix","result":[{"values":[["1","1"]]}]}}"#,
            br#"{"status":"success","data":{"resultType":"matrix","result":{}}}"#,
            br#"{"status":"success"}"#,
            b"<html>",
        ] {
            assert!(
                decode_matrix(body).is_none(),
                "{}",
                String::from_utf8_lossy(body)
            );
            assert!(decode_range(URL, "q", body).is_err());
        }
    }
}
