//! What the one-pass decoders of Prometheus answers share ([`super::range_answer`],
//! [`super::vector_answer`]): the envelope of a successful answer, a series' labels, whether
//! a key is there, and a `[time, "value"]` pair. Each reads only what the careful decoder
//! ([`super::decode`]) would accept; anything else fails here, and the caller falls back to
//! the careful way, whose errors say what is wrong.

use super::decode::{Labels, parse_value, warning_texts};
use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::marker::PhantomData;

/// The series of a successful answer whose `resultType` is `result_type`, each read as an
/// `I`, and its warnings (`warnings`, then `infos`); `None` for anything else.
pub(super) fn successful_result<I: DeserializeOwned>(
    body: &[u8],
    result_type: &str,
) -> Option<(Vec<I>, Vec<String>)> {
    let answer: Answer<I> = serde_json::from_slice(body).ok()?;
    if answer.status.as_deref() != Some("success") {
        return None;
    }
    let data = answer.data?;
    if data.result_type.as_deref() != Some(result_type) {
        return None;
    }
    let mut warnings = Vec::new();
    warning_texts(answer.warnings.as_ref(), &mut warnings);
    warning_texts(answer.infos.as_ref(), &mut warnings);
    Some((data.result?, warnings))
}

#[derive(Deserialize)]
struct Answer<I> {
    status: Option<String>,
    warnings: Option<serde_json::Value>,
    infos: Option<serde_json::Value>,
    data: Option<Data<I>>,
}

#[derive(Deserialize)]
struct Data<I> {
    #[serde(rename = "resultType")]
    result_type: Option<String>,
    result: Option<Vec<I>>,
}

/// A series' labels: an object of strings only (anything else fails the fast path).
#[derive(Default)]
pub(super) struct SeriesLabels(pub(super) Labels);

impl<'de> Deserialize<'de> for SeriesLabels {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SeriesLabels;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of label names and string values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SeriesLabels, A::Error> {
                let mut pairs = Vec::new();
                while let Some(pair) = map.next_entry::<String, String>()? {
                    pairs.push(pair);
                }
                Ok(SeriesLabels(pairs.into_iter().collect()))
            }
        }
        d.deserialize_map(V)
    }
}

/// Whether a key is there at all, whatever its value (`null` included).
#[derive(Default)]
pub(super) struct Present(pub(super) bool);

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(d).map(|_| Present(true))
    }
}

/// One `[<unix seconds>, "<value>"]` pair: exactly two elements, a number and a string
/// Prometheus's way of writing a float, read as a `V` ([`Parsed`] or [`Written`]).
pub(super) struct Sample<V>(pub(super) f64, pub(super) V);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Sample<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Pair<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for Pair<V> {
            type Value = Sample<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a [time, \"value\"] pair")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Sample<V>, A::Error> {
                use serde::de::Error;
                let t: f64 = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::custom("a sample without a time"))?;
                let v: V = seq
                    .next_element()?
                    .ok_or_else(|| A::Error::custom("a sample without a value"))?;
                if seq.next_element::<IgnoredAny>()?.is_some() {
                    return Err(A::Error::custom("a sample of more than two elements"));
                }
                Ok(Sample(t, v))
            }
        }
        d.deserialize_seq(Pair(PhantomData))
    }
}

/// A sample's value, parsed where it lies (no copy of the string).
pub(super) struct Parsed(pub(super) f64);

/// A sample's value, and its text as Prometheus wrote it (for messages).
pub(super) struct Written {
    pub(super) value: f64,
    pub(super) raw: String,
}

/// Reads a sample's value string with `parse`: a number written as a string, or an error.
struct ValueText<F>(F);

impl<'de, T, F: FnOnce(f64, &str) -> T> Visitor<'de> for ValueText<F> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number written as a string")
    }
    fn visit_str<E: serde::de::Error>(self, raw: &str) -> Result<T, E> {
        let value =
            parse_value(raw).ok_or_else(|| E::custom("a sample's value is not a number"))?;
        Ok((self.0)(value, raw))
    }
}

impl<'de> Deserialize<'de> for Parsed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(ValueText(|value, _: &str| Parsed(value)))
    }
}

impl<'de> Deserialize<'de> for Written {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(ValueText(|value, raw: &str| Written {
            value,
            raw: raw.to_string(),
        }))
    }
}
