//! The server's error type: each variant is a status and a one-line plain-text reason.
//! Internal failures (I/O, corruption) are logged by kind and answered with a generic 500 or
//! 503; their details never reach the client.

use leakwatch_service::ServiceError;

use axum::{
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};

/// An error answered to a client.
#[derive(Debug)]
#[non_exhaustive]
pub enum ApiError {
    /// 400 with the reason.
    BadRequest(&'static str),
    /// 400 with a reason made for this request (naming what the client sent, never a
    /// stored value).
    Refused(String),
    /// 401: no valid `hibp-api-key`.
    Unauthorized,
    /// 401: the key is suspended (it read in bulk), for this reason, until the operator
    /// resumes it.
    Suspended(String),
    /// 403 with the reason.
    Forbidden(&'static str),
    /// 429: the key's rate is used up; retry after this many seconds.
    RateLimited(u64),
    /// 429: the key's daily quota in a scope is used up until midnight UTC.
    QuotaUsedUp {
        /// The scope.
        scope: leakwatch_service::keys::Scope,
        /// Its quota.
        limit: u64,
        /// Seconds until midnight UTC.
        retry_after: u64,
    },
    /// 404.
    NotFound,
    /// 409 with the reason: the request is well-formed but the state it needs is not there.
    Conflict(&'static str),
    /// 413 with the reason.
    TooLarge(&'static str),
    /// 415 with the reason.
    UnsupportedMediaType(&'static str),
    /// 503 with the reason: the feature is not set up on this server.
    Unavailable(&'static str),
    /// 500; the detail is logged, not sent.
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, reason) = match self {
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "Your request to the API couldn't be authorised. Check you have the right value in the \"hibp-api-key\" header.",
            ),
            ApiError::RateLimited(secs) => {
                let body = format!(
                    "{{\"statusCode\":429,\"message\":\"Rate limit is exceeded. Try again in {secs} seconds.\"}}"
                );
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [
                        (
                            header::CONTENT_TYPE,
                            "application/json; charset=utf-8".to_owned(),
                        ),
                        (header::RETRY_AFTER, secs.to_string()),
                    ],
                    body,
                )
                    .into_response();
            }
            ApiError::QuotaUsedUp {
                scope,
                limit,
                retry_after,
            } => {
                let body = format!(
                    "{{\"statusCode\":429,\"message\":\"The daily quota of {limit} requests in scope {scope} is used up. Try again in {retry_after} seconds.\"}}"
                );
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [
                        (
                            header::CONTENT_TYPE,
                            "application/json; charset=utf-8".to_owned(),
                        ),
                        (header::RETRY_AFTER, retry_after.to_string()),
                    ],
                    body,
                )
                    .into_response();
            }
            ApiError::BadRequest(reason) => (StatusCode::BAD_REQUEST, reason),
            ApiError::Suspended(reason) => {
                return (
                    StatusCode::UNAUTHORIZED,
                    [(header::CONTENT_TYPE, "text/plain")],
                    format!(
                        "This API key is suspended: it {reason}. Ask the operator to resume it."
                    ),
                )
                    .into_response();
            }
            ApiError::Refused(reason) => {
                let mut chars = reason.chars();
                let reason: String = chars
                    .next()
                    .map(|c| c.to_uppercase().chain(chars).collect())
                    .unwrap_or_default();
                return (
                    StatusCode::BAD_REQUEST,
                    [(header::CONTENT_TYPE, "text/plain")],
                    reason,
                )
                    .into_response();
            }
            ApiError::Forbidden(reason) => (StatusCode::FORBIDDEN, reason),
            ApiError::NotFound => (StatusCode::NOT_FOUND, "Not found"),
            ApiError::Conflict(reason) => (StatusCode::CONFLICT, reason),
            ApiError::TooLarge(reason) => (StatusCode::PAYLOAD_TOO_LARGE, reason),
            ApiError::UnsupportedMediaType(reason) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, reason),
            ApiError::Unavailable(reason) => (StatusCode::SERVICE_UNAVAILABLE, reason),
            ApiError::Internal(detail) => {
                tracing::error!("internal error: {detail}");
                (StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
            }
        };
        (status, [(header::CONTENT_TYPE, "text/plain")], reason).into_response()
    }
}

impl From<leakwatch_service::CatalogError> for ApiError {
    fn from(e: leakwatch_service::CatalogError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            // Another tenant's rows are answered as missing ones: a key learns nothing of
            // what it may not see.
            ServiceError::UnknownKey(_)
            | ServiceError::UnknownSubscriber(_)
            | ServiceError::UnknownVendor(_)
            | ServiceError::UnknownTenant(_)
            | ServiceError::NotYourTenant(_) => ApiError::NotFound,
            ServiceError::DomainNotVerified(_) => ApiError::Forbidden(
                "The domain is not verified for this API key's tenant: verify it first (POST /api/v1/domains)",
            ),
            ServiceError::Egress(leakwatch_service::egress::EgressError::Dns(_)) => {
                ApiError::Unavailable("The DNS resolver did not answer; try again later")
            }
            ServiceError::Egress(e) => ApiError::Refused(e.to_string()),
            ServiceError::Dns(_) => {
                ApiError::Unavailable("The DNS resolver did not answer; try again later")
            }
            ServiceError::NoTxtRecord { .. } => ApiError::Conflict(
                "The TXT record was not found on the domain: publish the DnsTxtRecord value and try again once it has propagated",
            ),
            ServiceError::Credentials(e) => {
                use leakwatch_service::credentials::CredentialsError as C;
                match e {
                    C::BucketBits => ApiError::BadRequest(
                        "bucketBits must be 20 to 32 and bucket below 2^bucketBits",
                    ),
                    C::Element => {
                        ApiError::BadRequest("blinded is not a valid ristretto255 element")
                    }
                    C::TooLarge => ApiError::TooLarge(
                        "This bucket part holds more entries than an answer may; it is not answered",
                    ),
                    C::NotBuilt => {
                        ApiError::Unavailable("No credential buckets are built on this server")
                    }
                    other => {
                        tracing::error!("credential check: {other}");
                        ApiError::Unavailable("The credential check is not available")
                    }
                }
            }
            // The route's extractor refuses a missing scope first; this is the service
            // layer's own check of the same rule.
            ServiceError::MissingScope(_) => {
                ApiError::Forbidden("This API key lacks the scope this endpoint needs")
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<leakwatch_store::StoreError> for ApiError {
    fn from(e: leakwatch_store::StoreError) -> Self {
        ApiError::Internal(e.to_string())
    }
}
