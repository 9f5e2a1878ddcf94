//! What the phone-path tests share: the test phone, the documents Signpost answers it with,
//! and the settings every server of those tests runs with.

use serde_json::json;

pub const MAC: &str = "000413AABBCC";
pub const PHONE: &str = "/snomD785-000413AABBCC.htm";
pub const EMPTY_XML: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<settings><phone-settings></phone-settings></settings>\n";

pub fn phone_path(mac: &str) -> String {
    format!("/snomD785-{mac}.htm")
}

/// The XML settings document that sends a phone to `url`.
pub fn redirect_xml(url: &str) -> String {
    let escaped = url
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let escaped = escaped.replace('"', "&quot;");
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<settings><phone-settings><setting_server perm=\"RW\">{escaped}</setting_server></phone-settings></settings>\n"
    )
}

/// The legacy plain-text document that sends a phone to `url`.
pub fn redirect_text(url: &str) -> String {
    format!("<html>\n<pre>\n# signpost\nsetting_server$: {url}\n</pre>\n</html>\n")
}

pub fn tenant(status: &str) -> serde_json::Value {
    json!({"display_name": "Acme", "status": status})
}

/// Variables every server of these tests gets besides `extra`: no rate limits (the tests
/// fire far more than a phone would), and only warnings logged.
pub fn phone_env(extra: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
    let quiet = [
        ("SIGNPOST_PHONE_RATE_LIMIT", "false".into()),
        ("RUST_LOG", "warn".into()),
    ];
    extra.iter().cloned().chain(quiet).collect()
}
