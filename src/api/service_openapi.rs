//! The service's own OpenAPI 3 document, generated from the handlers and the types they answer
//! with (`GET /openapi.json`).

use std::collections::BTreeMap;

use actix_web::HttpResponse;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, OpenApi as OpenApiDocument, Ref, RefOr, Response, ResponseBuilder,
};
use utoipa::{IntoResponses, Modify, OpenApi};

use crate::http::error::ApiError;

use super::{actor_openapi, actors, builds, key_value_stores, logs, users, versions};

/// The error answers every operation may give, each an `ErrorBody`: one response a status, made
/// from `ApiError::ALL`, its description naming each `type` of that status and what it means.
pub struct ApiErrors;

impl IntoResponses for ApiErrors {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        let mut by_status: BTreeMap<u16, Vec<String>> = BTreeMap::new();
        for kind in ApiError::ALL {
            by_status
                .entry(kind.status.as_u16())
                .or_default()
                .push(format!("{}: {}", kind.error_type, kind.description));
        }
        by_status
            .into_iter()
            .map(|(status, kinds)| {
                let content = ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build();
                let response = ResponseBuilder::new()
                    .description(kinds.join("; "))
                    .content("application/json", content)
                    .build();
                (status.to_string(), RefOr::T(response))
            })
            .collect()
    }
}

struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, doc: &mut OpenApiDocument) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "actor-builds", description = "Apify API v2 for Actors, versions, builds, logs and key-value stores"),
    paths(
        users::me, users::get,
        actors::list, actors::create, actors::get, actors::update, actors::delete,
        versions::list, versions::create, versions::get, versions::update, versions::delete,
        builds::create, builds::list_for_actor, builds::get_default, builds::get_of_actor, builds::abort_of_actor,
        builds::list_for_user, builds::get, builds::delete, builds::abort,
        logs::get, actor_openapi::of_build, actor_openapi::of_actor_build,
        key_value_stores::get_or_create, key_value_stores::get, key_value_stores::put_record,
        key_value_stores::get_record, key_value_stores::delete_record,
    ),
    components(schemas(super::models::ErrorBody)),
    modifiers(&BearerToken),
    security(("token" = [])),
)]
struct ApiDoc;

/// The document, with the routes that share a handler: `/v2/acts/...` for every
/// `/v2/actors/...`, `/v2/logs/{buildId}` for the build log, POST on a version as PUT.
pub fn document() -> OpenApiDocument {
    let mut doc = ApiDoc::openapi();
    let paths = &mut doc.paths.paths;
    let renamed = |op: &mut Operation, suffix: &str| {
        op.operation_id = op.operation_id.take().map(|id| format!("{id}_{suffix}"));
    };
    if let Some(mut item) = paths
        .get("/v2/actors/{actorId}/versions/{versionNumber}")
        .cloned()
    {
        if let Some(mut put) = item.put.clone() {
            renamed(&mut put, "post");
            item.post = Some(put);
        }
        paths.insert("/v2/actors/{actorId}/versions/{versionNumber}".into(), item);
    }
    if let Some(mut item) = paths.get("/v2/actor-builds/{buildId}/log").cloned() {
        for op in [&mut item.get].into_iter().flatten() {
            renamed(op, "logs");
        }
        paths.insert("/v2/logs/{buildId}".into(), item);
    }
    if let Some(item) = paths.get_mut("/v2/key-value-stores/{storeId}/records/{key}") {
        if let Some(mut head) = item.get.clone() {
            renamed(&mut head, "head");
            item.head = Some(head);
        }
    }
    let legacy: Vec<(String, _)> = paths
        .iter()
        .filter_map(|(path, item)| {
            let rest = path.strip_prefix("/v2/actors")?;
            let mut item = item.clone();
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                renamed(op, "acts");
                op.deprecated = Some(utoipa::openapi::Deprecated::True);
            }
            Some((format!("/v2/acts{rest}"), item))
        })
        .collect();
    paths.extend(legacy);
    doc
}

/// `GET /openapi.json`
pub async fn get() -> HttpResponse {
    crate::http::respond::raw_json(&document())
}
