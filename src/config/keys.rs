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
