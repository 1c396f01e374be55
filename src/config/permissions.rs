//! The start-up check of the configuration file's permissions: a file that
//! holds credentials inline (`access_key_secret`, `security_token`,
//! `access_key_password`) should be readable by its owner only. The gateway
//! warns (it does not refuse: the file may be a mounted Kubernetes secret
//! whose mode the operator cannot change) and names the keys and the fix.
//! Credentials named through `*_env` variables are not inline. A
//! `[cluster] postgres_url` with a password in it counts as inline too, and
//! a `[cluster] password_file` others can read draws the same warning.

use std::path::Path;

use super::raw::RawConfig;

/// The provider keys that hold a secret when written inline.
const SECRET_KEYS: [&str; 3] = ["access_key_secret", "security_token", "access_key_password"];

/// The inline secrets of a configuration text, as `providers.NAME.KEY`;
/// empty when there are none or the text does not parse.
pub fn inline_secrets(text: &str) -> Vec<String> {
    let Ok(raw) = toml::from_str::<RawConfig>(text) else {
        return Vec::new();
    };
    let mut keys = Vec::new();
    for (name, provider) in &raw.providers {
        let values = [
            &provider.access_key_secret,
            &provider.security_token,
            &provider.access_key_password,
        ];
        for (key, value) in SECRET_KEYS.iter().zip(values) {
            if value.is_some() {
                keys.push(format!("providers.{name}.{key}"));
            }
        }
    }
    let url_password = raw.cluster.postgres_url.as_deref().is_some_and(|url| {
        url.parse::<tokio_postgres::Config>()
            .is_ok_and(|config| config.get_password().is_some())
    });
    if url_password {
        keys.push("cluster.postgres_url".to_owned());
    }
    keys
}

/// The mode of the file at `path` when group or others may read it.
fn readable_by_others(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o7777;
        (mode & 0o044 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// A warning when the secret file at `path` (given by `key`) is readable by
/// group or others; `None` when all is well (or not on Unix). Never the
/// file's content.
pub fn insecure_secret_file_warning(path: &Path, key: &str) -> Option<String> {
    let mode = readable_by_others(path)?;
    Some(format!(
        "{key} names {}, which is readable by group or others (mode {mode:04o}): run `chmod 600 {}` \
         (or set the mounted secret's defaultMode to 0400)",
        path.display(),
        path.display()
    ))
}

/// A warning when the file at `path` holds inline secrets and its mode lets
/// group or others read it; `None` when all is well (or not on Unix).
pub fn insecure_config_warning(path: &Path) -> Option<String> {
    let mode = readable_by_others(path)?;
    let text = std::fs::read_to_string(path).ok()?;
    let secrets = inline_secrets(&text);
    if secrets.is_empty() {
        return None;
    }
    Some(format!(
        "config file {} holds credentials inline ({}) and is readable by group or others \
         (mode {mode:04o}): run `chmod 600 {}`, or move the credentials to environment \
         variables (the *_env keys)",
        path.display(),
        secrets.join(", "),
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const INLINE: &str = "[providers.zl]\nkind = \"zenlayer\"\naccess_key_id = \"AKID\"\n\
                          access_key_password = \"s3cret-value\"\n\
                          [providers.ali]\nkind = \"aliyun\"\naccess_key_secret_env = \"X\"\n";

    #[test]
    fn inline_secrets_are_found_by_key_and_env_names_are_not() {
        assert_eq!(inline_secrets(INLINE), ["providers.zl.access_key_password"]);
        assert!(inline_secrets("[providers.a]\naccess_key_secret_env = \"V\"\n").is_empty());
        assert!(inline_secrets("not toml [").is_empty());
        let url = "[cluster]\npostgres_url = \"postgres://gw:pw-VALUE@db:5432/ipalloc\"\n";
        assert_eq!(inline_secrets(url), ["cluster.postgres_url"]);
        let no_password = "[cluster]\npostgres_url = \"postgres://gw@db:5432/ipalloc\"\n";
        assert!(inline_secrets(no_password).is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn a_secret_file_others_can_read_draws_a_warning_without_its_content() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db-password");
        std::fs::write(&path, "pw-VALUE-0009\n").unwrap();
        let set = |mode| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode));
        set(0o644).unwrap();
        let warning = insecure_secret_file_warning(&path, "cluster.password_file").unwrap();
        assert!(warning.contains("cluster.password_file"), "{warning}");
        assert!(warning.contains("mode 0644"), "{warning}");
        assert!(warning.contains("chmod 600"), "{warning}");
        assert!(!warning.contains("pw-VALUE-0009"), "{warning}");
        set(0o640).unwrap();
        assert!(insecure_secret_file_warning(&path, "k").is_some());
        set(0o600).unwrap();
        assert_eq!(insecure_secret_file_warning(&path, "k"), None);
        set(0o400).unwrap();
        assert_eq!(insecure_secret_file_warning(&path, "k"), None);
    }

    #[cfg(unix)]
    #[test]
    fn a_readable_file_with_inline_secrets_draws_a_warning_without_the_secret() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gateway.toml");
        std::fs::write(&path, INLINE).unwrap();
        let set = |mode| std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode));
        set(0o644).unwrap();
        let warning = insecure_config_warning(&path).unwrap();
        assert!(warning.contains("mode 0644"), "{warning}");
        assert!(
            warning.contains("providers.zl.access_key_password"),
            "{warning}"
        );
        assert!(warning.contains("chmod 600"), "{warning}");
        assert!(!warning.contains("s3cret-value"), "{warning}");
        set(0o640).unwrap();
        assert!(insecure_config_warning(&path).is_some());
        set(0o600).unwrap();
        assert_eq!(insecure_config_warning(&path), None);
        // No inline secret: no warning whatever the mode.
        std::fs::write(&path, "[providers.a]\naccess_key_secret_env = \"V\"\n").unwrap();
        set(0o644).unwrap();
        assert_eq!(insecure_config_warning(&path), None);
    }
}
