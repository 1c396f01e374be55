//! (in progress)
pub struct AliyunProvider;
