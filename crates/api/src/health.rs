use poem::http::StatusCode;
use poem::web::{Data, Json};
use poem::{IntoResponse, Response, handler};
use serde_json::{Map, Value, json};

use crate::AppState;

/// Liveness: the process answers HTTP. Checks nothing else, so a slow backend never gets a
/// healthy replica killed.
#[handler]
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness: every configured backend answers. 503 names the ones that do not; the reasons
/// go to the log, not to the caller.
#[handler]
pub async fn readyz(state: Data<&AppState>) -> Response {
    let report = state.readiness.check().await;
    let checks: Map<String, Value> = report
        .components
        .iter()
        .map(|(name, failure)| {
            let status = if failure.is_none() {
                "ok"
            } else {
                "unavailable"
            };
            ((*name).to_owned(), Value::from(status))
        })
        .collect();
    if report.ready() {
        Json(json!({ "status": "ready", "checks": checks })).into_response()
    } else {
        let failing: Vec<&str> = report.failing().collect();
        Json(json!({ "status": "unavailable", "failing": failing, "checks": checks }))
            .with_status(StatusCode::SERVICE_UNAVAILABLE)
            .into_response()
    }
}
