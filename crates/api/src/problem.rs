//! Every error leaves as `application/problem+json` (RFC 9457) with a stable machine-readable
//! `code` and the request id. Use-case errors map here exhaustively; errors raised by poem and
//! poem-openapi themselves (bad parameters, bad bodies, unknown routes) are turned into the
//! same envelope by [`render_error`], so a client parses one shape whatever went wrong.

use poem::error::ResponseError;
use poem::http::{StatusCode, header};
use poem::{IntoResponse, Response};
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiResponse, Object};
use signpost_service::ServiceError;
use signpost_store::registry::BatchItemReason;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// The error body of every failed request.
#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct Problem {
    /// Stable machine-readable error code, e.g. `mac_owned_by_other_tenant`.
    pub code: String,
    /// Short human summary of the code.
    pub title: String,
    pub status: u16,
    /// What exactly went wrong in this request.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The request id, also sent as `X-Request-Id`.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Per-item errors of a refused batch.
    #[oai(skip_serializing_if_is_empty)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<ItemProblem>,
}

#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct ItemProblem {
    /// Position of the item in the batch (0-based).
    pub index: u32,
    pub mac: String,
    pub code: String,
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// An error answer on its way out.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub title: &'static str,
    pub detail: Option<String>,
    pub items: Vec<ItemProblem>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, title: &'static str) -> Self {
        Self {
            status,
            code,
            title,
            detail: None,
            items: Vec::new(),
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// A request value that does not parse: 422 naming the field.
    pub fn invalid(code: &'static str, field: &str, reason: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
            "a value in the request is invalid",
        )
        .detail(format!("{field}: {reason}"))
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }

    pub fn unauthorized(code: &'static str, detail: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, "authentication failed").detail(detail)
    }

    pub fn problem(&self, request_id: Option<String>) -> Problem {
        Problem {
            code: self.code.to_owned(),
            title: self.title.to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            request_id,
            items: self.items.clone(),
        }
    }

    pub fn to_response(&self, request_id: Option<String>) -> Response {
        let body = serde_json::to_vec(&self.problem(request_id)).unwrap_or_default();
        let mut response = Response::builder()
            .status(self.status)
            .content_type(PROBLEM_JSON)
            .body(body);
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}",
            self.code,
            self.detail.as_deref().unwrap_or(self.title)
        )
    }
}

impl std::error::Error for ApiError {}

impl ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        self.status
    }

    fn as_response(&self) -> Response {
        self.to_response(None)
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        use StatusCode as S;
        match e {
            ServiceError::NotFound => ApiError::not_found(),
            ServiceError::Forbidden => ApiError::new(
                S::FORBIDDEN,
                "forbidden",
                "the key's role does not allow this",
            ),
            ServiceError::TenantNotEmpty => ApiError::new(
                S::CONFLICT,
                "tenant_not_empty",
                "the tenant still has devices",
            )
            .detail("delete its devices first, or delete with ?force=true"),
            ServiceError::ProfileInUse { devices } => ApiError::new(
                S::CONFLICT,
                "profile_in_use",
                "devices still use the profile",
            )
            .detail(format!("{devices} device(s) use this profile")),
            ServiceError::MacOwnedByOtherTenant(mac) => ApiError::new(
                S::CONFLICT,
                "mac_owned_by_other_tenant",
                "the MAC is registered to another tenant",
            )
            .detail(format!("{mac} is registered to another tenant")),
            ServiceError::UnknownProfile(profile) => ApiError::invalid(
                "unknown_profile",
                "profile",
                format!("no profile {profile} in this tenant"),
            ),
            ServiceError::BatchRefused(items) => {
                let mut error = ApiError::new(
                    S::CONFLICT,
                    "batch_refused",
                    "the batch was refused; nothing was applied",
                );
                error.items = items
                    .into_iter()
                    .map(|item| {
                        let (code, detail) = match item.reason {
                            BatchItemReason::MacOwnedByOtherTenant => {
                                ("mac_owned_by_other_tenant", None)
                            }
                            BatchItemReason::ProfileNotFound(p) => {
                                ("unknown_profile", Some(format!("no profile {p}")))
                            }
                            BatchItemReason::DuplicateMac => (
                                "duplicate_mac",
                                Some("the MAC appears twice in the batch".into()),
                            ),
                        };
                        ItemProblem {
                            index: u32::try_from(item.index).unwrap_or(u32::MAX),
                            mac: item.mac.to_string(),
                            code: code.to_owned(),
                            detail,
                        }
                    })
                    .collect();
                error
            }
            ServiceError::Auth(e) => ApiError::from(e),
            ServiceError::QuotaExceeded { used, quota } => ApiError::new(
                S::PAYLOAD_TOO_LARGE,
                "quota_exceeded",
                "the tenant's file quota would be exceeded",
            )
            .detail(format!("{used} of {quota} bytes are used")),
            ServiceError::FileTooLarge { max } => ApiError::new(
                S::PAYLOAD_TOO_LARGE,
                "file_too_large",
                "the file is too large",
            )
            .detail(format!("at most {max} bytes")),
            ServiceError::TemplateNotUtf8 => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                "template_not_utf8",
                "a template must be UTF-8 text",
            )
            .detail("store other encodings without ?template=true"),
            ServiceError::RangeNotSatisfiable { total_size } => ApiError::new(
                S::RANGE_NOT_SATISFIABLE,
                "range_not_satisfiable",
                "the range lies outside the file",
            )
            .detail(format!("the file has {total_size} bytes")),
            ServiceError::BodyInterrupted(reason) => ApiError::new(
                S::BAD_REQUEST,
                "body_interrupted",
                "the request body broke off",
            )
            .detail(reason),
            ServiceError::Unavailable(reason) => {
                tracing::error!(%reason, "registry unavailable");
                ApiError::new(
                    S::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "a backend is unavailable; retry later",
                )
            }
        }
    }
}

/// Documents the error answers every `/v1` operation may give.
impl ApiResponse for ApiError {
    fn meta() -> MetaResponses {
        let statuses: [(u16, &'static str); 9] = [
            (
                400,
                "The request is malformed (`invalid_request`, `invalid_body`, `invalid_parameter`).",
            ),
            (401, "Missing, malformed, expired or revoked credentials."),
            (403, "The key's role may not do this."),
            (404, "No such resource, or it belongs to another tenant."),
            (
                409,
                "A conflict: `mac_owned_by_other_tenant`, `tenant_not_empty`, `profile_in_use`, `batch_refused`.",
            ),
            (413, "The request body is too large (`body_too_large`)."),
            (422, "A value is invalid; `detail` names the field."),
            (429, "Too many requests."),
            (503, "A backend is unavailable; retry later."),
        ];
        MetaResponses {
            responses: statuses
                .into_iter()
                .map(|(status, description)| MetaResponse {
                    description,
                    status: Some(status),
                    status_range: None,
                    content: vec![MetaMediaType {
                        content_type: PROBLEM_JSON,
                        schema: Problem::schema_ref(),
                    }],
                    headers: vec![],
                })
                .collect(),
        }
    }

    fn register(registry: &mut Registry) {
        Problem::register(registry);
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.to_response(None)
    }
}

/// Turns any error that reached the edge into the problem envelope: our own [`ApiError`], the
/// parse and authorization errors of poem-openapi, and poem's routing errors.
pub fn render_error(error: &poem::Error, request_id: &str) -> Response {
    let id = Some(request_id.to_owned());
    if let Some(api) = error.downcast_ref::<ApiError>() {
        return api.to_response(id);
    }
    let status = error.status();
    let detail = error.to_string();
    let mapped = match status {
        StatusCode::BAD_REQUEST => {
            let code = if error.is::<poem_openapi::error::ParseRequestPayloadError>() {
                "invalid_body"
            } else if error.is::<poem_openapi::error::ParseParamError>() {
                "invalid_parameter"
            } else {
                "invalid_request"
            };
            ApiError::new(status, code, "the request is malformed").detail(detail)
        }
        StatusCode::UNAUTHORIZED => {
            ApiError::unauthorized("missing_credentials", "send Authorization: Bearer <token>")
        }
        StatusCode::NOT_FOUND => ApiError::not_found(),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
            status,
            "method_not_allowed",
            "the resource does not support this method",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(status, "body_too_large", "the request body is too large")
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
            status,
            "unsupported_media_type",
            "the request's content type is not accepted",
        )
        .detail(detail),
        StatusCode::TOO_MANY_REQUESTS => ApiError::new(status, "rate_limited", "too many requests"),
        s if s.is_server_error() => {
            tracing::error!(%detail, "internal error");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error",
            )
        }
        _ => ApiError::new(status, "request_failed", "the request failed").detail(detail),
    };
    mapped.to_response(id)
}

impl From<signpost_service::AuthError> for ApiError {
    fn from(e: signpost_service::AuthError) -> Self {
        use signpost_service::AuthError as A;
        let detail = e.to_string();
        match e {
            A::InvalidClient => ApiError::unauthorized("invalid_client", &detail),
            A::TokenMalformed => ApiError::unauthorized("token_malformed", &detail),
            A::TokenAlgorithm => ApiError::unauthorized("token_algorithm", &detail),
            A::TokenUnknownKey => ApiError::unauthorized("token_unknown_key", &detail),
            A::TokenSignature => ApiError::unauthorized("token_signature", &detail),
            A::TokenExpired => ApiError::unauthorized("token_expired", &detail),
            A::KeyRevoked => ApiError::unauthorized("key_revoked", &detail),
            A::TenantRequired(_) | A::TenantNotAllowed => {
                ApiError::invalid("invalid_key_scope", "tenant", detail)
            }
            A::TenantNotFound => ApiError::not_found(),
            A::Signing => {
                tracing::error!("cannot sign a token");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error",
                )
            }
            A::Unavailable(source) => {
                tracing::error!(reason = %source, "authentication unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "a backend is unavailable; retry later",
                )
            }
        }
    }
}
