//! Spend limits in the allocation flow (see `crate::spend`): before an
//! allocation is sent (a new key, or a re-send after a reconciliation found
//! nothing), its addresses are reserved in the ledger, in the account's
//! count and the caller's, checked against every limited window in the same
//! atomic change. Over a limit: RESOURCE_EXHAUSTED `SPEND_LIMIT_REACHED`
//! and nothing is sent; a ledger that cannot be reached: UNAVAILABLE
//! `IDEMPOTENCY_STORE_UNAVAILABLE`, nothing sent. The reservation is given
//! back on a definite failure (`Owned::fail`) and kept otherwise.

use tonic::Status;

use super::owned::Owned;
use super::{Allocator, Call, error, store_status};
use crate::spend::{SpendOutcome, SpendRequest};

impl Allocator {
    /// Reserves the call's addresses when spend limits are configured.
    pub(super) async fn reserve_spend(
        &self,
        call: &Call<'_>,
        owned: &mut Owned<'_>,
    ) -> Result<(), Status> {
        let Some(spend) = &self.spend else {
            return Ok(());
        };
        let description = call.provider.description();
        let scopes = spend.limits.scopes(owned.account(), call.caller);
        let request = SpendRequest {
            account: owned.account(),
            key: owned.key,
            addresses: u64::from(call.spec.addresses()),
            scopes: &scopes,
        };
        match self.store.reserve_spend(&request, &spend.clock).await {
            Ok(SpendOutcome::Reserved) => {
                owned.reserved = true;
                Ok(())
            }
            Ok(SpendOutcome::Refused(refusal)) => {
                tracing::info!(
                    provider = %description.name,
                    caller = call.caller.unwrap_or_default(),
                    key = %owned.key,
                    scope = refusal.scope.as_str(),
                    name = %refusal.name,
                    window = refusal.window.name(),
                    limit = refusal.limit,
                    used = refusal.used,
                    requested = refusal.requested,
                    "refused an allocation over a spend limit; nothing was sent"
                );
                Err(error::spend_limit_reached(
                    description,
                    call.caller,
                    owned.key,
                    &refusal,
                ))
            }
            Err(e) => Err(store_status(description, owned.key, &e)),
        }
    }
}
