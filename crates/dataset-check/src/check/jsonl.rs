//! JSON Lines: lines split as they stream by (a line longer than any valid row is dropped, never buffered),
//! each parsed by `serde_json` into just the two fields the contract names, borrowing the text where it can.

use std::borrow::Cow;
use std::fmt;
use std::io::Read;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::tally::{Field, Rule, Sink};
use super::{CHUNK, Stop};
use crate::contract::Contract;

const BOM: &[u8] = b"\xEF\xBB\xBF";

pub(super) fn parse(
    mut input: impl Read,
    contract: &Contract,
    tally: &mut impl Sink,
) -> Result<(), Stop> {
    let max = contract.max_record_bytes();
    let mut lines = Lines {
        contract,
        first_seen: false,
    };
    let mut chunk = vec![0u8; CHUNK];
    // The start of a line that continues in the next chunk.
    let mut partial: Vec<u8> = Vec::new();
    // The current line is too long: skip to its end.
    let mut discarding = false;

    loop {
        let filled = input.read(&mut chunk).map_err(Stop::Read)?;
        if filled == 0 {
            break;
        }
        let mut data = &chunk[..filled];
        while let Some(newline) = memchr::memchr(b'\n', data) {
            let head = &data[..newline];
            data = &data[newline + 1..];
            if discarding {
                discarding = false;
                lines.too_long(tally);
            } else if partial.len() + head.len() > max {
                // The same limit whether the line crossed a read or not: a verdict must not depend on chunking.
                partial.clear();
                lines.too_long(tally);
            } else if partial.is_empty() {
                lines.line(head, tally)?;
            } else {
                partial.extend_from_slice(head);
                lines.line(&partial, tally)?;
                partial.clear();
            }
        }
        if !discarding {
            if partial.len() + data.len() > max {
                partial.clear();
                discarding = true;
            } else {
                partial.extend_from_slice(data);
            }
        }
    }
    if discarding {
        lines.too_long(tally);
    } else if !partial.is_empty() {
        lines.line(&partial, tally)?;
    }
    Ok(())
}

struct Lines<'c> {
    contract: &'c Contract,
    first_seen: bool,
}

impl Lines<'_> {
    fn too_long(&self, tally: &mut impl Sink) {
        tally.broken_row(
            Rule::RecordTooLong,
            format!(
                "line longer than {} bytes, more than any valid row can be",
                self.contract.max_record_bytes()
            ),
            None,
        );
    }

    fn line(&mut self, bytes: &[u8], tally: &mut impl Sink) -> Result<(), Stop> {
        let mut bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        if !self.first_seen {
            // A byte-order mark can only start the file; strip it here, whatever the chunking.
            bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        if !self.first_seen {
            self.first_seen = true;
            if bytes.trim_ascii_start().starts_with(b"[") {
                return Err(Stop::Data(
                    "the file is a JSON array, not JSON Lines (one object per line)".to_owned(),
                ));
            }
        }
        let Ok(text) = simdutf8::basic::from_utf8(bytes) else {
            tally.broken_row(
                Rule::NotUtf8,
                "the line is not UTF-8 (Latin-1 or binary?)".to_owned(),
                Some(&String::from_utf8_lossy(bytes)),
            );
            return Ok(());
        };
        let mut de = serde_json::Deserializer::from_str(text);
        let parsed = RowSeed {
            text_field: &self.contract.text_field,
            label_field: &self.contract.label_field,
        }
        .deserialize(&mut de)
        .and_then(|row| de.end().map(|()| row));
        match parsed {
            Ok((text_value, label_value)) => tally.row(text_value.field(), label_value.field()),
            Err(error) => tally.broken_row(
                Rule::Unparsable,
                format!("not a JSON object: {error}"),
                Some(text),
            ),
        }
        Ok(())
    }
}

/// A field's JSON value, reduced to what the rules need.
enum Value<'de> {
    Str(Cow<'de, str>),
    Null,
    Missing,
    Other(&'static str),
}

impl Value<'_> {
    fn field(&self) -> Field<'_> {
        match self {
            Value::Str(s) => Field::Str(s),
            Value::Null => Field::Null,
            Value::Missing => Field::Missing,
            Value::Other(kind) => Field::NotString(kind),
        }
    }
}

impl<'de> de::Deserialize<'de> for Value<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Value::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Value::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Value::Str(Cow::Owned(v)))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Value::Other("a boolean"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Value::Other("a number"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Value::Other("a number"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Value::Other("a number"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Value::Other("an array"))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Value::Other("an object"))
    }
}

/// Deserializes one line's object, keeping only the text and label fields.
struct RowSeed<'f> {
    text_field: &'f str,
    label_field: &'f str,
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_> {
    type Value = (Value<'de>, Value<'de>);

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_> {
    type Value = (Value<'de>, Value<'de>);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut text, mut label) = (Value::Missing, Value::Missing);
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            if key == self.text_field {
                text = map.next_value()?;
            } else if key == self.label_field {
                label = map.next_value()?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok((text, label))
    }
}

/// An object key, borrowed from the line unless it has escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}
