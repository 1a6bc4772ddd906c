//! The console's HTML, as maud templates: checked at compile time, every value escaped.

mod actors;
mod build;
mod builds;
mod error_page;
mod format;
mod layout;
mod sign_in;
mod status;

pub use actors::{actor_page, actors_page, ActorView};
pub use build::{build_page, BuildView};
pub use builds::{builds_page, BuildsListView};
pub use error_page::error_page;
pub use layout::{Chrome, Nav};
pub use sign_in::sign_in_page;
pub use status::status_payload;
