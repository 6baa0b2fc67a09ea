//! Reading a few named fields of a JSON object without building the whole
//! tree: the token endpoint's answer and a JWT's claims are read on every
//! token request, and a `serde_json::Value` of them costs an allocation
//! per key and per value. Here unwanted fields are skipped as they are
//! parsed, text is borrowed from the input unless it has escapes, and
//! nested objects are only their kind.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// One wanted field's value, as far as a reader of token answers cares.
#[derive(Debug, Clone, PartialEq)]
pub enum Field<'a> {
    /// `null`.
    Null,
    /// A number; `unsigned` when it is a non-negative integer.
    Number {
        /// The number as a float.
        value: f64,
        /// The number when it is an integer of 0 or more.
        unsigned: Option<u64>,
    },
    /// A string.
    Text(Cow<'a, str>),
    /// A list, with its items read the same way.
    List(Vec<Field<'a>>),
    /// `true`, `false` or an object.
    Other,
}

impl<'a> Field<'a> {
    /// The text, when the field is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Field::Text(text) => Some(text),
            _ => None,
        }
    }

    /// The number, when the field is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Field::Number { value, .. } => Some(*value),
            _ => None,
        }
    }

    /// The number, when the field is a non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Field::Number { unsigned, .. } => *unsigned,
            _ => None,
        }
    }
}

/// Why a document could not be read as an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotAnObject {
    /// Not JSON (or JSON followed by more than white space).
    #[error("not JSON")]
    NotJson,
    /// JSON, but not an object.
    #[error("not a JSON object")]
    NotObject,
}

/// The values of the fields named in `wanted`, in its order (`None` for an
/// absent one; of a field given twice, the last, as `serde_json::Value`
/// keeps it).
pub fn read_object<'a, const N: usize>(
    input: &'a [u8],
    wanted: &[&str; N],
) -> Result<[Option<Field<'a>>; N], NotAnObject> {
    let mut deserializer = serde_json::Deserializer::from_slice(input);
    let read = ObjectSeed { wanted }
        .deserialize(&mut deserializer)
        .map_err(|_| NotAnObject::NotJson)?;
    deserializer.end().map_err(|_| NotAnObject::NotJson)?;
    read.ok_or(NotAnObject::NotObject)
}

/// Reads the top-level value: the wanted fields of an object, `None` for
/// any other JSON value.
struct ObjectSeed<'w, const N: usize> {
    wanted: &'w [&'w str; N],
}

impl<'de, const N: usize> DeserializeSeed<'de> for ObjectSeed<'_, N> {
    type Value = Option<[Option<Field<'de>>; N]>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, const N: usize> Visitor<'de> for ObjectSeed<'_, N> {
    type Value = Option<[Option<Field<'de>>; N]>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found: [Option<Field<'de>>; N] = std::array::from_fn(|_| None);
        while let Some(wanted) = map.next_key_seed(KeySeed(self.wanted))? {
            match wanted {
                Some(index) => found[index] = Some(map.next_value_seed(FieldSeed)?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Some(found))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// Reads a key as its place in the wanted names (`None`: not wanted),
/// without copying it.
struct KeySeed<'w>(&'w [&'w str]);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().position(|name| *name == key))
    }
}

/// Reads one wanted field.
struct FieldSeed;

impl<'de> DeserializeSeed<'de> for FieldSeed {
    type Value = Field<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(FieldVisitor)
    }
}

struct FieldVisitor;

impl<'de> Visitor<'de> for FieldVisitor {
    type Value = Field<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Field::Null)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Field::Other)
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
        Ok(Field::Number {
            value: n as f64,
            unsigned: Some(n),
        })
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
        Ok(Field::Number {
            value: n as f64,
            unsigned: u64::try_from(n).ok(),
        })
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Self::Value, E> {
        Ok(Field::Number {
            value: n,
            unsigned: None,
        })
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Field::Text(Cow::Borrowed(text)))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Field::Text(Cow::Owned(text.to_owned())))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
        Ok(Field::Text(Cow::Owned(text)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(FieldSeed)? {
            items.push(item);
        }
        Ok(Field::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Field::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wanted_fields_are_read_and_the_rest_skipped() {
        let body = br#"{"a":"x","skip":{"deep":[1,{"x":2}]},"n":42,"f":1.5,"neg":-3,
            "list":["p",7,{"o":1},"q\n"],"nul":null,"b":true,"obj":{"k":"v"},"esc":"t\u00e9"}"#;
        let wanted = [
            "a", "n", "f", "neg", "list", "nul", "b", "obj", "esc", "absent",
        ];
        let read = read_object(body, &wanted).unwrap();
        assert_eq!(read[0], Some(Field::Text(Cow::Borrowed("x"))));
        assert!(matches!(&read[0], Some(Field::Text(Cow::Borrowed(_)))));
        assert_eq!(read[1].as_ref().unwrap().as_u64(), Some(42));
        assert_eq!(read[2].as_ref().unwrap().as_f64(), Some(1.5));
        assert_eq!(read[2].as_ref().unwrap().as_u64(), None);
        assert_eq!(read[3].as_ref().unwrap().as_f64(), Some(-3.0));
        assert_eq!(read[3].as_ref().unwrap().as_u64(), None);
        let Some(Field::List(items)) = &read[4] else {
            panic!("{:?}", read[4]);
        };
        let texts: Vec<&str> = items.iter().filter_map(Field::as_str).collect();
        assert_eq!(texts, ["p", "q\n"]);
        assert_eq!(items[2], Field::Other);
        assert_eq!(read[5], Some(Field::Null));
        assert_eq!(read[6], Some(Field::Other));
        assert_eq!(read[7], Some(Field::Other));
        assert_eq!(read[8].as_ref().unwrap().as_str(), Some("té"));
        assert_eq!(read[9], None);
    }

    #[test]
    fn the_last_of_a_repeated_field_counts_as_in_serde_json() {
        let body = br#"{"a":"first","a":"second"}"#;
        let value: serde_json::Value = serde_json::from_slice(body).unwrap();
        let read = read_object(body, &["a"]).unwrap();
        assert_eq!(read[0].as_ref().unwrap().as_str(), value["a"].as_str());
    }

    #[test]
    fn what_is_not_an_object_says_so() {
        for body in [&b"[1,2]"[..], b"\"text\"", b"12", b"null", b"true"] {
            assert_eq!(
                read_object(body, &["a"]),
                Err(NotAnObject::NotObject),
                "{body:?}"
            );
        }
        for body in [
            &b""[..],
            b"{",
            b"{\"a\":1} trailing",
            b"not json",
            b"{\"a\":}",
        ] {
            assert_eq!(
                read_object(body, &["a"]),
                Err(NotAnObject::NotJson),
                "{body:?}"
            );
        }
        assert_eq!(read_object(b" {\"a\":1} \n", &["a"]).unwrap().len(), 1);
    }
}
