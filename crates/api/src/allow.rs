//! The `Allow` header of a 405 answer: the methods the OpenAPI document lists for the path.

use std::sync::OnceLock;

/// (path template split into segments, its methods in upper case), built once from the spec.
type Routes = Vec<(Vec<String>, Vec<String>)>;

fn routes() -> &'static Routes {
    static ROUTES: OnceLock<Routes> = OnceLock::new();
    ROUTES.get_or_init(|| {
        let spec: serde_json::Value =
            serde_json::from_str(&crate::openapi_json()).unwrap_or_default();
        spec["paths"]
            .as_object()
            .map(|paths| {
                paths
                    .iter()
                    .map(|(template, ops)| {
                        let segments = template.split('/').map(str::to_owned).collect();
                        let mut methods: Vec<String> = ops
                            .as_object()
                            .map(|o| o.keys().map(|m| m.to_uppercase()).collect())
                            .unwrap_or_default();
                        methods.sort();
                        (segments, methods)
                    })
                    .collect()
            })
            .unwrap_or_default()
    })
}

/// The routes outside `/v1`, which the OpenAPI document does not describe.
fn fixed_route_methods(path: &str) -> Option<&'static str> {
    match path {
        "/xmlrpc" | "/xmlrpc/" => Some("POST"),
        "/healthz" | "/readyz" | "/openapi.json" => Some("GET, HEAD"),
        // Hosted files under a device URL.
        _ if path.starts_with("/p/") => Some("GET, HEAD"),
        // The phone endpoints: `/{file}` and `/{dir}/{file}`.
        _ if !path.starts_with("/v1/") && (2..=3).contains(&path.split('/').count()) => {
            Some("GET, HEAD")
        }
        _ => None,
    }
}

/// `GET, PUT`-style list for a request path, if the path is one of the application's.
pub fn allowed_methods(path: &str) -> Option<String> {
    if let Some(methods) = fixed_route_methods(path) {
        return Some(methods.to_owned());
    }
    let segments: Vec<&str> = path.split('/').collect();
    let mut methods: Vec<&str> = routes()
        .iter()
        .filter(|(template, _)| {
            template.len() == segments.len()
                && template
                    .iter()
                    .zip(&segments)
                    .all(|(t, s)| t == s || (t.starts_with('{') && !s.is_empty()))
        })
        .flat_map(|(_, methods)| methods.iter().map(String::as_str))
        .collect();
    methods.sort_unstable();
    methods.dedup();
    (!methods.is_empty()).then(|| methods.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_the_methods_of_routes_outside_v1() {
        assert_eq!(allowed_methods("/xmlrpc/").as_deref(), Some("POST"));
        assert_eq!(allowed_methods("/healthz").as_deref(), Some("GET, HEAD"));
        assert_eq!(
            allowed_methods("/snomD785.htm").as_deref(),
            Some("GET, HEAD")
        );
        assert_eq!(
            allowed_methods("/snomD785/snomD785.php").as_deref(),
            Some("GET, HEAD")
        );
    }

    #[test]
    fn lists_the_methods_of_a_path() {
        assert_eq!(
            allowed_methods("/v1/tenants/acme").as_deref(),
            Some("DELETE, GET, PUT")
        );
        assert_eq!(
            allowed_methods("/v1/tenants/acme/devices/batch").as_deref(),
            Some("DELETE, GET, POST, PUT")
        );
        assert_eq!(allowed_methods("/v1/nothing"), None);
    }
}
