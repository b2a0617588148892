//! The stylesheet and the live page's script, compiled into the binary.

use poem::{IntoResponse, Response, handler, http::StatusCode, web::Path};

const STYLESHEET: &str = include_str!("assets/troupe.css");
const LIVE_SCRIPT: &str = include_str!("assets/live.js");

#[handler]
pub fn serve(Path(name): Path<String>) -> Response {
    let (body, content_type) = match name.as_str() {
        "troupe.css" => (STYLESHEET, "text/css; charset=utf-8"),
        "live.js" => (LIVE_SCRIPT, "text/javascript; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    Response::builder()
        .content_type(content_type)
        // Assets change only with the binary; an hour keeps pages quick without going stale.
        .header("cache-control", "public, max-age=3600")
        .body(body)
}
