//! A minimal HTTP/1.1 responder for the Prometheus endpoint: `GET /metrics` answers the
//! node's [`render`]ed stats, anything else 404. Bounded on every side: a few KiB of request
//! head, a deadline for the whole exchange, a fixed number of connections at once (further
//! ones are closed at once), and one request per connection (`Connection: close`).

use super::handle::NodeHandle;
use super::prometheus::{CONTENT_TYPE, render};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tracing::{debug, warn};

/// Limits of the metrics endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsLimits {
    /// Connections served at once; further ones are closed as soon as accepted.
    pub max_connections: usize,
    /// Longest request head read (request line and headers), in bytes; a longer one gets 431.
    pub max_head: usize,
    /// Deadline for one connection, from accept to the last byte of the answer (a client
    /// that sends or reads slowly is cut off).
    pub timeout: Duration,
}

impl Default for MetricsLimits {
    fn default() -> Self {
        MetricsLimits {
            max_connections: 16,
            max_head: 4 * 1024,
            timeout: Duration::from_secs(5),
        }
    }
}

/// A running metrics endpoint; stops when dropped or [`MetricsServer::shutdown`].
#[derive(Debug)]
pub struct MetricsServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl MetricsServer {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections (those being answered are cut off too).
    pub fn shutdown(self) {
        self.task.abort();
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `addr` and serves `GET /metrics` for `node` on the current tokio runtime, with the
/// default [`MetricsLimits`]. Whether `addr` may be reachable from other hosts is the
/// caller's choice: nothing here refuses a public address.
pub async fn serve_metrics(addr: SocketAddr, node: NodeHandle) -> std::io::Result<MetricsServer> {
    serve_metrics_with(addr, node, MetricsLimits::default()).await
}

/// [`serve_metrics`] with other limits.
pub async fn serve_metrics_with(
    addr: SocketAddr,
    node: NodeHandle,
    limits: MetricsLimits,
) -> std::io::Result<MetricsServer> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(accept_loop(listener, node, limits));
    Ok(MetricsServer { addr, task })
}

async fn accept_loop(listener: TcpListener, node: NodeHandle, limits: MetricsLimits) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: wait a little instead of spinning.
                warn!(%error, "metrics endpoint: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            debug!(%peer, "metrics endpoint: too many connections, closing");
            drop(stream);
            continue;
        };
        let node = node.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match tokio::time::timeout(limits.timeout, answer(stream, &node, limits.max_head)).await
            {
                Ok(Ok(())) => {}
                Ok(Err(error)) => debug!(%peer, %error, "metrics endpoint: connection failed"),
                Err(_) => debug!(%peer, "metrics endpoint: connection timed out"),
            }
        });
    }
}

/// Reads the request head (at most `max_head` bytes) and writes one answer.
async fn answer(mut stream: TcpStream, node: &NodeHandle, max_head: usize) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(1024.min(max_head));
    let mut chunk = [0u8; 1024];
    let complete = loop {
        if let Some(end) = head_end(&head) {
            head.truncate(end);
            break true;
        }
        if head.len() >= max_head {
            break false;
        }
        let room = (max_head - head.len()).min(chunk.len());
        let n = stream.read(&mut chunk[..room]).await?;
        if n == 0 {
            // Closed before a whole head: nobody to answer.
            return Ok(());
        }
        head.extend_from_slice(&chunk[..n]);
    };
    let (status, body, head_only) = if complete {
        route(&head, node).await
    } else {
        (
            "431 Request Header Fields Too Large",
            Body::Text("request head too large\n"),
            false,
        )
    };
    let (content_type, body) = match body {
        Body::Metrics(text) => (CONTENT_TYPE, text),
        Body::Text(text) => ("text/plain; charset=utf-8", text.to_string()),
    };
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if !head_only {
        response.push_str(&body);
    }
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await?;
    if !complete {
        // Closing with the rest of the head unread would reset the connection, and the client
        // could lose the answer: read (and drop) what it still sends, within the deadline.
        let mut drained = 0usize;
        while drained < 64 * 1024 {
            match stream.read(&mut chunk).await? {
                0 => break,
                n => drained += n,
            }
        }
    }
    Ok(())
}

enum Body {
    Metrics(String),
    Text(&'static str),
}

/// Where the head ends (after the blank line), if it has.
fn head_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
        .or_else(|| bytes.windows(2).position(|w| w == b"\n\n").map(|i| i + 2))
}

/// The answer to a complete request head: status, body, and whether to send the head only.
async fn route(head: &[u8], node: &NodeHandle) -> (&'static str, Body, bool) {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.trim_end_matches('\r').split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return ("400 Bad Request", Body::Text("bad request\n"), false);
    };
    if !version.starts_with("HTTP/1.") {
        return ("400 Bad Request", Body::Text("bad request\n"), false);
    }
    let path = target.split('?').next().unwrap_or_default();
    let head_only = method == "HEAD";
    if path != "/metrics" || !(method == "GET" || head_only) {
        return (
            "404 Not Found",
            Body::Text("not found; try GET /metrics\n"),
            head_only,
        );
    }
    match node.stats().await {
        Ok(stats) => ("200 OK", Body::Metrics(render(&stats)), head_only),
        Err(_) => (
            "503 Service Unavailable",
            Body::Text("the node has shut down\n"),
            head_only,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qis_core::{Config, Credentials, Difficulty, IdWork, Identity};
    use std::time::Instant;

    async fn node() -> NodeHandle {
        let options = crate::NodeOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            config: Config::default(),
            socket: crate::SocketOptions::default(),
        };
        let identity = Identity::from_secret_key([7; 32]);
        let credentials = Credentials::real(&identity, IdWork(0), Difficulty::NONE).unwrap();
        crate::spawn(&credentials, options).await.unwrap()
    }

    fn limits() -> MetricsLimits {
        MetricsLimits {
            max_connections: 2,
            max_head: 512,
            timeout: Duration::from_millis(300),
        }
    }

    async fn server() -> MetricsServer {
        serve_metrics_with("127.0.0.1:0".parse().unwrap(), node().await, limits())
            .await
            .unwrap()
    }

    /// Sends `request` and reads until the server closes (bounded by a generous deadline).
    async fn exchange(addr: SocketAddr, request: &[u8]) -> String {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut answer = Vec::new();
        // A connection closed with the request unread may be reset: what came before counts.
        let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
            .await
            .expect("the server closes");
        String::from_utf8(answer).unwrap()
    }

    #[tokio::test]
    async fn get_metrics_answers_the_exposition() {
        let server = server().await;
        let answer = exchange(
            server.local_addr(),
            b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
        )
        .await;
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains("\r\nContent-Type: text/plain; version=0.0.4"));
        assert!(head.contains("\r\nConnection: close"));
        assert!(head.contains(&format!("\r\nContent-Length: {}", body.len())));
        assert!(
            body.contains("\nqis_datagrams_received_total 0\n"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn anything_else_is_404_or_400() {
        let server = server().await;
        let addr = server.local_addr();
        for request in [
            &b"GET / HTTP/1.1\r\n\r\n"[..],
            b"GET /metricsx HTTP/1.1\r\n\r\n",
            b"POST /metrics HTTP/1.1\r\n\r\n",
        ] {
            let answer = exchange(addr, request).await;
            assert!(answer.starts_with("HTTP/1.1 404 Not Found\r\n"), "{answer}");
        }
        for request in [
            &b"\r\n\r\n"[..],
            b"GET /metrics\r\n\r\n",
            b"\xff\xfe\x00 garbage \x01\n\n",
            b"GET /metrics SMTP/1.0\r\n\r\n",
        ] {
            let answer = exchange(addr, request).await;
            assert!(
                answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
                "{answer}"
            );
        }
        // Closed before a whole head: no answer, and the server goes on.
        assert_eq!(exchange(addr, b"GET /met").await, "");
        assert!(
            exchange(addr, b"GET /metrics?x=1 HTTP/1.0\n\n")
                .await
                .starts_with("HTTP/1.1 200 OK")
        );
    }

    #[tokio::test]
    async fn an_oversize_head_gets_431() {
        let server = server().await;
        let mut request = b"GET /metrics HTTP/1.1\r\nX-Padding: ".to_vec();
        request.extend(std::iter::repeat_n(b'a', 4096));
        request.extend_from_slice(b"\r\n\r\n");
        let answer = exchange(server.local_addr(), &request).await;
        assert!(
            answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
            "{answer}"
        );
    }

    #[tokio::test]
    async fn a_slow_client_is_cut_off_and_extra_connections_closed() {
        let server = server().await;
        let addr = server.local_addr();
        let started = Instant::now();
        // Two slow clients take both slots, sending a head that never ends.
        let mut slow = Vec::new();
        for _ in 0..2 {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream
                .write_all(b"GET /metrics HTTP/1.1\r\n")
                .await
                .unwrap();
            slow.push(stream);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        // A third is closed at once, without an answer.
        assert_eq!(exchange(addr, b"GET /metrics HTTP/1.1\r\n\r\n").await, "");
        // The slow ones are cut off at the deadline.
        for mut stream in slow {
            let mut rest = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest))
                .await
                .expect("cut off at the deadline");
            assert!(rest.is_empty());
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        // Their slots are free again.
        assert!(
            exchange(addr, b"GET /metrics HTTP/1.1\r\n\r\n")
                .await
                .starts_with("HTTP/1.1 200 OK")
        );
    }
}
