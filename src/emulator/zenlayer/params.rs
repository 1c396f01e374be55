//! Reading request parameters out of a JSON body the way the API validates
//! them, with the documented error codes (HTTP 400):
//!
//! - body not JSON, not an object, or a field of the wrong JSON type ->
//!   `INVALID_PARAMETER_TYPE`;
//! - required field absent (or an empty string) -> `MISSING_PARAMETER`;
//! - number above / below its range -> `INVALID_PARAMETER_EXCEED_MAXIMUM` /
//!   `INVALID_PARAMETER_LESS_MINIMUM`;
//! - list with too many items, or text too long ->
//!   `INVALID_PARAMETER_EXCEED_LENGTH`; text too short ->
//!   `INVALID_PARAMETER_LESS_LENGTH`.
//!
//! Where the documents leave a choice, the [`ApiReading`] decides:
//!
//! | Input | Strict | Lenient |
//! |---|---|---|
//! | `null` for a field | `INVALID_PARAMETER_TYPE` | absent |
//! | integral float (`2.0`) for an integer | `INVALID_PARAMETER_TYPE` | the integer |
//! | a field the action does not define (any depth) | `INVALID_PARAMETER_VALUE` | ignored |
//! | a key repeated in one JSON object | `INVALID_PARAMETER_TYPE` | the last one wins |
//! | `""` for an optional text filter | matches only `""` | no filter |
//! | `[]` for a list filter | matches nothing | no filter |
//!
//! Huge numbers are range errors, never panics.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::error::{ApiError, INVALID_PARAMETER_TYPE};
use crate::emulator::ApiReading;

/// A JSON object of parameters, the path of its fields in messages, and the
/// reading it is read with.
#[derive(Debug)]
pub struct Params<'a> {
    object: &'a Map<String, Value>,
    prefix: String,
    reading: ApiReading,
}

impl<'a> Params<'a> {
    /// Parses a request body. An empty body reads as `{}`. The strict
    /// reading refuses a key repeated within one object (serde_json keeps
    /// the last one).
    pub fn parse_body(body: &[u8], reading: ApiReading) -> Result<Map<String, Value>, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Map::new());
        }
        let parsed = if reading.is_strict() {
            serde_json::from_slice::<NoDuplicateKeys>(body).map(|v| v.0)
        } else {
            serde_json::from_slice::<Value>(body)
        };
        let value = parsed.map_err(|e| {
            let message = match e.classify() {
                serde_json::error::Category::Data => format!(
                    "The request body is not a valid JSON object: {}.",
                    super::error::printable(&e.to_string())
                ),
                _ => "The request body is not a valid JSON object.".to_owned(),
            };
            ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                INVALID_PARAMETER_TYPE,
                message,
            )
        })?;
        match value {
            Value::Object(object) => Ok(object),
            _ => Err(ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                INVALID_PARAMETER_TYPE,
                "The request body must be a JSON object.",
            )),
        }
    }

    /// The top-level parameters of a parsed body.
    pub fn root(body: &'a Map<String, Value>, reading: ApiReading) -> Params<'a> {
        Params {
            object: body,
            prefix: String::new(),
            reading,
        }
    }

    pub fn is_strict(&self) -> bool {
        self.reading.is_strict()
    }

    /// The display path of a field of this object.
    pub fn path(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Strict reading: every field of this object is one of `known`
    /// (`INVALID_PARAMETER_VALUE` naming the first other one). Lenient:
    /// unknown fields are ignored.
    pub fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        if !self.is_strict() {
            return Ok(());
        }
        match self.object.keys().find(|k| !known.contains(&k.as_str())) {
            None => Ok(()),
            Some(unknown) => Err(ApiError::invalid_value(
                &self.path(&super::error::printable(unknown)),
                "no such parameter",
            )),
        }
    }

    /// The field's value; `null` is absent (lenient) or a type error
    /// (strict).
    fn get(&self, name: &str) -> Result<Option<&'a Value>, ApiError> {
        match self.object.get(name) {
            Some(Value::Null) if self.is_strict() => Err(ApiError::invalid_type(
                &self.path(name),
                "a value (not null)",
            )),
            Some(Value::Null) | None => Ok(None),
            Some(value) => Ok(Some(value)),
        }
    }

    pub fn opt_str(&self, name: &str) -> Result<Option<&'a str>, ApiError> {
        match self.get(name)? {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(ApiError::invalid_type(&self.path(name), "a string")),
        }
    }

    /// A string filter: absent means "no filter"; `""` means "no filter"
    /// when lenient and "equals the empty string" when strict.
    pub fn opt_filter(&self, name: &str) -> Result<Option<&'a str>, ApiError> {
        let value = self.opt_str(name)?;
        Ok(if self.is_strict() {
            value
        } else {
            value.filter(|s| !s.is_empty())
        })
    }

    pub fn req_str(&self, name: &str) -> Result<&'a str, ApiError> {
        match self.opt_str(name)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(ApiError::missing(&self.path(name))),
        }
    }

    pub fn opt_bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name)? {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::invalid_type(&self.path(name), "a boolean")),
        }
    }

    /// An integer within `min..=max`. The lenient reading also takes an
    /// integral float (`2.0`).
    pub fn opt_int(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
        let Some(value) = self.get(name)? else {
            return Ok(None);
        };
        let path = self.path(name);
        let Value::Number(n) = value else {
            return Err(ApiError::invalid_type(&path, "an integer"));
        };
        let number = if let Some(i) = n.as_i64() {
            i128::from(i)
        } else if let Some(u) = n.as_u64() {
            i128::from(u)
        } else if self.is_strict() {
            return Err(ApiError::invalid_type(&path, "an integer"));
        } else {
            match n.as_f64() {
                Some(f) if f.is_finite() && f.fract() == 0.0 => {
                    if f > max as f64 {
                        return Err(ApiError::exceed_maximum(&path, max));
                    }
                    if f < min as f64 {
                        return Err(ApiError::less_minimum(&path, min));
                    }
                    // In range, hence exactly representable as i64.
                    f as i128
                }
                _ => return Err(ApiError::invalid_type(&path, "an integer")),
            }
        };
        if number > i128::from(max) {
            return Err(ApiError::exceed_maximum(&path, max));
        }
        if number < i128::from(min) {
            return Err(ApiError::less_minimum(&path, min));
        }
        i64::try_from(number)
            .map(Some)
            .map_err(|_| ApiError::exceed_maximum(&path, max))
    }

    /// A nested object.
    pub fn opt_object(&self, name: &str) -> Result<Option<Params<'a>>, ApiError> {
        match self.get(name)? {
            None => Ok(None),
            Some(Value::Object(object)) => Ok(Some(Params {
                object,
                prefix: format!("{}.", self.path(name)),
                reading: self.reading,
            })),
            Some(_) => Err(ApiError::invalid_type(&self.path(name), "an object")),
        }
    }

    /// An array of at most `max_items` items.
    pub fn opt_array(&self, name: &str, max_items: usize) -> Result<Option<&'a [Value]>, ApiError> {
        match self.get(name)? {
            None => Ok(None),
            Some(Value::Array(items)) if items.len() > max_items => {
                Err(ApiError::exceed_length(&self.path(name), max_items))
            }
            Some(Value::Array(items)) => Ok(Some(items.as_slice())),
            Some(_) => Err(ApiError::invalid_type(&self.path(name), "an array")),
        }
    }

    /// An array of strings of at most `max_items` items.
    pub fn opt_str_array(
        &self,
        name: &str,
        max_items: usize,
    ) -> Result<Option<Vec<&'a str>>, ApiError> {
        let Some(items) = self.opt_array(name, max_items)? else {
            return Ok(None);
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                item.as_str().ok_or_else(|| {
                    ApiError::invalid_type(&format!("{}[{i}]", self.path(name)), "a string")
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// A list filter of strings: absent means "no filter"; `[]` means "no
    /// filter" when lenient and "matches nothing" when strict (kept as an
    /// empty list; see [`ListFilter`]).
    pub fn list_filter(&self, name: &str, max_items: usize) -> Result<ListFilter<'a>, ApiError> {
        Ok(match self.opt_str_array(name, max_items)? {
            None => ListFilter::Any,
            Some(items) if items.is_empty() && !self.is_strict() => ListFilter::Any,
            Some(items) => ListFilter::Of(items),
        })
    }

    /// The objects of an array, each as parameters (`name[i].field`).
    pub fn objects_of(&self, name: &str, items: &'a [Value]) -> Result<Vec<Params<'a>>, ApiError> {
        items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Object(object) => Ok(Params {
                    object,
                    prefix: format!("{}[{i}].", self.path(name)),
                    reading: self.reading,
                }),
                _ => Err(ApiError::invalid_type(
                    &format!("{}[{i}]", self.path(name)),
                    "an object",
                )),
            })
            .collect()
    }
}

/// A list filter as read: no filter, or "one of these" (an empty list then
/// matches nothing).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ListFilter<'a> {
    #[default]
    Any,
    Of(Vec<&'a str>),
}

impl ListFilter<'_> {
    /// True when `value` passes: no filter, or one of the list.
    pub fn admits(&self, value: &str) -> bool {
        match self {
            ListFilter::Any => true,
            ListFilter::Of(items) => items.contains(&value),
        }
    }

    /// True when every item satisfies `has` (and, strictly, the list is not
    /// empty: an empty list matches nothing).
    pub fn all(&self, has: impl Fn(&str) -> bool) -> bool {
        match self {
            ListFilter::Any => true,
            ListFilter::Of(items) => !items.is_empty() && items.iter().all(|i| has(i)),
        }
    }
}

/// Checks a text's length in characters is within `min..=max`.
pub fn check_length(path: &str, text: &str, min: usize, max: usize) -> Result<(), ApiError> {
    let chars = text.chars().count();
    if chars < min {
        return Err(ApiError::less_length(path, min));
    }
    if chars > max {
        return Err(ApiError::exceed_length(path, max));
    }
    Ok(())
}

/// A JSON value parsed like [`serde_json::Value`], except that a key
/// repeated within one object is an error (the strict reading).
struct NoDuplicateKeys(Value);

impl<'de> Deserialize<'de> for NoDuplicateKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(StrictVisitor)
            .map(NoDuplicateKeys)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(NoDuplicateKeys(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let NoDuplicateKeys(value) = map.next_value()?;
            if object.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "the key `{key}` appears twice"
                )));
            }
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::zenlayer::error::*;
    use serde_json::json;

    const STRICT: ApiReading = ApiReading::Strict;
    const LENIENT: ApiReading = ApiReading::Lenient;

    fn code<T: std::fmt::Debug>(r: Result<T, ApiError>) -> &'static str {
        r.unwrap_err().code
    }

    #[test]
    fn bodies() {
        for reading in [STRICT, LENIENT] {
            assert!(Params::parse_body(b"", reading).unwrap().is_empty());
            assert!(Params::parse_body(b" \n", reading).unwrap().is_empty());
            assert!(
                Params::parse_body(br#"{"a": 1, "b": {"c": [1, 2.5, null]}}"#, reading).is_ok()
            );
            for bad in [
                &b"{"[..],
                b"[]",
                b"null",
                b"1",
                b"\xff\xfe",
                b"{\"a\":\xff}",
            ] {
                assert_eq!(
                    code(Params::parse_body(bad, reading)),
                    INVALID_PARAMETER_TYPE
                );
            }
            // Deep nesting is refused by serde_json's recursion limit, not a crash.
            let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
            assert_eq!(
                code(Params::parse_body(deep.as_bytes(), reading)),
                INVALID_PARAMETER_TYPE
            );
        }
    }

    #[test]
    fn repeated_keys_are_refused_only_strictly() {
        let body = br#"{"zoneId": "SEL-A", "x": {"k": 1, "k": 2}}"#;
        let err = Params::parse_body(body, STRICT).unwrap_err();
        assert_eq!(err.code, INVALID_PARAMETER_TYPE);
        assert!(err.message.contains("`k` appears twice"), "{}", err.message);
        let top = br#"{"zoneId": "SEL-A", "zoneId": "HKG-A"}"#;
        assert_eq!(
            code(Params::parse_body(top, STRICT)),
            INVALID_PARAMETER_TYPE
        );
        let lenient = Params::parse_body(top, LENIENT).unwrap();
        assert_eq!(lenient["zoneId"], "HKG-A", "the last one wins");
        // The strict parse keeps every value as serde_json does.
        let v = Params::parse_body(br#"{"a": [1, -2, 3.5, "s", true, null, {}]}"#, STRICT).unwrap();
        assert_eq!(v["a"], json!([1, -2, 3.5, "s", true, null, {}]));
    }

    #[test]
    fn integers() {
        let v = json!({
            "ok": 5, "float": 5.0, "frac": 5.5, "text": "5", "neg": -1,
            "big": 18446744073709551615u64, "huge": 1e300, "null": null
        });
        let v = v.as_object().unwrap().clone();
        let p = Params::root(&v, LENIENT);
        assert_eq!(p.opt_int("ok", 1, 100).unwrap(), Some(5));
        assert_eq!(p.opt_int("float", 1, 100).unwrap(), Some(5));
        assert_eq!(p.opt_int("absent", 1, 100).unwrap(), None);
        assert_eq!(p.opt_int("null", 1, 100).unwrap(), None);
        assert_eq!(code(p.opt_int("frac", 1, 100)), INVALID_PARAMETER_TYPE);
        assert_eq!(code(p.opt_int("text", 1, 100)), INVALID_PARAMETER_TYPE);
        assert_eq!(
            code(p.opt_int("neg", 1, 100)),
            INVALID_PARAMETER_LESS_MINIMUM
        );
        assert_eq!(
            code(p.opt_int("big", 1, 100)),
            INVALID_PARAMETER_EXCEED_MAXIMUM
        );
        assert_eq!(
            code(p.opt_int("huge", 1, 100)),
            INVALID_PARAMETER_EXCEED_MAXIMUM
        );
        let huge_literal =
            Params::parse_body(b"{\"n\": 123456789012345678901234567890}", LENIENT).unwrap();
        assert_eq!(
            code(Params::root(&huge_literal, LENIENT).opt_int("n", 1, 100)),
            INVALID_PARAMETER_EXCEED_MAXIMUM
        );

        let strict = Params::root(&v, STRICT);
        assert_eq!(strict.opt_int("ok", 1, 100).unwrap(), Some(5));
        assert_eq!(
            code(strict.opt_int("float", 1, 100)),
            INVALID_PARAMETER_TYPE
        );
        assert_eq!(code(strict.opt_int("huge", 1, 100)), INVALID_PARAMETER_TYPE);
        assert_eq!(code(strict.opt_int("null", 1, 100)), INVALID_PARAMETER_TYPE);
        assert_eq!(
            code(strict.opt_int("big", 1, 100)),
            INVALID_PARAMETER_EXCEED_MAXIMUM
        );
    }

    #[test]
    fn strings_objects_arrays() {
        let v = json!({"s": "x", "e": "", "n": 1, "o": {"period": 1}, "a": ["a", "b"], "m": ["a", 1], "z": [], "nul": null});
        let v = v.as_object().unwrap().clone();
        for reading in [STRICT, LENIENT] {
            let p = Params::root(&v, reading);
            assert_eq!(p.req_str("s").unwrap(), "x");
            assert_eq!(code(p.req_str("e")), MISSING_PARAMETER);
            assert_eq!(code(p.req_str("absent")), MISSING_PARAMETER);
            assert_eq!(code(p.req_str("n")), INVALID_PARAMETER_TYPE);
            let o = p.opt_object("o").unwrap().unwrap();
            assert_eq!(o.path("period"), "o.period");
            assert_eq!(code(p.opt_object("s")), INVALID_PARAMETER_TYPE);
            assert_eq!(p.opt_str_array("a", 2).unwrap().unwrap(), ["a", "b"]);
            assert_eq!(
                code(p.opt_str_array("a", 1)),
                INVALID_PARAMETER_EXCEED_LENGTH
            );
            let err = p.opt_str_array("m", 5).unwrap_err();
            assert_eq!(err.code, INVALID_PARAMETER_TYPE);
            assert!(err.message.contains("m[1]"), "{}", err.message);
            assert_eq!(code(p.opt_bool("s")), INVALID_PARAMETER_TYPE);
            assert_eq!(p.list_filter("absent", 5).unwrap(), ListFilter::Any);
            assert_eq!(
                p.list_filter("a", 5).unwrap(),
                ListFilter::Of(vec!["a", "b"])
            );
        }
        let lenient = Params::root(&v, LENIENT);
        assert_eq!(lenient.opt_filter("e").unwrap(), None);
        assert_eq!(lenient.list_filter("z", 5).unwrap(), ListFilter::Any);
        assert_eq!(lenient.opt_str("nul").unwrap(), None);
        assert!(lenient.only(&["s"]).is_ok());

        let strict = Params::root(&v, STRICT);
        assert_eq!(strict.opt_filter("e").unwrap(), Some(""));
        assert_eq!(strict.list_filter("z", 5).unwrap(), ListFilter::Of(vec![]));
        assert_eq!(code(strict.opt_str("nul")), INVALID_PARAMETER_TYPE);
        assert_eq!(code(strict.opt_object("nul")), INVALID_PARAMETER_TYPE);
        assert_eq!(code(strict.opt_array("nul", 5)), INVALID_PARAMETER_TYPE);
        let err = strict
            .only(&["s", "e", "n", "o", "a", "m", "z"])
            .unwrap_err();
        assert_eq!(err.code, INVALID_PARAMETER_VALUE);
        assert!(err.message.contains("`nul`"), "{}", err.message);
        let nested = strict.opt_object("o").unwrap().unwrap();
        let err = nested.only(&["months"]).unwrap_err();
        assert!(err.message.contains("`o.period`"), "{}", err.message);
    }

    #[test]
    fn list_filters() {
        assert!(ListFilter::Any.admits("x"));
        assert!(ListFilter::Any.all(|_| false));
        let some = ListFilter::Of(vec!["a", "b"]);
        assert!(some.admits("a") && !some.admits("c"));
        assert!(some.all(|k| k == "a" || k == "b"));
        let none = ListFilter::Of(vec![]);
        assert!(!none.admits("a"));
        assert!(!none.all(|_| true), "an empty list matches nothing");
    }

    #[test]
    fn lengths_count_characters() {
        assert!(check_length("k", "é", 1, 1).is_ok());
        assert_eq!(
            code(check_length("k", "", 1, 128)),
            INVALID_PARAMETER_LESS_LENGTH
        );
        assert_eq!(
            code(check_length("k", &"x".repeat(129), 1, 128)),
            INVALID_PARAMETER_EXCEED_LENGTH
        );
    }
}
