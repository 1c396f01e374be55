//! Reading a status's error details the way a client does.

use tonic::Status;
use tonic_types::{ErrorInfo, StatusExt};

/// The ErrorInfo of `status`; panics when it has none.
pub fn error_info(status: &Status) -> ErrorInfo {
    status
        .get_error_details()
        .error_info()
        .cloned()
        .unwrap_or_else(|| panic!("status without ErrorInfo: {status:?}"))
}

/// The ErrorInfo reason of `status`, or "" when it has none.
pub fn reason(status: &Status) -> String {
    status
        .get_error_details()
        .error_info()
        .map(|info| info.reason.clone())
        .unwrap_or_default()
}
