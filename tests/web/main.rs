//! The web page in a real browser: the real `swapmesh` binary, headless
//! Chromium driven through chromedriver (Debian `chromium`, `chromium-driver`).
//! Without them the tests are skipped, except under `CI=true`, where they fail.
//! One test at a time; screenshots go to `$SWAPMESH_SCREENSHOTS` or
//! `target/screenshots/`.

#[allow(dead_code)]
#[path = "../cli/kit.rs"]
mod kit;

#[allow(dead_code)]
#[path = "../cli/http.rs"]
mod http;

mod browser;

mod access;
mod agreement_edges;
mod browse;
mod forms;
mod hostile;
mod live;
mod rental;
mod sign_in;
