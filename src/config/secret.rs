//! `Secret`: a credential value (access key secret, password, STS token) that
//! never shows in `Debug`, `Display`, logs or error messages; and reading a
//! secret from a file (a password, a bearer token).

use std::fmt;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

/// The longest secret file read (a password or token, not a document).
pub const MAX_SECRET_FILE_BYTES: u64 = 4096;

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

/// A secret file's text (`what` it holds: "the password") without its line
/// end; the message on failure says what is wrong, never what the file
/// holds.
pub(super) fn read_secret_file(path: &Path, what: &str) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot be read: {}", e.kind()))?;
    let mut bytes = Vec::new();
    file.take(MAX_SECRET_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot be read: {}", e.kind()))?;
    if bytes.len() as u64 > MAX_SECRET_FILE_BYTES {
        return Err(format!(
            "is larger than {MAX_SECRET_FILE_BYTES} bytes (it should hold only {what})"
        ));
    }
    let text = String::from_utf8(bytes).map_err(|_| "is not UTF-8 text".to_owned())?;
    let secret = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text);
    if secret.is_empty() {
        return Err("is empty".to_owned());
    }
    Ok(secret.to_owned())
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
