//! Finding the caller's Actor by id, `username~name` or `~name`.

use sqlx::PgPool;

use super::ServiceError;
use crate::domain::ActorRef;
use crate::storage::actors::{self, ActorRecord};
use crate::storage::users::User;

/// The caller's Actor named by `actor_id`, or `NotFound("Actor")`.
pub async fn load(pool: &PgPool, user: &User, actor_id: &str) -> Result<ActorRecord, ServiceError> {
    let actor_ref = ActorRef::parse(actor_id).ok_or(ServiceError::NotFound("Actor"))?;
    actors::find(pool, &user.id, &user.username, &actor_ref)
        .await?
        .ok_or(ServiceError::NotFound("Actor"))
}
