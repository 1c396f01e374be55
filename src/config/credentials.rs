//! Where a provider's credentials come from, in order: the file's inline
//! value, the environment variable the file names in `<field>_env`, or the
//! cloud's conventional variable. Problems name the key, never the value.

use super::EnvLookup;
use super::problems::{Problem, problem};
use super::raw::RawProvider;
use super::values::Table;

/// Every credential a provider table can carry, per cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Credential {
    AliyunAccessKeyId,
    AliyunAccessKeySecret,
    AliyunSecurityToken,
    ZenlayerAccessKeyId,
    ZenlayerAccessKeyPassword,
}

impl Credential {
    /// Its key in the table; `<key>_env` names an environment variable.
    fn field(self) -> &'static str {
        match self {
            Credential::AliyunAccessKeyId | Credential::ZenlayerAccessKeyId => "access_key_id",
            Credential::AliyunAccessKeySecret => "access_key_secret",
            Credential::AliyunSecurityToken => "security_token",
            Credential::ZenlayerAccessKeyPassword => "access_key_password",
        }
    }

    /// The variable the cloud's own tools read it from.
    fn conventional(self) -> &'static str {
        match self {
            Credential::AliyunAccessKeyId => "ALIBABA_CLOUD_ACCESS_KEY_ID",
            Credential::AliyunAccessKeySecret => "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
            Credential::AliyunSecurityToken => "ALIBABA_CLOUD_SECURITY_TOKEN",
            Credential::ZenlayerAccessKeyId => "ZENLAYERCLOUD_ACCESS_KEY_ID",
            Credential::ZenlayerAccessKeyPassword => "ZENLAYERCLOUD_ACCESS_KEY_PASSWORD",
        }
    }

    /// What the table gives: the inline value and the variable it names.
    fn given(self, raw: &RawProvider) -> (&Option<String>, &Option<String>) {
        match self {
            Credential::AliyunAccessKeyId | Credential::ZenlayerAccessKeyId => {
                (&raw.access_key_id, &raw.access_key_id_env)
            }
            Credential::AliyunAccessKeySecret => {
                (&raw.access_key_secret, &raw.access_key_secret_env)
            }
            Credential::AliyunSecurityToken => (&raw.security_token, &raw.security_token_env),
            Credential::ZenlayerAccessKeyPassword => {
                (&raw.access_key_password, &raw.access_key_password_env)
            }
        }
    }

    /// The credential from, in order: the file's inline value, the variable
    /// the file names in `<field>_env`, or the cloud's conventional
    /// variable. Surrounding white space is trimmed (as the official SDKs
    /// do).
    pub fn read(
        self,
        env: EnvLookup<'_>,
        t: &Table<'_>,
        raw: &RawProvider,
    ) -> Result<Option<String>, Problem> {
        let field = self.field();
        let value = match self.given(raw) {
            (Some(_), Some(_)) => {
                return Err(problem(
                    t.key(field),
                    format!("set either {field} or {field}_env, not both"),
                ));
            }
            (Some(value), None) => Some(value.clone()),
            (None, Some(var)) => Some(env(var).ok_or_else(|| {
                problem(
                    t.key(&format!("{field}_env")),
                    format!("environment variable {var} is not set"),
                )
            })?),
            (None, None) => env(self.conventional()),
        };
        match value.map(|v| v.trim().to_owned()) {
            Some(v) if v.is_empty() => Err(problem(t.key(field), "is empty")),
            other => Ok(other),
        }
    }

    /// The credential, which must be present (see [`Credential::read`]).
    pub fn required(
        self,
        env: EnvLookup<'_>,
        t: &Table<'_>,
        raw: &RawProvider,
    ) -> Result<String, Problem> {
        let (field, conventional) = (self.field(), self.conventional());
        self.read(env, t, raw)?.ok_or_else(|| {
            problem(
                t.key(field),
                format!(
                    "required: set {field}, or {field}_env naming an environment variable, or {conventional}"
                ),
            )
        })
    }
}
