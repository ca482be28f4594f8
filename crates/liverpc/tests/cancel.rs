//! User code Rust cannot stop (the TypeScript front-end's JavaScript, here stood in for by a
//! spec made with `cancel_by_signal`): past the deadline the page is answered `timeout`, the
//! code is asked to stop, and the socket's next call waits until it has (Rule 7
//! (docs/security.md#rule-7)); a socket that closes asks it to stop too (Rule 8
//! (docs/security.md#rule-8)).
// The helpers below are test code too: an unwrap that fails is the test failing.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use liverpc::spec::{Call, Cancelled, ContractSpec};
use liverpc::testing::TestClient;
use liverpc::{App, ErrorCode, Limits};
use serde_json::json;
use serde_json::value::RawValue;
use tokio::sync::{Notify, Semaphore};

/// What the handlers did, in order, and the gates the test holds them at.
struct Log {
    lines: Mutex<Vec<String>>,
    changed: Notify,
    release: Semaphore,
}

impl Log {
    fn push(&self, line: String) {
        self.lines.lock().unwrap().push(line);
        self.changed.notify_waiters();
    }

    async fn until(&self, line: &str) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.lines.lock().unwrap().iter().any(|l| l == line) {
                return;
            }
            changed.await;
        }
    }
}

async fn serve(log: Arc<Log>) -> std::net::SocketAddr {
    let mut spec = ContractSpec::new("/", "lab").unwrap();
    let first = log.clone();
    spec.cancel_by_signal()
        .handler("first", move |call: Call, _: Box<RawValue>| {
            let log = first.clone();
            async move {
                log.push("first started".into());
                let why = call.cancelled().await;
                log.push(format!("first cancelled: {why:?}"));
                log.release.acquire().await.unwrap().forget();
                log.push("first settled".into());
                Ok(RawValue::NULL.to_owned())
            }
        })
        .unwrap();
    let second = log.clone();
    spec.handler("second", move |_: Call, _: Box<RawValue>| {
        let log = second.clone();
        async move {
            log.push("second started".into());
            Ok(RawValue::NULL.to_owned())
        }
    })
    .unwrap();
    let limits = Limits { handler_timeout: Duration::from_millis(100), ..Limits::default() };
    let app = App::builder().spec(spec).limits(limits).build().unwrap();
    let router = app.attach(axum::Router::new());
    let listener = liverpc::listen("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { app.serve(listener, router).await });
    addr
}

fn log() -> Arc<Log> {
    Arc::new(Log { lines: Mutex::default(), changed: Notify::new(), release: Semaphore::new(0) })
}

#[tokio::test]
async fn past_the_deadline_the_page_is_answered_and_the_next_call_waits_for_the_code_to_settle() {
    let log = log();
    let addr = serve(log.clone()).await;
    let page = TestClient::builder(addr).connect_namespace("/lab", Some(json!({ "path": "/" }))).await.unwrap();
    let answer = page.call("first", ()).await.unwrap_err();
    assert_eq!(answer.rejection().map(|r| r.code), Some(ErrorCode::Timeout), "{answer}");
    log.until("first cancelled: TimedOut").await;
    let second = page.call("second", ());
    let release = async {
        // The second call is sent (the future above is polled first); the first still runs.
        tokio::task::yield_now().await;
        log.release.add_permits(1);
    };
    let (second, ()) = tokio::join!(second, release);
    second.unwrap();
    assert_eq!(
        *log.lines.lock().unwrap(),
        ["first started", "first cancelled: TimedOut", "first settled", "second started"],
        "one job at a time: the second started after the first settled"
    );
}

#[tokio::test]
async fn a_closed_socket_asks_its_running_code_to_stop() {
    let log = log();
    let addr = serve(log.clone()).await;
    let page = TestClient::builder(addr).connect_namespace("/lab", Some(json!({ "path": "/" }))).await.unwrap();
    let call = page.emit_with_ack(&("first", ()));
    tokio::pin!(call);
    tokio::select! {
        _ = &mut call => panic!("no answer while the code runs"),
        () = log.until("first started") => page.close(),
    }
    log.until(&format!("first cancelled: {:?}", Cancelled::Disconnected)).await;
}
