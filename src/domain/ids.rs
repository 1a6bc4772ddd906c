//! Ids: how they are made, and a type for each kind (user, Actor, build, worker), so that one
//! cannot stand in for another where they are passed around together.

use std::fmt;

use rand::distributions::Alphanumeric;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// A text id of its own type: stored, bound and answered as the text it holds.
macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(text: String) -> Self {
                $name(text)
            }
        }

        /// Where a plain `&str` is asked for (a statement's parameter, a log field), the id is
        /// its text.
        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_id!(
    /// The id of a user (17 alphanumeric characters).
    UserId
);
text_id!(
    /// The id of an Actor (17 alphanumeric characters).
    ActorId
);
text_id!(
    /// The id of a build (17 alphanumeric characters).
    BuildId
);
text_id!(
    /// The id of a worker process's build slots (`w-` and 17 alphanumeric characters), which
    /// fences every write it makes for the builds it holds.
    WorkerId
);

impl WorkerId {
    /// The id of slots that start now.
    pub fn generate() -> Self {
        WorkerId(format!("w-{}", new_id()))
    }
}

/// Length of user, Actor and build ids.
pub const ID_LEN: usize = 17;

/// A new id: 17 characters from `[A-Za-z0-9]`, from a cryptographically secure generator
/// (`thread_rng` is ChaCha seeded from the OS), so build ids can serve as capabilities.
pub fn new_id() -> String {
    random_alphanumeric(ID_LEN)
}

/// A new API token: 43 alphanumeric characters, about 256 bits of entropy, printable.
pub fn new_token() -> String {
    format!("apify_api_{}", random_alphanumeric(43))
}

pub fn is_id(s: &str) -> bool {
    s.len() == ID_LEN && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn random_alphanumeric(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_17_alphanumeric_and_distinct() {
        let a = new_id();
        assert!(is_id(&a), "{a}");
        assert_ne!(a, new_id());
        assert!(!is_id("short"));
        assert!(!is_id("abcdefghijklmnop-"));
    }

    #[test]
    fn typed_ids_are_their_text() {
        let worker = WorkerId::generate();
        assert!(worker.as_str().starts_with("w-") && is_id(&worker.as_str()[2..]));
        assert_eq!(
            serde_json::to_string(&UserId::from("u1".to_owned())).ok(),
            Some("\"u1\"".into())
        );
    }
}
