//! Trusted proxies (Rule 10 (docs/security.md#rule-10)): behind a proxy the app names, the
//! per-address cap and the hook see the client's forwarded address; without it, a client's
//! `X-Forwarded-For` is ignored and every connection is the proxy's.
// The helpers below are test code too: an unwrap that fails is the test failing.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use liverpc::{App, Contract, Declarations, Handshake, Limits, Refuse, State};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error, Message};

/// Every address the hook was given.
#[derive(Default)]
struct Seen(Mutex<Vec<Option<IpAddr>>>);

struct Lobby;

impl Contract for Lobby {
    const ROUTE: &'static str = "/";
    const NAME: &'static str = "lobby";
    type Locals = ();
    type State = Arc<Seen>;
    type ToClient = ();

    fn socket(socket: Declarations<Self>) -> Declarations<Self> {
        socket
    }
}

async fn hook(handshake: Handshake, State(seen): State<Arc<Seen>>) -> Result<(), Refuse> {
    seen.0.lock().unwrap().push(handshake.remote_addr().map(|a| a.ip()));
    Ok(())
}

async fn serve(trusted: &[&str]) -> (SocketAddr, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let limits = Limits { max_connections_per_address: 1, ..Limits::default() };
    let app = App::builder()
        .state(seen.clone())
        .hook(hook)
        .contract::<Lobby>()
        .limits(limits)
        .trusted_proxies(trusted)
        .build()
        .unwrap();
    let router = app.attach(axum::Router::new());
    let listener = liverpc::listen("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { app.serve(listener, router).await });
    (addr, seen)
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A page whose proxy (this test, from 127.0.0.1) forwards it as `client`, connected to the
/// lobby; the upgrade's error when it is refused.
async fn page(addr: SocketAddr, client: &str) -> Result<Ws, Error> {
    let mut request = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket").into_client_request()?;
    request.headers_mut().insert("x-forwarded-for", format!("198.51.100.7, {client}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await?;
    ws.next().await.unwrap()?; // the open packet
    ws.send(Message::text(r#"40/lobby,{"path":"/"}"#)).await?;
    let connected = ws.next().await.unwrap()?;
    assert!(connected.to_text()?.starts_with("40/lobby,{\"sid\""), "{connected}");
    Ok(ws)
}

#[tokio::test]
async fn behind_a_trusted_proxy_two_clients_are_two_addresses() {
    let (addr, seen) = serve(&["127.0.0.1"]).await;
    let _first = page(addr, "203.0.113.1").await.unwrap();
    let _second = page(addr, "203.0.113.2").await.unwrap();
    // The hook saw each client's address: the rightmost entry the proxy did not add itself.
    let ips: Vec<IpAddr> = ["203.0.113.1", "203.0.113.2"].map(|ip| ip.parse().unwrap()).into();
    assert_eq!(*seen.0.lock().unwrap(), ips.iter().map(|ip| Some(*ip)).collect::<Vec<_>>());
    // A second websocket of one client is over its cap of one.
    match page(addr, "203.0.113.1").await {
        Err(Error::Http(response)) => assert_eq!(response.status(), 503),
        other => panic!("over the per-address cap, refused: {:?}", other.map(drop)),
    }
    // A slot frees when the client's websocket closes.
    drop(_first);
    loop {
        match page(addr, "203.0.113.1").await {
            Ok(_) => break,
            // The server has not seen the close yet.
            Err(_) => tokio::task::yield_now().await,
        }
    }
}

#[tokio::test]
async fn without_the_setting_forwarded_addresses_are_ignored() {
    let (addr, seen) = serve(&[]).await;
    let _first = page(addr, "203.0.113.1").await.unwrap();
    assert_eq!(*seen.0.lock().unwrap(), [Some("127.0.0.1".parse().unwrap())], "the peer's address");
    // Another forwarded client is still the same peer: over the cap, closed at accept.
    assert!(page(addr, "203.0.113.2").await.is_err());
}

#[tokio::test]
async fn a_forwarded_address_from_an_untrusted_peer_is_ignored() {
    let (addr, seen) = serve(&["10.0.0.0/8"]).await;
    let _first = page(addr, "203.0.113.1").await.unwrap();
    assert_eq!(*seen.0.lock().unwrap(), [Some("127.0.0.1".parse().unwrap())]);
}
