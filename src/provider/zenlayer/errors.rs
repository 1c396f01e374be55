//! (in progress)
use crate::provider::error_table::ErrorTable;
pub static TABLE: ErrorTable = ErrorTable {
    api: "Zenlayer Cloud BMC",
    domain: "bmc.console.zenlayer.com",
    rules: &[],
};
