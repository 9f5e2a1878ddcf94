//! The methods of the Snom redirection API: parameter checking, the call into the Snom use
//! cases, and the Snom return shapes (`[true, "Ok"]`, `[false, "Error:…"]`, …).

use signpost_domain::{Mac, PhoneType, SettingServerUrl};
use signpost_service::{AuthCtx, ServiceError, SnomError};
use signpost_store::registry::ChangeContext;

use super::codec::{MethodCall, Value};
use super::{FAULT_INTERNAL, FAULT_NO_METHOD, FAULT_PARAMS};
use crate::AppState;

/// An XML-RPC fault to send back.
#[derive(Debug)]
pub struct Fault {
    pub code: i32,
    pub message: String,
}

impl Fault {
    fn params(message: impl Into<String>) -> Self {
        Self {
            code: FAULT_PARAMS,
            message: message.into(),
        }
    }
}

const MALFORMED_MAC: &str = "Error:malformed_mac";
const MALFORMED_URL: &str = "Error:malformed_url";
const OWNED_BY_OTHER_USER: &str = "Error:owned_by_other_user";
const NO_SUCH_MAC: &str = "Error:no_such_mac";

fn ok() -> Value {
    Value::Array(vec![Value::Boolean(true), Value::String("Ok".to_owned())])
}

fn refused(text: &str) -> Value {
    Value::Array(vec![Value::Boolean(false), Value::String(text.to_owned())])
}

pub async fn dispatch(
    state: &AppState,
    auth: &AuthCtx,
    change: &ChangeContext,
    call: MethodCall,
) -> Result<Value, Fault> {
    let snom = &state.snom;
    let params = call.params;
    match call.method.as_str() {
        "network.echo" => {
            let [value] = exact::<1>(params)?;
            Ok(value)
        }
        "redirect.registerPhone" => {
            let [mac, url] = exact::<2>(params)?;
            let Some(mac) = parse_mac(&mac)? else {
                return Ok(refused(MALFORMED_MAC));
            };
            let Some(url) = parse_url(&url)? else {
                return Ok(refused(MALFORMED_URL));
            };
            answer(snom.register(auth, change, mac, url).await.map(|()| ok()))
        }
        "redirect.deregisterPhone" => {
            let [mac] = exact::<1>(params)?;
            let Some(mac) = parse_mac(&mac)? else {
                return Ok(refused(MALFORMED_MAC));
            };
            answer(snom.deregister(auth, change, mac).await.map(|()| ok()))
        }
        "redirect.checkPhone" => {
            let [mac] = exact::<1>(params)?;
            let Some(mac) = parse_mac(&mac)? else {
                return Ok(refused(MALFORMED_MAC));
            };
            answer(snom.check(auth, mac).await.map(|()| ok()))
        }
        "redirect.getPhoneRedirection" => {
            let [mac] = exact::<1>(params)?;
            let Some(mac) = parse_mac(&mac)? else {
                return Ok(refused(MALFORMED_MAC));
            };
            answer(snom.redirection(auth, mac).await.map(|found| {
                Value::Array(vec![
                    Value::Boolean(true),
                    Value::String(found.company),
                    Value::String(found.url),
                ])
            }))
        }
        "redirect.listPhones" => {
            let (phone_type, url) = match params.len() {
                1 | 2 => {
                    let mut params = params.into_iter();
                    let phone_type = params.next().expect("one or two params");
                    let url = match params.next() {
                        None | Some(Value::Nil) => None,
                        Some(Value::String(url)) if url.is_empty() => None,
                        Some(Value::String(url)) => Some(url),
                        Some(_) => {
                            return Err(Fault::params("the URL filter must be a string or nil"));
                        }
                    };
                    (phone_type, url)
                }
                n => return Err(Fault::params(format!("expected 1 or 2 params, got {n}"))),
            };
            let Value::String(phone_type) = phone_type else {
                return Err(Fault::params("the phone type must be a string"));
            };
            let Ok(phone_type) = phone_type.parse::<PhoneType>() else {
                return Ok(refused("Error:malformed_phone_type"));
            };
            answer(
                snom.list(auth, &phone_type, url.as_deref())
                    .await
                    .map(|macs| {
                        Value::Array(
                            macs.into_iter()
                                .map(|m| Value::String(m.to_string()))
                                .collect(),
                        )
                    }),
            )
        }
        "redirect.registerPhoneList" => {
            let [macs, url] = exact::<2>(params)?;
            let Some(macs) = parse_mac_list(macs)? else {
                return Ok(refused(MALFORMED_MAC));
            };
            let Some(url) = parse_url(&url)? else {
                return Ok(refused(MALFORMED_URL));
            };
            answer(
                snom.register_list(auth, change, macs, url)
                    .await
                    .map(|()| ok()),
            )
        }
        "redirect.deregisterPhoneList" => {
            let [macs] = exact::<1>(params)?;
            let Some(macs) = parse_mac_list(macs)? else {
                return Ok(refused(MALFORMED_MAC));
            };
            answer(
                snom.deregister_list(auth, change, macs)
                    .await
                    .map(|()| ok()),
            )
        }
        other => Err(Fault {
            code: FAULT_NO_METHOD,
            message: format!("no such method: {other}"),
        }),
    }
}

/// Exactly `N` params, or a fault naming the count.
fn exact<const N: usize>(params: Vec<Value>) -> Result<[Value; N], Fault> {
    let got = params.len();
    params
        .try_into()
        .map_err(|_| Fault::params(format!("expected {N} params, got {got}")))
}

/// A MAC param: a string that is not a MAC is Snom's `malformed_mac` (`Ok(None)`); a value
/// that is not a string at all is a malformed call.
fn parse_mac(value: &Value) -> Result<Option<Mac>, Fault> {
    match value {
        Value::String(s) => Ok(s.trim().parse().ok()),
        _ => Err(Fault::params("a MAC must be a string")),
    }
}

fn parse_url(value: &Value) -> Result<Option<SettingServerUrl>, Fault> {
    match value {
        Value::String(s) => Ok(s.trim().parse().ok()),
        _ => Err(Fault::params("a URL must be a string")),
    }
}

fn parse_mac_list(value: Value) -> Result<Option<Vec<Mac>>, Fault> {
    let Value::Array(items) = value else {
        return Err(Fault::params("the MAC list must be an array"));
    };
    let mut macs = Vec::with_capacity(items.len());
    for item in &items {
        match parse_mac(item)? {
            Some(mac) => macs.push(mac),
            None => return Ok(None),
        }
    }
    Ok(Some(macs))
}

/// Snom refusals become `[false, text]`; anything else is a fault.
fn answer(result: Result<Value, SnomError>) -> Result<Value, Fault> {
    match result {
        Ok(value) => Ok(value),
        Err(SnomError::OwnedByOtherUser) => Ok(refused(OWNED_BY_OTHER_USER)),
        Err(SnomError::NoSuchMac) => Ok(refused(NO_SUCH_MAC)),
        Err(err @ SnomError::TooManyMacs) => Err(Fault::params(err.to_string())),
        Err(SnomError::Service(ServiceError::Forbidden | ServiceError::NotFound)) => {
            Ok(refused("Error:permission_denied"))
        }
        Err(SnomError::Service(err)) => {
            tracing::warn!(%err, "XML-RPC call failed");
            Err(Fault {
                code: FAULT_INTERNAL,
                message: "internal error; try again".to_owned(),
            })
        }
    }
}
