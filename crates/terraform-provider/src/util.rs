//! Small helpers shared by the resources: schema building, values, diagnostics.

use std::borrow::Cow;
use std::collections::HashMap;

use tf_provider::schema::{
    Attribute, AttributeConstraint, AttributeType, Block, Description, Schema,
};
use tf_provider::value::Value;
use tf_provider::{AttributePath, Diagnostic, Diagnostics};

/// An attribute with a Markdown description.
pub fn attr(ty: AttributeType, constraint: AttributeConstraint, description: &str) -> Attribute {
    Attribute {
        attr_type: ty,
        description: Description::markdown(description),
        constraint,
        sensitive: false,
        deprecated: false,
    }
}

pub fn required(description: &str) -> Attribute {
    attr(
        AttributeType::String,
        AttributeConstraint::Required,
        description,
    )
}

pub fn optional(description: &str) -> Attribute {
    attr(
        AttributeType::String,
        AttributeConstraint::Optional,
        description,
    )
}

pub fn computed(description: &str) -> Attribute {
    attr(
        AttributeType::String,
        AttributeConstraint::Computed,
        description,
    )
}

pub fn optional_computed(description: &str) -> Attribute {
    attr(
        AttributeType::String,
        AttributeConstraint::OptionalComputed,
        description,
    )
}

pub fn schema(description: &str, attributes: Vec<(&str, Attribute)>) -> Schema {
    Schema {
        version: 1,
        block: Block {
            version: 1,
            attributes: attributes
                .into_iter()
                .map(|(name, a)| (name.to_owned(), a))
                .collect::<HashMap<_, _>>(),
            description: Description::markdown(description),
            ..Block::default()
        },
    }
}

/// The string in a known, non-null value.
pub fn s(v: &Value<String>) -> Option<&str> {
    v.as_ref_option().map(String::as_str)
}

/// `Some` → value, `None` → null.
pub fn val<T>(o: Option<T>) -> Value<T> {
    o.map_or(Value::Null, Value::Value)
}

/// An error diagnostic on `attribute` (built by hand: `Diagnostic::new` appends a backtrace
/// when RUST_BACKTRACE is set, which Terraform would show to the user).
pub fn error(
    diags: &mut Diagnostics,
    summary: impl Into<String>,
    detail: impl Into<String>,
    attribute: AttributePath,
) {
    diags.add_error(Diagnostic {
        summary: Cow::Owned(summary.into()),
        detail: Cow::Owned(detail.into()),
        attribute,
    });
}

pub fn warning(
    diags: &mut Diagnostics,
    summary: impl Into<String>,
    detail: impl Into<String>,
    attribute: AttributePath,
) {
    diags.add_warning(Diagnostic {
        summary: Cow::Owned(summary.into()),
        detail: Cow::Owned(detail.into()),
        attribute,
    });
}

pub fn at(name: &'static str) -> AttributePath {
    AttributePath::new(name)
}

/// Validates a known string attribute with `check`; the error goes on that attribute.
pub fn check_attr(
    diags: &mut Diagnostics,
    value: &Value<String>,
    name: &'static str,
    check: impl Fn(&str) -> Result<String, String>,
) {
    if let Some(v) = s(value)
        && let Err(e) = check(v)
    {
        error(diags, format!("Invalid {name}"), e, at(name));
    }
}
