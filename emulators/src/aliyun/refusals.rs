//! The instances designated to refuse `ModifyInstanceNetworkSpec` with one
//! row of its API page each: the rows that depend on billing, account or
//! order state the emulator does not model (a subscription instance, an
//! account in arrears, a downgrade quota, a temporary upgrade, ...). Each
//! holds a static public IP (47.101.1.N, outside every pool), so a release
//! reaches the call; the instance is found first (an unknown one is still
//! `InvalidInstanceId.NotFound`), then the designated row answers, whatever
//! the parameters. Rows whose page message is `%s` get a plain wording.
//!
//! Seeded by [`super::seed`], listed in README's inventory
//! ([`super::inventory::NETWORK_SPEC`]).

use super::errors::EcsError;

/// (instance id, HTTP status, code, message), in the page's order.
#[rustfmt::skip]
pub const NETWORK_SPEC_REFUSALS: &[(&str, u16, &str, &str)] = &[
    ("i-emunsref01", 500, "InternalError", "The request processing has failed due to some unknown error."),
    ("i-emunsref02", 403, "ChargeTypeViolation", "The operation is not permitted due to billing method of the instance."),
    ("i-emunsref03", 403, "OperationDenied", "The operation is denied due to the instance is PrePaid."),
    ("i-emunsref04", 400, "OperationDenied", "Specified instance is in VPC."),
    ("i-emunsref05", 400, "InvalidParameter.Bandwidth", "The specified parameter Bandwidth is not valid."),
    ("i-emunsref06", 400, "InvalidParameter.Conflict", "The specified parameters conflict."),
    ("i-emunsref07", 400, "InvalidStartTime.ValueNotSupported", "The specified EndTime is earlier than the StartTime."),
    ("i-emunsref08", 400, "Account.Arrearage", "Your account has an outstanding payment."),
    ("i-emunsref09", 400, "DecreasedBandwidthNotAllowed", "The bandwidth of the instance cannot be decreased."),
    ("i-emunsref10", 400, "BandwidthUpgradeDenied.EipBoundInstance", "The specified VPC instance has bound EIP, temporary bandwidth upgrade is denied."),
    ("i-emunsref11", 403, "InvalidAccountStatus.NotEnoughBalance", "Your account does not have enough balance."),
    ("i-emunsref12", 400, "Throttling", "Request was denied due to request throttling, please try again after 5 minutes."),
    ("i-emunsref13", 400, "InvalidAction", "Specified action is not valid."),
    ("i-emunsref14", 400, "InstanceDowngrade.QuotaExceed", "Quota of instance downgrade is exceed."),
    ("i-emunsref15", 400, "InvalidBandwidth.ValueNotSupported", "Instance upgrade bandwidth of temporary not allow less then existed."),
    ("i-emunsref16", 400, "InvalidInstanceStatus", "The specified instance status does not support this action."),
    ("i-emunsref17", 403, "InvalidInstanceStatus", "The current status of the instance does not support this operation."),
    ("i-emunsref18", 400, "InvalidInstance.UnPaidOrder", "Unpaid order exists in your account, please complete or cancel the payment in the expense center."),
    ("i-emunsref19", 400, "OperationDenied", "After downgrade, you cannot upgrade or downgrade your instances again in the remaining time of the current billing cycle."),
    ("i-emunsref20", 400, "InvalidInternetChargeType.ValueNotSupported", "The specified InternetChargeType is not supported by the instance."),
    ("i-emunsref21", 400, "LastOrderProcessing", "The previous order is still processing, please try again later."),
    ("i-emunsref22", 400, "OperationDenied", "The current user does not support this operation."),
    ("i-emunsref23", 403, "NAT_PUBLIC_IP_BINDING_FAILED", "Binding nat public ip failed"),
    ("i-emunsref24", 403, "InvalidInstance.EipNotSupport", "The specified instance with eip is not supported, please unassociate eip first."),
    ("i-emunsref25", 403, "InvalidNetworkType.ValueNotSupported", "The specified parameter NetworkType is not valid."),
    ("i-emunsref26", 500, "InternalError", "The request processing has failed due to some unknown error, exception or failure."),
    ("i-emunsref27", 403, "IncorrectInstanceStatus", "The current status of the resource does not support this operation."),
];

/// The answer designated for `instance_id`, if it is one of
/// [`NETWORK_SPEC_REFUSALS`].
pub fn network_spec_refusal(instance_id: &str) -> Option<EcsError> {
    NETWORK_SPEC_REFUSALS
        .iter()
        .find(|(id, ..)| *id == instance_id)
        .map(|(_, status, code, message)| {
            let mut error = EcsError::new(*status, code, *message);
            if code.starts_with("Throttling") {
                error.retry_after_ms = Some(super::errors::THROTTLE_RETRY_AFTER_MS);
            }
            error
        })
}

/// The static public IP of the `n`th (0-based) designated instance.
pub fn refusal_ip(n: usize) -> std::net::Ipv4Addr {
    let last = u8::try_from(n + 1).unwrap_or(u8::MAX);
    std::net::Ipv4Addr::new(47, 101, 1, last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn ids_and_rows_are_distinct() {
        let ids: BTreeSet<&str> = NETWORK_SPEC_REFUSALS.iter().map(|r| r.0).collect();
        assert_eq!(ids.len(), NETWORK_SPEC_REFUSALS.len());
        let rows: BTreeSet<(u16, &str, &str)> = NETWORK_SPEC_REFUSALS
            .iter()
            .map(|r| (r.1, r.2, r.3))
            .collect();
        assert_eq!(rows.len(), NETWORK_SPEC_REFUSALS.len());
        assert!(network_spec_refusal("i-emuready001").is_none());
        let error = network_spec_refusal("i-emunsref08").unwrap();
        assert_eq!(
            (error.status, error.code.as_ref()),
            (400, "Account.Arrearage")
        );
        assert!(
            NETWORK_SPEC_REFUSALS.len() < 250,
            "the IPs stay in 47.101.1.0/24"
        );
    }
}
