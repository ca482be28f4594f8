//! Arbitrary bytes as an event's argument array (`["event", arg0, ...]`), through the server's
//! payload path: first-argument extraction, payload decoding and validation, join requests.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    liverpc::__fuzz::event_arguments(data);
});
