//! Unknown keys and wrong types, found in the whole file at once.
//!
//! Each problem names the key and the expected type, with a "did you mean"
//! for a misspelled key; never the value. A key at fault is removed, so the
//! rest of the file is still checked and every problem reported together.

use toml::Value;

use super::problems::Collector;
use super::schema::{Field, Kind};

/// Checks `table` against `fields`; `prefix` is the dotted path so far
/// (empty, or ending with `.`).
pub fn check(table: &mut toml::Table, fields: &[Field], prefix: &str, problems: &mut Collector) {
    let keys: Vec<String> = table.keys().cloned().collect();
    for key in keys {
        let path = format!("{prefix}{key}");
        let Some(field) = fields.iter().find(|f| f.name == key) else {
            let hint = super::did_you_mean(&key, fields.iter().map(|f| f.name))
                .map(|close| format!("; did you mean `{close}`?"))
                .unwrap_or_default();
            problems.add(path, format!("unknown key{hint}"));
            table.remove(&key);
            continue;
        };
        let Some(value) = table.get_mut(&key) else {
            continue;
        };
        let fits = match (&field.kind, &mut *value) {
            (Kind::Text, Value::String(_)) => true,
            (Kind::Whole, Value::Integer(n)) => *n >= 0,
            (Kind::Number, Value::Integer(_) | Value::Float(_)) => true,
            (Kind::Flag, Value::Boolean(_)) => true,
            (Kind::List(item), Value::Array(values)) => values.iter().all(|v| fits_item(item, v)),
            (Kind::Section(inner), Value::Table(section)) => {
                check(section, inner, &format!("{path}."), problems);
                true
            }
            (Kind::Named(inner), Value::Table(named)) => {
                let names: Vec<String> = named.keys().cloned().collect();
                for name in names {
                    match named.get_mut(&name) {
                        Some(Value::Table(section)) => {
                            check(section, inner, &format!("{path}.{name}."), problems)
                        }
                        _ => {
                            problems.add(format!("{path}.{name}"), "expected a table");
                            named.remove(&name);
                        }
                    }
                }
                true
            }
            _ => false,
        };
        if !fits {
            let found = match value {
                Value::Integer(n) if *n < 0 => "a negative number",
                Value::Array(values) => match values.iter().find(|v| match &field.kind {
                    Kind::List(item) => !fits_item(item, v),
                    _ => true,
                }) {
                    Some(Value::Integer(n)) if *n < 0 => "a list holding a negative number",
                    Some(v) if matches!(field.kind, Kind::List(_)) => list_of(v),
                    _ => "array",
                },
                other => other.type_str(),
            };
            problems.add(
                path,
                format!("expected {}, found {found}", field.kind.describe()),
            );
            table.remove(&key);
        }
    }
}

/// Whether one element of a list is of the list's kind.
fn fits_item(item: &Kind, value: &Value) -> bool {
    match (item, value) {
        (Kind::Text, Value::String(_)) => true,
        (Kind::Whole, Value::Integer(n)) => *n >= 0,
        _ => false,
    }
}

/// "a list holding a <type>", for the first element of the wrong kind.
fn list_of(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a list holding a string",
        Value::Integer(_) => "a list holding an integer",
        Value::Float(_) => "a list holding a float",
        Value::Boolean(_) => "a list holding a boolean",
        Value::Datetime(_) => "a list holding a datetime",
        Value::Array(_) => "a list holding a list",
        Value::Table(_) => "a list holding a table",
    }
}
