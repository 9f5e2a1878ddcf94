//! The connection loop on a real listener: what clients see of it, and how it stops.

use std::net::SocketAddr;

use poem::endpoint::make;
use poem::{EndpointExt, Route};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::*;

mod limits;
mod tls;

/// A correctness bound for things that happen at once on an idle machine.
const PATIENCE: Duration = Duration::from_secs(10);

/// `/addr` answers the peer's and the server's addresses, `/scheme` the request's scheme;
/// `/slow` tells `started` it began, then waits for a permit of `release`; `/never` never
/// answers.
struct Running {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    served: tokio::task::JoinHandle<io::Result<()>>,
    started: mpsc::UnboundedReceiver<()>,
    release: Arc<Semaphore>,
}

impl Running {
    /// Stops the server and waits for it to return.
    async fn shut_down(self) {
        self.stop.send(()).unwrap();
        tokio::time::timeout(PATIENCE, self.served)
            .await
            .expect("the server returns once its connections are done")
            .unwrap()
            .unwrap();
    }
}

/// Timeouts that no test meets by accident, with `grace` to stop.
fn timeouts(grace: Duration) -> Timeouts {
    Timeouts {
        header_read: PATIENCE,
        grace,
    }
}

/// Timeouts with a `limit` to send a request head.
fn header_read(limit: Duration) -> Timeouts {
    Timeouts {
        header_read: limit,
        ..timeouts(PATIENCE)
    }
}

async fn start(grace: Duration) -> Running {
    start_with(timeouts(grace), None).await
}

async fn start_with(timeouts: Timeouts, tls: Option<TlsAcceptor>) -> Running {
    let (started_tx, started) = mpsc::unbounded_channel();
    let release = Arc::new(Semaphore::new(0));
    let permits = release.clone();
    let app = Route::new()
        .at(
            "/addr",
            make(
                |req: Request| async move { format!("{} {}", req.remote_addr(), req.local_addr()) },
            ),
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
        .at("/never", make(|_| std::future::pending::<String>()))
        .at(
            "/scheme",
            make(|req: Request| async move { req.scheme().to_string() }),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(serve(
        listener,
        tls,
        Arc::new(app.map_to_response()),
        async move {
            let _ = stopped.await;
        },
        timeouts,
    ));
    Running {
        addr,
        stop,
        served,
        started,
        release,
    }
}

async fn send(stream: &mut (impl AsyncWrite + Unpin), path: &str) {
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
}

/// One response's head and body (the body sized by `content-length`); `None` at EOF.
async fn response(stream: &mut (impl AsyncRead + Unpin)) -> Option<(String, String)> {
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
    send(&mut stream, "/scheme").await;
    assert_eq!(response(&mut stream).await.unwrap().1, "http");
    send(&mut stream, "/absent").await;
    let (head, _) = response(&mut stream).await.unwrap();
    assert!(head.starts_with("http/1.1 404"), "{head}");
    server.shut_down().await;
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

    // The server returns after the grace period, with the connection still stuck.
    server.shut_down().await;
    assert_eq!(response(&mut stuck).await, None, "the connection is closed");
}
