//! Sockets accepted by Node, served by the engine: adopted by file descriptor where the
//! platform allows (Linux, macOS), else through a loopback listener Node pipes the bytes to.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::Arc;

use liverpc::App;

/// Duplicates Node's descriptor of an upgraded socket, so the engine owns a copy that outlives
/// Node's socket object (which the caller destroys right after).
#[cfg(unix)]
#[allow(unsafe_code)]
fn duplicate(fd: i32) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::BorrowedFd;
    if fd < 0 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a file descriptor"));
    }
    // SAFETY: `fd` is the descriptor of the Node socket being handed over. Node keeps it open
    // until `adopt` returns (the caller destroys its socket only afterwards), so it is valid
    // for the borrow, which ends within this function once the duplicate is made.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    borrowed.try_clone_to_owned()
}

/// Serves the TCP socket behind Node's descriptor `fd`; `head` is what Node already read from
/// it (the request head, re-serialized, then the bytes after it).
#[cfg(unix)]
pub(crate) fn adopt(
    app: &App,
    router: &axum::Router,
    fd: i32,
    head: Vec<u8>,
    remote: Option<SocketAddr>,
) -> io::Result<()> {
    let tcp = std::net::TcpStream::from(duplicate(fd)?);
    tcp.set_nonblocking(true)?;
    let _ = tcp.set_nodelay(true);
    let remote = remote.or_else(|| tcp.peer_addr().ok());
    let tcp = napi::bindgen_prelude::within_runtime_if_available(|| tokio::net::TcpStream::from_std(tcp))?;
    napi::bindgen_prelude::spawn(app.serve_connection(router.clone(), tcp, head, remote));
    Ok(())
}

/// Without descriptors to adopt, Node proxies instead.
#[cfg(not(unix))]
pub(crate) fn adopt(_: &App, _: &axum::Router, _: i32, _: Vec<u8>, _: Option<SocketAddr>) -> io::Result<()> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "adopting a socket needs a Unix platform"))
}

/// Listens on a loopback port for connections Node proxies (TLS terminated in Node, or no
/// descriptor to adopt); returns the port.
pub(crate) fn proxy(app: &Arc<App>, router: &axum::Router, stop: Arc<tokio::sync::Notify>) -> io::Result<u16> {
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
    listener.set_nonblocking(true)?;
    let port = listener.local_addr()?.port();
    let listener = napi::bindgen_prelude::within_runtime_if_available(|| tokio::net::TcpListener::from_std(listener))?;
    let (app, router) = (app.clone(), router.clone());
    napi::bindgen_prelude::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                // The engine is closing: the listener (and the app it holds) go.
                () = stop.notified() => return,
            };
            match accepted {
                Ok((tcp, _)) => {
                    let _ = tcp.set_nodelay(true);
                    // The page's address stays with Node: the hook sees none.
                    napi::bindgen_prelude::spawn(app.serve_connection(router.clone(), tcp, Vec::new(), None));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the proxy listener could not accept");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    });
    Ok(port)
}
