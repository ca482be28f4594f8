//! Serving an app: the listener (a backlog fit for connect bursts), the accept loop with its
//! connection caps (Rule 5 (docs/security.md#rule-5)), and connections accepted elsewhere (a socket handed over from
//! another server, with the bytes it already read).

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tower_service::Service;

use crate::app::App;
use crate::app::caps::Slot;

/// Binds a TCP listener with a backlog of 1024, so a burst of connects is not dropped
/// (tokio's default backlog is 128).
///
/// ```
/// # async fn run() -> std::io::Result<()> {
/// let listener = liverpc::listen("127.0.0.1:0".parse().unwrap()).await?;
/// assert_ne!(listener.local_addr()?.port(), 0);
/// # Ok(()) }
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(run()).unwrap();
/// ```
pub async fn listen(addr: SocketAddr) -> io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

impl App {
    /// Serves `router` (made with [`attach`](App::attach)) on `listener`: TCP_NODELAY on every
    /// connection, the peer address available to the hook
    /// ([`Handshake::remote_addr`](crate::Handshake::remote_addr)), and the connection caps of
    /// [`Limits`](crate::Limits): in total and per remote address. A connection over a cap is
    /// closed at once, so a flood from one address cannot lock others out or take the
    /// descriptors accepting needs.
    ///
    /// ```no_run
    /// # async fn run(app: liverpc::App) -> std::io::Result<()> {
    /// let router = app.attach(axum::Router::new());
    /// let listener = liverpc::listen("127.0.0.1:3000".parse().unwrap()).await?;
    /// app.serve(listener, router).await
    /// # }
    /// ```
    pub fn serve(
        &self,
        listener: tokio::net::TcpListener,
        router: axum::Router,
    ) -> impl Future<Output = io::Result<()>> + Send + use<> {
        let caps = self.caps.clone();
        async move {
            let mut out_of_descriptors = false;
            loop {
                let (tcp, remote) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of descriptors or memory: say so once per episode, wait a little.
                        if !out_of_descriptors {
                            tracing::error!(error = %e, "accept failed; connections are refused until it recovers");
                        }
                        out_of_descriptors = true;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                out_of_descriptors = false;
                let Some(slot) = caps.admit(Some(remote.ip())) else {
                    continue; // dropping `tcp` closes it
                };
                if let Err(e) = tcp.set_nodelay(true) {
                    tracing::debug!(error = %e, "could not set TCP_NODELAY");
                }
                let io = Stream { io: tcp, prefix: Vec::new(), read: 0, _slot: Some(slot) };
                tokio::spawn(connection(router.clone(), io, Some(remote)));
            }
        }
    }

    /// Serves one connection accepted elsewhere, e.g. a socket another server handed over:
    /// `already_read` is what that server read from it before (the start of the HTTP request).
    /// Resolves when the connection closes. It counts against the app's connection caps like
    /// one [`serve`](App::serve) accepted (against the total only when `remote` is unknown): one
    /// over a cap is closed at once.
    ///
    /// ```no_run
    /// # async fn run(app: liverpc::App, tcp: tokio::net::TcpStream, head: Vec<u8>) {
    /// let router = app.attach(axum::Router::new());
    /// let peer = tcp.peer_addr().ok();
    /// app.serve_connection(router, tcp, head, peer).await;
    /// # }
    /// ```
    pub fn serve_connection<I>(
        &self,
        router: axum::Router,
        io: I,
        already_read: Vec<u8>,
        remote: Option<SocketAddr>,
    ) -> impl Future<Output = ()> + Send + use<I>
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        // Admitted now, not when first polled: the caller learns at once.
        let slot = self.caps.admit(remote.map(|r| r.ip()));
        async move {
            let Some(slot) = slot else {
                tracing::debug!("a handed-over connection over the connection caps is closed");
                return;
            };
            connection(router, Stream { io, prefix: already_read, read: 0, _slot: Some(slot) }, remote).await;
        }
    }
}

/// The largest request head served, in bytes (Node's default is 16 KiB too). A websocket keeps
/// its head's headers for its lifetime: each namespace connect is decided with them.
pub(crate) const MAX_HEAD: usize = 16 * 1024;

/// One HTTP/1.1 connection, websocket upgrades included.
async fn connection<I>(router: axum::Router, io: Stream<I>, remote: Option<SocketAddr>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = WithPeer { router, remote };
    let served = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        // A client that never finishes its request head holds a descriptor: not for long.
        .header_read_timeout(Duration::from_secs(10))
        // A head over this is answered 431: hyper's default (about 400 KiB) is what every
        // connection's read buffer could grow to, and keep while the connection lives.
        .max_buf_size(MAX_HEAD)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades()
        .await;
    if let Err(e) = served {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// The router, with the peer's address in every request's extensions (as axum's
/// `into_make_service_with_connect_info` gives it).
#[derive(Clone)]
struct WithPeer {
    router: axum::Router,
    remote: Option<SocketAddr>,
}

impl hyper::service::Service<http::Request<hyper::body::Incoming>> for WithPeer {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = axum::routing::future::RouteFuture<Infallible>;

    fn call(&self, mut request: http::Request<hyper::body::Incoming>) -> Self::Future {
        if let Some(remote) = self.remote {
            request.extensions_mut().insert(ConnectInfo(remote));
        }
        self.router.clone().call(request.map(axum::body::Body::new))
    }
}

/// A connection's byte stream: replays what was already read, then reads the socket; holds
/// its cap slot for as long as the stream lives (an upgraded websocket keeps it).
struct Stream<I> {
    io: I,
    prefix: Vec<u8>,
    read: usize,
    _slot: Option<Slot>,
}

impl<I: AsyncRead + Unpin> AsyncRead for Stream<I> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.read < this.prefix.len() {
            let rest = &this.prefix[this.read..];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.read += n;
            if this.read == this.prefix.len() {
                this.prefix = Vec::new(); // free it
                this.read = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Stream<I> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}
