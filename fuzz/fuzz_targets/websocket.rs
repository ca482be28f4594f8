//! Arbitrary bytes from a page's socket through the server's WebSocket framing, fed in reads
//! of every size the first byte picks: frames, fragments, control frames, masks, lengths.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some((&cut, bytes)) = data.split_first() {
        liverpc::__fuzz::websocket_frames(bytes, usize::from(cut));
    }
});
