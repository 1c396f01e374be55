//! The shape of the configuration, read from the `raw` types themselves.
//!
//! A probe deserializer walks `RawConfig` once and records every field's
//! name and type (text, whole number, number, flag, a list of one of those,
//! a section, or a map of named sections such as `providers`). From that one source the loader
//! knows every key (unknown keys and `IPALLOC_*` variables are errors with a
//! "did you mean"), how to type an environment override, and how to check
//! types without repeating a value. A knob added to `raw.rs` is known here
//! with nothing else to edit.

use std::cell::RefCell;
use std::sync::OnceLock;

use serde::Deserialize;
use serde::de::value::Error as ProbeError;
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};

use super::raw::RawConfig;

/// What a key holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Text,
    /// A non-negative integer.
    Whole,
    /// An integer or a float.
    Number,
    Flag,
    /// A table with fixed keys.
    Section(Vec<Field>),
    /// A table of named tables, each with the same keys (`providers`).
    Named(Vec<Field>),
    /// A list of values of one kind (`token_sha256 = ["..."]`).
    List(Box<Kind>),
    /// Anything else (not expected in the schema).
    Other,
}

impl Kind {
    /// How the type is named in messages.
    pub fn describe(&self) -> &'static str {
        match self {
            Kind::Text => "a string",
            Kind::Whole => "a whole number",
            Kind::Number => "a number",
            Kind::Flag => "true or false",
            Kind::Section(_) | Kind::Named(_) => "a table",
            Kind::List(item) => match **item {
                Kind::Text => "a list of strings",
                Kind::Whole => "a list of whole numbers",
                _ => "a list",
            },
            Kind::Other => "a value",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
}

/// The fields of `RawConfig`, probed once.
pub fn config() -> &'static [Field] {
    static SCHEMA: OnceLock<Vec<Field>> = OnceLock::new();
    SCHEMA.get_or_init(probe::<RawConfig>)
}

/// The fields of the struct `T` (empty if `T` is not a struct).
pub fn probe<'de, T: Deserialize<'de>>() -> Vec<Field> {
    let kind = RefCell::new(Kind::Other);
    // The probe answers every value with a placeholder; the value built is
    // discarded, only the fields recorded matter.
    let _ = T::deserialize(ValueProbe { kind: &kind });
    match kind.into_inner() {
        Kind::Section(fields) => fields,
        _ => Vec::new(),
    }
}

/// Offers each field of a struct once, probing its value's type.
struct FieldsProbe<'a> {
    fields: &'static [&'static str],
    next: usize,
    sink: &'a RefCell<Vec<Field>>,
}

impl<'de> MapAccess<'de> for FieldsProbe<'_> {
    type Error = ProbeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ProbeError> {
        match self.fields.get(self.next) {
            Some(name) => seed.deserialize((*name).into_deserializer()).map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ProbeError> {
        let name = self.fields.get(self.next).copied().unwrap_or_default();
        self.next += 1;
        let kind = RefCell::new(Kind::Other);
        let value = seed.deserialize(ValueProbe { kind: &kind });
        self.sink.borrow_mut().push(Field {
            name,
            kind: kind.into_inner(),
        });
        value
    }
}

/// Offers one element of a list, probing its type.
struct ItemProbe<'a> {
    kind: &'a RefCell<Kind>,
    offered: bool,
}

impl<'de> de::SeqAccess<'de> for ItemProbe<'_> {
    type Error = ProbeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ProbeError> {
        if self.offered {
            return Ok(None);
        }
        self.offered = true;
        seed.deserialize(ValueProbe { kind: self.kind }).map(Some)
    }
}

/// Records which type a field's deserializer asks for, and answers with a
/// placeholder of that type.
struct ValueProbe<'a> {
    kind: &'a RefCell<Kind>,
}

impl ValueProbe<'_> {
    fn set(&self, kind: Kind) {
        *self.kind.borrow_mut() = kind;
    }
}

macro_rules! probe_whole {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
            self.set(Kind::Whole);
            visitor.visit_u64(0)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for ValueProbe<'_> {
    type Error = ProbeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        self.set(Kind::Other);
        visitor.visit_unit()
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        visitor.visit_some(self)
    }

    probe_whole! { deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_i64 deserialize_i32 }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        self.set(Kind::Number);
        visitor.visit_f64(0.0)
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        self.set(Kind::Number);
        visitor.visit_f32(0.0)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        self.set(Kind::Flag);
        visitor.visit_bool(false)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        self.set(Kind::Text);
        visitor.visit_str("")
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        self.set(Kind::Text);
        visitor.visit_string(String::new())
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ProbeError> {
        let sink = RefCell::new(Vec::new());
        let value = visitor.visit_map(FieldsProbe {
            fields,
            next: 0,
            sink: &sink,
        });
        self.set(Kind::Section(sink.into_inner()));
        value
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        let item = RefCell::new(Kind::Other);
        let value = visitor.visit_seq(ItemProbe {
            kind: &item,
            offered: false,
        });
        self.set(Kind::List(Box::new(item.into_inner())));
        value
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ProbeError> {
        // One entry, named "name", whose value is probed.
        let entry = RefCell::new(Vec::new());
        let value = visitor.visit_map(FieldsProbe {
            fields: &["name"],
            next: 0,
            sink: &entry,
        });
        self.set(match entry.into_inner().pop().map(|field| field.kind) {
            Some(Kind::Section(fields)) => Kind::Named(fields),
            _ => Kind::Other,
        });
        value
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i128 u128 char bytes byte_buf unit unit_struct newtype_struct
        tuple tuple_struct enum identifier ignored_any
    }
}

/// The fields of a section or named map, if `kind` is one.
pub fn fields_of(kind: &Kind) -> Option<&[Field]> {
    match kind {
        Kind::Section(fields) | Kind::Named(fields) => Some(fields),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'a>(fields: &'a [Field], name: &str) -> &'a Kind {
        &fields.iter().find(|f| f.name == name).unwrap().kind
    }

    #[test]
    fn the_probe_reads_every_key_and_type() {
        let schema = config();
        assert_eq!(find(schema, "listen"), &Kind::Text);
        let server = fields_of(find(schema, "server")).unwrap();
        assert_eq!(find(server, "max_concurrent_calls"), &Kind::Whole);
        let Kind::Named(provider) = find(schema, "providers") else {
            panic!("providers is a map of named sections")
        };
        assert_eq!(find(provider, "kind"), &Kind::Text);
        assert_eq!(find(provider, "retry_budget_ratio"), &Kind::Number);
        assert_eq!(find(provider, "terminate_failed"), &Kind::Flag);
        assert_eq!(find(provider, "burst"), &Kind::Whole);
        assert!(provider.len() >= 28, "{}", provider.len());
        let all_leaves = |fields: &[Field]| {
            fields
                .iter()
                .all(|f| matches!(f.kind, Kind::Text | Kind::Whole | Kind::Number | Kind::Flag))
        };
        assert!(all_leaves(provider));
        for section in ["log", "server", "idempotency"] {
            assert!(
                all_leaves(fields_of(find(schema, section)).unwrap()),
                "{section}"
            );
        }
    }
}
