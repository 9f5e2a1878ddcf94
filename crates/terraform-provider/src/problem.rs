//! Signpost's errors (`application/problem+json`) as Terraform diagnostics on the attribute
//! they are about: the problem `code` (and, for validation errors, the field its `detail`
//! names) picks the attribute; a refused batch's `items[]` each become a diagnostic on that
//! MAC's element of `macs`. Every diagnostic carries the problem's detail and request id.

use std::borrow::Cow;

use serde::Deserialize;
use tf_provider::{AttributePath, AttributePathStep, Diagnostic, Diagnostics};

use crate::delta::Batch;
use crate::mac;

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

/// The field a validation error's detail names (`setting_server: …`, `operations[3].mac: …`).
fn detail_field(detail: &str) -> Option<&str> {
    let (field, _) = detail.split_once(": ")?;
    let plausible = !field.is_empty()
        && field.starts_with(|c: char| c.is_ascii_lowercase())
        && field
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.[]".contains(c));
    plausible.then_some(field)
}

/// The field a problem code is about when its detail does not say.
fn code_field(code: &str, ctx: &ErrorContext<'_>) -> Option<&'static str> {
    Some(match code {
        "mac_owned_by_other_tenant" | "duplicate_mac" | "invalid_mac" => "mac",
        "unknown_profile" | "invalid_profile_id" => "profile",
        "invalid_url" | "invalid_setting_server" => "setting_server",
        "invalid_label" => "label",
        "invalid_setting" => "extra_settings",
        "invalid_tenant_id" => "tenant",
        "file_too_large" | "quota_exceeded" | "body_too_large" => "body",
        "not_found" if ctx.not_found_is_tenant => "tenant",
        c if c.starts_with("path_") => "path",
        _ => return None,
    })
}

/// The spelling of an operation's MAC in the configuration.
fn spelling_for(index: Option<usize>, canonical: &str, ctx: &ErrorContext<'_>) -> Option<String> {
    let batch = ctx.batch?;
    if let Some(s) = index.and_then(|i| batch.spellings.get(i)) {
        return Some(s.clone());
    }
    batch
        .ops
        .iter()
        .position(|op| mac::same(&op.mac, canonical))
        .and_then(|i| batch.spellings.get(i).cloned())
}

/// `extra_settings[2].name` → steps; `operations[i].` is stripped and remembered.
fn attribute_for(field: &str, op: Option<(usize, &str)>, ctx: &ErrorContext<'_>) -> AttributePath {
    let mut op_index = op.map(|(i, _)| i);
    let mut rest = field;
    if let Some(after) = field.strip_prefix("operations[")
        && let Some((n, tail)) = after.split_once(']')
    {
        op_index = n.parse().ok().or(op_index);
        rest = tail.strip_prefix('.').unwrap_or("mac");
    }
    let mut steps = Vec::new();
    for segment in rest.split('.') {
        let (name, indexes) = match segment.split_once('[') {
            Some((name, idx)) => (name, Some(idx)),
            None => (segment, None),
        };
        steps.push(AttributePathStep::Attribute(Cow::Owned(name.to_owned())));
        if let Some(idx) = indexes {
            for i in idx.split('[') {
                if let Ok(i) = i.trim_end_matches(']').parse::<i64>() {
                    steps.push(AttributePathStep::Index(i));
                }
            }
        }
    }
    let Some(AttributePathStep::Attribute(first)) = steps.first().cloned() else {
        return AttributePath::root();
    };
    let Some((_, attr)) = ctx.fields.iter().find(|(api, _)| *api == first) else {
        return AttributePath::root();
    };
    steps[0] = AttributePathStep::Attribute(Cow::Owned((*attr).to_owned()));
    let mut path = AttributePath { steps };
    if ctx.batch.is_some() && first == "mac" {
        // The set element, addressed by its value as the configuration spells it.
        let canonical = op.map_or("", |(_, m)| m);
        // The list element, found by its spelling in the configuration.
        path = AttributePath::new(attr.to_string());
        if let Some(spelling) = spelling_for(op_index, canonical, ctx)
            && let Some(i) = ctx
                .elements
                .and_then(|list| list.iter().position(|m| *m == spelling))
        {
            path = path.index(i64::try_from(i).unwrap_or(i64::MAX));
        }
    }
    path
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => "Signpost refused the request".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delta::{Target, canonical_set, delta};

    const DEVICE: &[(&str, &str)] = &[
        ("tenant", "tenant"),
        ("mac", "mac"),
        ("profile", "profile"),
        ("setting_server", "setting_server"),
        ("label", "label"),
    ];
    const DEVICES: &[(&str, &str)] = &[
        ("tenant", "tenant"),
        ("mac", "macs"),
        ("profile", "profile"),
        ("setting_server", "setting_server"),
        ("label", "label"),
    ];

    fn problem(code: &str, status: u16, detail: Option<&str>) -> Problem {
        Problem {
            code: code.into(),
            title: "a value in the request is invalid".into(),
            status,
            detail: detail.map(Into::into),
            request_id: Some("req-1".into()),
            items: vec![],
        }
    }

    fn path(p: &AttributePath) -> String {
        p.to_string()
    }

    #[test]
    fn owned_mac_goes_on_mac() {
        let err = ApiError::from(problem(
            "mac_owned_by_other_tenant",
            409,
            Some("000413AABBCC is registered to another tenant"),
        ));
        let d = diagnostics(&err, &ErrorContext::new("create device", DEVICE));
        assert_eq!(d.len(), 1);
        assert_eq!(path(&d[0].attribute), "mac");
        assert!(
            d[0].detail
                .contains("000413AABBCC is registered to another tenant")
        );
        assert!(d[0].detail.contains("request id req-1"));
        assert!(d[0].detail.contains("409 mac_owned_by_other_tenant"));
    }

    #[test]
    fn validation_detail_names_the_attribute() {
        let err = ApiError::from(problem(
            "invalid_url",
            422,
            Some("setting_server: not an http(s) URL"),
        ));
        let d = diagnostics(&err, &ErrorContext::new("update device", DEVICE));
        assert_eq!(path(&d[0].attribute), "setting_server");

        let tenant = &[
            ("tenant", "id"),
            ("default_setting_server", "default_setting_server"),
        ];
        let err = ApiError::from(problem(
            "invalid_url",
            422,
            Some("default_setting_server: bad"),
        ));
        let d = diagnostics(&err, &ErrorContext::new("create tenant", tenant));
        assert_eq!(path(&d[0].attribute), "default_setting_server");
    }

    #[test]
    fn nested_fields_keep_their_index() {
        let profile = &[
            ("profile", "profile_id"),
            ("extra_settings", "extra_settings"),
        ];
        let err = ApiError::from(problem(
            "invalid_setting",
            422,
            Some("extra_settings[2].name: only [A-Za-z0-9_]"),
        ));
        let d = diagnostics(&err, &ErrorContext::new("create profile", profile));
        assert_eq!(
            d[0].attribute.steps,
            vec![
                AttributePathStep::Attribute("extra_settings".into()),
                AttributePathStep::Index(2),
                AttributePathStep::Attribute("name".into()),
            ]
        );
        // The path parameter `profile` is the resource's profile_id.
        let err = ApiError::from(problem("invalid_profile_id", 422, Some("profile: x")));
        let d = diagnostics(&err, &ErrorContext::new("create profile", profile));
        assert_eq!(path(&d[0].attribute), "profile_id");
    }

    #[test]
    fn unknown_profile_goes_on_profile() {
        let err = ApiError::from(problem(
            "unknown_profile",
            422,
            Some("profile: no profile desk in this tenant"),
        ));
        let d = diagnostics(&err, &ErrorContext::new("create device", DEVICE));
        assert_eq!(path(&d[0].attribute), "profile");
    }

    #[test]
    fn batch_items_go_on_the_mac_element_as_spelled() {
        let want = canonical_set(["00:04:13:00:00:01", "000413000002"]).unwrap();
        let target = Target {
            profile: Some("desk".into()),
            ..Target::default()
        };
        let batch = delta(None, (&target, &want));
        let mut p = problem("batch_refused", 409, None);
        p.title = "the batch was refused; nothing was applied".into();
        p.items = vec![
            ItemProblem {
                index: 0,
                mac: "000413000001".into(),
                code: "mac_owned_by_other_tenant".into(),
                detail: None,
            },
            ItemProblem {
                index: 1,
                mac: "000413000002".into(),
                code: "unknown_profile".into(),
                detail: Some("no profile desk".into()),
            },
        ];
        let err = ApiError::from(p);
        let config = ["000413000002".to_owned(), "00:04:13:00:00:01".to_owned()];
        let ctx = ErrorContext::new("update devices", DEVICES).with_batch(&batch, Some(&config));
        let d = diagnostics(&err, &ctx);
        assert_eq!(d.len(), 2);
        assert_eq!(
            d[0].attribute.steps,
            vec![
                AttributePathStep::Attribute("macs".into()),
                AttributePathStep::Index(1),
            ]
        );
        assert_eq!(
            d[0].summary,
            "MAC 00:04:13:00:00:01 is registered to another tenant"
        );
        assert!(d[0].detail.contains("request id req-1"));
        assert_eq!(path(&d[1].attribute), "profile");
        assert!(d[1].detail.contains("no profile desk"));
    }

    #[test]
    fn operation_fields_of_a_batch() {
        let want = canonical_set(["000413000001", "0004.1300.0002"]).unwrap();
        let batch = delta(None, (&Target::default(), &want));
        let config = ["000413000001".to_owned(), "0004.1300.0002".to_owned()];
        let ctx = ErrorContext::new("update devices", DEVICES).with_batch(&batch, Some(&config));
        let err = ApiError::from(problem(
            "invalid_url",
            422,
            Some("operations[1].setting_server: bad"),
        ));
        assert_eq!(
            path(&diagnostics(&err, &ctx)[0].attribute),
            "setting_server"
        );
        let err = ApiError::from(problem("invalid_mac", 422, Some("operations[1].mac: bad")));
        assert_eq!(
            diagnostics(&err, &ctx)[0].attribute.steps,
            vec![
                AttributePathStep::Attribute("macs".into()),
                AttributePathStep::Index(1),
            ]
        );
        // Without the configured list (destroy), the whole attribute.
        let ctx = ErrorContext::new("delete devices", DEVICES).with_batch(&batch, None);
        assert_eq!(path(&diagnostics(&err, &ctx)[0].attribute), "macs");
    }

    #[test]
    fn file_errors() {
        let file = &[("path", "path"), ("body", "source")];
        let err = ApiError::from(problem(
            "path_dot_segment",
            400,
            Some("no . or .. segments"),
        ));
        let d = diagnostics(&err, &ErrorContext::new("upload", file));
        assert_eq!(path(&d[0].attribute), "path");
        let err = ApiError::from(problem(
            "quota_exceeded",
            413,
            Some("9 of 10 bytes are used"),
        ));
        let d = diagnostics(&err, &ErrorContext::new("upload", file));
        assert_eq!(path(&d[0].attribute), "source");
    }

    #[test]
    fn missing_tenant_and_unmapped_codes() {
        let err = ApiError::from(problem("not_found", 404, None));
        let d = diagnostics(
            &err,
            &ErrorContext::new("create device", DEVICE).writing_child(),
        );
        assert_eq!(path(&d[0].attribute), "tenant");
        assert!(d[0].detail.contains("tenant does not exist"));
        let d = diagnostics(&err, &ErrorContext::new("read device", DEVICE));
        assert!(d[0].attribute.steps.is_empty());

        let err = ApiError::from(problem(
            "tenant_not_empty",
            409,
            Some("delete its devices first"),
        ));
        let d = diagnostics(&err, &ErrorContext::new("delete tenant", DEVICE));
        assert!(d[0].attribute.steps.is_empty());
        assert!(d[0].detail.starts_with("delete its devices first"));
        assert_eq!(d[0].summary, "A value in the request is invalid");
    }

    #[test]
    fn transport_errors_are_on_the_resource() {
        let err = ApiError::Transport("connection refused".into());
        let d = diagnostics(&err, &ErrorContext::new("read tenant acme", DEVICE));
        assert!(d[0].attribute.steps.is_empty());
        assert_eq!(d[0].detail, "read tenant acme: connection refused");
    }

    #[test]
    fn detail_field_is_only_a_field() {
        assert_eq!(detail_field("setting_server: bad"), Some("setting_server"));
        assert_eq!(
            detail_field("operations[3].mac: bad"),
            Some("operations[3].mac")
        );
        assert_eq!(detail_field("000413AABBCC is registered"), None);
        assert_eq!(detail_field("9 of 10 bytes: used"), None);
    }
}
