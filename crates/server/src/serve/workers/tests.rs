//! Workers on real sockets: one port, every worker taking connections, and one stop for all.

use std::collections::BTreeSet;
use std::time::Duration;

use poem::endpoint::make_sync;
use poem::{EndpointExt, Route};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;

const TIMEOUTS: Timeouts = Timeouts {
    header_read: Duration::from_secs(10),
    grace: Duration::from_secs(5),
};

/// `/worker` answers the name of the thread that served it.
fn app() -> Arc<impl Endpoint<Output = Response>> {
    let worker = make_sync(|_| {
        std::thread::current()
            .name()
            .unwrap_or("unnamed")
            .to_owned()
    });
    Arc::new(Route::new().at("/worker", worker).map_to_response())
}

/// One request on a new connection: the body of the answer.
async fn worker_of_new_connection(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /worker HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    answer.rsplit("\r\n\r\n").next().unwrap().to_owned()
}

#[tokio::test]
async fn every_worker_takes_connections_on_the_one_port() {
    let listeners = Listeners::bind("127.0.0.1:0".parse().unwrap(), 2).unwrap();
    let addr = listeners.local_addr().unwrap();
    assert_ne!(addr.port(), 0);
    let ports: BTreeSet<_> = listeners
        .sockets
        .iter()
        .map(|s| s.local_addr().unwrap().port())
        .collect();
    assert_eq!(ports, BTreeSet::from([addr.port()]));

    let (stop, stopped) = oneshot::channel::<()>();
    let serving = tokio::spawn(serve(
        listeners,
        None,
        app(),
        async move {
            let _ = stopped.await;
        },
        TIMEOUTS,
    ));
    // The kernel spreads connections by their addresses and ports: 64 all landing on one
    // of two workers would happen once in 2^63 runs.
    let mut seen = BTreeSet::new();
    for _ in 0..64 {
        seen.insert(worker_of_new_connection(addr).await);
    }
    assert_eq!(
        seen,
        BTreeSet::from(["worker-0".to_owned(), "worker-1".to_owned()])
    );

    stop.send(()).unwrap();
    let (workers, served) = serving.await.unwrap();
    served.unwrap();
    workers.release().await;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "nothing listens once the workers stopped"
    );
}

#[tokio::test]
async fn a_port_someone_listens_on_is_refused_not_shared() {
    let plain = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = plain.local_addr().unwrap();
    let err = Listeners::bind(taken, 2).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse);

    // Another server's workers (another Signpost on the same port, say) are refused too,
    // though their sockets would let others join them.
    let first = Listeners::bind("127.0.0.1:0".parse().unwrap(), 2).unwrap();
    let err = Listeners::bind(first.local_addr().unwrap(), 2).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
}

#[tokio::test]
async fn a_stop_before_any_connection_ends_every_worker() {
    let listeners = Listeners::bind("127.0.0.1:0".parse().unwrap(), 3).unwrap();
    let (workers, served) = tokio::time::timeout(
        Duration::from_secs(10),
        serve(listeners, None, app(), async {}, TIMEOUTS),
    )
    .await
    .expect("the workers stop at once");
    served.unwrap();
    tokio::time::timeout(Duration::from_secs(10), workers.release())
        .await
        .expect("the workers' threads end once released");
}
