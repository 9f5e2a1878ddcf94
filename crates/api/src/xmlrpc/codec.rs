//! A strict, small XML-RPC codec: `<methodCall>` in, `<methodResponse>` out. Pure, no I/O.
//!
//! Requests come from the network, so decoding is deliberately narrow: UTF-8 only, no DTDs,
//! no entities beyond the five predefined ones and character references, bounded nesting,
//! and no attributes or stray text where XML-RPC has none. Anything else is refused rather
//! than guessed at. Responses are written by hand, compact and byte-stable, because deployed
//! clients match them with regular expressions instead of parsing them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use quick_xml::Reader;
use quick_xml::events::Event;

/// An XML-RPC value as received or sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `<string>`, and a `<value>` holding bare text (the spec's default type).
    String(String),
    /// `<int>` or `<i4>`.
    Int(i32),
    /// `<boolean>`, on the wire only `0` or `1`.
    Boolean(bool),
    /// `<double>`.
    Double(f64),
    /// `<nil/>`, the common extension Python's `allow_none=True` sends for `None`.
    Nil,
    /// `<array><data>…</data></array>`.
    Array(Vec<Value>),
    /// `<struct>`; members keep their wire order and duplicates are not merged.
    Struct(Vec<(String, Value)>),
    /// `<base64>`, decoded.
    Base64(Vec<u8>),
    /// `<dateTime.iso8601>`, kept as (trimmed) text: the spec's format is too loose to parse
    /// usefully, and nothing here computes with it.
    DateTime(String),
}

/// A decoded `<methodCall>`.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodCall {
    /// Trimmed, non-empty, made of `[A-Za-z0-9_.:/]`.
    pub method: String,
    pub params: Vec<Value>,
}

/// Why a request body was refused. Messages are safe to echo in a fault: any input text
/// they quote is clipped to a few dozen characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("request body is not valid UTF-8")]
    NotUtf8,
    #[error("unsupported document encoding {0:?}; only UTF-8 is accepted")]
    Encoding(String),
    #[error("DTDs are not accepted")]
    Doctype,
    #[error(
        "entity reference &{0}; refused: only &amp; &lt; &gt; &quot; &apos; and character references are accepted"
    )]
    Entity(String),
    #[error("values are nested deeper than {MAX_DEPTH} arrays/structs")]
    TooDeep,
    #[error("malformed XML-RPC: {0}")]
    Malformed(String),
    #[error("unexpected element <{0}>")]
    UnexpectedElement(String),
    #[error("invalid <{kind}> value {text:?}")]
    BadValue { kind: &'static str, text: String },
    #[error("<methodName> is missing or empty")]
    MissingMethodName,
}

/// How many arrays/structs may be nested inside each other. Real callers send two or three
/// levels; the limit keeps the recursive decoder's stack use small and fixed.
pub const MAX_DEPTH: usize = 32;

type Res<T> = Result<T, DecodeError>;

/// Prolog of every response: double-quoted attributes, explicit UTF-8, one newline, then the
/// root element. Responses end right after `</methodResponse>`, with no trailing newline.
pub const XML_PROLOG: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// Parses a `<methodCall>` document.
pub fn decode_call(body: &[u8]) -> Result<MethodCall, DecodeError> {
    let text = std::str::from_utf8(body).map_err(|_| DecodeError::NotUtf8)?;
    let mut reader = Reader::from_str(text);
    let config = reader.config_mut();
    config.expand_empty_elements = true; // `<x/>` and `<x></x>` take the same path
    config.check_end_names = true;
    config.check_comments = true;
    let mut lx = Lexer {
        reader,
        first: true,
    };

    match lx.tag()? {
        Tag::Start(n) if n == "methodCall" => {}
        tag => return Err(unexpected(tag)),
    }
    match lx.tag()? {
        Tag::Start(n) if n == "methodName" => {}
        Tag::End => return Err(DecodeError::MissingMethodName),
        Tag::Start(n) if n == "params" => return Err(DecodeError::MissingMethodName),
        tag => return Err(unexpected(tag)),
    }
    let method = lx.leaf_text()?.trim().to_owned();
    if method.is_empty() {
        return Err(DecodeError::MissingMethodName);
    }
    if !method
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_.:/".contains(c))
    {
        let what = format!("method name {:?} is not [A-Za-z0-9_.:/]+", clip(&method));
        return Err(DecodeError::Malformed(what));
    }
    let mut params = Vec::new();
    // `false` means the end tag came first, and that closed <methodCall>.
    if lx.open("params")? {
        while lx.open("param")? {
            lx.expect("value")?;
            params.push(lx.value(0)?);
            lx.close()?;
        }
        lx.close()?; // </methodCall>
    }
    match lx.tag()? {
        Tag::Eof => Ok(MethodCall { method, params }),
        _ => Err(malformed("content after </methodCall>")),
    }
}

/// A successful response carrying exactly one value, with no whitespace between tags:
/// [`XML_PROLOG`] then
/// `<methodResponse><params><param><value>…</value></param></params></methodResponse>`.
pub fn encode_response(value: &Value) -> String {
    document("<params><param>", value, "</param></params>")
}

/// A fault response: [`XML_PROLOG`] then `<methodResponse><fault><value><struct>` with the
/// members `faultCode` (`<int>`) and `faultString` (`<string>`), in that order, compact.
pub fn encode_fault(code: i32, message: &str) -> String {
    let fault = Value::Struct(vec![
        ("faultCode".to_owned(), Value::Int(code)),
        ("faultString".to_owned(), Value::String(message.to_owned())),
    ]);
    document("<fault>", &fault, "</fault>")
}

fn document(open: &str, value: &Value, close: &str) -> String {
    let mut out = String::from(XML_PROLOG);
    out.extend(["<methodResponse>", open]);
    write_value(&mut out, value);
    out.extend([close, "</methodResponse>"]);
    out
}

/// Writes one `<value>`. Every scalar gets its explicit type element (strings included),
/// because clients match `<string>(.*)</string>` literally. Recursion follows the value,
/// which is built by our own code, not by a request.
fn write_value(out: &mut String, value: &Value) {
    out.push_str("<value>");
    match value {
        Value::String(s) => tagged(out, "string", s),
        Value::Int(i) => tagged(out, "int", &i.to_string()),
        Value::Boolean(b) => tagged(out, "boolean", if *b { "1" } else { "0" }),
        // `Display` never uses an exponent and round-trips exactly; NaN and infinities have
        // no XML-RPC form and come out as `NaN`/`inf`/`-inf` (which Python still accepts).
        Value::Double(d) => tagged(out, "double", &d.to_string()),
        Value::Nil => out.push_str("<nil/>"),
        Value::Array(items) => {
            out.push_str("<array><data>");
            items.iter().for_each(|v| write_value(out, v));
            out.push_str("</data></array>");
        }
        Value::Struct(members) => {
            out.push_str("<struct>");
            for (name, v) in members {
                out.push_str("<member>");
                tagged(out, "name", name);
                write_value(out, v);
                out.push_str("</member>");
            }
            out.push_str("</struct>");
        }
        Value::Base64(bytes) => tagged(out, "base64", &BASE64.encode(bytes)),
        Value::DateTime(s) => tagged(out, "dateTime.iso8601", s),
    }
    out.push_str("</value>");
}

fn tagged(out: &mut String, tag: &str, text: &str) {
    out.extend(["<", tag, ">"]);
    escape_into(out, text);
    out.extend(["</", tag, ">"]);
}

/// Escapes `&`, `<`, `>` (the last so `]]>` cannot appear), writes `\r` as `&#13;` so a
/// parser's line-end normalisation does not turn it into `\n`, and replaces characters XML
/// 1.0 cannot carry at all (most C0 controls, U+FFFE, U+FFFF) with U+FFFD, so the output is
/// always well-formed and the loss stays visible.
fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
}

/// XML 1.0 `Char`; surrogates cannot occur in a Rust `char`.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn malformed(what: &str) -> DecodeError {
    DecodeError::Malformed(what.to_owned())
}

/// quick-xml's messages can quote element names from the input, so they are clipped too.
fn xml_error(e: impl std::fmt::Display) -> DecodeError {
    DecodeError::Malformed(clip_to(&e.to_string(), 160))
}

/// Input quoted in an error is cut short: errors end up in logs and faults.
fn clip(s: &str) -> String {
    clip_to(s, 48)
}

fn clip_to(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// What ends a run of character data: a start tag (name clipped), an end tag, end of input.
enum Tag {
    Start(String),
    End,
    Eof,
}

/// The error for a tag where another was required.
fn unexpected(tag: Tag) -> DecodeError {
    match tag {
        Tag::Start(n) => DecodeError::UnexpectedElement(n),
        Tag::End => malformed("an element ends too early"),
        Tag::Eof => malformed("unexpected end of document"),
    }
}

struct Lexer<'a> {
    reader: Reader<&'a [u8]>,
    first: bool,
}

impl<'a> Lexer<'a> {
    /// Next event that matters, with comments and processing instructions skipped and the
    /// prolog vetted: a leading UTF-8 declaration is fine, any DTD is not.
    fn event(&mut self) -> Res<Event<'a>> {
        loop {
            let ev = self.reader.read_event().map_err(xml_error)?;
            let first = std::mem::replace(&mut self.first, false);
            match ev {
                Event::Comment(_) | Event::PI(_) => {}
                Event::DocType(_) => return Err(DecodeError::Doctype),
                Event::Decl(d) if first => {
                    if d.version().map_err(xml_error)? != "1.0" {
                        return Err(malformed("only XML 1.0 is accepted"));
                    }
                    if let Some(enc) = d.encoding() {
                        let enc = enc.map_err(xml_error)?;
                        if !matches!(enc.to_ascii_lowercase().as_str(), "utf-8" | "us-ascii") {
                            return Err(DecodeError::Encoding(clip(&enc)));
                        }
                    }
                }
                Event::Decl(_) => return Err(malformed("XML declaration not at the start")),
                ev => return Ok(ev),
            }
        }
    }

    /// Character data up to the next tag, and that tag. The flag is true when the text is
    /// only literal whitespace (no CDATA, no references): indentation between elements.
    fn next(&mut self) -> Res<(String, bool, Tag)> {
        let (mut text, mut plain) = (String::new(), true);
        let tag = loop {
            match self.event()? {
                Event::Text(t) => {
                    let t = t.xml10_content();
                    plain &= t.chars().all(|c| matches!(c, ' ' | '\t' | '\n' | '\r'));
                    text.push_str(&t);
                }
                Event::CData(t) => {
                    plain = false;
                    text.push_str(&t.xml10_content());
                }
                Event::GeneralRef(r) => {
                    plain = false;
                    text.push(resolve_ref(&r)?);
                }
                Event::Start(e) => {
                    let name = clip(e.name().0);
                    if !e.attributes_raw().trim().is_empty() {
                        return Err(malformed(&format!("<{name}> has attributes")));
                    }
                    break Tag::Start(name);
                }
                Event::End(_) => break Tag::End,
                Event::Eof => break Tag::Eof,
                _ => return Err(malformed("unexpected markup")),
            }
        };
        match text.chars().find(|c| !is_xml_char(*c)) {
            Some(c) => Err(malformed(&format!(
                "U+{:04X} is not an XML character",
                c as u32
            ))),
            None => Ok((text, plain, tag)),
        }
    }

    /// Next tag between elements, where only indentation may appear as text.
    fn tag(&mut self) -> Res<Tag> {
        match self.next()? {
            (_, true, tag) => Ok(tag),
            (text, false, _) => Err(malformed(&format!("unexpected text {:?}", clip(&text)))),
        }
    }

    /// `true` after consuming `<name>`, `false` after an end tag; anything else is refused.
    fn open(&mut self, name: &str) -> Res<bool> {
        match self.tag()? {
            Tag::Start(n) if n == name => Ok(true),
            Tag::End => Ok(false),
            tag => Err(unexpected(tag)),
        }
    }

    fn expect(&mut self, name: &str) -> Res<()> {
        match self.open(name)? {
            true => Ok(()),
            false => Err(malformed(&format!("missing <{name}>"))),
        }
    }

    fn close(&mut self) -> Res<()> {
        match self.tag()? {
            Tag::End => Ok(()),
            tag => Err(unexpected(tag)),
        }
    }

    /// Character content of a text-only element, up to and including its end tag.
    fn leaf_text(&mut self) -> Res<String> {
        match self.next()? {
            (text, _, Tag::End) => Ok(text),
            (_, _, tag) => Err(unexpected(tag)),
        }
    }

    /// The content of a `<value>` (already opened) up to its end tag. `depth` counts the
    /// arrays/structs around it; recursion is bounded by [`MAX_DEPTH`].
    fn value(&mut self, depth: usize) -> Res<Value> {
        let ty = match self.next()? {
            (text, _, Tag::End) => return Ok(Value::String(text)),
            (_, true, Tag::Start(ty)) => ty,
            (_, false, Tag::Start(_)) => return Err(malformed("<value> mixes text and elements")),
            (_, _, tag) => return Err(unexpected(tag)),
        };
        let value = self.typed(&ty, depth)?;
        self.close()?;
        Ok(value)
    }

    fn typed(&mut self, ty: &str, depth: usize) -> Res<Value> {
        if matches!(ty, "array" | "struct") && depth >= MAX_DEPTH {
            return Err(DecodeError::TooDeep);
        }
        match ty {
            "array" => {
                self.expect("data")?;
                let mut items = Vec::new();
                while self.open("value")? {
                    items.push(self.value(depth + 1)?);
                }
                self.close()?;
                Ok(Value::Array(items))
            }
            "struct" => {
                let mut members = Vec::new();
                while self.open("member")? {
                    self.expect("name")?;
                    let name = self.leaf_text()?;
                    self.expect("value")?;
                    members.push((name, self.value(depth + 1)?));
                    self.close()?;
                }
                Ok(Value::Struct(members))
            }
            "string" => Ok(Value::String(self.leaf_text()?)),
            "int" | "i4" => scalar(self.leaf_text()?, "int", |t| t.parse().ok().map(Value::Int)),
            "boolean" => scalar(self.leaf_text()?, "boolean", |t| match t {
                "0" => Some(Value::Boolean(false)),
                "1" => Some(Value::Boolean(true)),
                _ => None,
            }),
            "double" => scalar(self.leaf_text()?, "double", |t| {
                // Plain decimal notation (with an optional exponent, as Python writes large
                // values); Rust's parser would also take "inf" and "NaN", which XML-RPC lacks.
                let decimal = t
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b));
                let d: f64 = t.parse().ok().filter(|_| decimal)?;
                d.is_finite().then_some(Value::Double(d))
            }),
            "base64" => scalar(self.leaf_text()?, "base64", |t| {
                // Python wraps base64 at 76 columns, so inner whitespace is allowed.
                let compact: String = t.chars().filter(|c| !c.is_ascii_whitespace()).collect();
                BASE64.decode(compact).ok().map(Value::Base64)
            }),
            "dateTime.iso8601" => Ok(Value::DateTime(self.leaf_text()?.trim().to_owned())),
            "nil" => scalar(self.leaf_text()?, "nil", |t| {
                t.is_empty().then_some(Value::Nil)
            }),
            other => Err(DecodeError::UnexpectedElement(other.to_owned())),
        }
    }
}

/// Converts trimmed scalar text with `parse`, or reports which type it failed to be.
fn scalar(text: String, kind: &'static str, f: impl FnOnce(&str) -> Option<Value>) -> Res<Value> {
    f(text.trim()).ok_or_else(|| DecodeError::BadValue {
        kind,
        text: clip(&text),
    })
}

/// The only references expanded: the five predefined entities and character references
/// that name an XML character. Everything else would need a DTD, which is refused anyway.
fn resolve_ref(r: &quick_xml::events::BytesRef<'_>) -> Res<char> {
    let name: &str = r;
    let refused = || DecodeError::Entity(clip(name));
    if r.is_char_ref() {
        return match r.resolve_char_ref() {
            Ok(Some(c)) if is_xml_char(c) => Ok(c),
            _ => Err(refused()),
        };
    }
    match name {
        "amp" => Ok('&'),
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "quot" => Ok('"'),
        "apos" => Ok('\''),
        _ => Err(refused()),
    }
}
