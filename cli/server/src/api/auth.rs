//! The bearer-token guard of `/api` and the dashboard, when a token is
//! configured. A request passes with `Authorization: Bearer TOKEN` or the
//! cookie `osprey_token=TOKEN`; a browser gets that cookie by opening
//! `/?token=TOKEN` once (it is sent back to the same path without the
//! token, so the page and its `EventSource`, which cannot set headers,
//! carry the cookie instead). Tokens are compared in constant time and
//! never written anywhere.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;

/// The cookie that carries the token.
const COOKIE: &str = "osprey_token";

/// Middleware: passes requests that carry `token`, refuses the others
/// with 401.
pub(crate) async fn require_token(
    State(token): State<Arc<str>>,
    request: Request,
    next: Next,
) -> Response {
    if carries(request.headers(), &token) {
        return next.run(request).await;
    }
    if request.method() == Method::GET
        && let Some(query) = request.uri().query()
        && query_token(query).is_some_and(|t| same(t.as_bytes(), token.as_bytes()))
    {
        return remember(request.uri().path(), &token);
    }
    let mut refusal = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "this server wants a bearer token (Authorization: Bearer TOKEN)",
    )
    .into_response();
    refusal
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    refusal
}

/// True when the headers carry `token` as a bearer token or the cookie.
fn carries(headers: &HeaderMap, token: &str) -> bool {
    let bearer = headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .filter_map(|v| v.to_str().ok()?.strip_prefix("Bearer "));
    let cookies = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix(COOKIE)?.strip_prefix('='));
    bearer
        .chain(cookies)
        .any(|t| same(t.trim().as_bytes(), token.as_bytes()))
}

/// The value of `token=` in a query string, if any.
fn query_token(query: &str) -> Option<&str> {
    query.split('&').find_map(|p| p.strip_prefix("token="))
}

/// 303 to `path` (the token dropped from the address), setting the
/// cookie.
fn remember(path: &str, token: &str) -> Response {
    let cookie = format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict");
    match (HeaderValue::from_str(&cookie), HeaderValue::from_str(path)) {
        (Ok(cookie), Ok(location)) => (
            StatusCode::SEE_OTHER,
            [(header::SET_COOKIE, cookie), (header::LOCATION, location)],
        )
            .into_response(),
        _ => ApiError::bad_request("the token cannot go in a cookie").into_response(),
    }
}

/// `a == b`, in a time that depends on their lengths only.
fn same(a: &[u8], b: &[u8]) -> bool {
    let diff = a
        .iter()
        .zip(b)
        .fold(0u8, |acc, (x, y)| std::hint::black_box(acc | (x ^ y)));
    a.len() == b.len() && diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_whole_tokens() {
        assert!(same(b"s3cret", b"s3cret"));
        assert!(!same(b"s3cret", b"s3creT"));
        assert!(!same(b"s3cret", b"s3cre"));
        assert!(!same(b"", b"x"));
    }

    #[test]
    fn reads_bearer_and_cookie() {
        let mut h = HeaderMap::new();
        assert!(!carries(&h, "t0k"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer t0k"),
        );
        assert!(carries(&h, "t0k"));
        assert!(!carries(&h, "t0"));
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; osprey_token=t0k"),
        );
        assert!(carries(&h, "t0k"));
        assert_eq!(query_token("x=1&token=t0k"), Some("t0k"));
        assert_eq!(query_token("x=1"), None);
    }
}
