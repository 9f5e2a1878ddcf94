//! `signpost_file`: a setting or firmware file hosted for a tenant's phones
//! (`PUT /v1/tenants/{tenant}/files/{path}`). The body comes from `content` or from a local
//! file (`source`). Plans compare the SHA-256 of that body, computed at plan time, with the
//! remote file's: a file changed on either side is uploaded again. Import id:
//! `acme/path/to/file` (the next apply records `content`/`source` by uploading once more).

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{AttributeConstraint, AttributeType, Schema};
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{AttributePath, Diagnostics, Resource};

use crate::client::encode;
use crate::ids;
use crate::problem::{ErrorContext, report, reported};
use crate::provider::Shared;
use crate::util::{
    at, attr, check_attr, computed, error, optional, optional_computed, required, s, schema,
};

mod body;
mod remote;

pub use body::digest;
use body::local;
use remote::stat;

fn fields(body_attr: &'static str) -> [(&'static str, &'static str); 5] {
    [
        ("tenant", "tenant"),
        ("path", "path"),
        ("body", body_attr),
        ("template", "template"),
        ("content_type", "content_type"),
    ]
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    pub id: Value<String>,
    pub tenant: Value<String>,
    pub path: Value<String>,
    pub content: Value<String>,
    pub source: Value<String>,
    pub template: Value<bool>,
    pub content_type: Value<String>,
    pub sha256: Value<String>,
    pub size: Value<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FileView {
    pub path: String,
    pub size: u64,
    pub sha256: String,
    pub content_type: String,
    pub template: bool,
}

impl State {
    fn body_attr(&self) -> &'static str {
        if self.source.is_null() {
            "content"
        } else {
            "source"
        }
    }

    fn apply_view(&mut self, view: FileView, tenant: &str) {
        self.id = Value::Value(ids::join(tenant, &view.path));
        self.tenant = Value::Value(tenant.to_owned());
        self.path = Value::Value(view.path);
        self.template = Value::Value(view.template);
        self.content_type = Value::Value(view.content_type);
        self.sha256 = Value::Value(view.sha256);
        self.size = Value::Value(i64::try_from(view.size).unwrap_or(i64::MAX));
    }
}

#[derive(Debug)]
pub struct File {
    pub shared: Arc<Shared>,
}

#[async_trait]
impl Resource for File {
    type State<'a> = State;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(schema(
            "A setting or firmware file Signpost hosts for a tenant's phones (profiles with `setting_server = \"hosted\"` send phones to them). The body is `content` or the local file `source`; the plan compares its SHA-256 with the remote file's, so a change on either side is uploaded again. Import: `terraform import signpost_file.d785 acme/cfg/snomD785.htm` (the first apply after an import uploads the body once to record `content` or `source`).",
            vec![
                ("id", computed("`<tenant>/<path>`.")),
                (
                    "tenant",
                    required("The tenant's id. Changing it replaces the file."),
                ),
                (
                    "path",
                    required(
                        "Relative, `/`-separated path, e.g. `cfg/snomD785.htm` (no `.`, `..` or empty segments, at most 512 bytes). Changing it replaces the file.",
                    ),
                ),
                (
                    "content",
                    optional("The body as text. Exactly one of `content` and `source`."),
                ),
                (
                    "source",
                    optional(
                        "Path of a local file to upload (read at plan time to compare hashes, streamed at apply). Exactly one of `content` and `source`.",
                    ),
                ),
                (
                    "template",
                    attr(
                        AttributeType::Bool,
                        AttributeConstraint::OptionalComputed,
                        "Fill in `{mac}`, `{phone_type}` and `{firmware_version}` for each phone (at most 1 MiB). Default false.",
                    ),
                ),
                (
                    "content_type",
                    optional_computed(
                        "Content type; by default Signpost derives it from the file name.",
                    ),
                ),
                ("sha256", computed("Hex SHA-256 of the body.")),
                (
                    "size",
                    attr(
                        AttributeType::Number,
                        AttributeConstraint::Computed,
                        "Size of the body in bytes.",
                    ),
                ),
            ],
        ))
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: State) -> Option<()> {
        check_attr(diags, &config.tenant, "tenant", ids::tenant);
        check_attr(diags, &config.path, "path", ids::file_path);
        match (&config.content, &config.source) {
            (Value::Null, Value::Null) => error(
                diags,
                "Missing content or source",
                "Set exactly one of content (the body as text) and source (a local file).",
                at("content"),
            ),
            (Value::Value(_), Value::Value(_)) => error(
                diags,
                "Both content and source are set",
                "Set exactly one of content and source.",
                at("source"),
            ),
            _ => {}
        }
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        mut state: State,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(State, ValueEmpty)> {
        let (Some(client), Some(tenant), Some(path)) = (
            self.shared.client(diags),
            s(&state.tenant).map(str::to_owned),
            s(&state.path).map(str::to_owned),
        ) else {
            return Some((state, private));
        };
        match stat(&client, &tenant, &path).await {
            Ok(Some(view)) => {
                state.apply_view(view, &tenant);
                Some((state, private))
            }
            Ok(None) => None,
            Err(e) => {
                let fields = fields(state.body_attr());
                report(
                    diags,
                    &e,
                    &ErrorContext::new(&format!("read file {tenant}/{path}"), &fields),
                );
                Some((state, private))
            }
        }
    }

    async fn plan_create<'a>(
        &self,
        diags: &mut Diagnostics,
        mut proposed: State,
        _config: State,
        _meta: ValueEmpty,
    ) -> Option<(State, ValueEmpty)> {
        proposed.id = match (s(&proposed.tenant), s(&proposed.path)) {
            (Some(t), Some(p)) => Value::Value(ids::join(t, p)),
            _ => Value::Unknown,
        };
        if proposed.template.is_null() {
            proposed.template = Value::Value(false);
        }
        if proposed.content_type.is_null() {
            proposed.content_type = Value::Unknown;
        }
        match local(diags, &proposed).await? {
            Some((sha, size)) => {
                proposed.sha256 = Value::Value(sha);
                proposed.size = Value::Value(size);
            }
            None => {
                proposed.sha256 = Value::Unknown;
                proposed.size = Value::Unknown;
            }
        }
        Some((proposed, ValueEmpty::default()))
    }

    async fn plan_update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: State,
        mut proposed: State,
        config: State,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(State, ValueEmpty, Vec<AttributePath>)> {
        if config.template.is_null() {
            proposed.template = Value::Value(false);
        }
        match local(diags, &proposed).await? {
            // The body on this side differs from the remote one (changed here, or changed
            // in Signpost out of band): planning its hash makes the plan an upload.
            Some((sha, size)) => {
                if s(&prior.sha256) != Some(sha.as_str()) {
                    proposed.sha256 = Value::Value(sha);
                    proposed.size = Value::Value(size);
                }
            }
            None => {
                proposed.sha256 = Value::Unknown;
                proposed.size = Value::Unknown;
            }
        }
        let mut replace = Vec::new();
        if proposed.tenant != prior.tenant {
            replace.push(at("tenant"));
        }
        if proposed.path != prior.path {
            replace.push(at("path"));
        }
        if !replace.is_empty() {
            proposed.id = Value::Unknown;
        }
        Some((proposed, private, replace))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior: State,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<ValueEmpty> {
        Some(private)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned: State,
        _config: State,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(State, ValueEmpty)> {
        Some((self.upload(diags, planned, "upload").await?, private))
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        _prior: State,
        planned: State,
        _config: State,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(State, ValueEmpty)> {
        Some((self.upload(diags, planned, "upload").await?, private))
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        state: State,
        _private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<()> {
        let client = self.shared.client(diags)?;
        let tenant = s(&state.tenant)?.to_owned();
        let path = s(&state.path)?.to_owned();
        let url = format!("/v1/tenants/{tenant}/files/{}", encode(&path, true));
        let deleted = client.delete(&url).await;
        let fields = fields(state.body_attr());
        let action = format!("delete file {tenant}/{path}");
        reported(diags, deleted, &ErrorContext::new(&action, &fields)).map(|_| ())
    }

    async fn import<'a>(&self, diags: &mut Diagnostics, id: String) -> Option<(State, ValueEmpty)> {
        let (tenant, path) = match ids::parse_file(&id) {
            Ok(parts) => parts,
            Err(e) => {
                error(diags, "Invalid import id", e, AttributePath::root());
                return None;
            }
        };
        let client = self.shared.client(diags)?;
        match stat(&client, &tenant, &path).await {
            Ok(Some(view)) => {
                let mut state = State::default();
                state.apply_view(view, &tenant);
                Some((state, ValueEmpty::default()))
            }
            Ok(None) => {
                error(
                    diags,
                    "Cannot import a file that does not exist",
                    format!("Tenant {tenant} has no file {path} (or this key cannot see it)."),
                    AttributePath::root(),
                );
                None
            }
            Err(e) => {
                report(
                    diags,
                    &e,
                    &ErrorContext::new(&format!("import file {id}"), &fields("content")),
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests;
