//! Which attribute a problem is about: the field its detail or code names, and a batch
//! operation's MAC as spelled in the configuration.

use std::borrow::Cow;

use tf_provider::{AttributePath, AttributePathStep};

use super::ErrorContext;
use crate::mac;

/// The field a validation error's detail names (`setting_server: …`, `operations[3].mac: …`).
pub(super) fn detail_field(detail: &str) -> Option<&str> {
    let (field, _) = detail.split_once(": ")?;
    let plausible = !field.is_empty()
        && field.starts_with(|c: char| c.is_ascii_lowercase())
        && field
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.[]".contains(c));
    plausible.then_some(field)
}

/// The field a problem code is about when its detail does not say.
pub(super) fn code_field(code: &str, ctx: &ErrorContext<'_>) -> Option<&'static str> {
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
pub(super) fn spelling_for(
    index: Option<usize>,
    canonical: &str,
    ctx: &ErrorContext<'_>,
) -> Option<String> {
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
pub(super) fn attribute_for(
    field: &str,
    op: Option<(usize, &str)>,
    ctx: &ErrorContext<'_>,
) -> AttributePath {
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
