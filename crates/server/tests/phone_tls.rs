//! Native HTTPS on the real binary: phones and XML-RPC served over TLS, and the certificate
//! settings that must stop a start.

mod common;

use std::time::Duration;

use base64::Engine;
use common::phone::{MAC, PHONE, phone_env, redirect_text, redirect_xml, tenant};
use common::{
    Admin, Http, Server, create_key, free_port, one_line_failure, output_within, signpost,
};

const ECHO: &str = "<?xml version=\"1.0\"?><methodCall><methodName>network.echo</methodName><params><param><value><string>ping</string></value></param></params></methodCall>";

#[test]
fn native_tls_serves_phones_and_xmlrpc_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    let (cert, key) = (cert.display().to_string(), key.display().to_string());
    let env = phone_env(&[
        ("SIGNPOST_TLS_CERT", cert.clone()),
        ("SIGNPOST_TLS_KEY", key.clone()),
    ]);
    let server = Server::start_with(dir.path(), &env, Http::trusting(certified.cert.der()));
    assert_eq!(server.get("/readyz").0, 200);

    let admin = Admin::bootstrap(&server, dir.path(), &env);
    admin.put("/v1/tenants/acme", tenant("active"));
    let url = "https://a.example/{mac}?x=1&y=2";
    admin.put_device("acme", MAC, url);
    let phone = server.request("GET", PHONE, &[], &[]);
    assert_eq!(phone.status, 200, "{}", phone.body);
    assert!(
        phone
            .header("content-type")
            .unwrap()
            .starts_with("text/xml")
    );
    let element =
        "<setting_server perm=\"RW\">https://a.example/{mac}?x=1&amp;y=2</setting_server>";
    assert!(phone.body.contains(element), "{}", phone.body);
    assert_eq!(phone.body, redirect_xml(url));
    assert_eq!(
        server.body("/snomD785/snomD785.php?mac=000413AABBCC"),
        redirect_text(url)
    );

    let tenant_admin = ["--role", "tenant-admin", "--tenant", "acme"];
    let (id, secret) = create_key(dir.path(), &env, &tenant_admin);
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    let (basic, xml) = (format!("Basic {basic}"), ("Content-Type", "text/xml"));
    let echo = server.request(
        "POST",
        "/xmlrpc/",
        &[("Authorization", &basic), xml],
        ECHO.as_bytes(),
    );
    assert_eq!(echo.status, 200, "{}", echo.body);
    assert!(echo.body.contains("<string>ping</string>"), "{}", echo.body);
    let anonymous = server.request("POST", "/xmlrpc/", &[xml], ECHO.as_bytes());
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);

    // Plain HTTP on the TLS port gets no HTTP answer, and does not disturb the listener.
    let plain = Http::plain().get(server.port, "/healthz");
    assert!(plain.is_err(), "{plain:?}");
    assert_eq!(server.get("/healthz").0, 200);
    assert!(server.stop().success(), "SIGTERM is a clean stop");

    // Refused configurations: each exits non-zero, naming what is wrong.
    let serve = |env: &[(&str, String)]| {
        let listen = format!("127.0.0.1:{}", free_port());
        let mut command = signpost(dir.path(), env);
        output_within(
            command.env("SIGNPOST_LISTEN", listen).arg("serve"),
            Duration::from_secs(60),
        )
    };
    let line = one_line_failure(serve(&[("SIGNPOST_TLS_CERT", cert.clone())]));
    assert!(line.contains("tls_key"), "{line}");
    let line = one_line_failure(serve(&[("SIGNPOST_TLS_KEY", key.clone())]));
    assert!(line.contains("tls_cert"), "{line}");
    let absent = dir.path().join("absent.pem").display().to_string();
    let output = serve(&[
        ("SIGNPOST_TLS_CERT", absent.clone()),
        ("SIGNPOST_TLS_KEY", key),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    let last = stderr.trim().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("signpost: ") && last.contains(&absent),
        "{stderr}"
    );
}

/// A tls_cert file that holds no PEM certificate must stop the start, like an unreadable one.
#[test]
fn a_certificate_file_without_a_certificate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap().serialize_pem();
    std::fs::write(dir.path().join("key.pem"), key).unwrap();
    std::fs::write(dir.path().join("cert.pem"), "not a certificate\n").unwrap();
    let mut command = signpost(dir.path(), &[]);
    command.env("SIGNPOST_LISTEN", format!("127.0.0.1:{}", free_port()));
    command.envs([
        ("SIGNPOST_TLS_CERT", "cert.pem"),
        ("SIGNPOST_TLS_KEY", "key.pem"),
    ]);
    let output = output_within(command.arg("serve"), Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    let last = stderr.trim().lines().last().unwrap_or_default();
    assert!(last.contains("holds no PEM certificate"), "{stderr}");
    assert!(!stderr.contains("signpost is serving"), "{stderr}");
}
