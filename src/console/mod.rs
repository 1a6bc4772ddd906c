//! The web console under `/console`: server-rendered pages (maud) for builds and Actors, a little
//! plain JavaScript for the live parts (server-sent events), and its static files, all served by
//! this binary. Pages take a session cookie, never a token in the URL; see `session` for the
//! cookie and CSRF design, and `live` for the live updates.

mod error;
mod handlers;
mod live;
mod session;
mod views;

use std::sync::LazyLock;

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};
use maud::Markup;
use sha2::{Digest, Sha256};

pub use error::ConsoleError;

/// The console's addresses.
pub mod paths {
    pub const SIGN_IN: &str = "/console/sign-in";
    pub const SIGN_OUT: &str = "/console/sign-out";
    pub const BUILDS: &str = "/console/builds";
    pub const ACTORS: &str = "/console/actors";
    pub const LIVE_BUILDS: &str = "/console/live/builds";
    pub const STATIC: &str = "/console/static";

    pub fn build(id: &str) -> String {
        format!("{BUILDS}/{id}")
    }

    pub fn build_log(id: &str) -> String {
        format!("{BUILDS}/{id}/log")
    }

    pub fn abort(id: &str) -> String {
        format!("{BUILDS}/{id}/abort")
    }

    pub fn live_build(id: &str) -> String {
        format!("{LIVE_BUILDS}/{id}")
    }

    pub fn actor(id: &str) -> String {
        format!("{ACTORS}/{id}")
    }

    pub fn start_build(actor_id: &str) -> String {
        format!("{ACTORS}/{actor_id}/builds")
    }
}

/// Everything a console page may load comes from this binary; no inline script or style.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// An HTML page with the console's security headers; pages are never cached.
pub fn html(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .body(markup.into_string())
}

/// `303 See Other` to a console address.
pub fn redirect(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: [Asset; 3] = [
    Asset {
        name: "console.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("assets/console.css"),
    },
    Asset {
        name: "console.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("assets/console.js"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("assets/favicon.svg"),
    },
];

/// A short hash of all the assets: their URLs change when they do, so they can be cached long.
static ASSETS_VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut hash = Sha256::new();
    for asset in &ASSETS {
        hash.update(asset.body);
    }
    hex::encode(&hash.finalize()[..6])
});

pub fn asset_url(name: &str) -> String {
    format!("{}/{name}?v={}", paths::STATIC, *ASSETS_VERSION)
}

/// `GET /console/static/{name}`
async fn asset(path: web::Path<String>) -> Result<HttpResponse, ConsoleError> {
    let asset = ASSETS
        .iter()
        .find(|a| a.name == path.as_str())
        .ok_or(ConsoleError::PageNotFound)?;
    Ok(HttpResponse::Ok()
        .content_type(asset.content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(asset.body))
}

/// A console resource whose other methods answer a readable 405 page.
fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(handlers::method_not_allowed))
}

/// The console's routes, to be mounted under `/console`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("").get(handlers::root))
        .service(resource("/").get(handlers::root))
        .service(
            resource("/sign-in")
                .get(handlers::sign_in_form)
                .post(handlers::sign_in),
        )
        .service(resource("/sign-out").post(handlers::sign_out))
        .service(resource("/static/{name}").get(asset))
        .service(resource("/builds").get(handlers::builds_list))
        .service(resource("/builds/{id}").get(handlers::build_page))
        .service(resource("/builds/{id}/log").get(handlers::build_log))
        .service(resource("/builds/{id}/abort").post(handlers::abort))
        .service(resource("/actors").get(handlers::actors_list))
        .service(resource("/actors/{actor}").get(handlers::actor_page))
        .service(resource("/actors/{actor}/builds").post(handlers::start_build))
        .service(resource("/live/builds").get(live::builds))
        .service(resource("/live/builds/{id}").get(live::build))
        .default_service(web::to(handlers::not_found));
}
