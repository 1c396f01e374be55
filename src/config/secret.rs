//! `Secret`: a credential value (access key secret, password, STS token) that
//! never shows in `Debug`, `Display`, logs or error messages.

use std::fmt;
use std::sync::Arc;

/// A secret string. The only way to read it is [`Secret::expose`], which
/// signers call; everything else sees `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    pub fn new(value: impl Into<Arc<str>>) -> Self {
        Secret(value.into())
    }

    /// The secret value, for signing only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let secret = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        assert_eq!(format!("{secret}"), "***");
        assert_eq!(
            format!("{:#?}", Some(secret.clone())),
            "Some(\n    Secret(***),\n)"
        );
        assert_eq!(secret.expose(), "hunter2-very-secret");
    }
}
