//! (in progress)
use crate::provider::error_table::ErrorTable;
pub static TABLE: ErrorTable = ErrorTable {
    api: "Alibaba Cloud ECS",
    domain: "ecs.aliyuncs.com",
    rules: &[],
};
