// A single-page app: the Rust server serves index.html for every route.
export const ssr = false;
