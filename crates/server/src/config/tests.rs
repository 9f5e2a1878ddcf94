use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn load(file: Option<&str>, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("signpost.toml");
    if let Some(text) = file {
        std::fs::write(&path, text).unwrap();
    }
    Config::load_from(file.map(|_| path.as_path()), env(vars))
}

#[test]
fn defaults_are_embedded() {
    let config = load(None, &[]).unwrap();
    assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
    assert!(
        matches!(config.registry, RegistryBackend::Sqlite { ref url, .. } if url == "sqlite://./signpost-data/registry.db?mode=rwc")
    );
    assert!(matches!(config.blobs, BlobBackend::Fs { .. }));
    assert!(matches!(config.cache, CacheBackend::Memory));
    assert!(config.auth.jwt_secret.is_none());
    assert!(config.auth.jwt_previous_secrets.is_empty());
    assert_eq!(config.auth.token_lifetime_seconds, 900);
    assert_eq!(config.worker_threads, None);
}

#[test]
fn worker_threads_are_bounded() {
    let threads = |value: &str| load(None, &[("SIGNPOST_WORKER_THREADS", value)]);
    assert_eq!(threads("1").unwrap().worker_threads, Some(1));
    assert_eq!(threads("1024").unwrap().worker_threads, Some(1024));
    for bad in ["0", "1025", "-1"] {
        let message = threads(bad).unwrap_err().to_string();
        assert!(
            message.contains("SIGNPOST_WORKER_THREADS: must be between 1 and 1024"),
            "{bad}: {message}"
        );
    }
    let from_file = load(Some("worker_threads = 2\n"), &[]).unwrap();
    assert_eq!(from_file.worker_threads, Some(2));
}

#[test]
fn environment_overrides_file() {
    let config = load(
        Some("listen = \"0.0.0.0:9000\"\nredis_url = \"redis://file:6379\"\n"),
        &[
            ("SIGNPOST_REDIS_URL", "redis://env:6379"),
            ("SIGNPOST_S3_BUCKET", "b"),
            ("SIGNPOST_S3_PATH_STYLE", "true"),
        ],
    )
    .unwrap();
    assert_eq!(config.listen.to_string(), "0.0.0.0:9000");
    assert!(
        matches!(config.cache, CacheBackend::Redis { ref url, .. } if url.expose() == "redis://env:6379")
    );
    assert!(matches!(
        config.blobs,
        BlobBackend::S3 {
            path_style: true,
            ..
        }
    ));
}

/// A configuration file (if any), environment variables, and what the error must say.
type BadConfig<'a> = (Option<&'a str>, &'a [(&'a str, &'a str)], &'a str);

#[test]
fn errors_name_the_key_in_one_line() {
    let cases: &[BadConfig] = &[
        (Some("colour = \"red\"\n"), &[], "unknown key `colour`"),
        (
            None,
            &[("SIGNPOST_DATABSE_URL", "x")],
            "SIGNPOST_DATABSE_URL: unknown configuration variable",
        ),
        (
            None,
            &[("SIGNPOST_DATABASE_URL", "mysql://x/y")],
            "SIGNPOST_DATABASE_URL: must be postgres://",
        ),
        (
            None,
            &[("SIGNPOST_DATABASE_URL", "not a url")],
            "SIGNPOST_DATABASE_URL: is not a URL",
        ),
        (
            None,
            &[("SIGNPOST_REDIS_URL", "http://x")],
            "SIGNPOST_REDIS_URL: must be redis://",
        ),
        (
            None,
            &[("SIGNPOST_LISTEN", "8080")],
            "SIGNPOST_LISTEN: `8080` is not an address:port",
        ),
        (Some("listen = 8080\n"), &[], "listen in"),
        (
            None,
            &[("SIGNPOST_S3_PATH_STYLE", "yes")],
            "must be true or false",
        ),
        (
            None,
            &[("SIGNPOST_S3_ENDPOINT", "http://minio:9000")],
            "s3_bucket is not",
        ),
        (
            None,
            &[("SIGNPOST_LOG_FORMAT", "xml")],
            "must be text or json",
        ),
        (
            None,
            &[("SIGNPOST_JWT_SECRET", "too-short")],
            "SIGNPOST_JWT_SECRET: must be at least 32 bytes",
        ),
        (
            None,
            &[("SIGNPOST_JWT_PREVIOUS_SECRETS", "short,x")],
            "SIGNPOST_JWT_PREVIOUS_SECRETS: must be at least 32 bytes",
        ),
        (
            None,
            &[("SIGNPOST_TOKEN_LIFETIME_SECONDS", "59")],
            "must be between 60 and 86400",
        ),
        (
            Some("token_lifetime_seconds = 86401\n"),
            &[],
            "must be between 60 and 86400",
        ),
    ];
    for (file, vars, expected) in cases {
        let message = load(*file, vars).unwrap_err().to_string();
        assert!(
            message.contains(expected),
            "{message:?} should contain {expected:?}"
        );
        assert!(!message.contains('\n'), "{message:?} is one line");
    }
}

#[test]
fn test_variables_and_the_config_path_are_not_keys() {
    assert!(
        load(
            None,
            &[("SIGNPOST_TEST_REDIS_URL", "x"), ("SIGNPOST_CONFIG", "f")]
        )
        .is_ok()
    );
}

#[test]
fn secrets_are_masked_when_printed() {
    let config = load(
        None,
        &[
            (
                "SIGNPOST_DATABASE_URL",
                "postgres://app:hunter2@db:5432/signpost",
            ),
            ("SIGNPOST_REDIS_URL", "redis://:s3cret@cache:6379"),
            (
                "SIGNPOST_JWT_SECRET",
                "jwt-current-0123456789abcdef0123456789",
            ),
            (
                "SIGNPOST_JWT_PREVIOUS_SECRETS",
                "jwt-old-one-0123456789abcdef0123456789, jwt-old-two-0123456789abcdef0123456789",
            ),
        ],
    )
    .unwrap();
    let shown = format!("{}\n{config:?}", config.to_display());
    assert!(
        !shown.contains("hunter2") && !shown.contains("s3cret") && !shown.contains("jwt-"),
        "{shown}"
    );
    assert_eq!(config.auth.jwt_previous_secrets.len(), 2);
    assert_eq!(
        config.auth.jwt_previous_secrets[1].expose(),
        "jwt-old-two-0123456789abcdef0123456789"
    );
    assert!(
        shown.contains("postgres://app:****@db:5432/signpost"),
        "{shown}"
    );
}

#[test]
fn trusted_proxies_are_a_comma_separated_list_of_addresses_and_ranges() {
    let config = load(
        None,
        &[("SIGNPOST_TRUSTED_PROXIES", " 10.0.0.0/8, ,192.0.2.7 ,::1")],
    )
    .unwrap();
    let proxies: Vec<String> = config
        .phone
        .trusted_proxies
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(proxies, ["10.0.0.0/8", "192.0.2.7/32", "::1/128"]);
    assert!(load(None, &[]).unwrap().phone.trusted_proxies.is_empty());
    let err = load(
        None,
        &[("SIGNPOST_TRUSTED_PROXIES", "10.0.0.1,proxy.example")],
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("SIGNPOST_TRUSTED_PROXIES") && err.contains("`proxy.example` is not"),
        "{err}"
    );
}
