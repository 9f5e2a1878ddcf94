use poem::Request;
use poem::web::Data;
use poem::web::headers::authorization::Basic;
use poem::web::headers::{Authorization, HeaderMapExt};
use poem_openapi::payload::{Form, Json};
use poem_openapi::{Object, OpenApi, Tags};

use crate::AppState;
use crate::problem::ApiError;

#[derive(Tags)]
enum Tag {
    /// Exchanging an API key for a short-lived bearer token.
    Auth,
}

pub struct AuthApi;

/// OAuth 2.0 client-credentials request. The key id and secret go in `client_id` and
/// `client_secret`, or in HTTP Basic authentication.
#[derive(Debug, Object, serde::Deserialize)]
pub struct TokenRequest {
    /// Must be `client_credentials`.
    pub grant_type: String,
    /// API key id.
    pub client_id: Option<String>,
    /// API key secret.
    pub client_secret: Option<String>,
}

#[derive(Debug, Object)]
pub struct TokenResponse {
    /// A JWT to send as `Authorization: Bearer …`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: u64,
}

#[OpenApi(prefix_path = "/v1/auth", tag = "Tag::Auth")]
impl AuthApi {
    /// Exchange an API key for a bearer token
    ///
    /// The token carries the key's tenant and role and expires after the configured lifetime
    /// (default 15 minutes). Revoking the key makes its tokens fail at once.
    #[oai(path = "/token", method = "post", operation_id = "create_token")]
    async fn token(
        &self,
        state: Data<&AppState>,
        req: &Request,
        body: Form<TokenRequest>,
    ) -> Result<Json<TokenResponse>, ApiError> {
        if body.grant_type != "client_credentials" {
            return Err(ApiError::new(
                poem::http::StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only grant_type=client_credentials is supported",
            ));
        }
        let basic = req.headers().typed_get::<Authorization<Basic>>();
        let (id, secret) = match (&body.client_id, &body.client_secret, &basic) {
            (Some(id), Some(secret), _) => (id.as_str(), secret.as_str()),
            (None, None, Some(Authorization(basic))) => (basic.username(), basic.password()),
            _ => {
                return Err(ApiError::unauthorized(
                    "invalid_client",
                    "send client_id and client_secret, or HTTP Basic",
                ));
            }
        };
        let token = state
            .auth
            .exchange(id, secret)
            .await
            .map_err(ApiError::from)?;
        Ok(Json(TokenResponse {
            access_token: token.access_token,
            token_type: token.token_type.to_owned(),
            expires_in: token.expires_in,
        }))
    }
}
