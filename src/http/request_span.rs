//! A span per request, named by route template (never the raw path, which may carry a token),
//! with a request id taken from `X-Request-Id` or made, and one INFO line per request.

use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::time::Instant;

use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{HeaderName, HeaderValue};
use tracing::Instrument;

pub const REQUEST_ID: &str = "x-request-id";

pub struct RequestSpan;

impl<S, B> Transform<S, ServiceRequest> for RequestSpan
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = RequestSpanMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequestSpanMiddleware { service }))
    }
}

pub struct RequestSpanMiddleware<S> {
    service: S,
}

impl<S, B> Service<ServiceRequest> for RequestSpanMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let request_id = req
            .headers()
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 128)
            .map(str::to_owned)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let route = req
            .match_pattern()
            .unwrap_or_else(|| crate::metrics::UNMATCHED_ROUTE.into());
        let method = crate::metrics::method_label(req.method());
        let span = tracing::info_span!("request", method = %method, route = %route, %request_id);
        let quiet = matches!(route.as_str(), "/health" | "/ready");
        let started = Instant::now();
        let fut = self.service.call(req);
        Box::pin(
            async move {
                let mut res = fut.await?;
                let status = res.status().as_u16();
                let elapsed = started.elapsed();
                crate::metrics::http_request(method, &route, status, elapsed);
                let millis = elapsed.as_secs_f64() * 1000.0;
                if quiet {
                    tracing::debug!(status, millis, "request");
                } else {
                    tracing::info!(status, millis, "request");
                }
                if let Ok(value) = HeaderValue::from_str(&request_id) {
                    res.headers_mut()
                        .insert(HeaderName::from_static(REQUEST_ID), value);
                }
                Ok(res)
            }
            .instrument(span),
        )
    }
}
