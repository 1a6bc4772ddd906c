//! What both faces (the `/v2` API and the console) share at the HTTP boundary: the one error
//! type, the answer envelopes and helpers, request extractors, and the request span.

pub mod envelope;
pub mod error;
pub mod extract;
pub mod request_span;
pub mod respond;

pub use request_span::RequestSpan;
