//! [`ApiReading`]: the switch between the strict reading of the API
//! documents (the default) and the lenient one, shared by both emulators.

/// How an emulator reads requests where the API documents leave a choice.
///
/// `Strict` (the default) takes the reading that hurts a careless client
/// most: an empty list filter matches nothing, `null`, a float where an
/// integer is expected, an unknown or repeated field, or an empty value for
/// an optional parameter is refused (README, "Strict readings", lists every
/// case). `Lenient` is what the emulators did first: `null`, `""` and `[]`
/// read as absent, unknown fields are ignored. A client should be correct
/// under both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ApiReading {
    #[default]
    Strict,
    Lenient,
}

impl ApiReading {
    pub fn is_strict(self) -> bool {
        self == ApiReading::Strict
    }

    /// `strict` or `lenient`.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiReading::Strict => "strict",
            ApiReading::Lenient => "lenient",
        }
    }
}

impl std::fmt::Display for ApiReading {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
