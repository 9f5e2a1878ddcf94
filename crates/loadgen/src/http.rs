//! A minimal HTTP/1.1 client: one TCP connection, one request at a time, bodies framed by
//! `Content-Length` or chunked encoding. Hand-written so that the generator, which shares the
//! machine's two cores with the server under test, costs little and the same per request
//! whatever the server is.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Why a request produced no response; the `kind` names the error class in reports.
#[derive(Debug)]
pub enum HttpError {
    Connect(io::Error),
    Io(io::Error),
    Timeout,
    /// The server closed the connection before a whole response arrived.
    Closed,
    Malformed(&'static str),
}

impl HttpError {
    pub fn kind(&self) -> &'static str {
        match self {
            HttpError::Connect(_) => "connect",
            HttpError::Io(_) => "io",
            HttpError::Timeout => "timeout",
            HttpError::Closed => "closed",
            HttpError::Malformed(_) => "malformed_response",
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Connect(err) => write!(f, "connect: {err}"),
            HttpError::Io(err) => write!(f, "i/o: {err}"),
            HttpError::Timeout => f.write_str("timed out"),
            HttpError::Closed => f.write_str("connection closed mid-response"),
            HttpError::Malformed(what) => write!(f, "malformed response: {what}"),
        }
    }
}

impl std::error::Error for HttpError {}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
    /// The server said `Connection: close` (or spoke HTTP/1.0): open a new connection.
    pub close: bool,
}

impl Response {
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).unwrap_or("")
    }
}

#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Connection {
    /// Connects to `addr`, from `source` when given (any address of 127.0.0.0/8 works on
    /// loopback, so simulated phones can each have their own).
    pub async fn open(addr: SocketAddr, source: Option<IpAddr>) -> Result<Self, HttpError> {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .map_err(HttpError::Connect)?;
        if let Some(source) = source {
            // Phones on distinct addresses each have the whole port range: 100,000 boots
            // on new connections would otherwise run out of ephemeral ports in TIME_WAIT.
            socket.set_reuseaddr(true).map_err(HttpError::Connect)?;
            socket
                .bind(SocketAddr::new(source, 0))
                .map_err(HttpError::Connect)?;
        }
        let stream = socket.connect(addr).await.map_err(HttpError::Connect)?;
        stream.set_nodelay(true).map_err(HttpError::Connect)?;
        Ok(Self {
            stream,
            buf: Vec::with_capacity(4096),
        })
    }

    /// Sends one complete request (head and body) and reads its response.
    pub async fn send(&mut self, request: &[u8], timeout: Duration) -> Result<Response, HttpError> {
        tokio::time::timeout(timeout, async {
            self.stream
                .write_all(request)
                .await
                .map_err(HttpError::Io)?;
            self.read_response().await
        })
        .await
        .map_err(|_| HttpError::Timeout)?
    }

    async fn read_response(&mut self) -> Result<Response, HttpError> {
        let (head_len, head) = loop {
            if let Some(parsed) = parse_head(&self.buf)? {
                break parsed;
            }
            self.fill().await?;
        };
        self.buf.drain(..head_len);
        let body = match head.framing {
            Framing::Length(len) => {
                while self.buf.len() < len {
                    self.fill().await?;
                }
                let rest = self.buf.split_off(len);
                std::mem::replace(&mut self.buf, rest)
            }
            Framing::Chunked => self.read_chunked().await?,
            Framing::UntilClose => {
                loop {
                    match self.stream.read_buf(&mut self.buf).await {
                        Ok(0) => break,
                        Ok(_) => {}
                        Err(err) => return Err(HttpError::Io(err)),
                    }
                }
                std::mem::take(&mut self.buf)
            }
        };
        Ok(Response {
            status: head.status,
            body,
            close: head.close || matches!(head.framing, Framing::UntilClose),
        })
    }

    async fn read_chunked(&mut self) -> Result<Vec<u8>, HttpError> {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(at) = find_crlf(&self.buf) {
                    break at;
                }
                self.fill().await?;
            };
            let size_text = std::str::from_utf8(&self.buf[..line_end])
                .map_err(|_| HttpError::Malformed("chunk size"))?;
            let size_text = size_text.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| HttpError::Malformed("chunk size"))?;
            self.buf.drain(..line_end + 2);
            if size == 0 {
                // Trailers (none expected) end with an empty line.
                loop {
                    if let Some(at) = find_crlf(&self.buf) {
                        self.buf.drain(..at + 2);
                        if at == 0 {
                            return Ok(body);
                        }
                        continue;
                    }
                    self.fill().await?;
                }
            }
            while self.buf.len() < size + 2 {
                self.fill().await?;
            }
            body.extend_from_slice(&self.buf[..size]);
            self.buf.drain(..size + 2);
        }
    }

    async fn fill(&mut self) -> Result<(), HttpError> {
        if self.buf.capacity() - self.buf.len() < 1024 {
            self.buf.reserve(8192);
        }
        match self.stream.read_buf(&mut self.buf).await {
            Ok(0) => Err(HttpError::Closed),
            Ok(_) => Ok(()),
            Err(err) => Err(HttpError::Io(err)),
        }
    }
}

/// A keep-alive connection from one source address: opened on first use, kept while the
/// server keeps it, opened again after a close or an error.
#[derive(Debug)]
pub struct KeepAlive {
    addr: SocketAddr,
    source: Option<IpAddr>,
    conn: Option<Connection>,
}

impl KeepAlive {
    pub fn new(addr: SocketAddr, source: Option<IpAddr>) -> Self {
        Self {
            addr,
            source,
            conn: None,
        }
    }

    pub async fn send(&mut self, request: &[u8], timeout: Duration) -> Result<Response, HttpError> {
        let mut conn = match self.conn.take() {
            Some(conn) => conn,
            None => Connection::open(self.addr, self.source).await?,
        };
        let response = conn.send(request, timeout).await?;
        if !response.close {
            self.conn = Some(conn);
        }
        Ok(response)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    status: u16,
    framing: Framing,
    close: bool,
}

/// `Some((length of the head, head))` once the whole head is in `buf`.
fn parse_head(buf: &[u8]) -> Result<Option<(usize, Head)>, HttpError> {
    let mut headers = [httparse::EMPTY_HEADER; 48];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(HttpError::Malformed("status line or headers")),
    };
    let status = response.code.ok_or(HttpError::Malformed("status"))?;
    let mut close = response.version == Some(0);
    let mut framing = if status == 204 || status == 304 || (100..200).contains(&status) {
        Framing::Length(0)
    } else {
        Framing::UntilClose
    };
    for header in response.headers.iter() {
        if header.name.eq_ignore_ascii_case("content-length") && framing != Framing::Chunked {
            let len = std::str::from_utf8(header.value)
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .ok_or(HttpError::Malformed("content-length"))?;
            if framing != Framing::Length(0) || status >= 200 {
                framing = Framing::Length(len);
            }
        } else if header.name.eq_ignore_ascii_case("transfer-encoding")
            && header.value.eq_ignore_ascii_case(b"chunked")
        {
            framing = Framing::Chunked;
        } else if header.name.eq_ignore_ascii_case("connection") {
            close = header.value.eq_ignore_ascii_case(b"close");
        }
    }
    if status == 204 || status == 304 {
        framing = Framing::Length(0);
    }
    Ok(Some((
        len,
        Head {
            status,
            framing,
            close,
        },
    )))
}

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

/// An absolute `http://host[:port]/path` split into what a connection needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub addr: SocketAddr,
    /// The `Host` header value.
    pub host: String,
    /// The path prefix, always ending in `/`.
    pub base_path: String,
}

impl Target {
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| anyhow::anyhow!("{url}: only http:// targets are supported"))?;
        let (authority, path) = match rest.find('/') {
            Some(at) => rest.split_at(at),
            None => (rest, "/"),
        };
        let has_port = match authority.strip_prefix('[') {
            Some(v6) => v6.contains("]:"),
            None => authority.contains(':'),
        };
        let with_port = if has_port {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        let addr = std::net::ToSocketAddrs::to_socket_addrs(&with_port)
            .map_err(|err| anyhow::anyhow!("{url}: {err}"))?
            .next()
            .ok_or_else(|| anyhow::anyhow!("{url}: no address"))?;
        let mut base_path = path.to_owned();
        if !base_path.ends_with('/') {
            base_path.push('/');
        }
        Ok(Self {
            addr,
            host: authority.to_owned(),
            base_path,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_framed() {
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        let (len, parsed) = parse_head(head).unwrap().unwrap();
        assert_eq!(len, head.len() - 5);
        assert_eq!(parsed.framing, Framing::Length(5));
        assert!(!parsed.close);

        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
        let (_, parsed) = parse_head(chunked).unwrap().unwrap();
        assert_eq!(parsed.framing, Framing::Chunked);
        assert!(parsed.close);

        let not_modified = b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n";
        assert_eq!(
            parse_head(not_modified).unwrap().unwrap().1.framing,
            Framing::Length(0)
        );
        assert!(
            parse_head(b"HTTP/1.1 200 OK\r\nContent-Le")
                .unwrap()
                .is_none()
        );
        assert!(parse_head(b"garbage\r\n\r\n").is_err());
    }

    #[test]
    fn targets_parse() {
        let target = Target::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(target.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(target.host, "127.0.0.1:8080");
        assert_eq!(target.base_path, "/");
        let target = Target::parse("http://127.0.0.1:81/p/acme/tok").unwrap();
        assert_eq!(target.base_path, "/p/acme/tok/");
        assert!(Target::parse("https://example.com/").is_err());
    }

    #[tokio::test]
    async fn reads_length_and_chunked_bodies_on_one_connection() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut seen = Vec::new();
            let mut buf = [0u8; 1024];
            let mut answered = 0;
            while answered < 2 {
                let n = socket.read(&mut buf).await.unwrap();
                seen.extend_from_slice(&buf[..n]);
                while let Some(at) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                    seen.drain(..at + 4);
                    let reply: &[u8] = if answered == 0 {
                        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
                    } else {
                        b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n1;x=y\r\nf\r\n0\r\n\r\n"
                    };
                    // Dribbled out in small pieces: framing must not depend on read sizes.
                    for piece in reply.chunks(7) {
                        socket.write_all(piece).await.unwrap();
                        socket.flush().await.unwrap();
                    }
                    answered += 1;
                }
            }
        });
        let mut conn = Connection::open(addr, Some("127.0.0.7".parse().unwrap()))
            .await
            .unwrap();
        let request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        let first = conn.send(request, Duration::from_secs(5)).await.unwrap();
        assert_eq!((first.status, first.text()), (200, "abc"));
        let second = conn.send(request, Duration::from_secs(5)).await.unwrap();
        assert_eq!((second.status, second.text()), (404, "def"));
        server.await.unwrap();
    }
}
