//! Signpost's errors (`application/problem+json`) as Terraform diagnostics on the attribute
//! they are about: the problem `code` (and, for validation errors, the field its `detail`
//! names) picks the attribute; a refused batch's `items[]` each become a diagnostic on that
//! MAC's element of `macs`. Every diagnostic carries the problem's detail and request id.

use std::borrow::Cow;

use serde::Deserialize;
use tf_provider::{AttributePath, Diagnostic, Diagnostics};

use crate::delta::Batch;

mod attribute;

use attribute::{attribute_for, code_field, detail_field, spelling_for};

/// The body of every failed Signpost request.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Problem {
    pub code: String,
    pub title: String,
    pub status: u16,
    pub detail: Option<String>,
    pub request_id: Option<String>,
    pub items: Vec<ItemProblem>,
}

/// One refused item of a batch.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ItemProblem {
    pub index: u32,
    pub mac: String,
    pub code: String,
    pub detail: Option<String>,
}

/// Why a request to Signpost failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiError {
    /// Signpost answered with an error (boxed: results stay small).
    Problem(Box<Problem>),
    /// No answer (connection refused, timeout, TLS, unreadable response, …).
    Transport(String),
}

impl From<Problem> for ApiError {
    fn from(p: Problem) -> Self {
        Self::Problem(Box::new(p))
    }
}

impl ApiError {
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Problem(p) => Some(p.status),
            Self::Transport(_) => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Problem(p) => {
                write!(f, "{} {}: {}", p.status, p.code, p.title)?;
                if let Some(detail) = &p.detail {
                    write!(f, " ({detail})")?;
                }
                if let Some(id) = &p.request_id {
                    write!(f, " [request id {id}]")?;
                }
                Ok(())
            }
            Self::Transport(e) => f.write_str(e),
        }
    }
}

/// Where a resource's errors go.
#[derive(Clone, Copy, Debug)]
pub struct ErrorContext<'a> {
    /// What was being done, e.g. `create device acme/000413AABBCC`.
    pub action: &'a str,
    /// API field name → Terraform attribute. A field that is not listed goes on the
    /// resource as a whole. The pseudo-field `body` is a file's body (content or source).
    pub fields: &'a [(&'a str, &'a str)],
    /// The batch that was sent, for `signpost_devices`: its items and `operations[i]` fields
    /// are reported on the element of `macs` spelled as in the configuration.
    pub batch: Option<&'a Batch>,
    /// The `macs` list as configured, to turn a spelling into the element's index.
    pub elements: Option<&'a [String]>,
    /// Whether a 404 means the tenant is missing (child resources being written).
    pub not_found_is_tenant: bool,
}

impl<'a> ErrorContext<'a> {
    pub fn new(action: &'a str, fields: &'a [(&'a str, &'a str)]) -> Self {
        Self {
            action,
            fields,
            batch: None,
            elements: None,
            not_found_is_tenant: false,
        }
    }

    /// `elements`: the configured `macs` list (None: report on `macs` as a whole).
    pub fn with_batch(mut self, batch: &'a Batch, elements: Option<&'a [String]>) -> Self {
        self.batch = Some(batch);
        self.elements = elements;
        self
    }

    pub fn writing_child(mut self) -> Self {
        self.not_found_is_tenant = true;
        self
    }
}

fn diag(summary: String, detail: String, attribute: AttributePath) -> Diagnostic {
    // Built by hand: `Diagnostic::new` appends a backtrace when RUST_BACKTRACE is set.
    Diagnostic {
        summary: Cow::Owned(summary),
        detail: Cow::Owned(detail),
        attribute,
    }
}

/// The diagnostics for a failed request.
pub fn diagnostics(err: &ApiError, ctx: &ErrorContext<'_>) -> Vec<Diagnostic> {
    let problem = match err {
        ApiError::Transport(e) => {
            return vec![diag(
                "Signpost could not be reached".into(),
                format!("{}: {e}", ctx.action),
                AttributePath::root(),
            )];
        }
        ApiError::Problem(p) => p,
    };
    let answer = format!(
        "{} was refused: Signpost answered {} {} ({}); request id {}.",
        ctx.action,
        problem.status,
        problem.code,
        problem.title,
        problem.request_id.as_deref().unwrap_or("unknown"),
    );
    if !problem.items.is_empty() {
        return problem
            .items
            .iter()
            .map(|item| item_diagnostic(problem, item, ctx, &answer))
            .collect();
    }
    let detail_field = problem.detail.as_deref().and_then(detail_field);
    let field = detail_field.or_else(|| code_field(&problem.code, ctx));
    let attribute = field.map_or_else(AttributePath::root, |f| attribute_for(f, None, ctx));
    let mut detail = problem.detail.clone().unwrap_or_default();
    if problem.code == "not_found" && ctx.not_found_is_tenant {
        detail = "the tenant does not exist, or this API key cannot see it".into();
    }
    let detail = if detail.is_empty() {
        answer
    } else {
        format!("{detail}\n\n{answer}")
    };
    vec![diag(capitalised(&problem.title), detail, attribute)]
}

/// The value of `result`, or `None` with its error added to `diags` as [`diagnostics`]: the
/// usual end of a call whose failure is the whole answer.
pub fn reported<T>(
    diags: &mut Diagnostics,
    result: Result<T, ApiError>,
    ctx: &ErrorContext<'_>,
) -> Option<T> {
    result.map_err(|e| report(diags, &e, ctx)).ok()
}

/// Adds [`diagnostics`] to `diags`.
pub fn report(diags: &mut Diagnostics, err: &ApiError, ctx: &ErrorContext<'_>) {
    for d in diagnostics(err, ctx) {
        diags.add_error(d);
    }
}

fn item_diagnostic(
    problem: &Problem,
    item: &ItemProblem,
    ctx: &ErrorContext<'_>,
    answer: &str,
) -> Diagnostic {
    let field = if item.code == "unknown_profile" {
        "profile"
    } else {
        "mac"
    };
    let index = usize::try_from(item.index).ok();
    let attribute = attribute_for(field, index.map(|i| (i, item.mac.as_str())), ctx);
    let spelling = spelling_for(index, &item.mac, ctx).unwrap_or_else(|| item.mac.clone());
    let what = match item.code.as_str() {
        "mac_owned_by_other_tenant" => "is registered to another tenant".to_owned(),
        "duplicate_mac" => "appears twice in the batch".to_owned(),
        "unknown_profile" => "names a profile this tenant does not have".to_owned(),
        other => format!("was refused ({other})"),
    };
    let mut detail = format!("batch item {} ({}): {}", item.index, item.mac, item.code);
    if let Some(d) = &item.detail {
        detail.push_str(": ");
        detail.push_str(d);
    }
    if let Some(d) = &problem.detail {
        detail.push('\n');
        detail.push_str(d);
    }
    diag(
        format!("MAC {spelling} {what}"),
        format!("{detail}\n\n{answer}"),
        attribute,
    )
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => "Signpost refused the request".into(),
    }
}

#[cfg(test)]
mod tests;
