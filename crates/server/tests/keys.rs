//! `signpost keys create` end to end, on the embedded registry.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_signpost");

fn signpost(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(dir)
        .env("SIGNPOST_DATA_DIR", dir.join("data"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The error a failed run printed: exactly one line, and the run failed.
fn one_line_failure(output: &Output) -> String {
    assert!(!output.status.success(), "{}", stdout(output));
    let text = stderr(output);
    let lines: Vec<_> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{text}");
    lines[0].to_owned()
}

#[test]
fn create_a_platform_admin_key_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let output = signpost(
        dir.path(),
        &["keys", "create", "--role", "platform-admin", "--json"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let key: serde_json::Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    let object = key.as_object().unwrap();
    assert_eq!(object.len(), 2, "{key}");
    assert!(key["id"].as_str().unwrap().starts_with("spk_"), "{key}");
    assert!(key["secret"].as_str().unwrap().starts_with("sps_"), "{key}");

    // The signing secret was generated once, privately, and a later run keeps it.
    let secret_file = dir.path().join("data/jwt-secret");
    let generated = std::fs::read_to_string(&secret_file).unwrap();
    assert!(generated.len() >= 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secret_file)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = signpost(
        dir.path(),
        &["keys", "create", "--role", "platform-admin", "--json"],
    );
    assert!(again.status.success(), "{}", stderr(&again));
    let second: serde_json::Value = serde_json::from_str(stdout(&again).trim()).unwrap();
    assert_ne!(second["id"], key["id"]);
    assert_eq!(std::fs::read_to_string(&secret_file).unwrap(), generated);
}

#[test]
fn plain_output_labels_the_id_and_secret() {
    let dir = tempfile::tempdir().unwrap();
    let output = signpost(
        dir.path(),
        &[
            "keys",
            "create",
            "--role",
            "platform-admin",
            "--description",
            "bootstrap",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let lines: Vec<_> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with("id:") && lines[0].contains("spk_"),
        "{text}"
    );
    assert!(
        lines[1].starts_with("secret:") && lines[1].contains("sps_"),
        "{text}"
    );
    assert!(stderr(&output).contains("only once"));
}

#[test]
fn a_tenant_role_needs_a_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let output = signpost(dir.path(), &["keys", "create", "--role", "tenant-admin"]);
    let line = one_line_failure(&output);
    assert!(line.contains("needs a tenant"), "{line}");
    assert!(stdout(&output).is_empty());
}

#[test]
fn a_platform_admin_key_has_no_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let output = signpost(
        dir.path(),
        &[
            "keys",
            "create",
            "--role",
            "platform-admin",
            "--tenant",
            "acme",
        ],
    );
    let line = one_line_failure(&output);
    assert!(line.contains("cannot belong to a tenant"), "{line}");
}

#[test]
fn an_unknown_tenant_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // A first run generates the signing secret (and logs that), so the refusal below is
    // alone on stderr.
    let first = signpost(dir.path(), &["keys", "create", "--role", "platform-admin"]);
    assert!(first.status.success(), "{}", stderr(&first));
    let output = signpost(
        dir.path(),
        &[
            "keys",
            "create",
            "--role",
            "tenant-reader",
            "--tenant",
            "nosuch",
        ],
    );
    let line = one_line_failure(&output);
    assert!(line.contains("no such tenant `nosuch`"), "{line}");
    let output = signpost(
        dir.path(),
        &[
            "keys",
            "create",
            "--role",
            "tenant-reader",
            "--tenant",
            "Not A Slug",
        ],
    );
    let line = one_line_failure(&output);
    assert!(line.contains("not a tenant id"), "{line}");
}
