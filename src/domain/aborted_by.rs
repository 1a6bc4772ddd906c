//! Who asked to abort a build: a user (by id), or the service itself (`SYSTEM`: at shutdown).
//! Stored and answered as text, as Apify does.

use std::fmt;

use serde::{Serialize, Serializer};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::{Decode, Encode, Postgres, Type};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AbortedBy {
    /// The id of the user who aborted the build.
    User(String),
    /// The service, stopping with builds still running.
    System,
}

impl AbortedBy {
    /// The text of `System`, in the database and in answers.
    pub const SYSTEM: &'static str = "SYSTEM";

    pub fn as_str(&self) -> &str {
        match self {
            AbortedBy::User(id) => id,
            AbortedBy::System => Self::SYSTEM,
        }
    }

    pub fn parse(text: &str) -> Self {
        if text == Self::SYSTEM {
            AbortedBy::System
        } else {
            AbortedBy::User(text.to_owned())
        }
    }
}

impl fmt::Display for AbortedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for AbortedBy {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl Type<Postgres> for AbortedBy {
    fn type_info() -> PgTypeInfo {
        <String as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <String as Type<Postgres>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Postgres> for AbortedBy {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(AbortedBy::parse(<&str as Decode<Postgres>>::decode(value)?))
    }
}

impl Encode<'_, Postgres> for AbortedBy {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <&str as Encode<Postgres>>::encode_by_ref(&self.as_str(), buf)
    }
}

#[cfg(test)]
mod tests {
    use super::AbortedBy;

    #[test]
    fn text_both_ways() {
        assert_eq!(AbortedBy::parse("SYSTEM"), AbortedBy::System);
        assert_eq!(AbortedBy::parse("u1"), AbortedBy::User("u1".into()));
        assert_eq!(AbortedBy::System.to_string(), "SYSTEM");
        assert_eq!(
            serde_json::to_string(&AbortedBy::User("u1".into())).ok(),
            Some("\"u1\"".into())
        );
    }
}
