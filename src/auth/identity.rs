//! Who a call is from. The credentials, strongest first:
//! 1. a bearer token (`authorization: Bearer <token>`): when the call
//!    carries one it decides alone, and one that matches no caller (or
//!    `authorization` metadata of another form) is refused, whatever the
//!    connection would say;
//! 2. the SANs of the connection's verified mTLS client certificate;
//! 3. the Unix socket peer's uid, then its gid.
//!
//! A token belongs to one caller (the configuration refuses a hash, SAN,
//! uid or gid listed twice), but a certificate may carry SANs of two
//! callers: a tier that matches several is refused as ambiguous rather
//! than picking one.

use std::sync::Arc;

use tonic::metadata::MetadataMap;

use super::token::{self, Presented};
use super::{Callers, Rpc};
use crate::config::callers::CallerConfig;
use crate::server::peer::Peer;

/// Whether a caller is matched by one kind of connection credential.
type Matches<'a> = &'a dyn Fn(&CallerConfig) -> bool;

/// How a caller was identified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Token,
    TlsSan,
    UnixUid,
    UnixGid,
}

impl Via {
    /// `token`, `tls_san`, `unix_uid` or `unix_gid` (the audit trail).
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Token => "token",
            Via::TlsSan => "tls_san",
            Via::UnixUid => "unix_uid",
            Via::UnixGid => "unix_gid",
        }
    }
}

/// The caller a call is from.
#[derive(Debug, Clone)]
pub struct Identified {
    pub caller: Arc<CallerConfig>,
    pub via: Via,
}

impl Identified {
    /// The caller's configured name.
    pub fn name(&self) -> &str {
        &self.caller.name
    }

    /// Whether the caller may call `rpc`.
    pub fn may_call(&self, rpc: Rpc) -> bool {
        self.caller
            .rpcs
            .as_ref()
            .is_none_or(|rpcs| rpcs.contains(&rpc))
    }

    /// Whether the caller may use the provider account `account`.
    pub fn may_use(&self, account: &str) -> bool {
        self.caller
            .providers
            .as_ref()
            .is_none_or(|providers| providers.iter().any(|p| p == account))
    }
}

/// Why a call has no caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unauthenticated {
    /// No token, and the connection matches no caller.
    NoIdentity,
    /// `authorization` metadata that is not one `Bearer <token>`.
    Malformed,
    /// A bearer token that matches no caller.
    WrongToken,
    /// The connection's credentials match several callers.
    Ambiguous(Via),
}

impl Unauthenticated {
    /// What the caller is told (never the token).
    pub fn message(self) -> String {
        match self {
            Unauthenticated::NoIdentity => {
                "the call carries no credentials of a configured caller: \
                 send `authorization: Bearer <token>`, or connect with a client certificate or \
                 from a Unix socket peer that a [callers.NAME] table names"
                    .to_owned()
            }
            Unauthenticated::Malformed => {
                "the `authorization` metadata must be one `Bearer <token>`".to_owned()
            }
            Unauthenticated::WrongToken => {
                "the bearer token matches no configured caller".to_owned()
            }
            Unauthenticated::Ambiguous(via) => format!(
                "the connection's credentials ({}) match several configured callers; send a \
                 bearer token to say which",
                via.as_str()
            ),
        }
    }
}

impl Callers {
    /// The caller of a call with `metadata` on the connection `peer`.
    pub fn identify(
        &self,
        metadata: &MetadataMap,
        peer: Option<&Peer>,
    ) -> Result<Identified, Unauthenticated> {
        match token::presented(metadata) {
            Presented::Malformed => return Err(Unauthenticated::Malformed),
            Presented::Bearer(hash) => {
                // Every hash is compared, so the time taken says nothing
                // about which caller (or whether any) matched.
                let mut found = None;
                for caller in &self.callers {
                    for known in &caller.tokens {
                        if known.matches(&hash) {
                            found = Some(caller);
                        }
                    }
                }
                return found
                    .map(|caller| Identified {
                        caller: Arc::clone(caller),
                        via: Via::Token,
                    })
                    .ok_or(Unauthenticated::WrongToken);
            }
            Presented::None => {}
        }
        let Some(peer) = peer else {
            return Err(Unauthenticated::NoIdentity);
        };
        let unix = peer.unix;
        let tiers: [(Via, Matches<'_>); 3] = [
            (Via::TlsSan, &|c: &CallerConfig| {
                peer.tls_sans.iter().any(|san| c.cert_sans.contains(san))
            }),
            (Via::UnixUid, &|c: &CallerConfig| {
                unix.is_some_and(|u| c.unix_uids.contains(&u.uid))
            }),
            (Via::UnixGid, &|c: &CallerConfig| {
                unix.is_some_and(|u| c.unix_gids.contains(&u.gid))
            }),
        ];
        for (via, matches) in tiers {
            let mut found = self.callers.iter().filter(|c| matches(c));
            match (found.next(), found.next()) {
                (Some(caller), None) => {
                    return Ok(Identified {
                        caller: Arc::clone(caller),
                        via,
                    });
                }
                (Some(_), Some(_)) => return Err(Unauthenticated::Ambiguous(via)),
                (None, _) => {}
            }
        }
        Err(Unauthenticated::NoIdentity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::TokenHash;
    use crate::server::peer::UnixPeer;

    fn caller(name: &str, edit: impl FnOnce(&mut CallerConfig)) -> CallerConfig {
        let mut config = CallerConfig {
            name: name.to_owned(),
            ..CallerConfig::default()
        };
        edit(&mut config);
        config
    }

    fn callers() -> Callers {
        Callers::new(vec![
            caller("app", |c| {
                c.tokens = vec![TokenHash::of("app-token-0123456789")];
                c.unix_uids = vec![1000];
                c.cert_sans = vec!["app.example.com".to_owned()];
            }),
            caller("ops", |c| {
                c.tokens = vec![TokenHash::of("ops-token-0123456789")];
                c.unix_gids = vec![50];
                c.cert_sans = vec!["ops.example.com".to_owned()];
                c.rpcs = Some(vec![Rpc::ListProviders]);
                c.providers = Some(vec!["zl".to_owned()]);
            }),
        ])
    }

    fn bearer(token: &str) -> MetadataMap {
        let mut metadata = MetadataMap::new();
        metadata.insert("authorization", format!("Bearer {token}").parse().unwrap());
        metadata
    }

    fn unix(uid: u32, gid: u32) -> Peer {
        Peer {
            unix: Some(UnixPeer {
                uid,
                gid,
                pid: Some(7),
            }),
            ..Peer::default()
        }
    }

    /// The caller's name and how it was identified, or why there is none.
    type Expected = Result<(&'static str, Via), Unauthenticated>;

    #[test]
    fn a_token_decides_alone_and_a_wrong_one_is_refused() {
        let callers = callers();
        let none = MetadataMap::new();
        #[rustfmt::skip]
        let cases: [(&MetadataMap, Option<Peer>, Expected); 10] = [
            (&bearer("app-token-0123456789"), None, Ok(("app", Via::Token))),
            // The token wins over the connection's uid of another caller.
            (&bearer("ops-token-0123456789"), Some(unix(1000, 0)), Ok(("ops", Via::Token))),
            // A wrong token is refused, even from a known uid.
            (&bearer("nobody-0123456789"), Some(unix(1000, 0)), Err(Unauthenticated::WrongToken)),
            (&none, None, Err(Unauthenticated::NoIdentity)),
            (&none, Some(unix(1000, 50)), Ok(("app", Via::UnixUid))),
            (&none, Some(unix(2000, 50)), Ok(("ops", Via::UnixGid))),
            (&none, Some(unix(2000, 60)), Err(Unauthenticated::NoIdentity)),
            (&none, Some(Peer { tls_sans: vec!["x".into(), "ops.example.com".into()], ..unix(1000, 0) }),
                Ok(("ops", Via::TlsSan))),
            (&none, Some(Peer { tls_sans: vec!["app.example.com".into(), "ops.example.com".into()], ..Peer::default() }),
                Err(Unauthenticated::Ambiguous(Via::TlsSan))),
            (&none, Some(Peer { tls_sans: vec!["other".into()], ..Peer::default() }),
                Err(Unauthenticated::NoIdentity)),
        ];
        for (i, (metadata, peer, expected)) in cases.into_iter().enumerate() {
            let found = callers
                .identify(metadata, peer.as_ref())
                .map(|who| (who.caller.name.clone(), who.via));
            let expected = expected.map(|(name, via)| (name.to_owned(), via));
            assert_eq!(found, expected, "case {i}");
        }
        let mut basic = MetadataMap::new();
        basic.insert("authorization", "Basic YXBw".parse().unwrap());
        assert_eq!(
            callers.identify(&basic, None).unwrap_err(),
            Unauthenticated::Malformed
        );
    }

    #[test]
    fn absent_lists_allow_everything_and_lists_only_what_they_name() {
        let callers = callers();
        let app = callers
            .identify(&bearer("app-token-0123456789"), None)
            .unwrap();
        assert!(Rpc::ALL.into_iter().all(|rpc| app.may_call(rpc)));
        assert!(app.may_use("zl") && app.may_use("aliyun"));
        let ops = callers
            .identify(&bearer("ops-token-0123456789"), None)
            .unwrap();
        assert!(ops.may_call(Rpc::ListProviders) && !ops.may_call(Rpc::AllocateIp));
        assert!(ops.may_use("zl") && !ops.may_use("aliyun"));
        for message in [
            Unauthenticated::NoIdentity,
            Unauthenticated::Malformed,
            Unauthenticated::WrongToken,
            Unauthenticated::Ambiguous(Via::UnixGid),
        ]
        .map(Unauthenticated::message)
        {
            assert!(!message.contains("token-0123456789"), "{message}");
        }
    }
}
