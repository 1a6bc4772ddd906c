//! The timestamps of every response and log line: in ISO-8601 UTC with milliseconds and `Z`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;

pub fn timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub mod ts {
    use super::*;

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&timestamp(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn milliseconds_and_z() {
        let t = Utc
            .with_ymd_and_hms(2019, 11, 30, 7, 34, 24)
            .single()
            .map(|t| timestamp(&t));
        assert_eq!(t.as_deref(), Some("2019-11-30T07:34:24.000Z"));
    }
}
