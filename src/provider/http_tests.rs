//! `send` reads a whole answer however it is chunked, and refuses one
//! larger than [`MAX_BODY_BYTES`] without reading it all: against a raw
//! HTTP/1.1 server on 127.0.0.1 that answers in chunks of its choosing.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

const OP: Operation = Operation {
    name: "DescribeSomething",
    mutating: false,
};

/// Serves one connection: reads the request head, answers 200 with
/// `chunks` in chunked transfer encoding (each written and flushed on its
/// own). Answers the server's URL.
async fn serve_chunks(chunks: Vec<Vec<u8>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if socket.read(&mut byte).await.unwrap_or(0) == 0 {
                return;
            }
            head.push(byte[0]);
        }
        let start = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                     transfer-encoding: chunked\r\n\r\n";
        if socket.write_all(start.as_bytes()).await.is_err() {
            return;
        }
        for chunk in chunks {
            let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
            // The client may stop reading (a body over the bound).
            if socket.write_all(&framed).await.is_err() || socket.flush().await.is_err() {
                return;
            }
            tokio::task::yield_now().await;
        }
        let _ = socket.write_all(b"0\r\n\r\n").await;
    });
    url
}

fn client() -> reqwest::Client {
    build_client(&HttpSettings::default()).unwrap()
}

/// A GET of `url` through [`send`], as the adapters send.
async fn get(url: String) -> Result<HttpResponse, ProviderError> {
    let url = reqwest::Url::parse(&url).unwrap();
    let request = request(reqwest::Method::GET, url, HeaderMap::new(), None);
    send(OP, &client(), request).await
}

#[tokio::test]
async fn one_chunk_is_the_body() {
    let url = serve_chunks(vec![b"{\"a\":1}".to_vec()]).await;
    let response = get(url).await.unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(&response.body[..], b"{\"a\":1}");
}

#[tokio::test]
async fn many_chunks_are_joined_in_order() {
    let chunks: Vec<Vec<u8>> = (0..50u8)
        .map(|i| vec![b'a' + i % 26; 1000 + i as usize])
        .collect();
    let expected = chunks.concat();
    let url = serve_chunks(chunks).await;
    let response = get(url).await.unwrap();
    assert_eq!(response.body.len(), expected.len());
    assert_eq!(&response.body[..], &expected[..]);
}

#[tokio::test]
async fn a_body_over_the_bound_is_refused() {
    // Just over the bound, in 64 KiB chunks, no content-length.
    let chunk = vec![b'x'; 64 * 1024];
    let count = MAX_BODY_BYTES / chunk.len() + 1;
    let url = serve_chunks(vec![chunk; count]).await;
    match get(url).await {
        Err(ProviderError::MalformedResponse {
            http_status,
            detail,
            ..
        }) => {
            assert_eq!(http_status, 200);
            assert!(detail.contains("larger than"), "{detail}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_body_at_the_bound_is_read() {
    let chunk = vec![b'y'; 64 * 1024];
    let count = MAX_BODY_BYTES / chunk.len();
    let url = serve_chunks(vec![chunk; count]).await;
    let response = get(url).await.unwrap();
    assert_eq!(response.body.len(), MAX_BODY_BYTES);
}
