//! The configured provider accounts by name, and the rule that picks one for
//! a request: the named provider, or the only one of the requested kind;
//! and the adapter each configured account gets ([`build_provider`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::aliyun::AliyunProvider;
use super::zenlayer::ZenlayerProvider;
use super::{Provider, ProviderError, ProviderKind};
use crate::config::ProviderConfig;
use crate::middleware::FleetRate;

/// The adapter (and so the HTTP client) of one configured provider account.
/// In fleet mode (`fleet`), the account's rate limit is the one every
/// gateway shares, under the provider's configured name; without, it is
/// this process's own.
pub fn build_provider(
    config: &ProviderConfig,
    fleet: Option<&FleetRate>,
) -> Result<Arc<dyn Provider>, ProviderError> {
    Ok(match config {
        ProviderConfig::Aliyun(settings) => {
            Arc::new(AliyunProvider::with_fleet(settings.clone(), fleet)?)
        }
        ProviderConfig::Zenlayer(settings) => {
            Arc::new(ZenlayerProvider::with_fleet(settings.clone(), fleet)?)
        }
    })
}

/// Why no provider could be picked for a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("unknown provider {name:?}; configured providers: {known}")]
    Unknown { name: String, known: String },
    #[error(
        "provider {name:?} is a {actual} provider, but the request carries {requested} parameters"
    )]
    KindMismatch {
        name: String,
        actual: ProviderKind,
        requested: ProviderKind,
    },
    #[error("no {kind} provider is configured")]
    NoneOfKind { kind: ProviderKind },
    #[error("{count} {kind} providers are configured ({names}); name one")]
    Ambiguous {
        kind: ProviderKind,
        count: usize,
        names: String,
    },
    #[error("{count} providers are configured ({names}); name one")]
    AmbiguousAny { count: usize, names: String },
    #[error("no provider is configured")]
    NoneConfigured,
}

/// Duplicate provider names are rejected when the registry is built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("provider {0:?} is configured twice")]
pub struct DuplicateProvider(pub String);

/// Provider accounts by name, sorted.
#[derive(Clone, Default)]
pub struct Registry {
    providers: BTreeMap<String, Arc<dyn Provider>>,
}

impl Registry {
    pub fn new(
        providers: impl IntoIterator<Item = Arc<dyn Provider>>,
    ) -> Result<Self, DuplicateProvider> {
        let mut map = BTreeMap::new();
        for provider in providers {
            let name = provider.description().name.clone();
            if map.insert(name.clone(), provider).is_some() {
                return Err(DuplicateProvider(name));
            }
        }
        Ok(Registry { providers: map })
    }

    /// All providers, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Provider>> {
        self.providers.values()
    }

    pub fn len(&self) -> usize {
        self.providers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }

    /// Picks the provider for a request. An empty `name` means "the only
    /// provider of `kind`" (or the only provider at all when `kind` is None).
    pub fn resolve(
        &self,
        name: &str,
        kind: Option<ProviderKind>,
    ) -> Result<&Arc<dyn Provider>, ResolveError> {
        if !name.is_empty() {
            let provider = self
                .providers
                .get(name)
                .ok_or_else(|| ResolveError::Unknown {
                    name: name.to_owned(),
                    known: self.names(|_| true),
                })?;
            let actual = provider.description().kind;
            return match kind {
                Some(requested) if requested != actual => Err(ResolveError::KindMismatch {
                    name: name.to_owned(),
                    actual,
                    requested,
                }),
                _ => Ok(provider),
            };
        }
        let matches = |p: &Arc<dyn Provider>| kind.is_none_or(|k| p.description().kind == k);
        let mut candidates = self.providers.values().filter(|p| matches(p));
        match (candidates.next(), candidates.next()) {
            (Some(only), None) => Ok(only),
            (None, _) => Err(match kind {
                Some(kind) => ResolveError::NoneOfKind { kind },
                None => ResolveError::NoneConfigured,
            }),
            (Some(_), Some(_)) => {
                let count = self.providers.values().filter(|p| matches(p)).count();
                let names = self.names(|p| matches(p));
                Err(match kind {
                    Some(kind) => ResolveError::Ambiguous { kind, count, names },
                    None => ResolveError::AmbiguousAny { count, names },
                })
            }
        }
    }

    fn names(&self, keep: impl Fn(&Arc<dyn Provider>) -> bool) -> String {
        let names: Vec<&str> = self
            .providers
            .iter()
            .filter(|(_, p)| keep(p))
            .map(|(n, _)| n.as_str())
            .collect();
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    }
}
