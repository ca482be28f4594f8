//! Generates the napi registration glue (the addon's exports) at build time.
fn main() {
    napi_build::setup();
}
