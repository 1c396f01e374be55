//! The protobuf codec of the `IpAllocation` service (named in `build.rs`
//! through tonic-prost-build's `codec_path`): tonic-prost's encoder, and a
//! decoder that answers a request it cannot decode (malformed wire format,
//! invalid UTF-8 in a string field) with INVALID_ARGUMENT and an ErrorInfo
//! `REQUEST_UNDECODABLE`, where tonic-prost answers INTERNAL without one.
//!
//! The generated client shares the codec, so a client of this crate that
//! receives an undecodable response sees the same reason.

use std::marker::PhantomData;

use prost::Message;
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder};
use tonic_prost::{ProstCodec, ProstEncoder};

use super::error;

/// A [`Codec`] for `application/grpc+proto` with gateway decode errors.
#[derive(Debug, Clone)]
pub struct GatewayCodec<T, U> {
    prost: ProstCodec<T, U>,
}

impl<T, U> Default for GatewayCodec<T, U> {
    fn default() -> Self {
        GatewayCodec {
            prost: ProstCodec::default(),
        }
    }
}

impl<T, U> Codec for GatewayCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = GatewayDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        self.prost.encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        GatewayDecoder(PhantomData)
    }
}

/// Decodes `U`; a decode failure is INVALID_ARGUMENT `REQUEST_UNDECODABLE`.
#[derive(Debug, Clone, Default)]
pub struct GatewayDecoder<U>(PhantomData<U>);

impl<U: Message + Default> Decoder for GatewayDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        decode_message(buf).map(Some)
    }
}

/// Decodes one message; a failure is INVALID_ARGUMENT `REQUEST_UNDECODABLE`.
pub fn decode_message<U: Message + Default>(buf: impl bytes::Buf) -> Result<U, Status> {
    U::decode(buf).map_err(|e| error::request_undecodable(message_name::<U>(), &e.to_string()))
}

/// `ipalloc_gateway::pb::AllocateIpRequest` -> `AllocateIpRequest`.
fn message_name<U>() -> &'static str {
    let full = std::any::type_name::<U>();
    full.rsplit("::").next().unwrap_or(full)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb;
    use tonic::Code;
    use tonic_types::StatusExt;

    fn decode(bytes: &[u8]) -> Result<Option<pb::AllocateIpRequest>, Status> {
        decode_message(bytes).map(Some)
    }

    #[test]
    fn valid_messages_decode() {
        let request = pb::AllocateIpRequest {
            provider: "zenlayer".into(),
            ..Default::default()
        };
        let decoded = decode(&request.encode_to_vec()).unwrap().unwrap();
        assert_eq!(decoded, request);
    }

    #[test]
    fn invalid_utf8_and_malformed_bytes_are_invalid_argument_with_error_info() {
        // Field 1 (provider), length 2, bytes that are not UTF-8.
        for bytes in [
            &[0x0a, 0x02, 0xff, 0xfe][..],
            &[0xff, 0xff, 0xff],
            &[0x0a, 0x7f],
        ] {
            let status = decode(bytes).unwrap_err();
            assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
            let info = status.get_error_details().error_info().cloned().unwrap();
            assert_eq!(info.reason, "REQUEST_UNDECODABLE");
            assert_eq!(info.domain, "ipalloc-gateway");
            assert_eq!(info.metadata["messageType"], "AllocateIpRequest");
            assert!(status.message().contains("AllocateIpRequest"), "{status:?}");
        }
    }
}
