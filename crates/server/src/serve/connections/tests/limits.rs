//! Clients that take too long over a request's head are closed.

use super::*;

/// Well above a loopback round trip, and well below [`PATIENCE`].
const SHORT: Duration = Duration::from_millis(300);

#[tokio::test]
async fn a_head_not_sent_in_time_closes_the_connection() {
    let server = start_with(header_read(SHORT), None).await;
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let mut trickling = TcpStream::connect(server.addr).await.unwrap();
    trickling
        .write_all(b"GET /addr HTTP/1.1\r\nHost: te")
        .await
        .unwrap();
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    send(&mut idle, "/addr").await;
    let (head, _) = response(&mut idle).await.unwrap();
    assert!(head.starts_with("http/1.1 200"), "{head}");

    // `response` waits PATIENCE for an answer or EOF: each of these gets EOF.
    assert_eq!(response(&mut silent).await, None, "a silent connection");
    assert_eq!(response(&mut trickling).await, None, "half a head");
    assert_eq!(response(&mut idle).await, None, "an idle kept-alive one");
    server.shut_down().await;
}

#[tokio::test]
async fn a_request_in_progress_is_not_idle() {
    let mut server = start_with(header_read(SHORT), None).await;
    let mut busy = TcpStream::connect(server.addr).await.unwrap();
    send(&mut busy, "/slow").await;
    server.started.recv().await.unwrap();
    // Three limits over: a connection idle this long would have been closed.
    tokio::time::sleep(SHORT * 3).await;
    server.release.add_permits(1);
    let (head, body) = response(&mut busy).await.unwrap();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(body, "finished");
    // Idle again from its answer: closed after the limit.
    assert_eq!(response(&mut busy).await, None);
    server.shut_down().await;
}
