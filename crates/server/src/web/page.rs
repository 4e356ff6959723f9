//! The page frame shared by the sign-in portal pages.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use crate::mail::escape_html;

/// A complete page: `body` is trusted HTML built with [`escape_html`] for every interpolated value.
pub fn render(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{title} · Skybridge</title>\n\
         <link rel=\"icon\" type=\"image/svg+xml\" href=\"{icon}\">\n\
         <style>{STYLE}</style>\n</head>\n<body>\n<main>\n<h1>{title}</h1>\n{body}\n</main>\n</body>\n</html>\n",
        title = escape_html(title),
        icon = super::icon::DATA_URI.as_str(),
    );
    let mut resp = (status, Html(html)).into_response();
    let h = resp.headers_mut();
    // The pages carry secrets in their URLs and forms: never cache them, never frame them, never leak them.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // No `form-action` here: the provider's own pages (sign-out confirmation) post forms that end in a
    // redirect to a registered application, which browsers check against it. The portal's layer adds it.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    resp
}

/// The portal's Content-Security-Policy: the console's rules (forms only back to us, no `<base>`, never
/// framed) with the inline style of these pages.
const PORTAL_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; \
    frame-ancestors 'none'; base-uri 'none'";

/// A further target the forms of a portal page may lead to: the registered redirect URI of the application
/// a sign-in returns to. Browsers check `form-action` against every redirect that follows a form's
/// submission, and a sign-in ends by redirecting to the application.
#[derive(Debug, Clone)]
pub struct FormTarget(pub String);

/// The headers of every `/auth/*` response, pages and redirects alike (the console's policy, see
/// `console::secure`).
pub async fn portal_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let target = resp.extensions_mut().remove::<FormTarget>();
    let csp = match target {
        Some(FormTarget(source)) => HeaderValue::from_str(&PORTAL_CSP.replace(
            "form-action 'self'",
            &format!("form-action 'self' {source}"),
        ))
        .unwrap_or_else(|_| HeaderValue::from_static(PORTAL_CSP)),
        None => HeaderValue::from_static(PORTAL_CSP),
    };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, csp);
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    if !h.contains_key(header::REFERRER_POLICY) {
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
    resp
}

/// An error message announced to assistive technology.
pub fn alert(message: &str) -> String {
    format!(
        "<p role=\"alert\" class=\"error\">{}</p>",
        escape_html(message)
    )
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#f4f6f8;margin:0}\
main{max-width:26rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002}\
label{display:block;margin-top:1rem;font-weight:600}input{width:100%;box-sizing:border-box;padding:.6rem;margin-top:.3rem;font-size:1rem}\
button{margin-top:1.5rem;padding:.7rem 1.4rem;font-size:1rem;background:#0b5cad;color:#fff;border:0;border-radius:4px}\
button:focus,input:focus{outline:3px solid #f5a623}.error{color:#a4000f}.hint{color:#555;font-size:.9rem}";
