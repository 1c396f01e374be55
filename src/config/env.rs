//! Environment overrides (`IPALLOC_*`) and the check for misspelled ones.
//!
//! Every key of the schema has a variable: `IPALLOC_<KEY>` at the top
//! (`IPALLOC_LISTEN`), `IPALLOC_<SECTION>_<KEY>` in a section
//! (`IPALLOC_SERVER_MAX_CONCURRENT_CALLS`), and
//! `IPALLOC_PROVIDER_<NAME>_<KEY>` for each provider in the file (NAME
//! upper-cased, `-` as `_`). A variable's text is typed by its key (a whole
//! number, a number, `true`/`false`/`1`/`0`, text, or a comma-separated
//! list of one of those) and replaces the
//! file's value; a credential override also drops the file's `<key>_env`.
//! An `IPALLOC_*` variable that is none of these is an error naming the
//! closest known one: a misspelled override must not be silently ignored.

use toml::Value;

use super::EnvLookup;
use super::problems::Collector;
use super::schema::{self, Field, Kind};

/// Where environment variables come from.
pub struct Env<'a> {
    pub lookup: EnvLookup<'a>,
    /// Every variable name, for the misspelling check; `None` skips it.
    pub names: Option<Vec<String>>,
    /// `IPALLOC_*` names read elsewhere (command-line flags such as
    /// `IPALLOC_CONFIG`).
    pub also_known: &'a [String],
}

impl<'a> Env<'a> {
    /// The process environment.
    pub fn process(also_known: &'a [String]) -> Env<'a> {
        Env {
            lookup: &super::process_env,
            names: Some(
                std::env::vars_os()
                    .filter_map(|(name, _)| name.into_string().ok())
                    .collect(),
            ),
            also_known,
        }
    }

    /// Only a lookup (tests): overrides apply, no misspelling check.
    pub fn lookup_only(lookup: EnvLookup<'a>) -> Env<'a> {
        Env {
            lookup,
            names: None,
            also_known: &[],
        }
    }
}

/// The prefix of every gateway variable.
pub const PREFIX: &str = "IPALLOC_";

/// One variable and the key it sets.
struct Override {
    var: String,
    /// Table path, e.g. ["providers", "zl", "endpoint"].
    path: Vec<String>,
    kind: Kind,
    /// The `<key>_env` companion dropped when this one is set.
    companion: Option<String>,
}

/// A provider name as it appears in environment variable names.
pub fn env_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// The variable prefix of a map of named sections (`providers` -> `PROVIDER`).
fn named_prefix(section: &str) -> String {
    env_name(section.strip_suffix('s').unwrap_or(section))
}

fn leaves(fields: &[Field], var_prefix: &str, path: &[String], out: &mut Vec<Override>) {
    for field in fields {
        if matches!(field.kind, Kind::Section(_) | Kind::Named(_)) {
            continue;
        }
        let companion = format!("{}_env", field.name);
        let mut p = path.to_vec();
        p.push(field.name.to_owned());
        out.push(Override {
            var: format!("{var_prefix}{}", env_name(field.name)),
            path: p,
            kind: field.kind.clone(),
            companion: fields
                .iter()
                .any(|f| f.name == companion)
                .then_some(companion),
        });
    }
}

/// Every variable the configuration in `table` knows.
fn overrides(table: &toml::Table) -> Vec<Override> {
    let mut out = Vec::new();
    let top = schema::config();
    leaves(top, PREFIX, &[], &mut out);
    for field in top {
        match &field.kind {
            Kind::Section(fields) => leaves(
                fields,
                &format!("{PREFIX}{}_", env_name(field.name)),
                &[field.name.to_owned()],
                &mut out,
            ),
            Kind::Named(fields) => {
                let Some(Value::Table(named)) = table.get(field.name) else {
                    continue;
                };
                for name in named.keys() {
                    leaves(
                        fields,
                        &format!("{PREFIX}{}_{}_", named_prefix(field.name), env_name(name)),
                        &[field.name.to_owned(), name.clone()],
                        &mut out,
                    );
                }
            }
            _ => {}
        }
    }
    out
}

/// The text of a variable as a value of `kind`; the message never repeats it.
fn typed(text: &str, kind: &Kind) -> Result<Value, &'static str> {
    match kind {
        Kind::Whole => text
            .trim()
            .parse::<u64>()
            .ok()
            .and_then(|n| i64::try_from(n).ok())
            .map(Value::Integer)
            .ok_or("is not a whole number"),
        Kind::Number => text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .map(Value::Float)
            .ok_or("is not a number"),
        Kind::Flag => match text.trim() {
            "true" | "1" => Ok(Value::Boolean(true)),
            "false" | "0" => Ok(Value::Boolean(false)),
            _ => Err("is not true or false"),
        },
        // Comma-separated; each element typed by the list's kind.
        Kind::List(item) => text
            .split(',')
            .map(str::trim)
            .filter(|element| !element.is_empty())
            .map(|element| match **item {
                Kind::Text => Ok(Value::String(element.to_owned())),
                Kind::Whole => typed(element, item)
                    .map_err(|_| "is not a comma-separated list of whole numbers"),
                _ => Err("is not a list this key takes"),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        _ => Ok(Value::String(text.to_owned())),
    }
}

/// Applies every override found in the environment to `table`.
pub fn apply(table: &mut toml::Table, env: &Env<'_>, problems: &mut Collector) {
    for o in overrides(table) {
        let Some(text) = (env.lookup)(&o.var) else {
            continue;
        };
        let value = match typed(&text, &o.kind) {
            Ok(value) => value,
            Err(message) => {
                problems.add(o.var.clone(), message);
                continue;
            }
        };
        let Some((leaf, parents)) = o.path.split_last() else {
            continue;
        };
        // A non-table on the way is reported by the type check.
        let Some(at) = table_at(table, parents) else {
            continue;
        };
        at.insert(leaf.clone(), value);
        if let Some(companion) = &o.companion {
            at.remove(companion);
        }
        problems.set_by(o.path.join("."), o.var);
    }
}

/// The table at `path` below `table`, created when missing.
fn table_at<'t>(table: &'t mut toml::Table, path: &[String]) -> Option<&'t mut toml::Table> {
    let Some((first, rest)) = path.split_first() else {
        return Some(table);
    };
    match table
        .entry(first.clone())
        .or_insert_with(|| Value::Table(toml::Table::new()))
    {
        Value::Table(inner) => table_at(inner, rest),
        _ => None,
    }
}

/// Every `IPALLOC_*` variable that sets nothing is a problem.
pub fn check_unknown(table: &toml::Table, env: &Env<'_>, problems: &mut Collector) {
    let Some(names) = &env.names else {
        return;
    };
    let mut known: Vec<String> = overrides(table)
        .into_iter()
        .map(|o| o.var)
        .chain(env.also_known.iter().cloned())
        .collect();
    // A variable the file names to read a value from (`*_env`, such as
    // `password_env = "IPALLOC_DB_PASSWORD"`) is the operator's own.
    named_by_env_keys(table, &mut known);
    let mut unknown: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with(PREFIX) && !known.contains(n) && !service_link(n))
        .collect();
    unknown.sort();
    for name in unknown {
        let hint = match super::did_you_mean(name, known.iter().map(String::as_str)) {
            Some(close) => format!("; did you mean {close}?"),
            None if name.starts_with(&format!("{PREFIX}PROVIDER_")) => {
                "; IPALLOC_PROVIDER_<NAME>_<KEY> works only for a provider in the file".to_owned()
            }
            None => String::new(),
        };
        problems.add(
            name.clone(),
            format!("is not a setting of the gateway{hint}"),
        );
    }
}

/// Whether `name` is one of the variables Kubernetes sets for a Service
/// (`<SVC>_SERVICE_HOST`, `<SVC>_SERVICE_PORT[_<NAME>]`, `<SVC>_PORT`,
/// `<SVC>_PORT_<N>_<PROTO>[_PROTO|_PORT|_ADDR]`): a Service named
/// `ipalloc-...` in the namespace must not stop the gateway from starting.
fn service_link(name: &str) -> bool {
    if name.contains("_SERVICE_HOST") || name.contains("_SERVICE_PORT") {
        return true;
    }
    if name.ends_with("_PORT") {
        return true;
    }
    let Some(at) = name.rfind("_PORT_") else {
        return false;
    };
    let mut rest = name[at + "_PORT_".len()..].split('_');
    let number = rest
        .next()
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    let proto = rest
        .next()
        .is_some_and(|p| matches!(p, "TCP" | "UDP" | "SCTP"));
    let tail = rest
        .next()
        .is_none_or(|t| matches!(t, "PROTO" | "PORT" | "ADDR"));
    number && proto && tail && rest.next().is_none()
}

/// The values of every `*_env` key, at any depth (bounded by the file).
fn named_by_env_keys(table: &toml::Table, out: &mut Vec<String>) {
    for (key, value) in table {
        match value {
            Value::String(name) if key.ends_with("_env") => out.push(name.clone()),
            // A list of variables (`[callers.NAME] token_env`).
            Value::Array(names) if key.ends_with("_env") => {
                out.extend(names.iter().filter_map(|v| v.as_str()).map(str::to_owned))
            }
            Value::Table(inner) => named_by_env_keys(inner, out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_the_file_names_are_not_misspelled_overrides() {
        let table: toml::Table = "[cluster]\npostgres_url = \"postgres://h/d\"\n\
            password_env = \"IPALLOC_DB_PASSWORD\"\n\
            [providers.zl]\naccess_key_id_env = \"IPALLOC_ZL_ID\"\n"
            .parse()
            .unwrap();
        let names = vec![
            "IPALLOC_DB_PASSWORD".to_owned(),
            "IPALLOC_ZL_ID".to_owned(),
            "IPALLOC_CLUSTER_POSTGRES_URLL".to_owned(),
            // Kubernetes service links of a Service named ipalloc-gateway.
            "IPALLOC_GATEWAY_SERVICE_HOST".to_owned(),
            "IPALLOC_GATEWAY_SERVICE_PORT_GRPC".to_owned(),
            "IPALLOC_GATEWAY_PORT".to_owned(),
            "IPALLOC_GATEWAY_PORT_50051_TCP".to_owned(),
            "IPALLOC_GATEWAY_PORT_50051_TCP_ADDR".to_owned(),
            "IPALLOC_GATEWAY_PORT_50051_HTTP".to_owned(),
        ];
        let lookup = |_: &str| None;
        let env = Env {
            lookup: &lookup,
            names: Some(names),
            also_known: &[],
        };
        let mut problems = Collector::default();
        check_unknown(&table, &env, &mut problems);
        let problems = problems.into_problems();
        let keys: Vec<&str> = problems.0.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "IPALLOC_CLUSTER_POSTGRES_URLL",
                "IPALLOC_GATEWAY_PORT_50051_HTTP"
            ]
        );
    }

    #[test]
    fn variables_are_typed_by_their_key() {
        assert_eq!(typed(" 12 ", &Kind::Whole), Ok(Value::Integer(12)));
        assert!(typed("-1", &Kind::Whole).is_err());
        assert!(typed("lots", &Kind::Whole).is_err());
        assert_eq!(typed("0.5", &Kind::Number), Ok(Value::Float(0.5)));
        assert!(typed("NaN", &Kind::Number).is_err());
        assert_eq!(typed("1", &Kind::Flag), Ok(Value::Boolean(true)));
        assert!(typed("maybe", &Kind::Flag).is_err());
        assert_eq!(
            typed("12345", &Kind::Text),
            Ok(Value::String("12345".into())),
            "a numeric secret stays text"
        );
    }
}
