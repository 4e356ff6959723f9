//! External SCIM compliance: scim2-tester 0.5.2 (PyPI, python-scim) drives the real server through
//! tests/scim-compliance/check.py — discovery with the meta-schemas, 404 and 405 answers, and create, read,
//! list, attributes/excludedAttributes (on GET, lists and the root POST /.search), PUT, DELETE and PATCH
//! add/replace/remove of every advertised attribute, for Users and Groups. No result may be an ERROR; a
//! SKIPPED result must say why.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use skybridge_testkit::{TestApp, backend_tests, scim_python};
use tokio::process::Command;

/// A full run takes seconds; this bounds a hung one.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// Fewer SUCCESS results than this means the run did not really exercise the server (a server answering
/// nothing but discovery gets 28). A full run against this server gets about 110: 28 from discovery,
/// 11 CRUD results per resource type and one PATCH add, replace and remove result per advertised attribute.
const MIN_SUCCESSES: usize = 90;

const SUMMARY_PREFIX: &str = "SCIM2-TESTER-SUMMARY ";

fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

fn output_text(out: &Output) -> String {
    format!(
        "--- stdout ---\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

async fn scim2_tester(app: TestApp) {
    let Some(python) = scim_python() else {
        println!(
            "skipped: SKYBRIDGE_TEST_SCIM_PYTHON is not set (scripts/test.sh installs scim2-tester from \
             tests/scim-compliance/requirements.txt into target/test-venv and sets it)"
        );
        return;
    };
    let (aid, scim) = app.scim_account("Compliance Co").await;
    assert_eq!(
        scim.tenant_url,
        format!("{}/scim/v2/{aid}", app.config.public_url())
    );

    let child = Command::new(&python)
        .arg("tests/scim-compliance/check.py")
        .arg(&scim.tenant_url)
        .arg(&scim.token)
        .current_dir(repo_root())
        .env("PYTHONUNBUFFERED", "1")
        .env_remove("PYTHONPATH")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{python} could not be started: {e}"));
    let out = tokio::time::timeout(RUN_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("scim2-tester did not finish within {RUN_TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("scim2-tester failed to run: {e}"));
    let text = output_text(&out);
    assert!(
        out.status.success(),
        "scim2-tester reported failures ({}):\n{text}",
        out.status
    );
    println!("{text}");

    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary: Value = stdout
        .lines()
        .find_map(|l| l.strip_prefix(SUMMARY_PREFIX))
        .map(|s| serde_json::from_str(s).unwrap())
        .unwrap_or_else(|| panic!("no summary line\n{text}"));
    let results = summary["results"].as_array().unwrap();
    let succeeded = |title: &str, resource_type: Option<&str>| {
        results.iter().any(|r| {
            r[0] == "SUCCESS"
                && r[1] == title
                && resource_type.is_none_or(|t| r[2].as_str() == Some(t))
        })
    };
    let successes = results.iter().filter(|r| r[0] == "SUCCESS").count();
    assert!(
        successes >= MIN_SUCCESSES,
        "only {successes} SUCCESS results (at least {MIN_SUCCESSES} expected)\n{text}"
    );
    assert!(
        results
            .iter()
            .all(|r| matches!(r[0].as_str(), Some("SUCCESS" | "SKIPPED"))),
        "{text}"
    );

    // The checks that matter most must have run and passed, not been skipped.
    let mut missing = Vec::new();
    for title in [
        "service_provider_config_endpoint",
        "service_provider_config_endpoint_methods",
        "query_all_resource_types",
        "query_resource_type_by_id",
        "resource_types_schema_validation",
        "access_invalid_resource_type",
        "resource_types_endpoint_methods",
        "query_all_schemas",
        "access_schema_by_id",
        "access_invalid_schema",
        "schemas_endpoint_methods",
        "random_url",
    ] {
        if !succeeded(title, None) {
            missing.push(title.to_string());
        }
    }
    for resource_type in ["User", "Group"] {
        for title in [
            "object_creation",
            "object_query",
            "object_query_without_id",
            "object_query_with_attributes",
            "object_list_with_attributes",
            "search_with_attributes",
            "object_replacement",
            "object_deletion",
            "check_add_attribute",
            "check_replace_attribute",
            "check_remove_attribute",
        ] {
            if !succeeded(title, Some(resource_type)) {
                missing.push(format!("{title} ({resource_type})"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "these checks did not succeed: {missing:?}\n{text}"
    );

    // The tester cleans up after itself: nothing it created is left behind.
    for endpoint in ["/Users", "/Groups"] {
        let r = scim.get(endpoint).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["totalResults"], 0, "{endpoint}: {}", r.body);
    }
}

backend_tests!(scim2_tester);
