//! Query parameters shared by several operations, each set one struct that is both documented
//! (`utoipa::IntoParams`, named in `params(...)`) and read (`FromQuery`).

use std::time::Duration;

use utoipa::IntoParams;

use crate::http::envelope;
use crate::http::error::ApiError;
use crate::http::extract::{FromQuery, Query};

/// `offset`, `limit` and `desc` of a list.
#[derive(Debug, Clone, Copy, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items to skip
    #[param(value_type = Option<i64>, minimum = 0)]
    pub offset: i64,
    /// Items to return, at most 1000; 0 means the default
    #[param(value_type = Option<i64>, minimum = 0)]
    pub limit: i64,
    /// Newest first
    #[param(value_type = Option<bool>)]
    pub desc: bool,
}

impl PageQuery {
    /// The largest `limit`, and the one taken when it is absent or 0.
    pub const MAX_LIMIT: i64 = 1000;

    pub fn answer<T>(&self, total: i64, items: Vec<T>) -> envelope::Page<T> {
        envelope::Page {
            total,
            offset: self.offset,
            limit: self.limit,
            count: items.len(),
            desc: self.desc,
            items,
        }
    }
}

impl FromQuery for PageQuery {
    fn from_query(query: &Query) -> Result<Self, ApiError> {
        let limit = match query.non_negative("limit")? {
            None | Some(0) => Self::MAX_LIMIT,
            Some(n) => n.min(Self::MAX_LIMIT),
        };
        Ok(PageQuery {
            offset: query.non_negative("offset")?.unwrap_or(0),
            limit,
            desc: query.bool("desc")?.unwrap_or(false),
        })
    }
}

/// `waitForFinish`: how long to hold the answer while the build runs.
#[derive(Debug, Clone, Copy, IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct WaitQuery {
    /// Seconds to wait for the build to finish, clamped to [0, 60]
    #[param(value_type = Option<f64>, minimum = 0, maximum = 60)]
    pub wait_for_finish: Duration,
}

impl WaitQuery {
    /// The longest wait, in seconds; longer values are clamped to it.
    pub const MAX_SECS: f64 = 60.0;
}

impl FromQuery for WaitQuery {
    fn from_query(query: &Query) -> Result<Self, ApiError> {
        Ok(WaitQuery {
            wait_for_finish: query.seconds("waitForFinish", Self::MAX_SECS)?,
        })
    }
}

/// Checks, for the unit tests of every parameter struct, that the names `from_query` reads are
/// exactly the names `IntoParams` documents, given a query that reads them all.
#[cfg(test)]
pub(crate) fn assert_documented_as_read<T: FromQuery + IntoParams>(query_string: &str) {
    let query = Query::from_query_string(query_string);
    if let Err(e) = T::from_query(&query) {
        panic!("{query_string:?} should be accepted: {e}");
    }
    let mut read = query.names_read();
    read.sort();
    read.dedup();
    let mut documented: Vec<String> = T::into_params(|| None)
        .into_iter()
        .map(|p| p.name)
        .collect();
    documented.sort();
    assert_eq!(read, documented);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse<T: FromQuery>(query_string: &str) -> Result<T, String> {
        T::from_query(&Query::from_query_string(query_string)).map_err(|e| e.to_string())
    }

    #[test]
    fn documented_names_are_the_names_read() {
        use super::super::{actors, builds, key_value_stores, logs};
        assert_documented_as_read::<PageQuery>("");
        assert_documented_as_read::<WaitQuery>("");
        assert_documented_as_read::<builds::BuildCreateQuery>("version=0.1");
        assert_documented_as_read::<logs::LogQuery>("");
        assert_documented_as_read::<actors::ActorListQuery>("");
        assert_documented_as_read::<key_value_stores::StoreNameQuery>("");
        assert_documented_as_read::<key_value_stores::RecordQuery>("");
    }

    #[test]
    fn pages_apply_the_defaults_and_the_cap() {
        let page: PageQuery = parse("").unwrap();
        assert_eq!((page.offset, page.limit, page.desc), (0, 1000, false));
        let page: PageQuery = parse("offset=5&limit=0&desc=1&unknown=x").unwrap();
        assert_eq!((page.offset, page.limit, page.desc), (5, 1000, true));
        let page: PageQuery = parse("limit=5000&desc=FALSE").unwrap();
        assert_eq!((page.limit, page.desc), (1000, false));
        assert_eq!(
            parse::<PageQuery>("limit=-1").unwrap_err(),
            "Parameter \"limit\" must be a non-negative integer, not \"-1\""
        );
        assert_eq!(
            parse::<PageQuery>("desc=yes").unwrap_err(),
            "Parameter \"desc\" must be true, false, 1 or 0, not \"yes\""
        );
        // `limit` is checked before `offset`, as it always was.
        assert!(parse::<PageQuery>("offset=x&limit=y")
            .unwrap_err()
            .contains("\"limit\""));
    }

    #[test]
    fn operation_parameters_keep_their_checks_and_order() {
        use super::super::{actors, builds, key_value_stores};
        assert_eq!(
            parse::<builds::BuildCreateQuery>("useCache=x").unwrap_err(),
            "Parameter \"version\" is required"
        );
        assert_eq!(
            parse::<builds::BuildCreateQuery>("version=0.1&useCache=x&betaPackages=y").unwrap_err(),
            "Parameter \"useCache\" must be true, false, 1 or 0, not \"x\""
        );
        let create: builds::BuildCreateQuery =
            parse("version=1.2&useCache=TRUE&tag=&waitForFinish=x").unwrap();
        assert_eq!(create.version.as_str(), "1.2");
        assert!(create.use_cache && !create.beta_packages && create.tag.is_none());
        assert_eq!(
            parse::<actors::ActorListQuery>("sortBy=name").unwrap_err(),
            "Parameter \"sortBy\" must be createdAt or stats.lastRunStartedAt, not \"name\""
        );
        assert!(parse::<(actors::ActorListQuery, PageQuery)>("my=2&limit=x")
            .unwrap_err()
            .contains("\"my\""));
        assert!(parse::<key_value_stores::StoreNameQuery>("name=-a")
            .unwrap_err()
            .starts_with("Parameter \"name\" must be 1-63 letters"));
        let record: key_value_stores::RecordQuery = parse("attachment=1").unwrap();
        assert!(record.attachment && record.signature.is_empty());
    }

    #[test]
    fn waits_are_clamped() {
        let wait = |q| parse::<WaitQuery>(q).unwrap().wait_for_finish;
        assert_eq!(wait(""), Duration::ZERO);
        assert_eq!(wait("waitForFinish=1.5"), Duration::from_millis(1500));
        assert_eq!(wait("waitForFinish=-3"), Duration::ZERO);
        assert_eq!(wait("waitForFinish=999"), Duration::from_secs(60));
        assert_eq!(
            parse::<WaitQuery>("waitForFinish=NaN").unwrap_err(),
            "Parameter \"waitForFinish\" must be a number of seconds, not \"NaN\""
        );
    }
}
