//! HTTPS on the same loop: HTTP/1.1, or HTTP/2 when the client chooses it in the
//! handshake; handshakes that do not finish in time, and idle HTTP/2 connections.

use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http2::SendRequest;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::*;
use crate::config::TlsSettings;
use crate::serve::tls::server_config;

/// A self-signed certificate for `localhost`, through the settings `serve` reads; the
/// directory holding its files lives as long as the returned guard.
fn certified() -> (TlsAcceptor, CertificateDer<'static>, tempfile::TempDir) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let settings = TlsSettings {
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
    };
    std::fs::write(&settings.cert, made.cert.pem()).unwrap();
    std::fs::write(&settings.key, made.signing_key.serialize_pem()).unwrap();
    let acceptor = TlsAcceptor::from(server_config(&settings).unwrap());
    (acceptor, made.cert.der().clone(), dir)
}

/// A TLS connection trusting exactly `cert`, offering `alpn`.
async fn connect(
    addr: SocketAddr,
    cert: &CertificateDer<'static>,
    alpn: &[&[u8]],
) -> TlsStream<TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap()
}

/// An HTTP/2 client on `stream`, and the task its connection runs in.
async fn http2(
    stream: TlsStream<TcpStream>,
) -> (SendRequest<Empty<Bytes>>, JoinHandle<hyper::Result<()>>) {
    let (sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    (sender, tokio::spawn(connection))
}

/// `GET /scheme` over HTTP/2, checked for a 200 on HTTP/2; answers the body.
async fn scheme_over_http2(sender: &mut SendRequest<Empty<Bytes>>) -> Bytes {
    let request = hyper::Request::get("https://localhost/scheme")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let answer = sender.send_request(request).await.unwrap();
    assert_eq!(answer.version(), hyper::Version::HTTP_2);
    assert_eq!(answer.status(), 200);
    answer.into_body().collect().await.unwrap().to_bytes()
}

#[tokio::test]
async fn https_is_http1_unless_the_client_chooses_http2() {
    let (acceptor, cert, _dir) = certified();
    let server = start_with(timeouts(PATIENCE), Some(acceptor)).await;
    let offers: [&[&[u8]]; 2] = [&[], &[b"http/1.1"]];
    for alpn in offers {
        let mut stream = connect(server.addr, &cert, alpn).await;
        for _ in 0..2 {
            send(&mut stream, "/scheme").await;
            let (head, body) = response(&mut stream).await.unwrap();
            assert!(head.starts_with("http/1.1 200"), "{head}");
            assert_eq!(body, "https");
        }
    }

    let stream = connect(server.addr, &cert, &[b"h2", b"http/1.1"]).await;
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(HTTP2));
    let (mut sender, _connection) = http2(stream).await;
    for _ in 0..2 {
        assert_eq!(scheme_over_http2(&mut sender).await, "https");
    }

    // The HTTP/2 connection is still open: a stop closes it too.
    server.shut_down().await;
}

#[tokio::test]
async fn a_handshake_not_finished_in_time_closes_the_connection() {
    let (acceptor, cert, _dir) = certified();
    // Long enough for the handshake and request below on a busy machine.
    let server = start_with(header_read(Duration::from_secs(1)), Some(acceptor)).await;
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let mut on_time = connect(server.addr, &cert, &[]).await;
    send(&mut on_time, "/scheme").await;
    let (head, body) = response(&mut on_time).await.unwrap();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(body, "https");

    assert_eq!(response(&mut silent).await, None, "closed, unanswered");
    server.shut_down().await;
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed() {
    let (acceptor, cert, _dir) = certified();
    let server = start_with(header_read(Duration::from_millis(300)), Some(acceptor)).await;
    let stream = connect(server.addr, &cert, &[HTTP2]).await;
    let (mut sender, connection) = http2(stream).await;
    assert_eq!(scheme_over_http2(&mut sender).await, "https");

    tokio::time::timeout(PATIENCE, connection)
        .await
        .expect("the server closed the idle connection")
        .unwrap()
        .ok();
    server.shut_down().await;
}
