//! Signpost's `/v1` API as the generator uses it: a bearer token from an API key, and plain
//! requests on one keep-alive connection.

use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;

use crate::http::{Connection, Response, Target};

const TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// A platform-admin key (`signpost keys create --role platform-admin`), or a
    /// tenant-admin key of `--tenant`.
    #[arg(long, env = "LOADGEN_KEY_ID")]
    pub key_id: String,
    #[arg(long, env = "LOADGEN_KEY_SECRET", hide_env_values = true)]
    pub key_secret: String,
    /// The tenant the devices belong to.
    #[arg(long, default_value = "bench")]
    pub tenant: String,
    /// The profile the devices are registered with.
    #[arg(long, default_value = "phones")]
    pub profile: String,
}

#[derive(Debug)]
pub struct Api {
    target: Target,
    token: String,
    conn: Option<Connection>,
}

impl Api {
    pub async fn connect(target: &Target, args: &ApiArgs) -> anyhow::Result<Self> {
        let mut api = Self {
            target: target.clone(),
            token: String::new(),
            conn: None,
        };
        let form = format!(
            "grant_type=client_credentials&client_id={}&client_secret={}",
            form_escape(&args.key_id),
            form_escape(&args.key_secret)
        );
        let response = api
            .send(
                "POST",
                "/v1/auth/token",
                Some(("application/x-www-form-urlencoded", form.as_bytes())),
            )
            .await?;
        if response.status != 200 {
            bail!(
                "POST /v1/auth/token answered {}: {}",
                response.status,
                response.text()
            );
        }
        let body: serde_json::Value = serde_json::from_slice(&response.body)?;
        api.token = body["access_token"]
            .as_str()
            .context("no access_token in the token response")?
            .to_owned();
        Ok(api)
    }

    /// One request; `body` is (content type, bytes).
    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        body: Option<(&str, &[u8])>,
    ) -> anyhow::Result<Response> {
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\n",
            self.target.host
        );
        if !self.token.is_empty() {
            request.push_str(&format!("Authorization: Bearer {}\r\n", self.token));
        }
        let body = body.unwrap_or(("", b""));
        if !body.0.is_empty() {
            request.push_str(&format!("Content-Type: {}\r\n", body.0));
        }
        request.push_str(&format!("Content-Length: {}\r\n\r\n", body.1.len()));
        let mut bytes = request.into_bytes();
        bytes.extend_from_slice(body.1);
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => self
                .conn
                .insert(Connection::open(self.target.addr, None).await?),
        };
        let response = conn.send(&bytes, TIMEOUT).await;
        let response = match response {
            Ok(response) => response,
            Err(err) => {
                self.conn = None;
                return Err(err).with_context(|| format!("{method} {path}"));
            }
        };
        if response.close {
            self.conn = None;
        }
        Ok(response)
    }

    /// A request that must answer one of `ok`.
    pub async fn expect(
        &mut self,
        method: &str,
        path: &str,
        body: Option<(&str, &[u8])>,
        ok: &[u16],
    ) -> anyhow::Result<Response> {
        let response = self.send(method, path, body).await?;
        if !ok.contains(&response.status) {
            bail!(
                "{method} {path} answered {}: {}",
                response.status,
                response.text().chars().take(600).collect::<String>()
            );
        }
        Ok(response)
    }

    pub async fn put_json(&mut self, path: &str, body: &serde_json::Value) -> anyhow::Result<()> {
        let bytes = serde_json::to_vec(body)?;
        self.expect("PUT", path, Some(("application/json", &bytes)), &[200, 201])
            .await?;
        Ok(())
    }
}

fn form_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
