//! A session over a websocket, in one task: it reads frames, answers pings, hands packets to
//! the session, keeps its heartbeat and writes its queue, all from one `poll`.
//!
//! An idle connection holds no buffer: reads go through a scratch buffer on the stack, and
//! only the bytes of a frame that has not fully arrived are kept; a batch of queued frames is
//! encoded into one write buffer, written with as few syscalls as the socket takes, and freed.

use std::future::Future;
use std::io::IoSlice;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

use super::conn::{Connection, Reader, Stop};
use super::framing::{self, Decoder, Message};
use super::outbox::{Flow, Take};
use super::partials::Share;
use crate::future::BoxFuture;

/// Reads taken in one poll before the task yields (so one busy page cannot hog a worker).
const READS_PER_POLL: usize = 16;
/// Batches written in one poll before the task yields.
const WRITES_PER_POLL: usize = 16;
/// The stack buffer a read goes through.
const SCRATCH: usize = 8 * 1024;
/// How long the last frames and the close frame may take to leave once the session is over.
pub(super) const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// Why the connection ends, and the close frame's code (none: the socket is just dropped).
struct End {
    why: &'static str,
    close: Option<u16>,
}

impl End {
    fn abrupt(why: &'static str) -> End {
        End { why, close: None }
    }
}

/// Serves a session over a websocket until it ends. `pending` holds bytes already read from
/// the socket (after an upgrade from polling).
pub(super) fn serve<S>(io: S, session: Reader, pending: Vec<u8>) -> WebSocketTask<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // Bytes read with the upgrade's last packet are decoded before the next read.
    let undecoded = !pending.is_empty();
    let wire = Buffers {
        decoder: Decoder::new(session.config().max_frame),
        pending,
        share: None,
        undecoded,
        out: Vec::new(),
        written: 0,
    };
    WebSocketTask { io: Io::Open(io), session: Some(session), wire }
}

/// A websocket connection's task. Written out rather than `async`: the task of every idle
/// connection is exactly this, with nothing for states it is not in.
pub(super) struct WebSocketTask<S> {
    io: Io<S>,
    session: Option<Reader>,
    wire: Buffers,
}

/// The connection's socket: serving, or its last frames leaving once the session is over.
enum Io<S> {
    Open(S),
    Closing(BoxFuture<'static, ()>),
    Done,
}

impl<S> Future for WebSocketTask<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let (io, session) = match (&mut this.io, this.session.as_mut()) {
            (Io::Closing(closing), _) => return closing.as_mut().poll(cx),
            (Io::Open(io), Some(session)) => (io, session),
            _ => return Poll::Ready(()),
        };
        let end = std::task::ready!(this.wire.poll(cx, io, session));
        let conn = session.conn().clone();
        if let Some(session) = this.session.take() {
            session.end(end.why);
        }
        match (end.close, std::mem::replace(&mut this.io, Io::Done)) {
            (Some(code), Io::Open(io)) => {
                let unwritten = this.wire.out.split_off(this.wire.written);
                let mut closing: BoxFuture<'static, ()> = Box::pin(close(io, unwritten, conn, code));
                let polled = closing.as_mut().poll(cx);
                this.io = Io::Closing(closing);
                polled
            }
            _ => Poll::Ready(()),
        }
    }
}

/// Best effort: what was queued, then the close frame; a page that does not read gets
/// neither. Then the write side is shut and what the page still sends is read and dropped
/// until it closes too (or the time is up): a socket closed with unread input would answer
/// with a reset, which can reach the page before the close frame and destroy it.
async fn close<S: AsyncRead + AsyncWrite + Unpin>(mut io: S, mut out: Vec<u8>, conn: Arc<Connection>, code: u16) {
    while let Take::Frames(batch) = conn.outbox.take() {
        for frame in batch {
            framing::text_frame(&mut out, &frame);
        }
    }
    framing::close_frame(&mut out, code);
    drop(conn);
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
        io.write_all(&out).await?;
        drop(out);
        io.shutdown().await?;
        drain(&mut io).await
    })
    .await;
}

/// Reads and drops input until the end of the stream.
pub(super) async fn drain<S: AsyncRead + Unpin>(io: &mut S) -> std::io::Result<()> {
    use tokio::io::AsyncReadExt;
    let mut sink = [0u8; 1024];
    while io.read(&mut sink).await? > 0 {}
    Ok(())
}

/// The websocket's byte-level state.
struct Buffers {
    decoder: Decoder,
    /// The start of a frame that has not fully arrived (empty, unallocated, between frames).
    /// It grows with the bytes that arrive, never to the length a header declares.
    pending: Vec<u8>,
    /// This connection's part of the budget for unfinished messages (`pending` and the
    /// decoder's fragments), while it holds any.
    share: Option<Box<Share>>,
    /// `pending` holds bytes not decoded yet (read with an upgrade's `5`).
    undecoded: bool,
    /// Bytes being written, and how many of them are out.
    out: Vec<u8>,
    written: usize,
}

impl Buffers {
    fn poll<S>(&mut self, cx: &mut Context<'_>, io: &mut S, session: &mut Reader) -> Poll<End>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        session.conn().outbox.session.register(cx.waker());
        // A slow reader (or a stopped session) is dropped at once, with no close frame to wait on.
        if session.conn().outbox.flow() == Flow::Aborted {
            return Poll::Ready(End::abrupt("the connection was stopped (a slow reader)"));
        }
        if std::mem::take(&mut self.undecoded)
            && let Err(end) = self.decode_pending(session)
        {
            return Poll::Ready(end);
        }
        // Still busy after its share of reads: the task yields and is polled again.
        let mut busy = true;
        for _ in 0..READS_PER_POLL {
            match self.poll_read(cx, io, session) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(end)) => return Poll::Ready(end),
                Poll::Pending => {
                    busy = false;
                    break;
                }
            }
        }
        if let Poll::Ready(why) = session.poll(cx) {
            return Poll::Ready(End { why, close: Some(1000) });
        }
        match self.poll_write(cx, io, session) {
            Poll::Ready(Ok(more)) => busy |= more,
            Poll::Ready(Err(end)) => return Poll::Ready(end),
            Poll::Pending => {}
        }
        if busy {
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }

    /// One read, and every frame it completes.
    fn poll_read<S>(&mut self, cx: &mut Context<'_>, io: &mut S, session: &mut Reader) -> Poll<Result<(), End>>
    where
        S: AsyncRead + Unpin,
    {
        let mut scratch = [MaybeUninit::<u8>::uninit(); SCRATCH];
        let mut buf = ReadBuf::uninit(&mut scratch);
        match Pin::new(io).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(_)) => return Poll::Ready(Err(End::abrupt("a read failed"))),
            Poll::Pending => return Poll::Pending,
        }
        let input = buf.filled_mut();
        if input.is_empty() {
            return Poll::Ready(Err(End::abrupt("the page closed the connection")));
        }
        if self.pending.is_empty() {
            // The common case: whole frames straight from the stack; only a cut frame's start is
            // kept, in a buffer of its size so far.
            let used = self.frames(input, session)?;
            self.pending.extend_from_slice(&input[used..]);
        } else {
            self.append(input);
            self.decode_pending(session)?;
        }
        Poll::Ready(self.account(session))
    }

    /// Appends newly read bytes to the frame under way. Its buffer grows with what arrived
    /// (doubling, so a large frame is not copied for every read), never past the length its
    /// header declares: a page that declares 128 KiB and sends 14 bytes holds 14 bytes.
    fn append(&mut self, input: &[u8]) {
        let len = self.pending.len() + input.len();
        if len > self.pending.capacity() {
            let declared = Decoder::frame_len(&self.pending).unwrap_or(len);
            let target = len.max(self.pending.len().saturating_mul(2).min(declared));
            self.pending.reserve_exact(target - self.pending.len());
        }
        self.pending.extend_from_slice(input);
    }

    /// Decodes the frames `pending` completes; keeps what remains of it.
    fn decode_pending(&mut self, session: &mut Reader) -> Result<(), End> {
        let mut pending = std::mem::take(&mut self.pending);
        let used = self.frames(&mut pending, session)?;
        if used == pending.len() {
            // A buffer is kept only while a frame is under way.
            return self.account(session);
        }
        // The next frame's start, in a buffer of its own size (the one of a large frame that
        // just completed goes).
        self.pending = if used > 0 { pending[used..].to_vec() } else { pending };
        self.account(session)
    }

    /// Records what this connection holds for unfinished messages in the shared budget: a
    /// share is taken with the first bytes held and given back with the last.
    fn account(&mut self, session: &Reader) -> Result<(), End> {
        let held = self.pending.capacity() + self.decoder.buffered();
        if held == 0 && self.share.is_none() {
            return Ok(());
        }
        let share =
            self.share.get_or_insert_with(|| Box::new(Share::new(session.config().partials.clone(), session.conn())));
        let recorded = share.set(held);
        if held == 0 {
            self.share = None;
        }
        recorded.map_err(|e| End { why: over_budget(e), close: Some(1013) })
    }

    /// Handles every whole frame at the start of `input`; returns the bytes they took.
    fn frames(&mut self, input: &mut [u8], session: &mut Reader) -> Result<usize, End> {
        let mut at = 0;
        loop {
            let decoded = self.decoder.decode(&mut input[at..]);
            let (message, used) = match decoded {
                Ok(Some(frame)) => frame,
                Ok(None) => return Ok(at),
                Err(e) => {
                    tracing::debug!("{e}");
                    return Err(End { why: "a websocket protocol error", close: Some(e.code()) });
                }
            };
            match message {
                None | Some(Message::Pong) => {}
                Some(Message::Text(text)) => {
                    session.text(&text).map_err(|stop| End {
                        why: stop.why(),
                        close: Some(if stop == Stop::Closed { 1000 } else { 1008 }),
                    })?;
                }
                Some(Message::Binary) => {
                    return Err(End { why: "a binary frame (liverpc payloads are JSON)", close: Some(1003) });
                }
                Some(Message::Ping(payload)) => {
                    // Pongs wait in the write buffer like any frame: a page that pings and never
                    // reads is a slow reader, under the same bound.
                    if self.out.len() - self.written + payload.len() > session.config().max_bytes {
                        return Err(End::abrupt("pings from a page that does not read"));
                    }
                    framing::pong_frame(&mut self.out, payload);
                }
                Some(Message::Close(_)) => {
                    return Err(End { why: "the page closed the connection", close: Some(1000) });
                }
            }
            at += used;
        }
    }

    /// Writes what is queued; `Ok(true)` when there may be more to write at once.
    fn poll_write<S>(&mut self, cx: &mut Context<'_>, io: &mut S, session: &Reader) -> Poll<Result<bool, End>>
    where
        S: AsyncWrite + Unpin,
    {
        let outbox = &session.conn().outbox;
        for _ in 0..WRITES_PER_POLL {
            if self.written == self.out.len() {
                self.out.clear();
                self.written = 0;
                match outbox.take() {
                    Take::Frames(batch) => {
                        if let Some(frame) = batch.single().filter(|_| io.is_write_vectored()) {
                            match write_one(cx, io, frame, &mut self.out) {
                                Poll::Ready(Ok(())) => continue,
                                Poll::Ready(Err(end)) => return Poll::Ready(Err(end)),
                                Poll::Pending => return Poll::Pending,
                            }
                        }
                        self.out.reserve(batch.iter().map(|f| f.len() + 10).sum());
                        for frame in batch {
                            framing::text_frame(&mut self.out, &frame);
                        }
                    }
                    Take::Empty => {
                        // Nothing to write: the buffer goes (it is taken anew for each batch).
                        self.out = Vec::new();
                        return match Pin::new(io).poll_flush(cx) {
                            Poll::Ready(Err(_)) => Poll::Ready(Err(End::abrupt("a write failed"))),
                            _ => Poll::Ready(Ok(false)),
                        };
                    }
                    Take::Closed => return Poll::Ready(Err(End { why: "the session closed", close: Some(1000) })),
                    Take::Aborted => {
                        return Poll::Ready(Err(End::abrupt("the connection was stopped (a slow reader)")));
                    }
                }
            }
            while self.written < self.out.len() {
                match Pin::new(&mut *io).poll_write(cx, &self.out[self.written..]) {
                    Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => {
                        return Poll::Ready(Err(End::abrupt("a write failed")));
                    }
                    Poll::Ready(Ok(n)) => self.written += n,
                    // A slow reader: the queue keeps filling until its bound drops it.
                    Poll::Pending => return Poll::Pending,
                }
            }
        }
        Poll::Ready(Ok(true))
    }
}

/// Writes a batch of one frame straight from its shared bytes, header beside it: no write
/// buffer. What the socket does not take at once is put in `out` (empty when called), to be
/// written from there; `Pending` when it took nothing.
fn write_one<S>(cx: &mut Context<'_>, io: &mut S, frame: &[u8], out: &mut Vec<u8>) -> Poll<Result<(), End>>
where
    S: AsyncWrite + Unpin,
{
    let (head, len) = framing::text_header(frame.len());
    let head = &head[..len];
    let written = match Pin::new(&mut *io).poll_write_vectored(cx, &[IoSlice::new(head), IoSlice::new(frame)]) {
        Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => return Poll::Ready(Err(End::abrupt("a write failed"))),
        Poll::Ready(Ok(n)) => n,
        // A slow reader: the queue keeps filling until its bound drops it.
        Poll::Pending => 0,
    };
    if written >= head.len() + frame.len() {
        return Poll::Ready(Ok(()));
    }
    let (head_left, frame_left) =
        if written < head.len() { (&head[written..], frame) } else { (&[][..], &frame[written - head.len()..]) };
    out.reserve_exact(head_left.len() + frame_left.len());
    out.extend_from_slice(head_left);
    out.extend_from_slice(frame_left);
    // Nothing taken: the pending write registered the task's waker.
    if written == 0 { Poll::Pending } else { Poll::Ready(Ok(())) }
}

fn over_budget(_: super::partials::OverBudget) -> &'static str {
    "unfinished websocket messages over their budget: this connection held the most"
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A vectored writer that takes at most `limit` bytes per write, or nothing (`Pending`)
    /// when `limit` is 0.
    struct Short {
        limit: usize,
        taken: Vec<u8>,
    }

    impl AsyncWrite for Short {
        fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
            self.poll_write_vectored(cx, &[IoSlice::new(buf)])
        }

        fn poll_write_vectored(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<std::io::Result<usize>> {
            let this = self.get_mut();
            if this.limit == 0 {
                return Poll::Pending;
            }
            let before = this.taken.len();
            for buf in bufs {
                let room = this.limit - (this.taken.len() - before);
                this.taken.extend_from_slice(&buf[..buf.len().min(room)]);
            }
            Poll::Ready(Ok(this.taken.len() - before))
        }

        fn is_write_vectored(&self) -> bool {
            true
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn a_single_frame_cut_anywhere_by_a_short_write_keeps_every_byte_in_order() {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        for payload in [vec![b'a'; 5], vec![b'b'; 300], vec![b'c'; 70_000]] {
            let mut whole = Vec::new();
            framing::text_frame(&mut whole, &payload);
            for limit in [0, 1, 2, 3, 4, 5, 9, 11, 299, 303, whole.len() - 1, whole.len(), whole.len() + 8] {
                let mut io = Short { limit, taken: Vec::new() };
                let mut out = Vec::new();
                let polled = write_one(&mut cx, &mut io, &payload, &mut out);
                assert_eq!(polled.is_pending(), limit == 0, "limit {limit}");
                assert_eq!(out.is_empty(), limit >= whole.len(), "nothing is left over when all was taken");
                io.taken.extend_from_slice(&out);
                assert!(
                    io.taken == whole,
                    "{} bytes, limit {limit}: written then left over is the frame",
                    payload.len()
                );
            }
        }
    }
}
