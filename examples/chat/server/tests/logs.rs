//! Payloads never reach the logs, whatever the level: the example server run at
//! `RUST_LOG=trace` relays a message whose text is a marker, and the marker appears nowhere in
//! what it printed (tungstenite logs every frame at TRACE through the `log` crate, which the
//! server does not bridge).

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::mpsc;

use liverpc::testing::TestClient;
use serde_json::json;

#[tokio::test]
async fn a_payload_never_reaches_the_logs_at_trace_level() {
    let data = std::env::temp_dir().join(format!("chat-logs-{}", std::process::id()));
    let mut server = Command::new(env!("CARGO_BIN_EXE_chat-server"))
        .args(["--addr", "127.0.0.1:0", "--data"])
        .arg(&data)
        // No web app there: the server warns, which shows the capture sees its logs.
        .arg("--web")
        .arg(data.join("no-web"))
        .env("RUST_LOG", "trace")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the example server starts");
    let mut stderr = server.stderr.take().expect("piped");
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let (lines, printed) = mpsc::channel::<String>();
    let stdout = server.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let mut output = Vec::new();
    let addr = loop {
        let line = printed.recv().expect("the server prints its address");
        output.push(line.clone());
        if let Some(addr) = line.strip_prefix("chat demo on http://") {
            break addr.parse().expect("an address");
        }
    };

    let marker = format!("MARKER-{}-payload", std::process::id());
    let auth = json!({ "path": "/rooms/general" });
    let page = TestClient::builder(addr).connect_namespace("/rooms/[roomId]/chat", Some(auth)).await.expect("connects");
    page.call("send", json!({ "text": marker })).await.expect("sent");
    loop {
        let (event, data) = page.recv().await.expect("the message comes back");
        if event == "message" {
            assert_eq!(data["text"], json!(marker), "the server relayed it");
            break;
        }
    }
    page.close();
    let _ = server.kill();
    let _ = server.wait();
    reader.join().expect("reader");
    output.extend(printed.try_iter());
    let text = output.join("\n") + &errors.join().expect("stderr reader");
    assert!(text.contains("WARN chat_server: no built web app"), "the capture sees the logs:\n{text}");
    assert!(!text.contains(&marker), "a payload reached the logs:\n{text}");
    let _ = std::fs::remove_dir_all(data);
}
