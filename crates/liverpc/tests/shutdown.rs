//! Graceful shutdown (`App::shutdown`): nothing new is accepted, what is in flight is answered,
//! and every connection ends with a transport close (which socket.io-client reconnects after),
//! never a Socket.IO disconnect or a refusal.
// The helpers below are test code too: an unwrap that fails is the test failing.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use liverpc::{App, Context, Contract, Declarations, Rejection};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Handlers that wait for the test: `entered` counts those running, `open` lets them finish.
struct Gate {
    entered: Semaphore,
    open: Semaphore,
}

struct Lobby;

impl Contract for Lobby {
    const ROUTE: &'static str = "/";
    const NAME: &'static str = "lobby";
    type Locals = ();
    type State = Arc<Gate>;
    type ToClient = ();

    fn socket(socket: Declarations<Self>) -> Declarations<Self> {
        socket
            .from_client("wait", |cx: Context<Lobby>, ()| async move {
                cx.state().entered.add_permits(1);
                cx.state().open.acquire().await.map_err(|_| Rejection::internal())?.forget();
                Ok::<_, Rejection>("done")
            })
            .from_client("stall", |cx: Context<Lobby>, ()| async move {
                cx.state().entered.add_permits(1);
                std::future::pending::<Result<(), Rejection>>().await
            })
    }
}

struct Served {
    app: Arc<App>,
    addr: SocketAddr,
    gate: Arc<Gate>,
    serving: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn serve() -> Served {
    let gate = Arc::new(Gate { entered: Semaphore::new(0), open: Semaphore::new(0) });
    let app = Arc::new(App::builder().state(gate.clone()).contract::<Lobby>().build().unwrap());
    let router = app.attach(axum::Router::new());
    let listener = liverpc::listen("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = tokio::spawn(app.serve(listener, router));
    Served { app, addr, gate, serving }
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A page connected to the lobby (its open packet and CONNECT answer read).
async fn page(addr: SocketAddr) -> Ws {
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let open = ws.next().await.unwrap().unwrap();
    assert!(open.to_text().unwrap().starts_with('0'), "the open packet");
    ws.send(Message::text(r#"40/lobby,{"path":"/"}"#)).await.unwrap();
    let connected = ws.next().await.unwrap().unwrap();
    assert!(connected.to_text().unwrap().starts_with("40/lobby,{\"sid\""), "{connected}");
    ws
}

/// Every text packet the page gets until its connection closes, and the close frame's code.
async fn until_closed(ws: &mut Ws) -> (Vec<String>, Option<u16>) {
    let mut texts = Vec::new();
    while let Some(message) = ws.next().await {
        match message {
            Ok(Message::Text(text)) if text.as_str() == "2" => {
                // A ping: answered, as the page's client does.
                let _ = ws.send(Message::text("3")).await;
            }
            Ok(Message::Text(text)) => texts.push(text.to_string()),
            Ok(Message::Close(frame)) => return (texts, frame.map(|f| u16::from(f.code))),
            Ok(_) => {}
            Err(_) => return (texts, None),
        }
    }
    (texts, None)
}

/// Neither a Socket.IO DISCONNECT (after which socket.io-client does not reconnect by itself)
/// nor a refused CONNECT (which a page shows as `refused`).
fn no_disconnect_nor_refusal(texts: &[String]) {
    assert!(!texts.iter().any(|t| t.starts_with("41") || t.starts_with("44")), "{texts:?}");
}

#[tokio::test]
async fn in_flight_calls_are_answered_then_every_connection_closes_at_the_transport() {
    let served = serve().await;
    let mut idle = page(served.addr).await;
    let mut busy = Vec::new();
    for _ in 0..3 {
        let mut ws = page(served.addr).await;
        ws.send(Message::text(r#"42/lobby,1["wait",null]"#)).await.unwrap();
        busy.push(ws);
    }
    // All three calls are running.
    served.gate.entered.acquire_many(3).await.unwrap().forget();

    let shutdown = tokio::spawn(served.app.shutdown(Duration::from_secs(60)));
    // The accept loop returns, and with it the listener: a new page cannot connect.
    served.serving.await.unwrap().unwrap();
    assert!(TcpStream::connect(served.addr).await.is_err(), "the listener is closed");
    // The idle page is closed at once, with a close frame and nothing else.
    let (texts, code) = until_closed(&mut idle).await;
    no_disconnect_nor_refusal(&texts);
    assert_eq!(code, Some(1000));
    assert!(!shutdown.is_finished(), "three calls are still in flight");

    // The calls finish: each is answered, then its connection closes.
    served.gate.open.add_permits(3);
    for ws in &mut busy {
        let (texts, code) = until_closed(ws).await;
        assert_eq!(texts, [r#"43/lobby,1[{"ok":true,"data":"done"}]"#], "the answer, then the close");
        assert_eq!(code, Some(1000));
    }
    shutdown.await.unwrap();
    // Calling it again waits for the same end.
    served.app.shutdown(Duration::from_secs(60)).await;
}

#[tokio::test]
async fn work_past_the_deadline_is_cut_and_its_connection_closed() {
    let served = serve().await;
    let mut ws = page(served.addr).await;
    ws.send(Message::text(r#"42/lobby,1["stall",null]"#)).await.unwrap();
    served.gate.entered.acquire().await.unwrap().forget();
    let shutdown = tokio::spawn(served.app.shutdown(Duration::from_millis(200)));
    let (texts, code) = until_closed(&mut ws).await;
    no_disconnect_nor_refusal(&texts);
    assert!(texts.is_empty(), "the stalled call is not answered: {texts:?}");
    assert_eq!(code, Some(1000));
    shutdown.await.unwrap();
}

#[tokio::test]
async fn a_handshake_during_the_drain_is_not_taken_and_not_refused() {
    let served = serve().await;
    let router = served.app.attach(axum::Router::new());
    let mut busy = page(served.addr).await;
    busy.send(Message::text(r#"42/lobby,1["wait",null]"#)).await.unwrap();
    served.gate.entered.acquire().await.unwrap().forget();
    let shutdown = tokio::spawn(served.app.shutdown(Duration::from_secs(60)));
    served.serving.await.unwrap().unwrap();

    // A connection handed over now is closed at once, before any byte is read.
    let elsewhere = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut client = TcpStream::connect(elsewhere.local_addr().unwrap()).await.unwrap();
    let (tcp, peer) = elsewhere.accept().await.unwrap();
    served.app.serve_connection(router.clone(), tcp, Vec::new(), Some(peer)).await;
    let mut buf = [0u8; 8];
    assert_eq!(tokio::io::AsyncReadExt::read(&mut client, &mut buf).await.unwrap_or(0), 0);
    drop(client);

    served.gate.open.add_permits(1);
    let (texts, code) = until_closed(&mut busy).await;
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert_eq!(code, Some(1000));
    shutdown.await.unwrap();
}
