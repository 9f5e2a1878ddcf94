//! HTTP connections, plain or TLS, served by hyper directly.
//!
//! A boot storm opens four connections per phone, so what a connection costs before and
//! after its one request counts as much as the request. poem's server sniffs every new
//! plain connection for an HTTP/2 preface (a 24-byte read before the real one), shuts the
//! socket down twice, and boxes every request's future to call the application through a
//! trait object. Here the application is called as its own type, a connection reads its
//! request once and shuts down once. Plain HTTP is HTTP/1.1, which phones and API clients
//! speak; over TLS a client may choose HTTP/2 in the handshake (ALPN).
//!
//! A client has [`Timeouts::header_read`] to send each request's head, counted from when
//! the connection is ready for it (just opened, the TLS handshake included, or its last
//! answer sent): a connection that never sends, or trickles a byte at a time, is closed
//! instead of holding a socket and a task for good (see [`idle`]).
//!
//! Stopping: no new connections once the signal comes; requests in flight finish, idle
//! keep-alive connections close, and after the grace period whatever is left is dropped.

use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper::service::HttpService;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::graceful::GracefulConnection;
use poem::http::uri::Scheme;
use poem::web::{LocalAddr, RemoteAddr};
use poem::{Addr, Endpoint, Request, Response};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use self::idle::{IdleWatch, Tracked, Watched};
use super::tls::HTTP2;

mod idle;

/// What hyper sends: poem's response body, boxed as poem boxes it, keeping its request
/// busy until it is sent.
type WireBody = Tracked<BoxBody<Bytes, io::Error>>;

/// How long to wait before accepting again after an accept failed (out of file
/// descriptors, say): retrying at once would spin a core while nothing can change.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// How long a client may take over each step, and the server over stopping.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// To send a request's head, from when the connection is ready for one (the TLS
    /// handshake included). This also closes a kept-alive connection idle this long.
    pub header_read: Duration,
    /// For requests in flight to finish once the server is told to stop.
    pub grace: Duration,
}

/// Serves `app` on `listener` (TLS with `tls`) until `stop` resolves, then lets open
/// connections finish for at most `timeouts.grace`.
pub async fn serve<E>(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Arc<E>,
    stop: impl Future<Output = ()>,
    timeouts: Timeouts,
) -> io::Result<()>
where
    E: Endpoint<Output = Response> + 'static,
{
    let local = LocalAddr(Addr::SocketAddr(listener.local_addr()?));
    let connections = TaskTracker::new();
    let stopping = Stopping::default();
    let idle = IdleWatch::start(timeouts.header_read);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let connection = Connection {
                        app: app.clone(),
                        local: local.clone(),
                        remote: RemoteAddr(Addr::SocketAddr(peer)),
                        watched: idle.watch(),
                        stopping: stopping.clone(),
                    };
                    connections.spawn(connection.serve(stream, tls.clone()));
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
    if tokio::time::timeout(timeouts.grace, connections.wait())
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

/// One accepted connection and what serving it needs.
struct Connection<E> {
    app: Arc<E>,
    local: LocalAddr,
    remote: RemoteAddr,
    watched: Watched,
    stopping: Stopping,
}

impl<E> Connection<E>
where
    E: Endpoint<Output = Response> + 'static,
{
    async fn serve(self, stream: TcpStream, tls: Option<TlsAcceptor>) {
        // A connection's errors (a peer that went away, a malformed request, which hyper
        // has already answered, a failed or slow handshake) are the peer's business, not
        // the server's.
        match tls {
            None => {
                let http1 = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), self.service(Scheme::HTTP));
                self.drive(http1).await;
            }
            // Boxed: a task's future is as large as its largest state, and tokio copies it
            // whole when spawning and again when the task ends. TLS with HTTP/2 is several
            // times larger than plain HTTP/1.1, which would otherwise pay for it on every
            // connection of a boot storm.
            Some(acceptor) => Box::pin(self.serve_tls(stream, acceptor)).await,
        }
    }

    async fn serve_tls(self, stream: TcpStream, acceptor: TlsAcceptor) {
        let stream = tokio::select! {
            shaken = acceptor.accept(stream) => match shaken {
                Ok(stream) => stream,
                Err(_) => return,
            },
            () = self.watched.idle.expired() => return,
            () = self.stopping.requested.cancelled() => return,
        };
        let service = self.service(Scheme::HTTPS);
        if stream.get_ref().1.alpn_protocol() == Some(HTTP2) {
            let http2 = http2::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service);
            self.drive(http2).await;
        } else {
            let http1 = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            self.drive(http1).await;
        }
    }

    /// The application as hyper calls it, with the addresses and scheme poem's requests
    /// carry; each request keeps the connection busy until its answer is sent.
    fn service(
        &self,
        scheme: Scheme,
    ) -> impl HttpService<Incoming, ResBody = WireBody, Future: Send + 'static> + use<E> {
        let (app, local, remote) = (self.app.clone(), self.local.clone(), self.remote.clone());
        let idle = self.watched.idle.clone();
        hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let busy = idle.begin();
            let (app, local, remote) = (app.clone(), local.clone(), remote.clone());
            let scheme = scheme.clone();
            async move {
                let request = Request::from((request, local, remote, scheme));
                let response: hyper::Response<_> = app.get_response(request).await.into();
                Ok::<_, Infallible>(response.map(|body| Tracked::new(body, busy)))
            }
        })
    }

    /// Runs `connection` until it ends or stays idle too long, asking it to finish its
    /// request in flight and close once a stop is requested, and dropping it once the grace
    /// period is over.
    async fn drive<C: GracefulConnection>(&self, connection: C) {
        tokio::pin!(connection);
        tokio::select! {
            _ = connection.as_mut() => return,
            () = self.watched.idle.expired() => return,
            () = self.stopping.requested.cancelled() => connection.as_mut().graceful_shutdown(),
        }
        tokio::select! {
            _ = connection => {}
            () = self.stopping.overdue.cancelled() => {}
        }
    }
}

#[cfg(test)]
mod tests;
