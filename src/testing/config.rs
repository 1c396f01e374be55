//! Configuration text loaded the way the unit tests of one table need it:
//! the table under test plus a provider (so the rest is valid), with the
//! environment as a list of pairs.

use std::collections::HashMap;

use crate::config::{Config, ConfigError, load};

/// A provider, so that the rest of the configuration is valid.
pub const PROVIDER: &str =
    "[providers.zl]\nkind = \"zenlayer\"\naccess_key_id = \"i\"\naccess_key_password = \"p\"\n";

/// Loads `text` and [`PROVIDER`] with the environment `pairs`.
pub fn load_with(text: &str, pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let lookup = move |name: &str| map.get(name).cloned();
    load(&format!("{text}\n{PROVIDER}"), "test.toml", &lookup)
}
