use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use utoipa::IntoParams;

#[allow(unused_imports)] // Named only in the OpenAPI attributes.
use super::models::*;
use super::models::{Actor, ActorShort, ActorStats, TaggedBuild, Version};
use super::params::PageQuery;
use super::service_openapi::ApiErrors;
use super::versions::version_taken;
use crate::domain::timestamp::timestamp;
use crate::domain::version_spec::{check_tag, VersionInput, VersionSpec};
use crate::domain::{new_id, ActorName};
use crate::http::error::ApiError;
use crate::http::extract::{self, Caller, FromQuery, JsonBody, Query};
use crate::http::respond;
use crate::service::actors::load;
use crate::state::AppState;
use crate::storage::actors::{self, ActorFields, ActorRecord};
use crate::storage::{is_unique_violation, versions};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActorInput {
    /// 3-63 letters, digits and hyphens, not starting or ending with a hyphen
    name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    title: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    description: Option<Option<String>>,
    is_public: Option<bool>,
    /// `build`, `timeoutSecs`, `memoryMbytes`
    #[schema(value_type = Option<Object>)]
    default_run_options: Option<Map<String, Value>>,
    /// Versions to create with the Actor (or, on update, to create or change)
    versions: Option<Vec<VersionInput>>,
    /// `{tag: {buildId} | null}`: moves or removes tags
    #[schema(value_type = Option<Object>)]
    tagged_builds: Option<HashMap<String, Option<TagTarget>>>,
}

/// `{buildId}`; `null` in place of it removes the tag.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TagTarget {
    build_id: String,
}

/// Tells a field given as `null` (`Some(None)`) from a field left out (`None`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

impl ActorInput {
    fn fields(&self) -> Result<ActorFields, ApiError> {
        let name = match &self.name {
            Some(name) => Some(
                ActorName::parse(name)
                    .map_err(ApiError::InvalidInput)?
                    .to_string(),
            ),
            None => None,
        };
        if let Some(options) = &self.default_run_options {
            check_run_options(options)?;
        }
        Ok(ActorFields {
            name,
            title: self.title.clone(),
            description: self.description.clone(),
            is_public: self.is_public,
            default_run_options: self.default_run_options.clone(),
        })
    }
}

fn check_run_options(options: &Map<String, Value>) -> Result<(), ApiError> {
    let bad = |field: &str, what: &str| {
        Err(ApiError::InvalidInput(format!(
            "Field \"defaultRunOptions.{field}\" must be {what}"
        )))
    };
    if let Some(build) = options.get("build") {
        if build.as_str().is_none_or(str::is_empty) {
            return bad("build", "a non-empty string");
        }
    }
    if let Some(timeout) = options.get("timeoutSecs") {
        if timeout.as_u64().is_none() {
            return bad("timeoutSecs", "a non-negative integer");
        }
    }
    if let Some(memory) = options.get("memoryMbytes") {
        if !memory
            .as_u64()
            .is_some_and(|m| (128..=1_048_576).contains(&m))
        {
            return bad("memoryMbytes", "an integer of at least 128");
        }
    }
    Ok(())
}

/// Maps a clash of Actor names to `actor-name-not-unique`.
fn name_taken(name: &str) -> impl FnOnce(sqlx::Error) -> ApiError + '_ {
    move |e| {
        if is_unique_violation(&e, "actors_user_name_unique") {
            ApiError::ActorNameNotUnique(name.to_owned())
        } else {
            e.into()
        }
    }
}

/// The API's Actor object.
async fn view(state: &AppState, actor: &ActorRecord) -> Result<Actor, ApiError> {
    let (versions, tags, total_builds) = tokio::try_join!(
        versions::list(&state.pool, &state.settings.secrets, &actor.id),
        actors::tags(&state.pool, &actor.id),
        actors::total_builds(&state.pool, &actor.id),
    )?;
    let tagged_builds = tags
        .into_iter()
        .map(|t| {
            let tagged = TaggedBuild {
                build_number: format!("{}.{}", t.version_number, t.build_number_int),
                build_id: t.build_id.to_string(),
                build_number_int: t.build_number_int,
                finished_at: t.finished_at.as_ref().map(timestamp),
            };
            (t.tag, tagged)
        })
        .collect();
    Ok(Actor {
        id: actor.id.to_string(),
        user_id: actor.user_id.to_string(),
        name: actor.name.clone(),
        username: actor.username.clone(),
        title: actor.title.clone(),
        description: actor.description.clone(),
        is_public: actor.is_public,
        created_at: timestamp(&actor.created_at),
        modified_at: timestamp(&actor.modified_at),
        stats: ActorStats::new(total_builds),
        versions: versions.iter().map(Version::from).collect(),
        default_run_options: actor.default_run_options.0.clone(),
        tagged_builds,
    })
}

/// `POST /v2/actors`
#[utoipa::path(
    operation_id = "actors_create",
    post,
    path = "/v2/actors",
    tag = "actors",
    request_body = ActorInput,
    responses(
        (status = 201, description = "The new Actor", body = Data<Actor>),
        ApiErrors
    )
)]
pub async fn create(
    state: web::Data<AppState>,
    Caller(user): Caller,
    JsonBody(input): JsonBody<ActorInput>,
) -> Result<HttpResponse, ApiError> {
    let name = input
        .name
        .as_deref()
        .ok_or_else(|| ApiError::InvalidInput("Field \"name\" is required".into()))?;
    let fields = input.fields()?;
    let specs = input
        .versions
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            VersionSpec::build(v, None)
                .map_err(|e| ApiError::InvalidInput(format!("versions[{i}]: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let id = new_id();
    let mut tx = state.pool.begin().await?;
    actors::insert(&mut *tx, &id, &user.id, name, &fields)
        .await
        .map_err(name_taken(name))?;
    for spec in &specs {
        versions::insert(&mut *tx, &state.settings.secrets, &id, spec)
            .await
            .map_err(version_taken(spec))?;
    }
    tx.commit().await?;
    let actor = load(&state.pool, &user, &id).await?;
    Ok(respond::created(
        &format!("/v2/actors/{id}"),
        view(&state, &actor).await?,
    ))
}

/// The parameters of `GET /v2/actors` besides the page; both are accepted and have no effect.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
#[allow(dead_code)] // Read only to be checked.
pub struct ActorListQuery {
    /// Only the caller's Actors (always the case here)
    pub my: Option<bool>,
    /// createdAt or stats.lastRunStartedAt
    pub sort_by: Option<String>,
}

impl FromQuery for ActorListQuery {
    fn from_query(query: &Query) -> Result<Self, ApiError> {
        let my = query.bool("my")?;
        let sort_by = match query.non_empty("sortBy") {
            None => None,
            Some(v @ ("createdAt" | "stats.lastRunStartedAt")) => Some(v.to_owned()),
            Some(other) => {
                return Err(ApiError::InvalidParameter(format!(
                "Parameter \"sortBy\" must be createdAt or stats.lastRunStartedAt, not {other:?}"
            )))
            }
        };
        Ok(ActorListQuery { my, sort_by })
    }
}

/// `GET /v2/actors`
#[utoipa::path(
    operation_id = "actors_list",
    get,
    path = "/v2/actors",
    tag = "actors",
    params(ActorListQuery, PageQuery),
    responses(
        (status = 200, description = "The caller's Actors", body = Data<Page<ActorShort>>),
        ApiErrors
    )
)]
pub async fn list(
    state: web::Data<AppState>,
    Caller(user): Caller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (_, page): (ActorListQuery, PageQuery) = extract::query(&req)?;
    let (total, rows) =
        actors::list(&state.pool, &user.id, page.offset, page.limit, page.desc).await?;
    let items: Vec<ActorShort> = rows
        .iter()
        .map(|row| ActorShort::new(&row.actor, row.total_builds))
        .collect();
    Ok(respond::ok(page.answer(total, items)))
}

/// `GET /v2/actors/{actorId}`
#[utoipa::path(
    operation_id = "actors_get",
    get,
    path = "/v2/actors/{actorId}",
    tag = "actors",
    params(
        ("actorId" = String, Path, description = "The Actor's id, `username~name` or `~name`")
    ),
    responses(
        (status = 200, description = "The Actor", body = Data<Actor>),
        ApiErrors
    )
)]
pub async fn get(
    state: web::Data<AppState>,
    Caller(user): Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let actor = load(&state.pool, &user, &path).await?;
    Ok(respond::ok(view(&state, &actor).await?))
}

/// `PUT /v2/actors/{actorId}`: changes only the given fields; `taggedBuilds` moves or removes tags.
#[utoipa::path(
    operation_id = "actors_update",
    put,
    path = "/v2/actors/{actorId}",
    tag = "actors",
    request_body = ActorInput,
    params(
        ("actorId" = String, Path, description = "The Actor's id, `username~name` or `~name`")
    ),
    responses(
        (status = 200, description = "The updated Actor", body = Data<Actor>),
        ApiErrors
    )
)]
pub async fn update(
    state: web::Data<AppState>,
    Caller(user): Caller,
    path: web::Path<String>,
    JsonBody(input): JsonBody<ActorInput>,
) -> Result<HttpResponse, ApiError> {
    let actor = load(&state.pool, &user, &path).await?;
    let fields = input.fields()?;
    let mut tx = state.pool.begin().await?;
    actors::update(&mut *tx, &actor.id, &fields)
        .await
        .map_err(name_taken(fields.name.as_deref().unwrap_or_default()))?;
    for (i, version) in input.versions.unwrap_or_default().into_iter().enumerate() {
        let existing = match &version.version_number {
            Some(number) => {
                versions::get(&mut *tx, &state.settings.secrets, &actor.id, number).await?
            }
            None => None,
        };
        let is_new = existing.is_none();
        let spec = VersionSpec::build(version, existing)
            .map_err(|e| ApiError::InvalidInput(format!("versions[{i}]: {e}")))?;
        if is_new {
            versions::insert(&mut *tx, &state.settings.secrets, &actor.id, &spec).await?;
        } else {
            versions::update(&mut *tx, &state.settings.secrets, &actor.id, &spec).await?;
        }
    }
    for (tag, target) in input.tagged_builds.unwrap_or_default() {
        check_tag(&tag).map_err(|e| ApiError::InvalidInput(format!("taggedBuilds: {e}")))?;
        match target {
            None => actors::remove_tag(&mut *tx, &actor.id, &tag).await?,
            Some(TagTarget { build_id }) => {
                if !actors::set_tag(&mut *tx, &actor.id, &tag, &build_id).await? {
                    return Err(ApiError::InvalidInput(format!(
                        "taggedBuilds.{tag}.buildId: build {build_id:?} is not a build of this Actor"
                    )));
                }
            }
        }
    }
    tx.commit().await?;
    let actor = load(&state.pool, &user, &actor.id).await?;
    Ok(respond::ok(view(&state, &actor).await?))
}

/// `DELETE /v2/actors/{actorId}`: its versions, builds and tags go with it.
#[utoipa::path(
    operation_id = "actors_delete",
    delete,
    path = "/v2/actors/{actorId}",
    tag = "actors",
    params(
        ("actorId" = String, Path, description = "The Actor's id, `username~name` or `~name`")
    ),
    responses(
        (status = 204, description = "Deleted, with its versions and builds"),
        ApiErrors
    )
)]
pub async fn delete(
    state: web::Data<AppState>,
    Caller(user): Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let actor = load(&state.pool, &user, &path).await?;
    actors::delete(&state.pool, &actor.id).await?;
    Ok(respond::no_content())
}
