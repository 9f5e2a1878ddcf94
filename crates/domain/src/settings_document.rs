//! The settings document a booting phone is sent: `setting_server` plus a profile's extra
//! settings, in Snom's XML format or its legacy plain-text format.
//!
//! A phone that is not redirected gets the same envelope with nothing in it. That empty
//! document is a constant, so every "no" (unknown MAC, no URL, suspended tenant, no MAC at
//! all) is byte-identical and a scanner cannot tell the cases apart.

use std::fmt::Write;

use crate::PhoneSetting;

/// Which of Snom's two settings syntaxes a document is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingsFormat {
    /// `<settings><phone-settings>…`, what `{phone_type}.htm` answers (firmware 7 and later).
    Xml,
    /// `<html><pre>` with `name$: value` lines, what the legacy `.php?mac=` path answers.
    Text,
}

impl SettingsFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            SettingsFormat::Xml => "text/xml; charset=utf-8",
            SettingsFormat::Text => "text/plain; charset=utf-8",
        }
    }

    /// The document that redirects nowhere.
    pub fn empty_document(self) -> &'static str {
        match self {
            SettingsFormat::Xml => EMPTY_XML,
            SettingsFormat::Text => EMPTY_TEXT,
        }
    }
}

const XML_HEAD: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<settings><phone-settings>";
const XML_TAIL: &str = "</phone-settings></settings>\n";
const EMPTY_XML: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<settings><phone-settings></phone-settings></settings>\n";

// Older redirect clients read the fourth line of the text answer, so the comment line keeps
// `setting_server` there.
const TEXT_HEAD: &str = "<html>\n<pre>\n# signpost\n";
const TEXT_TAIL: &str = "</pre>\n</html>\n";
const EMPTY_TEXT: &str = "<html>\n<pre>\n# signpost\n</pre>\n</html>\n";

/// Renders the document that points a phone at `setting_server`. The URL is written
/// verbatim: placeholders such as `{mac}` are the phone's to expand.
pub fn render_settings(
    format: SettingsFormat,
    setting_server: &str,
    extra: &[PhoneSetting],
) -> String {
    let mut out = String::with_capacity(160 + setting_server.len() + 64 * extra.len());
    match format {
        SettingsFormat::Xml => {
            out.push_str(XML_HEAD);
            out.push_str("<setting_server perm=\"RW\">");
            escape_xml_into(&mut out, setting_server);
            out.push_str("</setting_server>");
            for setting in extra {
                let name = setting.name.as_str();
                out.push('<');
                out.push_str(name);
                if let Some(idx) = setting.idx {
                    let _ = write!(out, " idx=\"{idx}\"");
                }
                out.push_str(" perm=\"");
                out.push_str(setting.perm.xml_flag());
                out.push_str("\">");
                escape_xml_into(&mut out, setting.value.as_str());
                out.push_str("</");
                out.push_str(name);
                out.push('>');
            }
            out.push_str(XML_TAIL);
        }
        SettingsFormat::Text => {
            out.push_str(TEXT_HEAD);
            out.push_str("setting_server$: ");
            out.push_str(setting_server);
            out.push('\n');
            for setting in extra {
                out.push_str(setting.name.as_str());
                // The text format has no index attribute: indexed settings carry it as a
                // numeric suffix (`user_name1`).
                if let Some(idx) = setting.idx {
                    let _ = write!(out, "{idx}");
                }
                out.push(setting.perm.text_flag());
                out.push_str(": ");
                out.push_str(setting.value.as_str());
                out.push('\n');
            }
            out.push_str(TEXT_TAIL);
        }
    }
    out
}

/// Escapes text for an XML element body or a double-quoted attribute.
pub fn escape_xml_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Permission, PhoneSetting};

    fn setting(name: &str, idx: Option<u16>, value: &str, perm: Permission) -> PhoneSetting {
        PhoneSetting {
            name: name.to_owned().try_into().unwrap(),
            idx,
            value: value.to_owned().try_into().unwrap(),
            perm,
        }
    }

    #[test]
    fn xml_carries_the_url_verbatim_and_escaped() {
        let doc = render_settings(
            SettingsFormat::Xml,
            "https://prov.example.com/{mac}?a=1&b=2",
            &[],
        );
        assert_eq!(
            doc,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<settings><phone-settings>\
             <setting_server perm=\"RW\">https://prov.example.com/{mac}?a=1&amp;b=2</setting_server>\
             </phone-settings></settings>\n"
        );
    }

    #[test]
    fn xml_carries_extra_settings_with_index_and_permission() {
        let extra = [
            setting("update_policy", None, "auto_update", Permission::ReadOnly),
            setting("user_name", Some(1), "a<b", Permission::Remain),
        ];
        let doc = render_settings(SettingsFormat::Xml, "http://p.example/", &extra);
        assert!(doc.contains("<update_policy perm=\"R\">auto_update</update_policy>"));
        assert!(doc.contains("<user_name idx=\"1\" perm=\"!\">a&lt;b</user_name>"));
    }

    #[test]
    fn text_puts_setting_server_on_the_fourth_line() {
        let extra = [setting("user_name", Some(2), "alice", Permission::ReadOnly)];
        let doc = render_settings(
            SettingsFormat::Text,
            "https://prov.example.com/{mac}",
            &extra,
        );
        let lines: Vec<&str> = doc.lines().collect();
        assert_eq!(lines[0], "<html>");
        assert_eq!(lines[1], "<pre>");
        assert_eq!(lines[3], "setting_server$: https://prov.example.com/{mac}");
        assert_eq!(lines[4], "user_name2&: alice");
        assert_eq!(lines[5..], ["</pre>", "</html>"]);
    }

    #[test]
    fn empty_documents_share_the_envelope() {
        let xml = render_settings(SettingsFormat::Xml, "http://x.example/", &[]);
        assert!(xml.starts_with(XML_HEAD) && EMPTY_XML.starts_with(XML_HEAD));
        assert!(EMPTY_XML.ends_with(XML_TAIL));
        let text = render_settings(SettingsFormat::Text, "http://x.example/", &[]);
        assert!(text.starts_with(TEXT_HEAD) && EMPTY_TEXT.starts_with(TEXT_HEAD));
        assert!(EMPTY_TEXT.ends_with(TEXT_TAIL));
    }
}
