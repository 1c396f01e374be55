//! Authorization of each `IpAllocation` call (see `crate::auth`): with
//! callers configured, the call's caller is identified first (or the call
//! is refused UNAUTHENTICATED `CALLER_UNAUTHENTICATED`), then it must be
//! allowed the RPC and, once the request named one, the provider account
//! (else PERMISSION_DENIED `CALLER_NOT_ALLOWED`). Every refusal comes before
//! anything is sent to a provider, and is logged without any credential.

use tonic::{Request, Status};

use super::error;
use crate::auth::{Callers, Identified, Rpc};
use crate::logging::access::{CallFacts, PeerAddress};
use crate::provider::ProviderDescription;
use crate::server::peer::Peer;

/// The caller of `request` to `rpc`, allowed to call it: `None` when
/// authorization is off.
pub(super) fn caller<T>(
    callers: &Callers,
    request: &Request<T>,
    rpc: Rpc,
) -> Result<Option<Identified>, Status> {
    let who = identify(callers, request, rpc)?;
    may_call(who.as_ref(), rpc)?;
    Ok(who)
}

/// The caller of `request` to `rpc`: `None` when authorization is off.
pub(super) fn identify<T>(
    callers: &Callers,
    request: &Request<T>,
    rpc: Rpc,
) -> Result<Option<Identified>, Status> {
    if !callers.enabled() {
        return Ok(None);
    }
    let peer = request.extensions().get::<Peer>();
    let who = callers.identify(request.metadata(), peer).map_err(|why| {
        tracing::info!(
            rpc = rpc.name(),
            peer = %peer_address(request),
            why = ?why,
            "refused a call that carries no caller's identity"
        );
        error::caller_unauthenticated(rpc, why)
    })?;
    CallFacts::of(request).caller(who.name());
    Ok(Some(who))
}

/// Whether `who` may call `rpc` (always, without callers).
pub(super) fn may_call(who: Option<&Identified>, rpc: Rpc) -> Result<(), Status> {
    match who {
        Some(who) if !who.may_call(rpc) => {
            tracing::info!(
                caller = who.name(),
                rpc = rpc.name(),
                "refused an RPC the caller may not call"
            );
            Err(error::caller_not_allowed(who.name(), rpc, None))
        }
        _ => Ok(()),
    }
}

/// Whether `who` may use `provider` in `rpc` (always, without callers).
pub(super) fn provider(
    who: Option<&Identified>,
    rpc: Rpc,
    provider: &ProviderDescription,
) -> Result<(), Status> {
    match who {
        Some(who) if !who.may_use(&provider.name) => {
            tracing::info!(
                caller = who.name(),
                rpc = rpc.name(),
                provider = %provider.name,
                "refused a provider account the caller may not use"
            );
            Err(error::caller_not_allowed(who.name(), rpc, Some(provider)))
        }
        _ => Ok(()),
    }
}

/// The peer's address (`ip:port`), empty when unknown (a Unix socket).
pub(super) fn peer_address<T>(request: &Request<T>) -> String {
    // Formatted once per connection by `server::connection`.
    if let Some(shown) = request.extensions().get::<PeerAddress>() {
        return shown.as_str().to_owned();
    }
    request
        .remote_addr()
        .or_else(|| request.extensions().get::<Peer>().and_then(|p| p.remote))
        .map(|a| a.to_string())
        .unwrap_or_default()
}
