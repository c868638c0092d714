//! Where each key of the file was written: a map from key path (`targets[0].slo.queueWait`)
//! to line and column, so validation can point at the line of any value it rejects.
//!
//! Built from a second, untyped pass over the text with `serde_saphyr::Spanned` on every
//! node. Keeping spans out of the raw types keeps those plain (they double as the JSON Schema
//! and the `check` output), and one path syntax serves structure and validation errors alike.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::collections::BTreeMap;
use std::fmt;

/// A line and column in the file, both 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// Line, from 1.
    pub line: u64,
    /// Column (in characters), from 1.
    pub column: u64,
}

impl Position {
    /// The position of a `serde_saphyr` location, if it is known.
    pub fn from_location(location: serde_saphyr::Location) -> Option<Self> {
        (location.line() > 0).then(|| Self {
            line: location.line(),
            column: location.column(),
        })
    }
}

/// Positions of every value in the file by key path.
#[derive(Debug, Clone, Default)]
pub struct Positions {
    by_path: BTreeMap<String, Position>,
}

impl Positions {
    /// Index `text`. A file that does not parse has no positions (its syntax error carries
    /// its own).
    pub fn of(text: &str) -> Self {
        let mut positions = Self::default();
        if let Ok(root) = serde_saphyr::from_str::<Spanned<Node>>(text) {
            positions.add(String::new(), &root);
        }
        positions
    }

    /// Where the value at `path` was written; for a key that is absent, where its nearest
    /// enclosing value was (so "missing key" errors point at the object missing it).
    pub fn find(&self, path: &str) -> Option<Position> {
        let mut path = path;
        loop {
            if let Some(position) = self.by_path.get(path) {
                return Some(*position);
            }
            let cut = path.rfind(['.', '['])?;
            path = &path[..cut];
        }
    }

    fn add(&mut self, path: String, node: &Spanned<Node>) {
        if let Some(position) = Position::from_location(node.referenced) {
            self.by_path.insert(path.clone(), position);
        }
        match &node.value {
            Node::Scalar => {}
            Node::Seq(items) => {
                for (index, item) in items.iter().enumerate() {
                    self.add(format!("{path}[{index}]"), item);
                }
            }
            Node::Map(entries) => {
                for (key, value) in entries {
                    self.add(join(&path, &key.0), value);
                }
            }
        }
    }
}

/// `parent.key`, or `key` at the top level.
pub fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// An untyped YAML node; only its shape matters here.
enum Node {
    Scalar,
    Seq(Vec<Spanned<Node>>),
    Map(Vec<(Key, Spanned<Node>)>),
}

/// A mapping key as text. Read with `deserialize_str` so that keys like `n` or `on` stay
/// text rather than becoming YAML 1.1 booleans.
struct Key(String);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping key")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Key, E> {
                Ok(Key(text.to_owned()))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_i128<E: de::Error>(self, _: i128) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_u128<E: de::Error>(self, _: u128) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(Node::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_values_and_falls_back_to_the_enclosing_one() {
        let text = "a:\n  b: [1, {c: 2}]\n  n: 3\n";
        let positions = Positions::of(text);
        let at = |line, column| Some(Position { line, column });
        assert_eq!(positions.find("a.b[1].c"), at(2, 14));
        assert_eq!(positions.find("a.n"), at(3, 6));
        assert_eq!(positions.find("a.b[1].missing"), positions.find("a.b[1]"));
    }
}
