//! Reading request parameters out of a JSON body the way the API validates
//! them, with the documented error codes (HTTP 400):
//!
//! - body not JSON, not an object, or a field of the wrong JSON type ->
//!   `INVALID_PARAMETER_TYPE`;
//! - required field absent (or `null`, or an empty string) ->
//!   `MISSING_PARAMETER`;
//! - number above / below its range -> `INVALID_PARAMETER_EXCEED_MAXIMUM` /
//!   `INVALID_PARAMETER_LESS_MINIMUM`;
//! - list with too many items, or text too long ->
//!   `INVALID_PARAMETER_EXCEED_LENGTH`; text too short ->
//!   `INVALID_PARAMETER_LESS_LENGTH`.
//!
//! `null` reads as absent (the SDKs omit unset fields); unknown fields are
//! ignored. Integers may be written as integral floats (`2.0`); huge
//! numbers are range errors, never panics.

use serde_json::{Map, Value};

use super::error::ApiError;

/// A JSON object of parameters, and the path of its fields in messages.
#[derive(Debug)]
pub struct Params<'a> {
    object: &'a Map<String, Value>,
    prefix: String,
}

impl<'a> Params<'a> {
    /// Parses a request body. An empty body reads as `{}`.
    pub fn parse_body(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Map::new());
        }
        let value: Value = serde_json::from_slice(body).map_err(|_| {
            ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                super::error::INVALID_PARAMETER_TYPE,
                "The request body is not a valid JSON object.",
            )
        })?;
        match value {
            Value::Object(object) => Ok(object),
            _ => Err(ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                super::error::INVALID_PARAMETER_TYPE,
                "The request body must be a JSON object.",
            )),
        }
    }

    /// The top-level parameters of a parsed body.
    pub fn root(body: &'a Map<String, Value>) -> Params<'a> {
        Params {
            object: body,
            prefix: String::new(),
        }
    }

    /// The display path of a field of this object.
    pub fn path(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        self.object.get(name).filter(|v| !v.is_null())
    }

    pub fn opt_str(&self, name: &str) -> Result<Option<&'a str>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(ApiError::invalid_type(&self.path(name), "a string")),
        }
    }

    /// A string filter: absent and `""` both mean "no filter".
    pub fn opt_filter(&self, name: &str) -> Result<Option<&'a str>, ApiError> {
        Ok(self.opt_str(name)?.filter(|s| !s.is_empty()))
    }

    pub fn req_str(&self, name: &str) -> Result<&'a str, ApiError> {
        match self.opt_str(name)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(ApiError::missing(&self.path(name))),
        }
    }

    pub fn opt_bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::invalid_type(&self.path(name), "a boolean")),
        }
    }

    /// An integer within `min..=max`.
    pub fn opt_int(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
        let Some(value) = self.get(name) else {
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
        match self.get(name) {
            None => Ok(None),
            Some(Value::Object(object)) => Ok(Some(Params {
                object,
                prefix: format!("{}.", self.path(name)),
            })),
            Some(_) => Err(ApiError::invalid_type(&self.path(name), "an object")),
        }
    }

    /// An array of at most `max_items` items.
    pub fn opt_array(&self, name: &str, max_items: usize) -> Result<Option<&'a [Value]>, ApiError> {
        match self.get(name) {
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

    /// The objects of an array, each as parameters (`name[i].field`).
    pub fn objects_of(&self, name: &str, items: &'a [Value]) -> Result<Vec<Params<'a>>, ApiError> {
        items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Object(object) => Ok(Params {
                    object,
                    prefix: format!("{}[{i}].", self.path(name)),
                }),
                _ => Err(ApiError::invalid_type(
                    &format!("{}[{i}]", self.path(name)),
                    "an object",
                )),
            })
            .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::zenlayer::error::*;
    use serde_json::json;

    fn code<T: std::fmt::Debug>(r: Result<T, ApiError>) -> &'static str {
        r.unwrap_err().code
    }

    #[test]
    fn bodies() {
        assert!(Params::parse_body(b"").unwrap().is_empty());
        assert!(Params::parse_body(b" \n").unwrap().is_empty());
        assert!(Params::parse_body(br#"{"a": 1}"#).is_ok());
        for bad in [
            &b"{"[..],
            b"[]",
            b"null",
            b"1",
            b"\xff\xfe",
            b"{\"a\":\xff}",
        ] {
            assert_eq!(code(Params::parse_body(bad)), INVALID_PARAMETER_TYPE);
        }
        // Deep nesting is refused by serde_json's recursion limit, not a crash.
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(
            code(Params::parse_body(deep.as_bytes())),
            INVALID_PARAMETER_TYPE
        );
    }

    #[test]
    fn integers() {
        let v = json!({
            "ok": 5, "float": 5.0, "frac": 5.5, "text": "5", "neg": -1,
            "big": 18446744073709551615u64, "huge": 1e300, "null": null
        });
        let v = v.as_object().unwrap().clone();
        let p = Params::root(&v);
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
        let huge_literal = Params::parse_body(b"{\"n\": 123456789012345678901234567890}").unwrap();
        assert_eq!(
            code(Params::root(&huge_literal).opt_int("n", 1, 100)),
            INVALID_PARAMETER_EXCEED_MAXIMUM
        );
    }

    #[test]
    fn strings_objects_arrays() {
        let v =
            json!({"s": "x", "e": "", "n": 1, "o": {"period": 1}, "a": ["a", "b"], "m": ["a", 1]});
        let v = v.as_object().unwrap().clone();
        let p = Params::root(&v);
        assert_eq!(p.req_str("s").unwrap(), "x");
        assert_eq!(code(p.req_str("e")), MISSING_PARAMETER);
        assert_eq!(code(p.req_str("absent")), MISSING_PARAMETER);
        assert_eq!(code(p.req_str("n")), INVALID_PARAMETER_TYPE);
        assert_eq!(p.opt_filter("e").unwrap(), None);
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
