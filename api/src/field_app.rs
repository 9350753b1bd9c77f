//! The field app at `/app/`: the surveyor's offline-first web app, served by the same binary
//! as the API it talks to. Plain ES modules with no build step, compiled into the binary; a
//! service worker keeps the shell for offline use, and its cache is named by a digest of the
//! files, so a new release replaces the old shell the first time the phone is online.

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use sha2::{Digest, Sha256};

/// The shell's files: (name under `/app/`, media type, contents).
const FILES: [(&str, &str, &str); 12] = [
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../static/app/index.html"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../static/app/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../static/app/app.js"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_str!("../static/app/api.js"),
    ),
    (
        "store.js",
        "text/javascript; charset=utf-8",
        include_str!("../static/app/store.js"),
    ),
    (
        "jcs.js",
        "text/javascript; charset=utf-8",
        include_str!("../static/app/jcs.js"),
    ),
    (
        "keys.js",
        "text/javascript; charset=utf-8",
        include_str!("../static/app/keys.js"),
    ),
    (
        "form.js",
        "text/javascript; charset=utf-8",
        include_str!("../static/app/form.js"),
    ),
    (
        "outbox.js",
        "text/javascript; charset=utf-8",
        include_str!("../static/app/outbox.js"),
    ),
    (
        "tus.js",
        "text/javascript; charset=utf-8",
        include_str!("../static/app/tus.js"),
    ),
    (
        "manifest.webmanifest",
        "application/manifest+json",
        include_str!("../static/app/manifest.webmanifest"),
    ),
    (
        "icon.svg",
        "image/svg+xml",
        include_str!("../static/app/icon.svg"),
    ),
];

const SERVICE_WORKER: &str = include_str!("../static/app/sw.js");

/// The page may talk only to this origin; photos are shown from `blob:` URLs of the phone's own
/// copies.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; \
                   connect-src 'self'; worker-src 'self'; manifest-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// The release of the shell: a digest of every file, the service worker's cache name.
static RELEASE: LazyLock<String> = LazyLock::new(|| {
    let mut h = Sha256::new();
    for (name, _, body) in FILES {
        h.update(name.as_bytes());
        h.update([0]);
        h.update(body.as_bytes());
    }
    h.update(SERVICE_WORKER.as_bytes());
    hex::encode(&h.finalize()[..8])
});

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/app", web::get().to(to_shell))
        .route("/app/", web::get().to(shell))
        .route("/app/sw.js", web::get().to(service_worker))
        .route("/app/{file}", web::get().to(file));
}

fn respond(content_type: &str, cache: &str, body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type.to_owned())
        .insert_header((header::CACHE_CONTROL, cache.to_owned()))
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .body(body)
}

async fn to_shell() -> HttpResponse {
    HttpResponse::MovedPermanently()
        .insert_header((header::LOCATION, "/app/"))
        .finish()
}

async fn shell() -> HttpResponse {
    let (_, ctype, body) = FILES[0];
    respond(ctype, "no-cache", body.to_owned())
}

/// The worker names its cache by the release, and is never cached by HTTP: the browser checks
/// it on every visit and installs a new one when the shell changed.
async fn service_worker() -> HttpResponse {
    let body = SERVICE_WORKER.replace("__RELEASE__", &RELEASE);
    respond("text/javascript; charset=utf-8", "no-cache", body)
}

async fn file(name: web::Path<String>) -> HttpResponse {
    match FILES.iter().find(|(n, _, _)| *n == name.as_str()) {
        Some((_, ctype, body)) => respond(ctype, "no-cache", (*body).to_owned()),
        None => HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("没有这个文件"),
    }
}
