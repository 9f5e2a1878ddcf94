//! A tenant's hosted files: upload (streamed), download (with Range and conditional GET),
//! list, delete, and rotation of the device tokens in the URLs phones fetch them from.
//!
//! File paths contain `/`, which a path parameter cannot: the routes end in a wildcard
//! segment (`*param1`, the name poem-openapi gives the second path parameter), and the
//! published document names it `{path}` (see `crate::openapi_fixup`).

use futures::TryStreamExt;
use poem::Body;
use poem::http::HeaderMap;
use poem::web::Data;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::{Binary, Json, Response};
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use signpost_domain::FilePath;
use signpost_service::files::Upload;
use signpost_store::registry::FileRecord;

use super::tenants::{Deleted, tenant_id};
use super::{Bearer, change, decode_cursor, next_cursor, page_size};
use crate::AppState;
use crate::conditional::Validators;
use crate::problem::ApiError;
use crate::request_log::RequestId;

#[derive(Tags)]
enum Tag {
    /// Setting and firmware files that Signpost hosts for the tenant's phones.
    Files,
}

pub struct FilesApi;

#[derive(Debug, Object)]
pub struct FileView {
    pub path: String,
    pub size: u64,
    /// Hex SHA-256 of the body; the ETag is this, quoted.
    pub sha256: String,
    pub etag: String,
    pub content_type: String,
    /// `{mac}`, `{phone_type}` and `{firmware_version}` are filled in when served to a phone.
    pub template: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<FileRecord> for FileView {
    fn from(f: FileRecord) -> Self {
        let sha256 = hex::encode(f.sha256);
        Self {
            etag: format!("\"{sha256}\""),
            path: f.path,
            size: f.size,
            sha256,
            content_type: f.content_type,
            template: f.template,
            created_at: f.created_at.to_rfc3339(),
            updated_at: f.updated_at.to_rfc3339(),
        }
    }
}

#[derive(Debug, Object)]
pub struct FilePage {
    pub items: Vec<FileView>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Object)]
pub struct FileTokens {
    /// Device URLs handed out before this epoch no longer work.
    pub file_token_epoch: u32,
}

#[derive(Debug, ApiResponse)]
pub enum PutFile {
    #[oai(status = 201)]
    Created(Json<FileView>),
    #[oai(status = 200)]
    Replaced(Json<FileView>),
}

#[derive(Debug, ApiResponse)]
pub enum FileBody {
    /// The whole file.
    #[oai(status = 200)]
    Whole(Binary<Body>),
    /// The requested range (`Content-Range` says which).
    #[oai(status = 206)]
    Partial(Binary<Body>),
    /// The caller's copy is current (`If-None-Match` / `If-Modified-Since`).
    #[oai(status = 304)]
    NotModified,
    /// The range lies outside the file.
    #[oai(status = 416)]
    RangeNotSatisfiable,
}

/// A file path from the URL: bad ones are 400 with a code naming the rule.
fn file_path(raw: &str) -> Result<FilePath, ApiError> {
    raw.parse::<FilePath>().map_err(|e| {
        ApiError::new(
            poem::http::StatusCode::BAD_REQUEST,
            e.code(),
            "the file path is not allowed",
        )
        .detail(e.to_string())
    })
}

fn with_validators<T: poem_openapi::ApiResponse>(
    response: Response<T>,
    v: &Validators,
) -> Response<T> {
    let response = response
        .header("ETag", v.etag.clone())
        .header("Accept-Ranges", "bytes");
    match v.last_modified {
        Some(at) => response.header("Last-Modified", httpdate(at)),
        None => response,
    }
}

fn httpdate(at: std::time::SystemTime) -> String {
    use poem::web::headers::{HeaderMapExt, LastModified};
    let mut map = HeaderMap::new();
    map.typed_insert(LastModified::from(at));
    map.get("last-modified")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

// poem-openapi takes every request parameter as an argument of its own.
#[allow(clippy::too_many_arguments)]
#[OpenApi(prefix_path = "/v1/tenants", tag = "Tag::Files")]
impl FilesApi {
    /// Upload a file
    ///
    /// The body is streamed to storage and published atomically: readers get the old version
    /// or the new one, never a mix, and an upload that fails leaves the old version. The
    /// content type comes from the request, else from the file name. `?template=true` marks
    /// a template. Limits: `max_file_bytes` per file (413 `file_too_large`) and
    /// `file_quota_bytes` per tenant (413 `quota_exceeded`).
    #[oai(
        path = "/:tenant/files/*param1",
        method = "put",
        operation_id = "put_file"
    )]
    async fn put(
        &self,
        auth: Bearer,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        request: &poem::Request,
        tenant: Path<String>,
        /// Relative, `/`-separated, at most 512 bytes; no `..`, `.` or empty segments.
        path: Path<String>,
        template: Query<Option<bool>>,
        #[oai(name = "Content-Type")] content_type: Header<Option<String>>,
        #[oai(name = "Content-Length")] content_length: Header<Option<u64>>,
        body: Binary<Body>,
    ) -> Result<PutFile, ApiError> {
        let tenant = tenant_id(&tenant)?;
        let path = file_path(&path)?;
        // No type sent (see `prepare_file_upload`), or curl's default for `--data-binary`:
        // infer it from the path.
        let sent = request.data::<super::NoContentType>().is_none();
        let content_type = content_type
            .0
            .filter(|c| sent && !c.is_empty() && c != "application/x-www-form-urlencoded");
        let upload = Upload {
            path,
            content_type,
            template: template.0.unwrap_or(false),
            declared_size: content_length.0,
        };
        let stream = body.0.into_bytes_stream().map_err(std::io::Error::other);
        let published = state
            .files
            .upload(
                &auth.0,
                &change(&auth.0, &request_id),
                &tenant,
                upload,
                Box::pin(stream),
            )
            .await?;
        let view = FileView::from(published.file);
        Ok(if published.created {
            PutFile::Created(Json(view))
        } else {
            PutFile::Replaced(Json(view))
        })
    }

    /// Download a file
    ///
    /// Supports `Range` (one range; 206), `If-Range`, `If-None-Match` and
    /// `If-Modified-Since` (304).
    #[oai(
        path = "/:tenant/files/*param1",
        method = "get",
        operation_id = "get_file"
    )]
    async fn get(
        &self,
        auth: Bearer,
        state: Data<&AppState>,
        request: &poem::Request,
        tenant: Path<String>,
        path: Path<String>,
    ) -> Result<Response<FileBody>, ApiError> {
        let tenant = tenant_id(&tenant)?;
        let path = file_path(&path)?;
        let file = state.files.get(&auth.0, &tenant, &path).await?;
        let validators = Validators::new(&file.sha256, file.updated_at);
        if validators.not_modified(request.headers()) {
            return Ok(with_validators(
                Response::new(FileBody::NotModified),
                &validators,
            ));
        }
        let Ok(range) = validators.range(request.headers(), file.size) else {
            return Ok(Response::new(FileBody::RangeNotSatisfiable)
                .header("Content-Range", format!("bytes */{}", file.size)));
        };
        let object = state.files.open(&file, range).await?;
        let body = Binary(Body::from_bytes_stream(object.body));
        let response = match range {
            None => Response::new(FileBody::Whole(body))
                .header("Content-Length", object.total_size.to_string()),
            Some(_) => {
                let last = object.last.unwrap_or(object.first);
                Response::new(FileBody::Partial(body))
                    .header(
                        "Content-Range",
                        format!("bytes {}-{last}/{}", object.first, object.total_size),
                    )
                    .header("Content-Length", (last - object.first + 1).to_string())
            }
        };
        Ok(with_validators(response, &validators).header("Content-Type", file.content_type))
    }

    /// Delete a file
    ///
    /// Phones can no longer fetch it; its stored body is removed.
    #[oai(
        path = "/:tenant/files/*param1",
        method = "delete",
        operation_id = "delete_file"
    )]
    async fn delete(
        &self,
        auth: Bearer,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        tenant: Path<String>,
        path: Path<String>,
    ) -> Result<Deleted, ApiError> {
        let tenant = tenant_id(&tenant)?;
        let path = file_path(&path)?;
        state
            .files
            .delete(&auth.0, &change(&auth.0, &request_id), &tenant, &path)
            .await?;
        Ok(Deleted::Deleted)
    }

    /// List files
    ///
    /// In path order; `prefix` keeps only paths that start with it (literally).
    #[oai(path = "/:tenant/files", method = "get", operation_id = "list_files")]
    async fn list(
        &self,
        auth: Bearer,
        state: Data<&AppState>,
        tenant: Path<String>,
        prefix: Query<Option<String>>,
        cursor: Query<Option<String>>,
        limit: Query<Option<u32>>,
    ) -> Result<Json<FilePage>, ApiError> {
        let tenant = tenant_id(&tenant)?;
        let limit = page_size(limit.0);
        let after = decode_cursor(cursor.0)?;
        let items = state
            .files
            .list(
                &auth.0,
                &tenant,
                prefix.0.as_deref().unwrap_or(""),
                after.as_deref(),
                limit,
            )
            .await?;
        let next_cursor = next_cursor(&items, limit, |f| f.path.clone());
        Ok(Json(FilePage {
            items: items.into_iter().map(Into::into).collect(),
            next_cursor,
        }))
    }

    /// Rotate the tenant's device tokens
    ///
    /// Every hosted-file URL handed out so far stops working; phones get new ones at their
    /// next redirect.
    #[oai(
        path = "/:tenant/file-tokens/rotate",
        method = "post",
        operation_id = "rotate_file_tokens"
    )]
    async fn rotate(
        &self,
        auth: Bearer,
        state: Data<&AppState>,
        request_id: Data<&RequestId>,
        tenant: Path<String>,
    ) -> Result<Json<FileTokens>, ApiError> {
        let tenant = tenant_id(&tenant)?;
        let file_token_epoch = state
            .tenants
            .rotate_file_tokens(&auth.0, &change(&auth.0, &request_id), &tenant)
            .await?;
        Ok(Json(FileTokens { file_token_epoch }))
    }
}
