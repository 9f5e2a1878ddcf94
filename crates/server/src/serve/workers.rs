//! Workers: connections served by threads of their own, one single-threaded runtime each,
//! the way nginx serves them from one worker process per CPU.
//!
//! Every worker listens on the same address (`SO_REUSEPORT`): the kernel hands each new
//! connection to one worker, and the connection stays on that thread for its whole life.
//! On tokio's work-stealing runtime a connection's task moved between threads from one
//! request to the next, and one thread at a time drove every socket's events. On the
//! benchmark's two shared cores that meant threads waking each other, memory freed on
//! another thread than the one that allocated it, and, whenever the thread driving the
//! sockets was preempted, every connection waiting for it (BENCHMARKS.md, fifteenth round).
//! A preempted worker holds up only its own connections.
//!
//! Background work (sightings, invalidation, blob sweeps, and the database and cache
//! clients made at the start) stays on the main runtime. A worker's runtime outlives its
//! listener until [`Workers::release`]: a database connection a worker opened is driven by
//! that worker's reactor, and the sightings flushed after the last request may still use it.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use poem::{Endpoint, Response};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::oneshot;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::connections::{self, Timeouts};

/// Connections each worker's socket holds before they are accepted: a boot storm opens
/// thousands at once.
const BACKLOG: u32 = 4096;

/// Listening sockets, one per worker, all bound to the same address.
#[derive(Debug)]
pub struct Listeners {
    sockets: Vec<std::net::TcpListener>,
}

impl Listeners {
    /// Binds `workers` sockets (at least one) to `addr`. A port another process listens on
    /// is refused, as a plain bind would refuse it, rather than shared with that process.
    /// Port 0 picks one free port for every worker. Must run inside a tokio runtime.
    pub fn bind(addr: SocketAddr, workers: usize) -> io::Result<Self> {
        let addr = claim(addr)?;
        let sockets = (0..workers.max(1))
            .map(|_| {
                let socket = socket_for(addr, true)?;
                socket.bind(addr)?;
                socket.listen(BACKLOG)?.into_std()
            })
            .collect::<io::Result<_>>()?;
        Ok(Self { sockets })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sockets[0].local_addr()
    }
}

/// Checks that nobody listens on `addr` with a socket bound the ordinary way (which also
/// turns port 0 into a real one), then lets it go for the workers to bind.
fn claim(addr: SocketAddr) -> io::Result<SocketAddr> {
    let probe = socket_for(addr, false)?;
    probe.bind(addr)?;
    probe.local_addr()
}

/// A socket for `addr`; `shared`: one of the workers' group on one port.
fn socket_for(addr: SocketAddr, shared: bool) -> io::Result<TcpSocket> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    // As std's and tokio's own listeners do: a restart need not wait for the last
    // connections' TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.set_reuseport(shared)?;
    Ok(socket)
}

/// The workers' threads, kept until [`Workers::release`] so that what they opened stays usable.
pub struct Workers {
    release: CancellationToken,
    threads: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Lets the workers' runtimes end (dropping what is still spawned on them) and waits for
    /// their threads.
    pub async fn release(mut self) {
        self.release.cancel();
        let threads = std::mem::take(&mut self.threads);
        let _ = tokio::task::spawn_blocking(move || {
            for thread in threads {
                let _ = thread.join();
            }
        })
        .await;
    }
}

impl Drop for Workers {
    /// Not released (the server is leaving on an error): the threads end with the process,
    /// their runtimes let go rather than left waiting.
    fn drop(&mut self) {
        self.release.cancel();
    }
}

/// Serves `app` on every worker until `stop` resolves, or a worker fails, and then until each
/// worker has let its connections finish (see [`connections::serve`]). The answer carries the
/// first worker's error, if any.
pub async fn serve<E>(
    listeners: Listeners,
    tls: Option<TlsAcceptor>,
    app: Arc<E>,
    stop: impl Future<Output = ()>,
    timeouts: Timeouts,
) -> (Workers, io::Result<()>)
where
    E: Endpoint<Output = Response> + 'static,
{
    let stopping = CancellationToken::new();
    let release = CancellationToken::new();
    let mut threads = Vec::new();
    let mut outcomes = Vec::new();
    let mut served = Ok(());
    for (index, socket) in listeners.sockets.into_iter().enumerate() {
        let (done, outcome) = oneshot::channel();
        let worker = Worker {
            socket,
            tls: tls.clone(),
            app: app.clone(),
            stopping: stopping.clone(),
            release: release.clone(),
            timeouts,
        };
        match std::thread::Builder::new()
            .name(format!("worker-{index}"))
            .spawn(move || worker.run(done))
        {
            Ok(thread) => {
                threads.push(thread);
                outcomes.push(outcome);
            }
            Err(err) => {
                served = Err(err);
                stopping.cancel();
                break;
            }
        }
    }
    tokio::select! {
        () = stop => stopping.cancel(),
        () = stopping.cancelled() => {}
    }
    for outcome in outcomes {
        let outcome = outcome
            .await
            .unwrap_or_else(|_| Err(io::Error::other("a worker's thread panicked")));
        if served.is_ok() {
            served = outcome;
        }
    }
    (Workers { release, threads }, served)
}

/// What one worker's thread needs.
struct Worker<E> {
    socket: std::net::TcpListener,
    tls: Option<TlsAcceptor>,
    app: Arc<E>,
    /// Cancelled to stop every worker: by the server's stop, or by a worker that ended early.
    stopping: CancellationToken,
    release: CancellationToken,
    timeouts: Timeouts,
}

impl<E> Worker<E>
where
    E: Endpoint<Output = Response> + 'static,
{
    fn run(self, done: oneshot::Sender<io::Result<()>>) {
        // A worker that ends for any reason, a panic included, stops the others: a server
        // serving some connections and not others would look alive to its health checks.
        let _stop_all: DropGuard = self.stopping.clone().drop_guard();
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(err) => {
                let _ = done.send(Err(err));
                return;
            }
        };
        runtime.block_on(async move {
            let served = match TcpListener::from_std(self.socket) {
                Ok(listener) => {
                    let stop = self.stopping.clone().cancelled_owned();
                    connections::serve(listener, self.tls, self.app, stop, self.timeouts).await
                }
                Err(err) => Err(err),
            };
            // Served means stopped: by the others, or on an error that stops them too.
            self.stopping.cancel();
            let _ = done.send(served);
            self.release.cancelled().await;
        });
    }
}

#[cfg(test)]
mod tests;
