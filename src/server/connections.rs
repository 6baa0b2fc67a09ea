//! The accept loop: every connection under the server limits, over TLS
//! when the web configuration says so, served by hyper's HTTP/1.1.
//!
//! A slow or flooding client must not starve the scrape or the probes:
//! - at most `max_connections` are open; past that, new connections wait
//!   in the kernel's listen queue (they are not accepted, so they cost
//!   nothing here) until one closes;
//! - a client that does not complete its TLS handshake, or the header of
//!   its next request, within `header_read_timeout` is disconnected, idle
//!   keep-alive connections included; so is one that stops reading a
//!   response for as long (`StallGuard`): a held slot always comes free;
//! - request headers are capped at [`MAX_HEADER_BYTES`], bodies at
//!   [`MAX_REQUEST_BODY_BYTES`](super::MAX_REQUEST_BODY_BYTES).
//!
//! Connections are plain tasks on the runtime; the probes never wait for
//! them.

use std::future::Future as _;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::access;
use crate::web_config::WebConfig;

/// Largest request head (request line and headers) accepted; larger gets
/// 431. Prometheus sends well under 1 KiB.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// hyper's read buffer, bounding what one connection holds in memory.
const MAX_BUFFER_BYTES: usize = 64 * 1024;

/// Bounds on what clients of the HTTP server may hold.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// Connections open at once (`--web.max-connections`).
    pub max_connections: usize,
    /// How long a client has to finish the TLS handshake, and each request
    /// header (`--web.header-read-timeout`); also how long a keep-alive
    /// connection may sit idle, and a response may go unread.
    pub header_read_timeout: Duration,
}

/// The default of `--web.max-connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
/// The default of `--web.header-read-timeout`.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
        }
    }
}

/// What every connection shares: the routes, the current web
/// configuration, the limits and the shutdown signal.
#[derive(Clone)]
struct Serving {
    router: Router,
    web: watch::Receiver<Arc<WebConfig>>,
    limits: ServerLimits,
    shutdown: CancellationToken,
}

/// Accepts connections until `shutdown`, then lets the open ones finish
/// their requests in flight.
pub async fn accept_loop(
    listener: TcpListener,
    router: Router,
    web: watch::Receiver<Arc<WebConfig>>,
    limits: ServerLimits,
    shutdown: CancellationToken,
) {
    let serving = Serving {
        router,
        web,
        limits,
        shutdown: shutdown.clone(),
    };
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let connections = TaskTracker::new();
    let mut at_limit_logged = false;
    loop {
        let slot = match Arc::clone(&slots).try_acquire_owned() {
            Ok(slot) => {
                at_limit_logged = false;
                slot
            }
            Err(_) => {
                if !at_limit_logged {
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        "connection limit reached: new connections wait until one closes"
                    );
                    at_limit_logged = true;
                }
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    slot = Arc::clone(&slots).acquire_owned() => match slot {
                        Ok(slot) => slot,
                        Err(_) => break,
                    },
                }
            }
        };
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: pause rather
                    // than spin.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let accepted_under = Arc::clone(&serving.web.borrow());
        connections.spawn(connection(
            stream,
            peer,
            accepted_under,
            serving.clone(),
            slot,
        ));
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

/// One connection: the TLS handshake under the web configuration of the
/// moment it was accepted (`accepted_under`), then HTTP/1.1 until the
/// client leaves, a limit cuts it off, or shutdown. Each request on it is
/// checked against the web configuration current when it arrives, so a
/// reload that removes a user or changes a password holds on kept-alive
/// connections too. The slot is given back when the connection ends.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    accepted_under: Arc<WebConfig>,
    serving: Serving,
    _slot: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    let stream = StallGuard::new(stream, serving.limits.header_read_timeout);
    match accepted_under.tls.clone() {
        None => serve_http(stream, peer, serving).await,
        Some(config) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(config);
            let handshake =
                tokio::time::timeout(serving.limits.header_read_timeout, acceptor.accept(stream));
            let tls = tokio::select! {
                _ = serving.shutdown.cancelled() => return,
                handshake = handshake => handshake,
            };
            match tls {
                Ok(Ok(tls)) => serve_http(tls, peer, serving).await,
                Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake not finished in time"),
            }
        }
    }
}

async fn serve_http<S>(io: S, peer: SocketAddr, serving: Serving)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Serving {
        router,
        web,
        limits,
        shutdown,
    } = serving;
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        access::handle(
            router.clone(),
            Arc::clone(&web.borrow()),
            peer,
            request.map(Body::new),
        )
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_header_size(MAX_HEADER_BYTES)
        .max_buf_size(MAX_BUFFER_BYTES)
        .keep_alive(true);
    let connection = http.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%peer, %error, "connection closed with an error");
    }
}

/// A connection whose client stops reading: a write (or flush) that makes
/// no progress for `limit` fails, and the connection closes. Without it, a
/// client that requests `/metrics` and never reads the answer would hold
/// its slot forever, and enough of them would lock the scrape out.
/// Prometheus gives up on a scrape after its scrape timeout anyway.
struct StallGuard<S> {
    inner: S,
    limit: Duration,
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> StallGuard<S> {
    fn new(inner: S, limit: Duration) -> StallGuard<S> {
        StallGuard {
            inner,
            limit,
            stalled: None,
        }
    }

    /// The inner write made progress (`Ready`) or is waiting (`Pending`):
    /// clear the clock, or start and check it.
    fn watch<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.stalled = None;
            return poll;
        }
        let limit = self.limit;
        let clock = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match clock.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for StallGuard<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for StallGuard<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.watch(cx, poll)
    }
}
