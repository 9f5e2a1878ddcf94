use super::codec::*;

/// Wraps already-encoded `<value>` XML into a call with one param.
fn call_with(value_xml: &str) -> String {
    format!(
        "<methodCall><methodName>m</methodName><params><param>{value_xml}</param></params></methodCall>"
    )
}

/// The `<value>…</value>` part of an encoded response.
fn value_xml(value: &Value) -> String {
    let resp = encode_response(value);
    let start = resp.find("<param>").unwrap() + "<param>".len();
    let end = resp.rfind("</param>").unwrap();
    resp[start..end].to_owned()
}

fn decode_one(value_xml: &str) -> Result<Value, DecodeError> {
    let call = decode_call(call_with(value_xml).as_bytes())?;
    assert_eq!(call.params.len(), 1);
    Ok(call.params.into_iter().next().unwrap())
}

fn round_trip(value: Value) {
    assert_eq!(
        decode_one(&value_xml(&value)).unwrap(),
        value,
        "{}",
        value_xml(&value)
    );
}

fn nested_arrays(levels: usize) -> String {
    format!(
        "<value>{}{}</value>",
        "<array><data><value>".repeat(levels),
        "</value></data></array>".repeat(levels)
    )
}

#[test]
fn every_type_round_trips() {
    round_trip(Value::String("héllo <&> ]]> \"q\" 'a' \t\n\r end".into()));
    round_trip(Value::String(String::new()));
    round_trip(Value::Int(0));
    round_trip(Value::Int(i32::MIN));
    round_trip(Value::Int(i32::MAX));
    round_trip(Value::Boolean(true));
    round_trip(Value::Boolean(false));
    for d in [0.0, -1.5, 0.1, 1e300, 1e-300, f64::MAX, f64::MIN_POSITIVE] {
        round_trip(Value::Double(d));
    }
    round_trip(Value::Nil);
    round_trip(Value::Array(vec![]));
    round_trip(Value::Struct(vec![]));
    round_trip(Value::Base64(vec![]));
    round_trip(Value::Base64((0..=255).collect()));
    round_trip(Value::DateTime("20260102T03:04:05".into()));
    round_trip(Value::Array(vec![
        Value::Struct(vec![
            ("a & b".into(), Value::Int(1)),
            (
                "list".into(),
                Value::Array(vec![Value::Nil, Value::String("x".into())]),
            ),
            ("a & b".into(), Value::Boolean(false)),
        ]),
        Value::Double(2.5),
    ]));
}

#[test]
fn ok_pair_is_compact_and_exact() {
    let got = encode_response(&Value::Array(vec![
        Value::Boolean(true),
        Value::String("Ok".into()),
    ]));
    assert_eq!(
        got,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<methodResponse><params><param><value><array><data>\
         <value><boolean>1</boolean></value><value><string>Ok</string></value>\
         </data></array></value></param></params></methodResponse>"
    );
    assert!(got.starts_with(XML_PROLOG));
}

#[test]
fn fault_is_compact_and_exact() {
    assert_eq!(
        encode_fault(3, "no such phone: <x>"),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<methodResponse><fault><value><struct>\
         <member><name>faultCode</name><value><int>3</int></value></member>\
         <member><name>faultString</name><value><string>no such phone: &lt;x&gt;</string></value></member>\
         </struct></value></fault></methodResponse>"
    );
}

#[test]
fn scalars_and_empty_array_encode_as_documented() {
    assert_eq!(
        value_xml(&Value::Array(vec![])),
        "<value><array><data></data></array></value>"
    );
    assert_eq!(value_xml(&Value::Nil), "<value><nil/></value>");
    assert_eq!(value_xml(&Value::Int(-7)), "<value><int>-7</int></value>");
    assert_eq!(
        value_xml(&Value::Boolean(false)),
        "<value><boolean>0</boolean></value>"
    );
    assert_eq!(
        value_xml(&Value::String("a<&>b".into())),
        "<value><string>a&lt;&amp;&gt;b</string></value>"
    );
    assert_eq!(
        value_xml(&Value::String("]]>".into())),
        "<value><string>]]&gt;</string></value>"
    );
}

#[test]
fn control_characters_become_replacement_characters() {
    let xml = value_xml(&Value::String("a\u{0}b\u{1b}c\u{FFFF}d\re".into()));
    assert_eq!(
        xml,
        "<value><string>a\u{FFFD}b\u{FFFD}c\u{FFFD}d&#13;e</string></value>"
    );
    // And the result is well-formed: it decodes again.
    assert_eq!(
        decode_one(&xml).unwrap(),
        Value::String("a\u{FFFD}b\u{FFFD}c\u{FFFD}d\re".into())
    );
}

#[test]
fn python_client_request_decodes() {
    let body = "<?xml version='1.0'?>\n<methodCall>\n<methodName>redirect.listPhones</methodName>\n<params>\n<param>\n<value><string>snomD785</string></value>\n</param>\n<param>\n<value><nil/></value>\n</param>\n</params>\n</methodCall>\n";
    let call = decode_call(body.as_bytes()).unwrap();
    assert_eq!(
        call,
        MethodCall {
            method: "redirect.listPhones".into(),
            params: vec![Value::String("snomD785".into()), Value::Nil]
        }
    );
}

#[test]
fn python_pretty_struct_and_array_decode() {
    let body = "<?xml version='1.0'?>\n<methodCall>\n<methodName>redirect.registerPhone</methodName>\n<params>\n<param>\n<value><array><data>\n<value><int>1</int></value>\n<value><struct>\n<member>\n<name>k</name>\n<value><boolean>1</boolean></value>\n</member>\n</struct></value>\n</data></array></value>\n</param>\n</params>\n</methodCall>\n";
    let call = decode_call(body.as_bytes()).unwrap();
    assert_eq!(
        call.params,
        vec![Value::Array(vec![
            Value::Int(1),
            Value::Struct(vec![("k".into(), Value::Boolean(true))])
        ])]
    );
}

#[test]
fn utf8_bom_declaration_and_comments_are_accepted() {
    let body = "\u{FEFF}<?xml version=\"1.0\" encoding=\"utf-8\"?><!-- hi --><?pi x?><methodCall><methodName> a.b </methodName></methodCall><!-- bye -->\n";
    assert_eq!(
        decode_call(body.as_bytes()).unwrap(),
        MethodCall {
            method: "a.b".into(),
            params: vec![]
        }
    );
}

#[test]
fn params_may_be_absent_or_empty() {
    for body in [
        "<methodCall><methodName>x</methodName></methodCall>",
        "<methodCall><methodName>x</methodName><params/></methodCall>",
        "<methodCall><methodName>x</methodName><params>\n</params></methodCall>",
    ] {
        assert_eq!(
            decode_call(body.as_bytes()).unwrap().params,
            vec![],
            "{body}"
        );
    }
}

#[test]
fn bare_and_empty_values_are_strings() {
    assert_eq!(
        decode_one("<value>plain text</value>").unwrap(),
        Value::String("plain text".into())
    );
    assert_eq!(
        decode_one("<value>  padded </value>").unwrap(),
        Value::String("  padded ".into())
    );
    assert_eq!(
        decode_one("<value></value>").unwrap(),
        Value::String(String::new())
    );
    assert_eq!(
        decode_one("<value/>").unwrap(),
        Value::String(String::new())
    );
    assert_eq!(
        decode_one("<value><string/></value>").unwrap(),
        Value::String(String::new())
    );
    assert_eq!(
        decode_one("<value><string> a </string></value>").unwrap(),
        Value::String(" a ".into())
    );
    assert_eq!(
        decode_one("<value>\n  <int>5</int>\n</value>").unwrap(),
        Value::Int(5)
    );
}

#[test]
fn references_and_cdata_decode() {
    assert_eq!(
        decode_one("<value><string>a&amp;b</string></value>").unwrap(),
        Value::String("a&b".into())
    );
    assert_eq!(
        decode_one("<value>&lt;&gt;&quot;&apos;&#x41;&#66;</value>").unwrap(),
        Value::String("<>\"'AB".into())
    );
    assert_eq!(
        decode_one("<value><string>x<![CDATA[<&>]]>y</string></value>").unwrap(),
        Value::String("x<&>y".into())
    );
    assert_eq!(
        decode_one("<value><string>a\r\nb</string></value>").unwrap(),
        Value::String("a\nb".into())
    );
}

#[test]
fn scalar_parsing_is_strict() {
    assert_eq!(
        decode_one("<value><i4> -42 </i4></value>").unwrap(),
        Value::Int(-42)
    );
    assert_eq!(
        decode_one("<value><int>+7</int></value>").unwrap(),
        Value::Int(7)
    );
    assert_eq!(
        decode_one("<value><double>1e+300</double></value>").unwrap(),
        Value::Double(1e300)
    );
    assert_eq!(
        decode_one("<value><base64>AAEC\n/w==</base64></value>").unwrap(),
        Value::Base64(vec![0, 1, 2, 255])
    );
    for (xml, kind) in [
        ("<int>2147483648</int>", "int"),
        ("<int></int>", "int"),
        ("<int>1.0</int>", "int"),
        ("<boolean>true</boolean>", "boolean"),
        ("<boolean>2</boolean>", "boolean"),
        ("<double>inf</double>", "double"),
        ("<double>NaN</double>", "double"),
        ("<double>1e999</double>", "double"),
        ("<base64>!!</base64>", "base64"),
        ("<nil>x</nil>", "nil"),
    ] {
        match decode_one(&format!("<value>{xml}</value>")) {
            Err(DecodeError::BadValue { kind: k, .. }) => assert_eq!(k, kind, "{xml}"),
            other => panic!("{xml}: {other:?}"),
        }
    }
}

#[test]
fn doctype_is_refused() {
    let laughs = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\"><!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]><methodCall><methodName>x</methodName><params><param><value>&lol3;</value></param></params></methodCall>";
    assert_eq!(decode_call(laughs.as_bytes()), Err(DecodeError::Doctype));
    let xxe = "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><methodCall><methodName>x</methodName><params><param><value>&e;</value></param></params></methodCall>";
    assert_eq!(decode_call(xxe.as_bytes()), Err(DecodeError::Doctype));
    assert_eq!(
        decode_call(b"<!DOCTYPE methodCall><methodCall><methodName>x</methodName></methodCall>"),
        Err(DecodeError::Doctype)
    );
}

#[test]
fn unknown_entities_and_bad_char_refs_are_refused() {
    assert_eq!(
        decode_one("<value>&e;</value>"),
        Err(DecodeError::Entity("e".into()))
    );
    assert_eq!(
        decode_one("<value><string>a&nbsp;b</string></value>"),
        Err(DecodeError::Entity("nbsp".into()))
    );
    for bad in [
        "&#0;",
        "&#x1;",
        "&#xFFFF;",
        "&#xD800;",
        "&#x110000;",
        "&#xZZ;",
    ] {
        assert!(
            matches!(
                decode_one(&format!("<value>{bad}</value>")),
                Err(DecodeError::Entity(_))
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        decode_one("<value>a\u{1}b</value>"),
        Err(DecodeError::Malformed(_))
    ));
}

#[test]
fn depth_limit_is_exact() {
    assert!(decode_one(&nested_arrays(MAX_DEPTH)).is_ok());
    assert_eq!(
        decode_one(&nested_arrays(MAX_DEPTH + 1)),
        Err(DecodeError::TooDeep)
    );
    let structs = format!(
        "<value>{}{}</value>",
        "<struct><member><name>n</name><value>".repeat(MAX_DEPTH + 1),
        "</value></member></struct>".repeat(MAX_DEPTH + 1)
    );
    assert_eq!(decode_one(&structs), Err(DecodeError::TooDeep));
    // A hostile depth far beyond the limit fails fast instead of overflowing the stack.
    assert_eq!(
        decode_one(&nested_arrays(100_000)),
        Err(DecodeError::TooDeep)
    );
}

#[test]
fn large_array_decodes() {
    let items: Vec<Value> = (0..1000)
        .map(|i| Value::String(format!("phone-{i}")))
        .collect();
    let value = Value::Array(items);
    assert_eq!(decode_one(&value_xml(&value)).unwrap(), value);
}

#[test]
fn method_name_rules() {
    let call = |name: &str| {
        decode_call(format!("<methodCall><methodName>{name}</methodName></methodCall>").as_bytes())
    };
    assert_eq!(
        call("\n system.listMethods \n").unwrap().method,
        "system.listMethods"
    );
    assert_eq!(call("a_b:c/d.E9").unwrap().method, "a_b:c/d.E9");
    assert_eq!(call(""), Err(DecodeError::MissingMethodName));
    assert_eq!(call("  "), Err(DecodeError::MissingMethodName));
    assert!(matches!(call("a b"), Err(DecodeError::Malformed(_))));
    assert!(matches!(call("a;b"), Err(DecodeError::Malformed(_))));
    assert_eq!(
        decode_call(b"<methodCall><params/></methodCall>"),
        Err(DecodeError::MissingMethodName)
    );
    assert_eq!(
        decode_call(b"<methodCall></methodCall>"),
        Err(DecodeError::MissingMethodName)
    );
}

#[test]
fn structure_errors_are_refused() {
    let malformed = [
        "",
        "   ",
        "<methodCall><methodName>x</methodName>",
        "<methodCall><methodName>x</methodName></methodCall><methodCall/>",
        "<methodCall><methodName>x</methodName></methodCall>trailing",
        "junk<methodCall><methodName>x</methodName></methodCall>",
        "<methodCall><methodName>x</methodName></methodResponse>",
        "<methodCall a=\"1\"><methodName>x</methodName></methodCall>",
        "<methodCall><methodName>x</methodName><params><param><value>t<int>1</int></value></param></params></methodCall>",
        "<methodCall><methodName>x</methodName><params><param><value><int>1</int><int>2</int></value></param></params></methodCall>",
        "<methodCall><methodName>x</methodName><params><param><value><array></array></value></param></params></methodCall>",
        "<methodCall><methodName>x</methodName><params>text</params></methodCall>",
        "<methodCall><methodName>x</methodName><params><param><value>a&b</value></param></params></methodCall>",
        "<methodCall><methodName>x</methodName></methodCall><?xml version=\"1.0\"?>",
    ];
    for body in malformed {
        assert!(
            matches!(
                decode_call(body.as_bytes()),
                Err(DecodeError::Malformed(_) | DecodeError::UnexpectedElement(_))
            ),
            "{body:?} gave {:?}",
            decode_call(body.as_bytes())
        );
    }
    assert_eq!(
        decode_one("<value><i8>1</i8></value>"),
        Err(DecodeError::UnexpectedElement("i8".into()))
    );
    assert_eq!(
        decode_call(b"<foo/>"),
        Err(DecodeError::UnexpectedElement("foo".into()))
    );
}

#[test]
fn encoding_is_checked() {
    assert_eq!(
        decode_call(b"<methodCall><methodName>\xff</methodName></methodCall>"),
        Err(DecodeError::NotUtf8)
    );
    assert_eq!(
        decode_call(b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><methodCall><methodName>x</methodName></methodCall>"),
        Err(DecodeError::Encoding("ISO-8859-1".into()))
    );
    assert!(
        decode_call(b"<?xml version=\"1.0\" encoding=\"US-ASCII\"?><methodCall><methodName>x</methodName></methodCall>")
            .is_ok()
    );
}

#[test]
fn error_messages_clip_input() {
    let long = "x".repeat(10_000);
    let err = decode_one(&format!("<value><int>{long}</int></value>")).unwrap_err();
    assert!(err.to_string().len() < 200, "{err}");
    let body = format!("<methodCall><methodName>x</methodName></{long}>");
    let err = decode_call(body.as_bytes()).unwrap_err();
    assert!(
        matches!(err, DecodeError::Malformed(_)) && err.to_string().len() < 400,
        "{err}"
    );
    assert_eq!(DecodeError::Doctype.to_string(), "DTDs are not accepted");
}
