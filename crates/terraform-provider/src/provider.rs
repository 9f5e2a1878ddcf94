//! The provider block: where Signpost is and which API key to use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{AttributeConstraint, AttributeType, Schema};
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{Diagnostics, DynamicDataSource, DynamicResource, Provider};

use crate::client::{Client, normalise_endpoint};
use crate::util::{at, attr, error, s, schema};
use crate::{data_sources, resources};

pub const ENV_ENDPOINT: &str = "SIGNPOST_ENDPOINT";
pub const ENV_KEY_ID: &str = "SIGNPOST_KEY_ID";
pub const ENV_KEY_SECRET: &str = "SIGNPOST_KEY_SECRET";

/// The configured client, shared by every resource and data source.
#[derive(Debug, Default)]
pub struct Shared {
    client: RwLock<Option<Arc<Client>>>,
    batch_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Shared {
    /// Serialises the device batches of one tenant within this Terraform run. Terraform
    /// applies independent resources in parallel; when MACs move from one `signpost_devices`
    /// to another, the losing group checks that a device is still its own before deleting it,
    /// and that check and its batch must not interleave with the other group's upsert.
    pub async fn tenant_batch_lock(&self, tenant: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = match self.batch_locks.lock() {
            Ok(mut locks) => Arc::clone(locks.entry(tenant.to_owned()).or_default()),
            Err(poisoned) => {
                Arc::clone(poisoned.into_inner().entry(tenant.to_owned()).or_default())
            }
        };
        lock.lock_owned().await
    }

    /// The client, or an error diagnostic when the provider was not configured.
    pub fn client(&self, diags: &mut Diagnostics) -> Option<Arc<Client>> {
        let client = self.client.read().ok().and_then(|c| c.clone());
        if client.is_none() {
            error(
                diags,
                "The signpost provider is not configured",
                "Terraform called the provider before configuring it, or its configuration failed.",
                tf_provider::AttributePath::root(),
            );
        }
        client
    }

    fn set(&self, client: Client) {
        if let Ok(mut slot) = self.client.write() {
            *slot = Some(Arc::new(client));
        }
    }
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    pub endpoint: Value<String>,
    pub key_id: Value<String>,
    pub key_secret: Value<String>,
}

#[derive(Debug, Default)]
pub struct SignpostProvider {
    shared: Arc<Shared>,
}

/// A setting from the configuration, else from the environment.
fn setting(
    diags: &mut Diagnostics,
    value: &Value<String>,
    name: &'static str,
    env: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Option<String> {
    match value {
        Value::Value(v) if !v.is_empty() => Some(v.clone()),
        Value::Unknown => {
            error(
                diags,
                format!("The provider's {name} is not known yet"),
                format!(
                    "{name} depends on a value known only after apply; the signpost provider needs it to plan. Set it from a variable or {env}."
                ),
                at(name),
            );
            None
        }
        _ => match lookup(env).filter(|v| !v.is_empty()) {
            Some(v) => Some(v),
            None => {
                error(
                    diags,
                    format!("Missing {name}"),
                    format!(
                        "Set {name} in the provider \"signpost\" block or the environment variable {env}."
                    ),
                    at(name),
                );
                None
            }
        },
    }
}

/// The client settings from the configuration and the environment (`lookup`), with one
/// diagnostic per missing or invalid attribute.
pub fn resolve(
    diags: &mut Diagnostics,
    config: &Config,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Option<(String, String, String)> {
    let endpoint = setting(diags, &config.endpoint, "endpoint", ENV_ENDPOINT, lookup);
    let key_id = setting(diags, &config.key_id, "key_id", ENV_KEY_ID, lookup);
    let key_secret = setting(
        diags,
        &config.key_secret,
        "key_secret",
        ENV_KEY_SECRET,
        lookup,
    );
    let endpoint = match endpoint.map(|e| normalise_endpoint(&e)) {
        Some(Ok(e)) => Some(e),
        Some(Err(e)) => {
            error(diags, "Invalid endpoint", e, at("endpoint"));
            None
        }
        None => None,
    };
    Some((endpoint?, key_id?, key_secret?))
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[async_trait]
impl Provider for SignpostProvider {
    type Config<'a> = Config;
    type MetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        let mut secret = attr(
            AttributeType::String,
            AttributeConstraint::Optional,
            "The API key's secret (`sps_…`). Default: the environment variable `SIGNPOST_KEY_SECRET`.",
        );
        secret.sensitive = true;
        Some(schema(
            "Signpost: zero-touch redirection and provisioning for Snom phones. The provider exchanges an API key for short-lived tokens (renewed before they expire) and manages tenants, profiles, devices, API keys and hosted files over the `/v1` REST API.",
            vec![
                (
                    "endpoint",
                    attr(
                        AttributeType::String,
                        AttributeConstraint::Optional,
                        "Base URL of Signpost, e.g. `https://signpost.example.com` (plain `http://` works too). Default: the environment variable `SIGNPOST_ENDPOINT`.",
                    ),
                ),
                (
                    "key_id",
                    attr(
                        AttributeType::String,
                        AttributeConstraint::Optional,
                        "The API key's id (`spk_…`): a `platform-admin` key to manage tenants, a `tenant-admin` key for one tenant. Default: the environment variable `SIGNPOST_KEY_ID`.",
                    ),
                ),
                ("key_secret", secret),
            ],
        ))
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: Self::Config<'a>) -> Option<()> {
        if let Some(e) = s(&config.endpoint)
            && let Err(msg) = normalise_endpoint(e)
        {
            error(diags, "Invalid endpoint", msg, at("endpoint"));
        }
        Some(())
    }

    async fn configure<'a>(
        &self,
        diags: &mut Diagnostics,
        _terraform_version: String,
        config: Self::Config<'a>,
    ) -> Option<()> {
        let (endpoint, key_id, key_secret) = resolve(diags, &config, &env)?;
        match Client::new(&endpoint, &key_id, &key_secret) {
            Ok(client) => self.shared.set(client),
            Err(e) => error(diags, "Cannot use the endpoint", e, at("endpoint")),
        }
        Some(())
    }

    fn get_resources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicResource>>> {
        Some(resources::all(&self.shared))
    }

    fn get_data_sources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicDataSource>>> {
        Some(data_sources::all(&self.shared))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn configuration_wins_over_environment() {
        let mut diags = Diagnostics::default();
        let config = Config {
            endpoint: Value::Value("http://127.0.0.1:1/".into()),
            key_id: Value::Null,
            key_secret: Value::Value("sps_config".into()),
        };
        let env = lookup(&[
            (ENV_ENDPOINT, "http://env"),
            (ENV_KEY_ID, "spk_env"),
            (ENV_KEY_SECRET, "sps_env"),
        ]);
        let got = resolve(&mut diags, &config, &env).unwrap();
        assert!(diags.errors.is_empty());
        assert_eq!(
            got,
            (
                "http://127.0.0.1:1".to_owned(),
                "spk_env".to_owned(),
                "sps_config".to_owned()
            )
        );
    }

    #[test]
    fn missing_settings_name_their_attribute() {
        let mut diags = Diagnostics::default();
        let env = lookup(&[(ENV_KEY_ID, "spk_env")]);
        assert!(resolve(&mut diags, &Config::default(), &env).is_none());
        let attrs: Vec<String> = diags
            .errors
            .iter()
            .map(|d| d.attribute.to_string())
            .collect();
        assert_eq!(attrs, ["endpoint", "key_secret"]);
        assert!(diags.errors[1].detail.contains(ENV_KEY_SECRET));
    }

    #[test]
    fn invalid_endpoint_is_reported_on_endpoint() {
        let mut diags = Diagnostics::default();
        let env = lookup(&[
            (ENV_ENDPOINT, "signpost.example.com"),
            (ENV_KEY_ID, "spk"),
            (ENV_KEY_SECRET, "sps"),
        ]);
        assert!(resolve(&mut diags, &Config::default(), &env).is_none());
        assert_eq!(diags.errors.len(), 1);
        assert_eq!(diags.errors[0].attribute.to_string(), "endpoint");
    }
}
