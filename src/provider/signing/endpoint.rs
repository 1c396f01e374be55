//! The URL pieces both clouds handle alike: a configured base URL checked
//! once at start-up ([`parse_base_url`]), and the `host` value a signature
//! covers ([`host_header`]).

use reqwest::Url;

use super::SigningError;

/// Why a configured endpoint is not a usable base URL. Never carries the
/// URL's user information.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// The parser's reason (which never quotes the input).
    #[error("endpoint is not a valid URL ({0})")]
    NotAUrl(String),
    #[error("endpoint must be an http:// or https:// URL")]
    Scheme,
    #[error("endpoint has no host")]
    NoHost,
    #[error("endpoint must not contain user information")]
    UserInformation,
    #[error("endpoint must not have a query or fragment")]
    QueryOrFragment,
    #[error("endpoint is not a valid base URL")]
    NotABase,
}

/// `endpoint` (trimmed) as an `http(s)` URL with a host and no user
/// information; its path, query and fragment are the caller's to judge.
pub fn parse_base_url(endpoint: &str) -> Result<Url, EndpointError> {
    let url = Url::parse(endpoint.trim()).map_err(|e| EndpointError::NotAUrl(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(EndpointError::Scheme);
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(EndpointError::NoHost);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(EndpointError::UserInformation);
    }
    Ok(url)
}

/// The `host` header value for `url`, exactly as the HTTP client sends it:
/// the host, plus `:port` when the URL names a port other than the scheme's
/// default (`Url::port` is `None` for the default).
pub fn host_header(url: &Url) -> Result<String, SigningError> {
    let host = url.host_str().ok_or(SigningError::NoHost)?;
    let mut value = String::with_capacity(host.len() + 6);
    value.push_str(host);
    if let Some(port) = url.port() {
        // Signed on every attempt: `itoa`, not `fmt`.
        value.push(':');
        value.push_str(itoa::Buffer::new().format(port));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        let url = parse_base_url(" https://Console.Zenlayer.com:443/x?q#f ").unwrap();
        assert_eq!(url.as_str(), "https://console.zenlayer.com/x?q#f");
        let cases = [
            (
                "not a url",
                "endpoint is not a valid URL (relative URL without a base)",
            ),
            ("ftp://host/", "endpoint must be an http:// or https:// URL"),
            ("file:///tmp", "endpoint must be an http:// or https:// URL"),
            (
                "http://user:pw@host/",
                "endpoint must not contain user information",
            ),
            (
                "http://user@host/",
                "endpoint must not contain user information",
            ),
        ];
        for (endpoint, message) in cases {
            let error = parse_base_url(endpoint).unwrap_err();
            assert_eq!(error.to_string(), message, "{endpoint}");
            assert!(!error.to_string().contains("pw"), "{endpoint}");
        }
    }

    #[test]
    fn host_header_carries_only_a_non_default_port() {
        for (url, host) in [
            (
                "https://ecs.cn-hangzhou.aliyuncs.com:443/",
                "ecs.cn-hangzhou.aliyuncs.com",
            ),
            (
                "http://ecs.cn-hangzhou.aliyuncs.com:80/",
                "ecs.cn-hangzhou.aliyuncs.com",
            ),
            ("https://Console.Zenlayer.com", "console.zenlayer.com"),
            ("http://127.0.0.1:8081/", "127.0.0.1:8081"),
            ("https://h:80/", "h:80"),
            ("http://[::1]:9000/", "[::1]:9000"),
            ("http://h:1/", "h:1"),
            ("http://h:10/", "h:10"),
            ("https://h:65535/", "h:65535"),
            ("http://h:0/", "h:0"),
        ] {
            assert_eq!(
                host_header(&Url::parse(url).unwrap()).unwrap(),
                host,
                "{url}"
            );
        }
        let no_host = Url::parse("data:text/plain,x").unwrap();
        assert_eq!(host_header(&no_host), Err(SigningError::NoHost));
    }
}
