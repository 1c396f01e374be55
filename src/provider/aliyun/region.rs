//! Alibaba region ids (`cn-hangzhou`, `ap-southeast-1`, `cn-zhengzhou-jva`):
//! the one rule the configuration, request validation and the adapter's
//! host names (`ecs.<region>.aliyuncs.com`) all apply.

/// Longest region id accepted.
pub const MAX_REGION_ID: usize = 64;

/// True for lowercase words of ASCII letters and digits joined by single
/// `-`, at most [`MAX_REGION_ID`] bytes: safe to put into a host name.
pub fn is_valid(region: &str) -> bool {
    region.len() <= MAX_REGION_ID
        && region.contains('-')
        && region.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alibaba_region_ids() {
        assert!(is_valid("cn-hangzhou"));
        assert!(is_valid("ap-southeast-1"));
        assert!(is_valid("cn-zhengzhou-jva"));
        assert!(!is_valid("cn_hangzhou"));
        assert!(!is_valid("hangzhou"));
        assert!(!is_valid("cn--x"));
    }

    #[test]
    fn nothing_that_would_change_a_host_name() {
        for bad in [
            "evil.com/x?",
            "a b",
            "cn-hangzhou.attacker",
            "-x",
            "x-",
            "ü",
            "",
        ] {
            assert!(!is_valid(bad), "{bad}");
        }
        assert!(!is_valid(&format!("cn-{}", "a".repeat(MAX_REGION_ID))));
    }
}
