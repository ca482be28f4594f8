//! Serving an app: the listener (a backlog fit for connect bursts), the accept loop with its
//! connection caps (Rule 5 (docs/security.md#rule-5)), and connections accepted elsewhere (a socket handed over from
//! another server, with the bytes it already read).

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use futures_util::future::{Either, Ready, ready};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tower_service::Service;

use crate::app::App;
use crate::app::caps::{Caps, Slot};
use crate::app::proxy::TrustedProxies;
use crate::app::shutdown::{Lifecycle, Phase, until};
use crate::transport::HoldAnswer;

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
        let served = self.served();
        async move {
            let mut phase = served.lifecycle.watch();
            let mut out_of_descriptors = false;
            loop {
                let accepted = tokio::select! {
                    accepted = listener.accept() => accepted,
                    // A shutdown began: the listener goes (new connects are refused).
                    _ = until(&mut phase, Phase::Draining) => return Ok(()),
                };
                let (tcp, remote) = match accepted {
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
                let Some(stream) = served.admit(tcp, Vec::new(), Some(remote)) else {
                    continue; // dropping `tcp` closes it
                };
                if let Err(e) = stream.io.set_nodelay(true) {
                    tracing::debug!(error = %e, "could not set TCP_NODELAY");
                }
                tokio::spawn(connection(router.clone(), stream, Some(remote), served.clone()));
            }
        }
    }

    /// Serves one connection accepted elsewhere, e.g. a socket another server handed over:
    /// `already_read` is what that server read from it before (the start of the HTTP request).
    /// Resolves when the connection closes. It counts against the app's connection caps like
    /// one [`serve`](App::serve) accepted (against the total only when `remote` is unknown): one
    /// over a cap, or one handed over once [`shutdown`](App::shutdown) began, is closed at once.
    /// `remote` is the client's address as the caller decided it (its TCP peer, or what its
    /// own trusted proxy said).
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
        let served = self.served();
        // Admitted now, not when first polled: the caller learns at once.
        let stream =
            if served.lifecycle.phase() == Phase::Running { served.admit(io, already_read, remote) } else { None };
        async move {
            let Some(stream) = stream else {
                tracing::debug!("a handed-over connection over the connection caps, or during a shutdown, is closed");
                return;
            };
            connection(router, stream, remote, served).await;
        }
    }

    fn served(&self) -> Served {
        Served { caps: self.caps.clone(), proxies: self.proxies.clone(), lifecycle: self.lifecycle.clone() }
    }
}

/// The largest request head served, in bytes (Node's default is 16 KiB too). A websocket keeps
/// its head's headers for its lifetime: each namespace connect is decided with them.
pub(crate) const MAX_HEAD: usize = 16 * 1024;

/// What serving a connection needs of its app.
#[derive(Clone)]
struct Served {
    caps: Arc<Caps>,
    proxies: Arc<TrustedProxies>,
    lifecycle: Arc<Lifecycle>,
}

impl Served {
    /// The connection under the caps, or `None` over one. A trusted proxy's connection counts
    /// in the total only: the clients it carries are counted per address as they upgrade.
    fn admit<I>(&self, io: I, prefix: Vec<u8>, remote: Option<SocketAddr>) -> Option<Stream<I>> {
        let ip = remote.map(|r| r.ip());
        let proxied = ip.is_some_and(|ip| self.proxies.trusts(ip));
        let slot = self.caps.admit(if proxied { None } else { ip })?;
        let client = proxied.then(Arc::default);
        Some(Stream { io, prefix, read: 0, _slot: slot, client, hold: Some(HoldAnswer::default()), held: None })
    }
}

/// One HTTP/1.1 connection, websocket upgrades included. A shutdown ends it gracefully (a
/// request under way is answered, keep-alive ends); past the shutdown's deadline it is dropped.
async fn connection<I>(router: axum::Router, io: Stream<I>, remote: Option<SocketAddr>, served: Served)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let hold = io.hold.clone();
    let service = WithPeer { router, remote, client: io.client.clone(), served: served.clone(), hold };
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        // A client that never finishes its request head holds a descriptor: not for long.
        .header_read_timeout(Duration::from_secs(10))
        // A head over this is answered 431: hyper's default (about 400 KiB) is what every
        // connection's read buffer could grow to, and keep while the connection lives.
        .max_buf_size(MAX_HEAD)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(connection);
    let mut phase = served.lifecycle.watch();
    let mut closing = served.lifecycle.watch();
    let served = tokio::select! {
        served = connection.as_mut() => served,
        _ = until(&mut phase, Phase::Draining) => {
            connection.as_mut().graceful_shutdown();
            tokio::select! {
                served = connection.as_mut() => served,
                _ = until(&mut closing, Phase::Closing) => return,
            }
        }
    };
    if let Err(e) = served {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// The router, with the client's address in every request's extensions (as axum's
/// `into_make_service_with_connect_info` gives it): the peer's, or behind a trusted proxy the
/// one it forwarded.
#[derive(Clone)]
struct WithPeer {
    router: axum::Router,
    remote: Option<SocketAddr>,
    /// The per-address slot of the client a trusted proxy's connection carries (a websocket).
    client: Option<Arc<Mutex<Option<Slot>>>>,
    served: Served,
    /// Given to every request, so that a websocket upgrade's answer can wait for its first frames.
    hold: Option<HoldAnswer>,
}

impl hyper::service::Service<http::Request<hyper::body::Incoming>> for WithPeer {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future =
        Either<Ready<Result<axum::response::Response, Infallible>>, axum::routing::future::RouteFuture<Infallible>>;

    fn call(&self, mut request: http::Request<hyper::body::Incoming>) -> Self::Future {
        let mut remote = self.remote;
        if let (Some(peer), Some(cell)) = (self.remote, &self.client)
            && let Some(client) = self.served.proxies.client(peer.ip(), request.headers())
        {
            remote = Some(SocketAddr::new(client, 0));
            // A websocket is this client's connection from now on: counted per address.
            if request.headers().contains_key(http::header::UPGRADE) {
                let Some(slot) = self.served.caps.admit_address(client) else {
                    return Either::Left(ready(Ok(over_the_cap())));
                };
                *cell.lock().unwrap_or_else(|p| p.into_inner()) = Some(slot);
            }
        }
        if let Some(remote) = remote {
            request.extensions_mut().insert(ConnectInfo(remote));
        }
        if let Some(hold) = &self.hold {
            request.extensions_mut().insert(hold.clone());
        }
        Either::Right(self.router.clone().call(request.map(axum::body::Body::new)))
    }
}

/// The answer to an upgrade over the per-address cap, behind a trusted proxy.
fn over_the_cap() -> axum::response::Response {
    let mut response = axum::response::Response::new(axum::body::Body::from("too many connections from this address"));
    *response.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
    response.headers_mut().insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
    response
}

/// A connection's byte stream: replays what was already read, then reads the socket; holds
/// its cap slots for as long as the stream lives (an upgraded websocket keeps them), and holds
/// a websocket upgrade's answer back until the session's first frames join it (one send).
struct Stream<I> {
    io: I,
    prefix: Vec<u8>,
    read: usize,
    _slot: Slot,
    /// Behind a trusted proxy: the slot of the client it carries, once known.
    client: Option<Arc<Mutex<Option<Slot>>>>,
    /// Until the connection is upgraded: armed by the transport when its answer is to be held.
    hold: Option<HoldAnswer>,
    /// Boxed: a connection holds nothing here at rest.
    held: Option<Box<Held>>,
}

/// An answer held back (HTTP's `101`), and then what follows it.
struct Held {
    bytes: Vec<u8>,
    stage: Stage,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The answer being written: taken whole, not sent yet.
    Answer,
    /// The answer, flushed as far as HTTP knows: sent with the next bytes written.
    Flushed,
    /// The answer and the first frames, being sent: how many bytes the socket took.
    Sending(usize),
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

impl<I: AsyncWrite + Unpin> Stream<I> {
    /// Nothing is held and nothing can be asked to be: what a websocket is after its first
    /// frames, written straight to the socket (every delivery's write checks only this).
    fn passing(&self) -> bool {
        self.hold.is_none() && self.held.is_none()
    }

    /// Takes `bufs` into the held answer, if one is being held or was just asked for.
    fn hold(&mut self, bufs: &[io::IoSlice<'_>]) -> Option<usize> {
        let len = bufs.iter().map(|b| b.len()).sum();
        match &mut self.held {
            None => {
                if !self.hold.as_ref().is_some_and(HoldAnswer::take) {
                    return None;
                }
                // Asked once: the connection becomes a websocket, and is not asked again.
                self.hold = None;
                let held = Held { bytes: Vec::with_capacity(len + 256), stage: Stage::Answer };
                self.held = Some(Box::new(held));
            }
            Some(held) => match held.stage {
                Stage::Answer => {}
                Stage::Flushed => held.stage = Stage::Sending(0),
                Stage::Sending(_) => return None,
            },
        }
        let held = self.held.as_mut()?;
        bufs.iter().for_each(|b| held.bytes.extend_from_slice(b));
        Some(len)
    }

    /// Sends what is held once the answer's follow-up joined it; `Ready` once nothing is held
    /// back from the socket (a held answer not yet followed stays held).
    fn poll_release(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(held) = self.held.as_mut() else { return Poll::Ready(Ok(())) };
        let mut sent = match held.stage {
            Stage::Answer | Stage::Flushed => {
                held.stage = Stage::Flushed;
                return Poll::Ready(Ok(()));
            }
            Stage::Sending(sent) => sent,
        };
        while sent < held.bytes.len() {
            match Pin::new(&mut self.io).poll_write(cx, &held.bytes[sent..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => sent += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    held.stage = Stage::Sending(sent);
                    return Poll::Pending;
                }
            }
        }
        self.held = None;
        Poll::Ready(Ok(()))
    }

    /// `taken` bytes went into the held ones: sent now if they follow the answer (what the
    /// socket does not take yet goes with the next write or flush).
    fn poll_taken(&mut self, cx: &mut Context<'_>, taken: usize) -> Poll<io::Result<usize>> {
        if self.held.as_ref().is_some_and(|h| matches!(h.stage, Stage::Sending(_)))
            && let Poll::Ready(Err(e)) = self.poll_release(cx)
        {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(taken))
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Stream<I> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.passing() {
            return Pin::new(&mut this.io).poll_write(cx, buf);
        }
        if let Some(taken) = this.hold(&[io::IoSlice::new(buf)]) {
            return this.poll_taken(cx, taken);
        }
        std::task::ready!(this.poll_release(cx))?;
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_release(cx))?;
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // A held answer goes out before the end, followed or not.
        if let Some(held) = self.held.as_mut()
            && !matches!(held.stage, Stage::Sending(_))
        {
            held.stage = Stage::Sending(0);
        }
        std::task::ready!(self.poll_release(cx))?;
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.passing() {
            return Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        }
        if let Some(taken) = this.hold(bufs) {
            return this.poll_taken(cx, taken);
        }
        std::task::ready!(this.poll_release(cx))?;
        Pin::new(&mut this.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    fn stream<I>(io: I) -> Stream<I> {
        let slot = Arc::new(Caps::new(10, 10)).admit(None).expect("under the cap");
        Stream {
            io,
            prefix: Vec::new(),
            read: 0,
            _slot: slot,
            client: None,
            hold: Some(HoldAnswer::default()),
            held: None,
        }
    }

    #[tokio::test]
    async fn a_held_answer_leaves_with_the_next_write_in_one_send() {
        let (ours, mut theirs) = tokio::io::duplex(4096);
        let mut ours = stream(ours);
        let hold = ours.hold.clone().expect("a fresh stream can hold");
        hold.arm();
        ours.write_all(b"HTTP/1.1 101 Switching Protocols\r\n\r\n").await.unwrap();
        ours.flush().await.unwrap();
        let mut buf = [0u8; 256];
        let early = tokio::time::timeout(Duration::from_millis(50), theirs.read(&mut buf)).await;
        assert!(early.is_err(), "the answer waits for what follows it");
        ours.write_all(b"open").await.unwrap();
        let n = theirs.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"HTTP/1.1 101 Switching Protocols\r\n\r\nopen", "one read, in order");
        assert!(ours.held.is_none() && ours.hold.is_none(), "nothing kept once sent");
        ours.write_all(b"next").await.unwrap();
        let n = theirs.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"next");
    }

    #[tokio::test]
    async fn an_answer_not_asked_to_wait_is_written_at_once_and_a_held_one_before_a_shutdown() {
        let (ours, mut theirs) = tokio::io::duplex(4096);
        let mut ours = stream(ours);
        ours.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
        let mut buf = [0u8; 256];
        let n = theirs.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"HTTP/1.1 200 OK\r\n\r\n");
        ours.hold.clone().expect("still asked per request").arm();
        ours.write_all(b"HTTP/1.1 101 Switching Protocols\r\n\r\n").await.unwrap();
        ours.shutdown().await.unwrap();
        let mut rest = Vec::new();
        theirs.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"HTTP/1.1 101 Switching Protocols\r\n\r\n");
    }
}
