//! The envelopes every answer of the API comes in: `{"data": ...}`, `{"error": {...}}` and pages.

use serde::Serialize;
use utoipa::ToSchema;

/// The success envelope: `{"data": ...}`.
#[derive(Serialize, ToSchema)]
pub struct Data<T> {
    pub data: T,
}

/// The error envelope: `{"error": {"type", "message"}}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Kebab-case kind of error, such as `record-not-found`.
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
}

/// An offset-paginated list.
#[derive(Serialize, ToSchema)]
pub struct Page<T> {
    pub total: i64,
    pub offset: i64,
    pub limit: i64,
    pub count: usize,
    pub desc: bool,
    pub items: Vec<T>,
}
