//! The calls to Signpost's files API: a file's metadata, and the upload.

use std::path::PathBuf;

use bytes::Bytes;
use hyper::Method;
use serde::Deserialize;
use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostics};

use super::{File, FileView, State, fields};
use crate::client::{Client, ReqBody, encode};
use crate::problem::{ApiError, ErrorContext, report};
use crate::util::{at, error, s};

/// The file's metadata; `None` when it (or its tenant) is gone.
pub(super) async fn stat(
    client: &Client,
    tenant: &str,
    path: &str,
) -> Result<Option<FileView>, ApiError> {
    #[derive(Deserialize)]
    struct Page {
        items: Vec<FileView>,
    }
    // Listed by prefix in path order, the file itself comes first among the paths that
    // start with its own.
    let url = format!(
        "/v1/tenants/{tenant}/files?prefix={}&limit=1",
        encode(path, false)
    );
    match client.get::<Page>(&url).await {
        Ok(page) => Ok(page.items.into_iter().find(|f| f.path == path)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

impl File {
    pub(super) async fn upload(
        &self,
        diags: &mut Diagnostics,
        mut planned: State,
        action: &str,
    ) -> Option<State> {
        let client = self.shared.client(diags)?;
        let tenant = s(&planned.tenant)?.to_owned();
        let path = s(&planned.path)?.to_owned();
        let body = match (&planned.content, &planned.source) {
            (Value::Value(c), _) => ReqBody::Bytes(Bytes::from(c.clone())),
            (_, Value::Value(src)) => ReqBody::File(PathBuf::from(src)),
            _ => {
                error(
                    diags,
                    "Missing content or source",
                    "",
                    AttributePath::root(),
                );
                return None;
            }
        };
        let template = planned.template.as_ref_option().copied().unwrap_or(false);
        let url = format!(
            "/v1/tenants/{tenant}/files/{}?template={template}",
            encode(&path, true)
        );
        let content_type = s(&planned.content_type).map(str::to_owned);
        let planned_sha = s(&planned.sha256).map(str::to_owned);
        let body_attr = planned.body_attr();
        let answer = client
            .send(Method::PUT, &url, body, content_type.as_deref())
            .await
            .and_then(|a| {
                serde_json::from_slice::<FileView>(&a.body).map_err(|e| {
                    ApiError::Transport(format!("unexpected answer from Signpost: {e}"))
                })
            });
        match answer {
            Ok(view) => {
                if let Some(sha) = planned_sha.filter(|sha| *sha != view.sha256) {
                    error(
                        diags,
                        "The file changed between plan and apply",
                        format!(
                            "The plan expected SHA-256 {sha}; Signpost received {} ({} bytes). Run terraform apply again.",
                            view.sha256, view.size
                        ),
                        at(body_attr),
                    );
                }
                planned.apply_view(view, &tenant);
                Some(planned)
            }
            Err(e) => {
                let action = format!("{action} file {tenant}/{path}");
                let fields = fields(body_attr);
                report(
                    diags,
                    &e,
                    &ErrorContext::new(&action, &fields).writing_child(),
                );
                None
            }
        }
    }
}
