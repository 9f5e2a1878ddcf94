//! The Snom XML-RPC API over HTTP: exact response bytes, refusals, faults and credentials.
//! (tests/e2e/xmlrpc_compat.py drives the same API with Python's xmlrpc.client.)

mod common;

use base64::Engine;
use common::TestApp;
use signpost_domain::Role;

const PROLOG: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

fn call(method: &str, params: &[&str]) -> String {
    let params: String = params
        .iter()
        .map(|p| format!("<param><value><string>{p}</string></value></param>"))
        .collect();
    format!(
        "<?xml version=\"1.0\"?><methodCall><methodName>{method}</methodName><params>{params}</params></methodCall>"
    )
}

fn response(value: &str) -> String {
    format!(
        "{PROLOG}<methodResponse><params><param><value>{value}</value></param></params></methodResponse>"
    )
}

fn pair(ok: bool, text: &str) -> String {
    response(&format!(
        "<array><data><value><boolean>{}</boolean></value><value><string>{text}</string></value></data></array>",
        u8::from(ok)
    ))
}

struct Client<'a> {
    app: &'a TestApp,
    basic: String,
}

impl Client<'_> {
    async fn post(&self, path: &str, body: String) -> (u16, String, String) {
        let response = self
            .app
            .client
            .post(path)
            .header("authorization", &self.basic)
            .content_type("text/xml")
            .body(body)
            .send()
            .await;
        let status = response.0.status().as_u16();
        let content_type = response
            .0
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (
            status,
            content_type,
            response.0.into_body().into_string().await.unwrap(),
        )
    }

    async fn call(&self, method: &str, params: &[&str]) -> String {
        let (status, content_type, body) = self.post("/xmlrpc/", call(method, params)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(content_type, "text/xml; charset=utf-8");
        body
    }
}

async fn client<'a>(app: &'a TestApp, tenant: &str) -> Client<'a> {
    let (id, secret) = app.key(Some(tenant), Role::TenantAdmin).await;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    Client {
        app,
        basic: format!("Basic {basic}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snom_methods_answer_in_snom_shapes() {
    let app = TestApp::sqlite().await;
    let admin = app.platform_token().await;
    app.tenant(&admin, "acme").await;
    app.tenant(&admin, "other").await;
    let acme = client(&app, "acme").await;
    let other = client(&app, "other").await;
    let url = "https://prov.acme.example/{mac}?a=1&amp;b=2";

    assert_eq!(
        acme.call("redirect.registerPhone", &["000413922d24", url])
            .await,
        pair(true, "Ok")
    );
    assert_eq!(
        acme.call("redirect.checkPhone", &["000413922D24"]).await,
        pair(true, "Ok")
    );
    assert_eq!(
        acme.call("redirect.getPhoneRedirection", &["000413922D24"])
            .await,
        response(&format!(
            "<array><data><value><boolean>1</boolean></value><value><string>acme Ltd</string></value><value><string>{url}</string></value></data></array>"
        ))
    );
    // The device is an ordinary one: visible over REST, and its phone is redirected.
    let (status, device) = app
        .call("GET", "/v1/tenants/acme/devices/000413922D24", &admin, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        device["setting_server"],
        "https://prov.acme.example/{mac}?a=1&b=2"
    );
    let (_, events) = app
        .call("GET", "/v1/tenants/acme/events", &admin, None)
        .await;
    assert!(
        events.to_string().contains("device/000413922D24"),
        "{events}"
    );

    assert_eq!(
        other
            .call(
                "redirect.registerPhone",
                &["000413922D24", "http://x.example/"]
            )
            .await,
        pair(false, "Error:owned_by_other_user")
    );
    assert_eq!(
        other.call("redirect.checkPhone", &["000413922D24"]).await,
        pair(false, "Error:owned_by_other_user")
    );
    assert_eq!(
        other
            .call("redirect.deregisterPhone", &["000413922D24"])
            .await,
        pair(false, "Error:owned_by_other_user")
    );
    assert_eq!(
        acme.call("redirect.registerPhone", &["00041392", url])
            .await,
        pair(false, "Error:malformed_mac")
    );
    assert_eq!(
        acme.call("redirect.registerPhone", &["000413922D25", "not a url"])
            .await,
        pair(false, "Error:malformed_url")
    );
    assert_eq!(
        acme.call("redirect.checkPhone", &["000413922D25"]).await,
        pair(false, "Error:no_such_mac")
    );

    // listPhones: the type learned or guessed from the MAC block (0x92 is a D785).
    let list = response("<array><data><value><string>000413922D24</string></value></data></array>");
    assert_eq!(acme.call("redirect.listPhones", &["snomD785"]).await, list);
    let (_, _, with_nil) = acme
        .post("/xmlrpc", "<?xml version='1.0'?>\n<methodCall>\n<methodName>redirect.listPhones</methodName>\n<params>\n<param>\n<value><string>snomD785</string></value>\n</param>\n<param>\n<value><nil/></value>\n</param>\n</params>\n</methodCall>\n".to_owned())
        .await;
    assert_eq!(with_nil, list);
    assert_eq!(
        acme.call(
            "redirect.listPhones",
            &["snomD785", "http://elsewhere.example/"]
        )
        .await,
        response("<array><data></data></array>")
    );
    assert_eq!(
        acme.call("redirect.listPhones", &["snomD785", url]).await,
        list
    );

    assert_eq!(
        acme.call("redirect.deregisterPhone", &["000413922D24"])
            .await,
        pair(true, "Ok")
    );
    assert_eq!(
        acme.call("redirect.deregisterPhone", &["000413922D24"])
            .await,
        pair(false, "Error:no_such_mac")
    );
    assert_eq!(
        acme.call("network.echo", &["ping"]).await,
        response("<string>ping</string>")
    );
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_calls_are_faults_and_bad_credentials_are_401() {
    let app = TestApp::sqlite().await;
    let admin = app.platform_token().await;
    app.tenant(&admin, "acme").await;
    let acme = client(&app, "acme").await;

    let fault = |code: i32| {
        format!("<member><name>faultCode</name><value><int>{code}</int></value></member>")
    };
    assert!(
        acme.call("redirect.nope", &[])
            .await
            .contains(&fault(-32601))
    );
    assert!(
        acme.call("redirect.checkPhone", &[])
            .await
            .contains(&fault(-32602))
    );
    let (status, _, body) = acme
        .post("/xmlrpc/", "<methodCall><methodName>x".to_owned())
        .await;
    assert_eq!(status, 200);
    assert!(body.contains(&fault(-32700)), "{body}");
    let doctype = "<?xml version=\"1.0\"?><!DOCTYPE m [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><methodCall><methodName>network.echo</methodName><params><param><value><string>&e;</string></value></param></params></methodCall>";
    let (_, _, body) = acme.post("/xmlrpc/", doctype.to_owned()).await;
    assert!(
        body.contains(&fault(-32700)) && !body.contains("root:"),
        "{body}"
    );

    let wrong = Client {
        app: &app,
        basic: format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("spk_nope:sps_nope")
        ),
    };
    let (status, _, _) = wrong.post("/xmlrpc/", call("network.echo", &["x"])).await;
    assert_eq!(status, 401);
    let response = app
        .client
        .post("/xmlrpc/")
        .body(call("network.echo", &["x"]))
        .send()
        .await;
    assert_eq!(response.0.status().as_u16(), 401);
    assert_eq!(
        response.0.headers()["www-authenticate"],
        "Basic realm=\"signpost\""
    );
    // A platform key has no tenant to act for.
    let (id, secret) = app.key(None, Role::PlatformAdmin).await;
    let platform = Client {
        app: &app,
        basic: format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
        ),
    };
    assert_eq!(
        platform
            .post("/xmlrpc/", call("network.echo", &["x"]))
            .await
            .0,
        401
    );
    let get = app.client.get("/xmlrpc/").send().await;
    assert_eq!(get.0.status().as_u16(), 405);
    assert_eq!(get.0.headers()["allow"], "POST");
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phone_lists_are_all_or_nothing() {
    let app = TestApp::sqlite().await;
    let admin = app.platform_token().await;
    app.tenant(&admin, "acme").await;
    app.tenant(&admin, "other").await;
    let acme = client(&app, "acme").await;
    let other = client(&app, "other").await;
    let macs = |range: std::ops::Range<u32>| -> String {
        let values: String = range
            .map(|i| format!("<value><string>00041325{i:04X}</string></value>"))
            .collect();
        format!("<param><value><array><data>{values}</data></array></value></param>")
    };
    let list_call = |method: &str, macs: String, url: Option<&str>| {
        let url = url
            .map(|u| format!("<param><value><string>{u}</string></value></param>"))
            .unwrap_or_default();
        format!(
            "<methodCall><methodName>{method}</methodName><params>{macs}{url}</params></methodCall>"
        )
    };
    let (_, _, body) = acme
        .post(
            "/xmlrpc/",
            list_call(
                "redirect.registerPhoneList",
                macs(0..1000),
                Some("http://a.example/"),
            ),
        )
        .await;
    assert_eq!(body, pair(true, "Ok"));
    let listed = acme.call("redirect.listPhones", &["snom300"]).await;
    assert_eq!(listed.matches("<string>").count(), 1000);

    // One MAC of acme's spoils the whole list for another tenant.
    let (_, _, body) = other
        .post(
            "/xmlrpc/",
            list_call(
                "redirect.registerPhoneList",
                macs(999..1010),
                Some("http://o.example/"),
            ),
        )
        .await;
    assert_eq!(body, pair(false, "Error:owned_by_other_user"));
    assert_eq!(
        other.call("redirect.checkPhone", &["000413251005"]).await,
        pair(false, "Error:no_such_mac")
    );

    let (_, _, body) = acme
        .post(
            "/xmlrpc/",
            list_call("redirect.deregisterPhoneList", macs(0..500), None),
        )
        .await;
    assert_eq!(body, pair(true, "Ok"));
    assert_eq!(
        acme.call("redirect.listPhones", &["snom300"])
            .await
            .matches("<string>")
            .count(),
        500
    );
    app.finish().await;
}
