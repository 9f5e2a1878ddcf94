//! How bearer tokens are signed and how long they live.

use serde::Serialize;

use super::{ConfigError, Hidden, Layers};

/// Shorter JWT secrets make HS256 tokens guessable offline.
const MIN_JWT_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, Serialize)]
pub struct AuthSettings {
    /// `None`: the wiring generates one once and keeps it in `data_dir/jwt-secret`.
    pub jwt_secret: Option<Hidden>,
    pub jwt_previous_secrets: Vec<Hidden>,
    pub token_lifetime_seconds: u64,
}

impl Layers {
    pub(super) fn auth(&self) -> Result<AuthSettings, ConfigError> {
        let long_enough = |secret: &str, origin: &str| {
            if secret.len() < MIN_JWT_SECRET_BYTES {
                // The message names the rule, never the value.
                return Err(ConfigError::new(
                    origin,
                    format!("must be at least {MIN_JWT_SECRET_BYTES} bytes"),
                ));
            }
            Ok(Hidden(secret.to_owned()))
        };
        let jwt_secret = self
            .text("jwt_secret")
            .map(|(secret, origin)| long_enough(secret, origin))
            .transpose()?;
        let jwt_previous_secrets = self.list("jwt_previous_secrets", long_enough)?;
        let token_lifetime_seconds = self.bounded("token_lifetime_seconds", 900, 60..=86_400)?;
        Ok(AuthSettings {
            jwt_secret,
            jwt_previous_secrets,
            token_lifetime_seconds,
        })
    }
}
