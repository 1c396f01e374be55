//! `ClientToken` idempotency (ModifyInstanceNetworkSpec): a token seen
//! before with the same parameters gets the first answer again (nothing is
//! performed twice); with other parameters it is 400
//! `IdempotentParameterMismatch`. Tokens are per AccessKey.
//!
//! Bounded: at most [`CLIENT_TOKEN_CAPACITY`] tokens are remembered, the
//! oldest forgotten first. Keys are SHA-256 digests, so a long token costs
//! no memory. Alibaba does not publish how long a token is remembered.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::errors::EcsError;

/// The most tokens remembered at once.
pub const CLIENT_TOKEN_CAPACITY: usize = 10_000;

type Key = [u8; 32];

/// What a token was first used with, and the answer it got.
#[derive(Debug, Clone)]
struct Remembered {
    fingerprint: Key,
    fields: Map<String, Value>,
}

/// The tokens seen, oldest first.
#[derive(Debug, Default)]
pub struct ClientTokens {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    answers: HashMap<Key, Remembered>,
    order: VecDeque<Key>,
}

impl ClientTokens {
    /// The answer already given to `token` for `access_key_id`: `Ok(None)`
    /// when the token is new, `Ok(Some(fields))` when it was used with the
    /// same `params`, `IdempotentParameterMismatch` otherwise.
    pub fn replay(
        &self,
        access_key_id: &str,
        token: &str,
        params: &[(&str, &str)],
    ) -> Result<Option<Map<String, Value>>, EcsError> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        match inner.answers.get(&key(access_key_id, token)) {
            None => Ok(None),
            Some(seen) if seen.fingerprint == fingerprint(params) => Ok(Some(seen.fields.clone())),
            Some(_) => Err(EcsError::idempotent_parameter_mismatch()),
        }
    }

    /// Remembers the answer `token` got for `params`.
    pub fn remember(
        &self,
        access_key_id: &str,
        token: &str,
        params: &[(&str, &str)],
        fields: &Map<String, Value>,
    ) {
        let key = key(access_key_id, token);
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if !inner.answers.contains_key(&key) {
            while inner.order.len() >= CLIENT_TOKEN_CAPACITY {
                if let Some(old) = inner.order.pop_front() {
                    inner.answers.remove(&old);
                }
            }
            inner.order.push_back(key);
        }
        inner.answers.insert(
            key,
            Remembered {
                fingerprint: fingerprint(params),
                fields: fields.clone(),
            },
        );
    }

    /// How many tokens are remembered.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .answers
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn key(access_key_id: &str, token: &str) -> Key {
    let mut hasher = Sha256::new();
    hasher.update(access_key_id.as_bytes());
    hasher.update([0]);
    hasher.update(token.as_bytes());
    hasher.finalize().into()
}

/// The parameters, sorted, each name and value length-prefixed.
fn fingerprint(params: &[(&str, &str)]) -> Key {
    let mut sorted = params.to_vec();
    sorted.sort_unstable();
    let mut hasher = Sha256::new();
    for (name, value) in sorted {
        for part in [name, value] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part.as_bytes());
        }
    }
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(order: &str) -> Map<String, Value> {
        let mut fields = Map::new();
        fields.insert("OrderId".into(), order.into());
        fields
    }

    #[test]
    fn same_token_same_parameters_replays_other_parameters_refused() {
        let tokens = ClientTokens::default();
        let params = [("InstanceId", "i-a"), ("InternetMaxBandwidthOut", "0")];
        assert_eq!(tokens.replay("AK", "t1", &params).unwrap(), None);
        tokens.remember("AK", "t1", &params, &fields("1"));
        let reordered = [params[1], params[0]];
        assert_eq!(
            tokens.replay("AK", "t1", &reordered).unwrap(),
            Some(fields("1"))
        );
        let other = [("InstanceId", "i-a"), ("InternetMaxBandwidthOut", "1")];
        assert_eq!(
            tokens.replay("AK", "t1", &other).unwrap_err().code,
            "IdempotentParameterMismatch"
        );
        assert_eq!(tokens.replay("AK2", "t1", &other).unwrap(), None, "per key");
        // Length-prefixed: ("ab", "c") is not ("a", "bc").
        tokens.remember("AK", "t2", &[("ab", "c")], &fields("2"));
        assert!(tokens.replay("AK", "t2", &[("a", "bc")]).is_err());
    }

    #[test]
    fn bounded() {
        let tokens = ClientTokens::default();
        for n in 0..CLIENT_TOKEN_CAPACITY + 5 {
            tokens.remember("AK", &n.to_string(), &[], &fields("x"));
        }
        assert_eq!(tokens.len(), CLIENT_TOKEN_CAPACITY);
        assert_eq!(
            tokens.replay("AK", "0", &[]).unwrap(),
            None,
            "the oldest went"
        );
        assert!(tokens.replay("AK", "5", &[]).unwrap().is_some());
    }
}
