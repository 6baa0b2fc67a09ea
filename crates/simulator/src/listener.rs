//! The simulator's listeners (plain TCP and TLS) for `axum::serve`.
//!
//! Every accepted connection is wrapped in [`Guarded`], which fails its I/O
//! once the hard-stop token is cancelled: that is how `shutdown` ends a
//! connection stuck mid-request (a client that never finishes its headers,
//! or never reads its answer) instead of waiting for it forever.
//!
//! Each connection's [`Connection`] (TLS or not, the client certificate)
//! reaches the handlers as axum connect info.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// A slow or silent TLS client may hold a handshake this long, no longer.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshaken TLS connections waiting for the server loop to take them.
const TLS_QUEUE: usize = 128;

/// What the handlers know of a request's connection: whether it is TLS
/// (the scheme of the URL the client called) and the certificate the
/// client presented, verified against the client CA, if any (RFC 8705).
#[derive(Clone, Debug, Default)]
pub(super) struct Connection {
    /// The connection is TLS.
    pub(super) tls: bool,
    /// The client's leaf certificate (DER), when it presented one.
    pub(super) certificate: Option<Arc<Vec<u8>>>,
    /// The TLS handshake resumed an earlier session (no certificate
    /// exchanged or verified).
    pub(super) resumed: bool,
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, PlainListener>>
    for Connection
{
    fn connect_info(_: axum::serve::IncomingStream<'_, PlainListener>) -> Connection {
        Connection::default()
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TlsListener>>
    for Connection
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, TlsListener>) -> Connection {
        let (_, session) = stream.io().inner.get_ref();
        Connection {
            tls: true,
            certificate: session
                .peer_certificates()
                .and_then(|chain| chain.first())
                .map(|leaf| Arc::new(leaf.to_vec())),
            resumed: session.handshake_kind() == Some(rustls::HandshakeKind::Resumed),
        }
    }
}

/// A connection whose reads and writes fail once `stop` is cancelled.
pub(super) struct Guarded<T> {
    inner: T,
    stop: Pin<Box<WaitForCancellationFutureOwned>>,
    stopped: bool,
}

impl<T> Guarded<T> {
    fn new(inner: T, stop: CancellationToken) -> Self {
        Guarded {
            inner,
            stop: Box::pin(stop.cancelled_owned()),
            stopped: false,
        }
    }

    /// Polls the stop signal (registering the waker, so a connection parked on
    /// I/O wakes up when the simulator stops).
    fn poll_stopped(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.stopped && self.stop.as_mut().poll(cx).is_ready() {
            self.stopped = true;
        }
        self.stopped
    }
}

fn stopped_error() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "simulator stopped")
}

impl<T: AsyncRead + Unpin> AsyncRead for Guarded<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.poll_stopped(cx) {
            return Poll::Ready(Err(stopped_error()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Guarded<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.poll_stopped(cx) {
            return Poll::Ready(Err(stopped_error()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.poll_stopped(cx) {
            return Poll::Ready(Err(stopped_error()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.poll_stopped(cx) {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Plain HTTP: accepted TCP streams, guarded.
pub(super) struct PlainListener {
    inner: TcpListener,
    hard_stop: CancellationToken,
}

impl PlainListener {
    pub(super) fn new(inner: TcpListener, hard_stop: CancellationToken) -> Self {
        PlainListener { inner, hard_stop }
    }
}

impl axum::serve::Listener for PlainListener {
    type Io = Guarded<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, peer)) => {
                    // Latency benchmarks measure the daemon, not Nagle.
                    let _ = stream.set_nodelay(true);
                    return (Guarded::new(stream, self.hard_stop.clone()), peer);
                }
                Err(error) => pause_after_accept_error(&error).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// HTTPS: a background task accepts TCP and runs each handshake in its own
/// task (one slow client must not hold up the others); finished handshakes
/// arrive here through a channel.
pub(super) struct TlsListener {
    ready: mpsc::Receiver<(Guarded<TlsStream<TcpStream>>, SocketAddr)>,
    local_addr: SocketAddr,
}

impl TlsListener {
    /// Starts accepting on `inner`; accepting ends when `graceful` is
    /// cancelled, open connections fail when `hard_stop` is.
    pub(super) fn spawn(
        inner: TcpListener,
        config: Arc<rustls::ServerConfig>,
        graceful: CancellationToken,
        hard_stop: CancellationToken,
    ) -> io::Result<Self> {
        let local_addr = inner.local_addr()?;
        let (sender, ready) = mpsc::channel(TLS_QUEUE);
        let acceptor = TlsAcceptor::from(config);
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = graceful.cancelled() => break,
                    accepted = inner.accept() => accepted,
                };
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        pause_after_accept_error(&error).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let acceptor = acceptor.clone();
                let sender = sender.clone();
                let graceful = graceful.clone();
                let hard_stop = hard_stop.clone();
                tokio::spawn(async move {
                    let handshake =
                        tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream));
                    let stream = tokio::select! {
                        _ = graceful.cancelled() => return,
                        result = handshake => match result {
                            Ok(Ok(stream)) => stream,
                            Ok(Err(error)) => {
                                tracing::debug!(%peer, %error, "simulator: TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!(%peer, "simulator: TLS handshake timed out");
                                return;
                            }
                        },
                    };
                    let _ = sender.send((Guarded::new(stream, hard_stop), peer)).await;
                });
            }
        });
        Ok(TlsListener { ready, local_addr })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = Guarded<TlsStream<TcpStream>>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The acceptor ended (we are stopping): never yield again; the
            // serve loop leaves on its shutdown signal.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local_addr)
    }
}

/// A connection error concerns one peer: go on at once. Anything else (out
/// of file descriptors) would spin, so wait a little first.
async fn pause_after_accept_error(error: &io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::warn!(%error, "simulator: accept failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}
