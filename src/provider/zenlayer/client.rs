//! (in progress)
pub struct ZenlayerProvider;
