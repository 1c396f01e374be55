//! ListAllocations page tokens (AIP-158): opaque to callers, bounded, and
//! bound to the request that made them.
//!
//! A token is base64url (no padding) of: version `1`, the first 8 bytes of
//! the SHA-256 of the request's filters and the caller (so a token reused
//! with other filters, or by another caller, is refused), then where the
//! next page starts: phase 0 = the gateway's own allocations after an
//! inventory position (created ms, account, id); phase 1 = the unmanaged
//! EIPs of the `account`-th Zenlayer account listed, from provider page
//! `page`. Decoding checks every length; anything else is INVALID_ARGUMENT
//! naming `page_token`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::inventory::Cursor;

/// Longest page token accepted (a token this gateway makes is far shorter).
pub const MAX_PAGE_TOKEN: usize = 1024;

const VERSION: u8 = 1;

/// Where the next page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position {
    /// The gateway's own allocations, after this position.
    Managed(Cursor),
    /// The unmanaged EIPs of the `account`-th listed Zenlayer account, from
    /// provider page `page` (1-based).
    Unmanaged { account: u32, page: u32 },
}

/// A token's binding to its request: a hash of the filters and caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding([u8; 8]);

impl Binding {
    /// The binding of a request whose filters, written out canonically,
    /// are `parts`.
    pub fn of(parts: &[&str]) -> Binding {
        let mut hash = Sha256::new();
        for part in parts {
            hash.update((part.len() as u64).to_le_bytes());
            hash.update(part.as_bytes());
        }
        let digest = hash.finalize();
        let mut out = [0u8; 8];
        out.copy_from_slice(&digest[..8]);
        Binding(out)
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("not a page token of this gateway")]
    Malformed,
    #[error("the request's filters differ from those of the call that returned this token")]
    OtherRequest,
}

/// The token for `position` of a request bound by `binding`.
pub fn encode(binding: Binding, position: &Position) -> String {
    let mut out = Vec::with_capacity(64);
    out.push(VERSION);
    out.extend_from_slice(&binding.0);
    match position {
        Position::Managed(c) => {
            out.push(0);
            out.extend_from_slice(&c.created_ms.to_le_bytes());
            put_text(&mut out, &c.account);
            put_text(&mut out, &c.id);
        }
        Position::Unmanaged { account, page } => {
            out.push(1);
            out.extend_from_slice(&account.to_le_bytes());
            out.extend_from_slice(&page.to_le_bytes());
        }
    }
    URL_SAFE_NO_PAD.encode(out)
}

/// The position in `token`, checked against `binding`.
pub fn decode(token: &str, binding: Binding) -> Result<Position, TokenError> {
    if token.len() > MAX_PAGE_TOKEN {
        return Err(TokenError::Malformed);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| TokenError::Malformed)?;
    let mut r = Reader(&bytes);
    if r.byte()? != VERSION {
        return Err(TokenError::Malformed);
    }
    let bound: [u8; 8] = r.array()?;
    let position = match r.byte()? {
        0 => Position::Managed(Cursor {
            created_ms: u64::from_le_bytes(r.array()?),
            account: r.text()?,
            id: r.text()?,
        }),
        1 => Position::Unmanaged {
            account: u32::from_le_bytes(r.array()?),
            page: u32::from_le_bytes(r.array()?),
        },
        _ => return Err(TokenError::Malformed),
    };
    if !r.0.is_empty() {
        return Err(TokenError::Malformed);
    }
    if bound != binding.0 {
        return Err(TokenError::OtherRequest);
    }
    Ok(position)
}

fn put_text(out: &mut Vec<u8>, text: &str) {
    // Accounts and ids are far shorter than 64 KiB (validated and
    // configured); a longer one is cut rather than wrapped.
    let bytes = text.as_bytes();
    let len = bytes.len().min(usize::from(u16::MAX));
    out.extend_from_slice(&(len as u16).to_le_bytes());
    out.extend_from_slice(&bytes[..len]);
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], TokenError> {
        if self.0.len() < n {
            return Err(TokenError::Malformed);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, TokenError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], TokenError> {
        self.take(N)?.try_into().map_err(|_| TokenError::Malformed)
    }

    fn text(&mut self) -> Result<String, TokenError> {
        let len = u16::from_le_bytes(self.array()?);
        let bytes = self.take(usize::from(len))?;
        String::from_utf8(bytes.to_vec()).map_err(|_| TokenError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding() -> Binding {
        Binding::of(&["zl", "READY", "", "team=a"])
    }

    #[test]
    fn positions_survive_their_token() {
        for position in [
            Position::Managed(Cursor {
                created_ms: 1_700_000_000_123,
                account: "zl".to_owned(),
                id: "eip-seoul-1".to_owned(),
            }),
            Position::Unmanaged {
                account: 2,
                page: 17,
            },
        ] {
            let token = encode(binding(), &position);
            assert!(token.len() < 100, "{token}");
            assert_eq!(decode(&token, binding()), Ok(position));
        }
    }

    #[test]
    fn a_token_of_other_filters_is_refused() {
        let token = encode(
            binding(),
            &Position::Unmanaged {
                account: 0,
                page: 2,
            },
        );
        let other = Binding::of(&["zl", "RELEASED", "", "team=a"]);
        assert_eq!(decode(&token, other), Err(TokenError::OtherRequest));
        // Part boundaries count: ("ab", "c") is not ("a", "bc").
        assert_ne!(Binding::of(&["ab", "c"]), Binding::of(&["a", "bc"]));
    }

    #[test]
    fn garbage_is_malformed_never_a_panic() {
        let good = encode(
            binding(),
            &Position::Unmanaged {
                account: 0,
                page: 2,
            },
        );
        let mut cases = vec![
            String::new(),
            "!!!".to_owned(),
            "A".repeat(MAX_PAGE_TOKEN + 1),
            URL_SAFE_NO_PAD.encode([9u8; 20]),
            format!("{good}AA"),
        ];
        // Every prefix of a valid token.
        for n in 0..good.len() {
            cases.push(good[..n].to_owned());
        }
        for case in cases {
            assert!(decode(&case, binding()).is_err(), "{case}");
        }
        // A text length past the end.
        let mut bytes = vec![VERSION];
        bytes.extend_from_slice(&binding().0);
        bytes.push(0);
        bytes.extend_from_slice(&0u64.to_le_bytes());
        bytes.extend_from_slice(&u16::MAX.to_le_bytes());
        let token = URL_SAFE_NO_PAD.encode(bytes);
        assert_eq!(decode(&token, binding()), Err(TokenError::Malformed));
    }
}
