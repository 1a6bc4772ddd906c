//! The `/v2` face (and `/health`, `/ready`, `/openapi.json`): the route table; handlers parse
//! the request, call the service or storage, and answer.

mod actor_openapi;
mod actors;
mod builds;
mod key_value_stores;
mod logs;
pub mod models;
pub mod params;
pub(crate) mod service;
mod service_openapi;
mod users;
mod versions;

use actix_web::{web, HttpResponse};

use crate::http::error::ApiError;

/// A resource whose unknown methods answer 405 `method-not-allowed`.
fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(|| async {
        Err::<HttpResponse, _>(ApiError::MethodNotAllowed)
    }))
}

/// Routes of an Actor, mounted under both `/v2/actors` and the legacy `/v2/acts`.
fn actor_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("").get(actors::list).post(actors::create))
        .service(
            resource("/{actorId}")
                .get(actors::get)
                .put(actors::update)
                .delete(actors::delete),
        )
        .service(
            resource("/{actorId}/versions")
                .get(versions::list)
                .post(versions::create),
        )
        .service(
            resource("/{actorId}/versions/{versionNumber}")
                .get(versions::get)
                .put(versions::update)
                .post(versions::update)
                .delete(versions::delete),
        )
        .service(
            resource("/{actorId}/builds")
                .get(builds::list_for_actor)
                .post(builds::create),
        )
        .service(resource("/{actorId}/builds/default").get(builds::get_default))
        .service(resource("/{actorId}/builds/{buildId}").get(builds::get_of_actor))
        .service(
            resource("/{actorId}/builds/{buildId}/openapi.json").get(actor_openapi::of_actor_build),
        )
        .service(resource("/{actorId}/builds/{buildId}/abort").post(builds::abort_of_actor));
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/health").get(service::health))
        .service(resource("/ready").get(service::ready))
        .service(resource("/openapi.json").get(service_openapi::get))
        .service(resource("/v2/users/me").get(users::me))
        .service(resource("/v2/users/{userId}").get(users::get))
        .service(web::scope("/v2/actors").configure(actor_routes))
        .service(web::scope("/v2/acts").configure(actor_routes))
        .service(resource("/v2/actor-builds").get(builds::list_for_user))
        .service(
            resource("/v2/actor-builds/{buildId}")
                .get(builds::get)
                .delete(builds::delete),
        )
        .service(resource("/v2/actor-builds/{buildId}/abort").post(builds::abort))
        .service(resource("/v2/actor-builds/{buildId}/log").get(logs::get))
        .service(resource("/v2/actor-builds/{buildId}/openapi.json").get(actor_openapi::of_build))
        .service(resource("/v2/logs/{buildId}").get(logs::get))
        .service(resource("/v2/key-value-stores").post(key_value_stores::get_or_create))
        .service(resource("/v2/key-value-stores/{storeId}").get(key_value_stores::get))
        .service(
            resource("/v2/key-value-stores/{storeId}/records/{key}")
                .get(key_value_stores::get_record)
                .head(key_value_stores::get_record)
                .put(key_value_stores::put_record)
                .delete(key_value_stores::delete_record),
        );
}

pub async fn page_not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::PageNotFound)
}
