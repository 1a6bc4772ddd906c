//! The OpenAPI document of a build: how to run the built Actor through the Apify API.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

#[allow(unused_imports)] // Named only in the OpenAPI attributes.
use super::models::*;
use super::service_openapi::ApiErrors;
use crate::domain::ActorRef;
use crate::http::error::ApiError;
use crate::http::extract::MaybeCaller;
use crate::state::AppState;
use crate::storage::actors::{self, ActorRecord};
use crate::storage::builds::{self, BuildRecord};
use crate::storage::users::User;

/// `GET /v2/actor-builds/{buildId}/openapi.json` (no token needed: build ids are unguessable)
#[utoipa::path(
    operation_id = "openapi_of_build",
    get,
    path = "/v2/actor-builds/{buildId}/openapi.json",
    tag = "builds",
    params(
        ("buildId" = String, Path, description = "The build's id")
    ),
    responses(
        (status = 200, description = "An OpenAPI document for running the built Actor", body = Object),
        ApiErrors
    )
)]
pub async fn of_build(
    state: web::Data<AppState>,
    MaybeCaller(user): MaybeCaller,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let build = match &user {
        Some(user) => builds::get_for_user(&state.pool, &path, &user.id).await?,
        None => builds::get(&state.pool, &path).await?,
    }
    .ok_or(ApiError::NotFound("Build"))?;
    let actor = actors::find_any(&state.pool, &ActorRef::Id(build.act_id.to_string()))
        .await?
        .ok_or(ApiError::NotFound("Actor"))?;
    Ok(answer(&req, &actor, &build))
}

/// `GET /v2/actors/{actorId}/builds/{buildId}/openapi.json`; `buildId` may be `default`.
#[utoipa::path(
    operation_id = "openapi_of_actor_build",
    get,
    path = "/v2/actors/{actorId}/builds/{buildId}/openapi.json",
    tag = "builds",
    params(
        ("actorId" = String, Path, description = "The Actor's id, `username~name` or `~name`"),
        ("buildId" = String, Path, description = "The build's id, or `default`")
    ),
    responses(
        (status = 200, description = "An OpenAPI document for running the built Actor", body = Object),
        ApiErrors
    )
)]
pub async fn of_actor_build(
    state: web::Data<AppState>,
    MaybeCaller(user): MaybeCaller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (actor_id, build_id) = path.into_inner();
    let actor_ref = ActorRef::parse(&actor_id).ok_or(ApiError::NotFound("Actor"))?;
    let actor = visible_actor(&state, user.as_ref(), &actor_ref)
        .await?
        .ok_or(ApiError::NotFound("Actor"))?;
    let build = if build_id == "default" {
        crate::service::builds::default_of(&state.pool, &actor).await?
    } else {
        builds::get(&state.pool, &build_id)
            .await?
            .filter(|b| b.act_id == actor.id)
    }
    .ok_or(ApiError::NotFound("Build"))?;
    Ok(answer(&req, &actor, &build))
}

/// The Actor that `actor_ref` names, if the caller may see it: their own; anyone's public Actor;
/// without a token, also a private Actor named by its (unguessable) id, as Apify answers. A
/// private Actor named `username~name` is, for anyone but its owner, as absent as one that is not.
async fn visible_actor(
    state: &AppState,
    user: Option<&User>,
    actor_ref: &ActorRef,
) -> Result<Option<ActorRecord>, ApiError> {
    if let Some(user) = user {
        if let Some(own) = actors::find(&state.pool, &user.id, &user.username, actor_ref).await? {
            return Ok(Some(own));
        }
    }
    let by_id = matches!(actor_ref, ActorRef::Id(_));
    Ok(actors::find_any(&state.pool, actor_ref)
        .await?
        .filter(|a| a.is_public || (by_id && user.is_none())))
}

fn answer(req: &HttpRequest, actor: &ActorRecord, build: &BuildRecord) -> HttpResponse {
    let connection = req.connection_info();
    let server = format!("{}://{}/v2", connection.scheme(), connection.host());
    HttpResponse::Ok()
        .content_type(crate::http::respond::JSON)
        .body(document(&server, actor, build).to_string())
}

/// The build's input schema as an OpenAPI schema object (an empty object schema if none).
fn input_schema(build: &BuildRecord) -> Value {
    let schema = build
        .actor_definition
        .as_ref()
        .and_then(|d| d.0.get("input").cloned())
        .or_else(|| {
            build
                .input_schema
                .as_deref()
                .and_then(|s| serde_json::from_str(s).ok())
        })
        .filter(Value::is_object);
    match schema {
        Some(schema) => json!({
            "type": "object",
            "properties": schema.get("properties").cloned().unwrap_or_else(|| json!({})),
            "required": schema.get("required").cloned().unwrap_or_else(|| json!([])),
        }),
        None => json!({"type": "object", "properties": {}}),
    }
}

pub fn document(server: &str, actor: &ActorRecord, build: &BuildRecord) -> Value {
    let full_name = format!("{}~{}", actor.username, actor.name);
    let title = actor.title.clone().unwrap_or_else(|| actor.name.clone());
    let operation = |id: &str, summary: &str, response: &str| {
        json!({"post": {
            "operationId": id,
            "x-openai-isConsequential": false,
            "summary": summary,
            "tags": ["Run Actor"],
            "requestBody": {"required": true, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/inputSchema"}}}},
            "parameters": [{"name": "token", "in": "query", "required": true,
                "schema": {"type": "string"}, "description": "Enter your Apify token here"}],
            "responses": {"200": {"description": "OK", "content": {"application/json": {
                "schema": {"$ref": format!("#/components/schemas/{response}")}}}}},
        }})
    };
    let mut paths = serde_json::Map::new();
    paths.insert(
        format!("/acts/{full_name}/run-sync-get-dataset-items"),
        operation(
            &format!("run-sync-get-dataset-items-{}", actor.name),
            "Executes an Actor, waits for its completion, and returns Actor's dataset items in response.",
            "datasetItems",
        ),
    );
    paths.insert(
        format!("/acts/{full_name}/runs"),
        operation(
            &format!("runs-sync-{}", actor.name),
            "Executes an Actor and returns information about the initiated run in response.",
            "runsResponseSchema",
        ),
    );
    paths.insert(
        format!("/acts/{full_name}/run-sync"),
        operation(
            &format!("run-sync-{}", actor.name),
            "Executes an Actor, waits for completion, and returns the OUTPUT from Key-value store in response.",
            "runOutput",
        ),
    );
    json!({
        "openapi": "3.0.1",
        "info": {
            "title": title,
            "description": actor.description.clone().unwrap_or_default(),
            "version": build.version_number,
            "x-build-id": build.id,
        },
        "servers": [{"url": server}],
        "paths": paths,
        "components": {"schemas": {
            "inputSchema": input_schema(build),
            "runsResponseSchema": {"type": "object", "properties": {"data": {"type": "object", "properties": {
                "id": {"type": "string"}, "actId": {"type": "string"}, "userId": {"type": "string"},
                "startedAt": {"type": "string", "format": "date-time"}, "status": {"type": "string"},
                "buildId": {"type": "string"}, "defaultDatasetId": {"type": "string"},
                "defaultKeyValueStoreId": {"type": "string"}}}}},
            "datasetItems": {"type": "array", "items": {"type": "object"}},
            "runOutput": {"type": "object"},
        }},
    })
}
