//! Typed domain values: constructors check, so handlers only ever hold valid values.

mod aborted_by;
mod actor_name;
mod actor_ref;
pub mod base64;
pub mod build_document;
mod build_status;
mod ids;
mod origin;
pub mod redact;
pub mod secret_box;
pub mod signature;
pub mod timestamp;
mod version_number;
pub mod version_spec;

pub use aborted_by::AbortedBy;
pub use actor_name::ActorName;
pub use actor_ref::ActorRef;
pub use build_status::BuildStatus;
pub use ids::{is_id, new_id, new_token, ActorId, BuildId, UserId, WorkerId};
pub use origin::Origin;
pub use version_number::VersionNumber;
