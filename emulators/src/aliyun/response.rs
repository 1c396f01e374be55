//! Alibaba's answer shapes, in JSON or XML as the request asked (`Format`):
//!
//! - error, JSON: `{"RequestId","HostId","Code","Message","Recommend"}`;
//! - error, XML: `<?xml version="1.0" encoding="UTF-8"?><Error><RequestId/>
//!   <HostId/><Code/><Message/><Recommend/></Error>`;
//! - success: `{"RequestId", ...}` or `<ActionResponse><RequestId/>...
//!   </ActionResponse>`, where a JSON array under key `K` becomes repeated
//!   `<K>` elements (`"Instances":{"Instance":[..]}` gives
//!   `<Instances><Instance>..</Instance>..</Instances>`).
//!
//! JSON is sent as `application/json;charset=utf-8`, XML as
//! `text/xml;charset=utf-8`. Every answer carries `x-acs-request-id`; a
//! throttling answer also carries `x-acs-retry-after`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::errors::EcsError;

pub const JSON_CONTENT_TYPE: &str = "application/json;charset=utf-8";
pub const XML_CONTENT_TYPE: &str = "text/xml;charset=utf-8";
const XML_DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

/// The response format a request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    /// `JSON`/`XML` in any case; `None` for anything else.
    pub fn parse(value: &str) -> Option<Format> {
        if value.eq_ignore_ascii_case("json") {
            Some(Format::Json)
        } else if value.eq_ignore_ascii_case("xml") {
            Some(Format::Xml)
        } else {
            None
        }
    }
}

/// What every answer to one request shares.
#[derive(Debug, Clone)]
pub struct Reply {
    pub request_id: String,
    pub host_id: String,
    pub format: Format,
}

impl Reply {
    /// A fresh uppercase UUID request id.
    pub fn new(host_id: &str, format: Format) -> Reply {
        Reply {
            request_id: new_request_id(),
            host_id: host_id.to_owned(),
            format,
        }
    }

    /// The error document for `error`.
    pub fn error(&self, error: &EcsError) -> Response {
        let recommend = format!(
            "https://api.aliyun.com/troubleshoot?q={}&product=Ecs&requestId={}",
            error.code, self.request_id
        );
        let body = match self.format {
            Format::Json => serde_json::json!({
                "RequestId": self.request_id,
                "HostId": self.host_id,
                "Code": error.code,
                "Message": error.message,
                "Recommend": recommend,
            })
            .to_string(),
            Format::Xml => {
                let mut out = String::with_capacity(256 + error.message.len());
                out.push_str(XML_DECLARATION);
                out.push_str("<Error>");
                for (name, text) in [
                    ("RequestId", self.request_id.as_str()),
                    ("HostId", self.host_id.as_str()),
                    ("Code", error.code.as_ref()),
                    ("Message", error.message.as_str()),
                    ("Recommend", recommend.as_str()),
                ] {
                    push_text_element(&mut out, name, text);
                }
                out.push_str("</Error>");
                out
            }
        };
        let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut response = self.finish(status, body);
        if let Some(ms) = error.retry_after_ms {
            response
                .headers_mut()
                .insert("x-acs-retry-after", HeaderValue::from(ms));
        }
        response
    }

    /// The success document of `action`: `fields` plus `RequestId`.
    pub fn success(&self, action: &str, mut fields: Map<String, Value>) -> Response {
        fields.insert(
            "RequestId".to_owned(),
            Value::String(self.request_id.clone()),
        );
        let body = match self.format {
            Format::Json => Value::Object(fields).to_string(),
            Format::Xml => {
                let root = format!("{action}Response");
                let mut out = String::with_capacity(1024);
                out.push_str(XML_DECLARATION);
                push_value(&mut out, &root, &Value::Object(fields));
                out
            }
        };
        self.finish(StatusCode::OK, body)
    }

    fn finish(&self, status: StatusCode, body: String) -> Response {
        let content_type = match self.format {
            Format::Json => JSON_CONTENT_TYPE,
            Format::Xml => XML_CONTENT_TYPE,
        };
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let Ok(value) = HeaderValue::from_str(&self.request_id) {
            headers.insert("x-acs-request-id", value);
        }
        response
    }
}

/// An uppercase hyphenated UUID v4, as Alibaba's request ids look.
pub fn new_request_id() -> String {
    Uuid::new_v4().hyphenated().to_string().to_ascii_uppercase()
}

/// `<name>escaped text</name>`.
fn push_text_element(out: &mut String, name: &str, text: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    escape_xml_into(out, text);
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// One JSON value as the element(s) named `name`: an array repeats the
/// element per item, an object nests, `null` is an empty element.
fn push_value(out: &mut String, name: &str, value: &Value) {
    match value {
        Value::Array(items) => {
            for item in items {
                push_value(out, name, item);
            }
        }
        Value::Object(fields) => {
            out.push('<');
            out.push_str(name);
            out.push('>');
            for (key, child) in fields {
                push_value(out, key, child);
            }
            out.push_str("</");
            out.push_str(name);
            out.push('>');
        }
        Value::Null => push_text_element(out, name, ""),
        Value::String(text) => push_text_element(out, name, text),
        Value::Bool(flag) => push_text_element(out, name, if *flag { "true" } else { "false" }),
        Value::Number(number) => push_text_element(out, name, &number.to_string()),
    }
}

/// Appends `text` escaped for XML character data and attribute values.
/// Characters XML 1.0 cannot carry at all (most C0 controls, lone
/// surrogates cannot occur in a `str`) become U+FFFD.
pub fn escape_xml_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if u32::from(c) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                out.push('\u{FFFD}');
            }
            c => out.push(c),
        }
    }
}

/// `text` escaped for XML (see [`escape_xml_into`]).
#[cfg(test)]
pub fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_xml_into(&mut out, text);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_text(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn format_parsing_is_case_insensitive() {
        assert_eq!(Format::parse("JSON"), Some(Format::Json));
        assert_eq!(Format::parse("json"), Some(Format::Json));
        assert_eq!(Format::parse("Xml"), Some(Format::Xml));
        assert_eq!(Format::parse("yaml"), None);
        assert_eq!(Format::parse(""), None);
    }

    #[test]
    fn request_ids_are_uppercase_uuids() {
        let id = new_request_id();
        assert_eq!(id.len(), 36);
        assert_eq!(id, id.to_ascii_uppercase());
        assert!(Uuid::parse_str(&id).is_ok());
    }

    #[test]
    fn xml_escaping() {
        assert_eq!(
            escape_xml(r#"a<b>&"c"'d'"#),
            "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;"
        );
        assert_eq!(escape_xml("x\u{0}y\u{1b}z\n"), "x\u{FFFD}y\u{FFFD}z\n");
        assert_eq!(escape_xml("运维"), "运维");
    }

    #[tokio::test]
    async fn json_error_shape() {
        let reply = Reply::new("ecs.cn-hangzhou.aliyuncs.com", Format::Json);
        let response = reply.error(&EcsError::throttling());
        assert_eq!(response.status(), 400);
        assert_eq!(response.headers()["content-type"], JSON_CONTENT_TYPE);
        assert_eq!(response.headers()["x-acs-retry-after"], "100");
        assert_eq!(
            response.headers()["x-acs-request-id"],
            reply.request_id.as_str()
        );
        let body: Value = serde_json::from_str(&body_text(response).await).unwrap();
        assert_eq!(body["Code"], "Throttling");
        assert_eq!(body["RequestId"], reply.request_id.as_str());
        assert_eq!(body["HostId"], "ecs.cn-hangzhou.aliyuncs.com");
        assert_eq!(
            body["Message"],
            "Request was denied due to request throttling."
        );
        assert!(body["Recommend"].as_str().unwrap().contains("q=Throttling"));
    }

    #[tokio::test]
    async fn xml_error_shape_is_escaped() {
        let reply = Reply::new("h", Format::Xml);
        let response = reply.error(&EcsError::ip_address_malformed());
        assert_eq!(response.headers()["content-type"], XML_CONTENT_TYPE);
        let text = body_text(response).await;
        let expected_start = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><RequestId>{}</RequestId><HostId>h</HostId><Code>InvalidIpAddress.Malformed</Code><Message>The specified parameter &quot;IpAddress&quot; is not valid.</Message><Recommend>",
            reply.request_id
        );
        assert!(text.starts_with(&expected_start), "{text}");
        assert!(text.ends_with("</Recommend></Error>"), "{text}");
    }

    #[tokio::test]
    async fn xml_success_repeats_array_elements() {
        let reply = Reply::new("h", Format::Xml);
        let fields = serde_json::json!({
            "TotalCount": 2,
            "Instances": {"Instance": [
                {"InstanceId": "i-a", "PublicIpAddress": {"IpAddress": ["1.2.3.4"]}},
                {"InstanceId": "i-<b>", "PublicIpAddress": {"IpAddress": []}}
            ]}
        });
        let Value::Object(fields) = fields else {
            unreachable!()
        };
        let text = body_text(reply.success("DescribeInstances", fields)).await;
        assert!(
            text.starts_with(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><DescribeInstancesResponse>"
            )
        );
        assert!(text.contains("<Instances><Instance><InstanceId>i-a</InstanceId><PublicIpAddress><IpAddress>1.2.3.4</IpAddress></PublicIpAddress></Instance><Instance><InstanceId>i-&lt;b&gt;</InstanceId><PublicIpAddress></PublicIpAddress></Instance></Instances>"), "{text}");
        assert!(text.contains(&format!("<RequestId>{}</RequestId>", reply.request_id)));
        assert!(text.contains("<TotalCount>2</TotalCount>"));
        assert!(text.ends_with("</DescribeInstancesResponse>"));
    }

    #[tokio::test]
    async fn json_success_has_request_id() {
        let reply = Reply::new("h", Format::Json);
        let mut fields = Map::new();
        fields.insert("IpAddress".into(), "47.96.0.1".into());
        let response = reply.success("AllocatePublicIpAddress", fields);
        assert_eq!(response.status(), 200);
        let body: Value = serde_json::from_str(&body_text(response).await).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"IpAddress": "47.96.0.1", "RequestId": reply.request_id})
        );
    }
}
