//! Plain-HTTP connections, served by hyper's HTTP/1 server directly.
//!
//! A boot storm opens four connections per phone, so what a connection costs before and
//! after its one request counts as much as the request. poem's server sniffs every new
//! connection for an HTTP/2 preface (a 24-byte read before the real one), shuts the socket
//! down twice, and boxes every request's future to call the application through a trait
//! object. Here the application is called as its own type, a connection reads its request
//! once and shuts down once. Phones and API clients speak HTTP/1.1 on a plain port (HTTP/2
//! is negotiated over TLS, which poem's server still serves).
//!
//! Stopping keeps poem's behaviour: no new connections once the signal comes; requests in
//! flight finish, idle keep-alive connections close, and after the grace period whatever
//! is left is dropped.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use poem::http::uri::Scheme;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Addr, Endpoint, EndpointExt, IntoEndpoint, Request, Response};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// What hyper sends: poem's response body, boxed as poem boxes it.
type WireResponse = hyper::Response<BoxBody<Bytes, io::Error>>;

/// How long to wait before accepting again after an accept failed (out of file
/// descriptors, say): retrying at once would spin a core while nothing can change.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `app` on `listener` until `stop` resolves, then lets open connections finish
/// for at most `grace`.
pub async fn serve<E>(
    listener: TcpListener,
    app: E,
    stop: impl Future<Output = ()>,
    grace: Duration,
) -> io::Result<()>
where
    E: IntoEndpoint,
    E::Endpoint: 'static,
{
    let app = Arc::new(app.into_endpoint().map_to_response());
    let local = LocalAddr(Addr::SocketAddr(listener.local_addr()?));
    let connections = TaskTracker::new();
    let stopping = Stopping::default();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let connection = serve_connection(
                        stream,
                        peer,
                        local.clone(),
                        app.clone(),
                        stopping.clone(),
                    );
                    connections.spawn(connection);
                }
                Err(err) => {
                    tracing::warn!(%err, "cannot accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }
    drop(listener);
    stopping.requested.cancel();
    connections.close();
    if tokio::time::timeout(grace, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            open = connections.len(),
            "dropping the connections still open after the grace period"
        );
        stopping.overdue.cancel();
        connections.wait().await;
    }
    Ok(())
}

/// What a connection watches while the server stops.
#[derive(Clone, Default)]
struct Stopping {
    /// Finish the request in flight, then close.
    requested: CancellationToken,
    /// The grace period is over: close now.
    overdue: CancellationToken,
}

async fn serve_connection<E>(
    stream: TcpStream,
    peer: SocketAddr,
    local: LocalAddr,
    app: Arc<E>,
    stopping: Stopping,
) where
    E: Endpoint<Output = Response> + 'static,
{
    let remote = RemoteAddr(Addr::SocketAddr(peer));
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let (app, local, remote) = (app.clone(), local.clone(), remote.clone());
        async move {
            let request = Request::from((request, local, remote, Scheme::HTTP));
            Ok::<WireResponse, Infallible>(app.get_response(request).await.into())
        }
    });
    let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        // A connection's errors (a peer that went away, a malformed request, which hyper has
        // already answered) are the peer's business, not the server's.
        _ = connection.as_mut() => return,
        () = stopping.requested.cancelled() => connection.as_mut().graceful_shutdown(),
    }
    tokio::select! {
        _ = connection => {}
        () = stopping.overdue.cancelled() => {}
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use poem::Route;
    use poem::endpoint::make;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::sync::{Semaphore, mpsc, oneshot};

    use super::*;

    /// A correctness bound for things that happen at once on an idle machine.
    const PATIENCE: Duration = Duration::from_secs(10);

    /// `/addr` answers the peer's and the server's addresses; `/slow` tells `started` it
    /// began, then waits for a permit of `release`; `/never` never answers.
    struct Running {
        addr: SocketAddr,
        stop: oneshot::Sender<()>,
        served: tokio::task::JoinHandle<io::Result<()>>,
        started: mpsc::UnboundedReceiver<()>,
        release: Arc<Semaphore>,
    }

    async fn start(grace: Duration) -> Running {
        let (started_tx, started) = mpsc::unbounded_channel();
        let release = Arc::new(Semaphore::new(0));
        let permits = release.clone();
        let app = Route::new()
            .at(
                "/addr",
                make(|req: Request| async move {
                    format!("{} {}", req.remote_addr(), req.local_addr())
                }),
            )
            .at(
                "/slow",
                make(move |_| {
                    let (started, permits) = (started_tx.clone(), permits.clone());
                    async move {
                        started.send(()).unwrap();
                        permits.acquire().await.unwrap().forget();
                        "finished"
                    }
                }),
            )
            .at("/never", make(|_| std::future::pending::<String>()));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let served = tokio::spawn(serve(
            listener,
            app,
            async move {
                let _ = stopped.await;
            },
            grace,
        ));
        Running {
            addr,
            stop,
            served,
            started,
            release,
        }
    }

    async fn send(stream: &mut TcpStream, path: &str) {
        let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
    }

    /// One response's head and body (the body sized by `content-length`); `None` at EOF.
    async fn response(stream: &mut TcpStream) -> Option<(String, String)> {
        let mut received = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            let text = String::from_utf8_lossy(&received).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let head = text[..end].to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .map_or(0, |n| n.trim().parse().unwrap());
                if text.len() >= end + 4 + length {
                    return Some((head, text[end + 4..end + 4 + length].to_owned()));
                }
            }
            let n = tokio::time::timeout(PATIENCE, stream.read(&mut buf))
                .await
                .expect("an answer or EOF")
                .unwrap_or(0);
            if n == 0 {
                assert!(received.is_empty(), "cut off mid-response: {text}");
                return None;
            }
            received.extend_from_slice(&buf[..n]);
        }
    }

    #[tokio::test]
    async fn requests_on_a_kept_alive_connection_see_both_addresses() {
        let server = start(PATIENCE).await;
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        let peer = stream.local_addr().unwrap();
        for _ in 0..2 {
            send(&mut stream, "/addr").await;
            let (head, body) = response(&mut stream).await.unwrap();
            assert!(head.starts_with("http/1.1 200"), "{head}");
            assert_eq!(body, format!("socket://{peer} socket://{}", server.addr));
        }
        send(&mut stream, "/absent").await;
        let (head, _) = response(&mut stream).await.unwrap();
        assert!(head.starts_with("http/1.1 404"), "{head}");
        server.stop.send(()).unwrap();
        server.served.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn a_stop_finishes_requests_in_flight_and_closes_idle_connections() {
        let mut server = start(PATIENCE).await;
        let mut idle = TcpStream::connect(server.addr).await.unwrap();
        send(&mut idle, "/addr").await;
        response(&mut idle).await.unwrap();
        let mut busy = TcpStream::connect(server.addr).await.unwrap();
        send(&mut busy, "/slow").await;
        server.started.recv().await.unwrap();

        server.stop.send(()).unwrap();
        assert_eq!(
            response(&mut idle).await,
            None,
            "the idle connection is closed"
        );
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while TcpStream::connect(server.addr).await.is_ok() {
            assert!(tokio::time::Instant::now() < deadline, "still accepting");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(!server.served.is_finished(), "a request is still in flight");

        server.release.add_permits(1);
        let (head, body) = response(&mut busy).await.unwrap();
        assert!(head.starts_with("http/1.1 200"), "{head}");
        assert_eq!(body, "finished");
        tokio::time::timeout(PATIENCE, server.served)
            .await
            .expect("the server returns once its connections are done")
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn what_outlives_the_grace_period_is_dropped() {
        let server = start(Duration::from_millis(100)).await;
        let mut stuck = TcpStream::connect(server.addr).await.unwrap();
        send(&mut stuck, "/never").await;
        // The request has reached the application once a second one on another
        // connection is answered; either way it is in flight when the stop comes.
        let mut other = TcpStream::connect(server.addr).await.unwrap();
        send(&mut other, "/addr").await;
        response(&mut other).await.unwrap();

        server.stop.send(()).unwrap();
        tokio::time::timeout(PATIENCE, server.served)
            .await
            .expect("the server returns after the grace period")
            .unwrap()
            .unwrap();
        assert_eq!(response(&mut stuck).await, None, "the connection is closed");
    }
}
