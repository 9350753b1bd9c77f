//! Accounts and registries under the ledger (issue 14): adding a user never resets one that
//! exists; a password, a role, an activation and a person identity change only through their
//! own commands, and every change — like every registry import — is a ledger entry naming the
//! operator. (The embedded backend; the same repository code runs on PostgreSQL in
//! `signed_decisions`.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Service;
use serde_json::json;

/// The ledger entries of `action`, in order.
fn entries(svc: &Service, action: &str) -> Vec<serde_json::Value> {
    svc.sql_texts(&format!(
        "SELECT entry AS t FROM ledger_entries WHERE entry LIKE '%\"action\":\"{action}\"%' ORDER BY seq"
    ))
    .iter()
    .map(|l| serde_json::from_str(l).unwrap())
    .collect()
}

#[test]
fn every_account_change_and_registry_import_is_on_record() {
    let svc = Service::dev();
    let app = svc.client();

    // The demo's registry files and users were put on record once.
    let imports = entries(&svc, "registry_imported");
    assert_eq!(imports.len(), 2, "{imports:?}");
    assert_eq!(imports[0]["detail"]["registry"], "org_units");
    assert_eq!(imports[1]["detail"]["registry"], "households");
    assert_eq!(imports[1]["detail"]["imported"], 120);
    assert_eq!(
        imports[1]["detail"]["sha256"].as_str().map(str::len),
        Some(64)
    );
    assert_eq!(entries(&svc, "user_added").len(), 8);

    // Adding an existing name is refused and changes nothing.
    let (ok, out) = svc.cli_status(&[
        "user",
        "add",
        "surveyor2",
        "--role",
        "admin",
        "--org",
        "522700000000",
        "--password-stdin",
    ]);
    assert!(!ok && out.contains("exists"), "{out}");
    app.login("surveyor2", "demo-surveyor2");

    // A password change: the old one stops working.
    svc.cli(
        &["user", "passwd", "surveyor2", "--password-stdin"],
        Some("另一个密码-2026\n"),
    );
    let r = app.post_json(
        None,
        "/api/v1/auth/login",
        &json!({"username": "surveyor2", "password": "demo-surveyor2"}),
    );
    assert_eq!(r.status, 401);
    app.login("surveyor2", "另一个密码-2026");

    // A role change, a deactivation, a person identity: each on record with what changed.
    svc.cli(
        &[
            "user",
            "role",
            "township2",
            "--role",
            "auditor",
            "--org",
            "522732000000",
        ],
        None,
    );
    svc.cli(&["user", "deactivate", "surveyor2"], None);
    svc.cli(
        &["user", "identify", "county1", "--id-number-stdin"],
        Some("522732198711145257\n"),
    );
    let (ok, out) = svc.cli_status(&["user", "identify", "admin1", "--id-number-stdin"]);
    assert!(!ok, "an ID number is required: {out}");
    for (action, user) in [
        ("user_password_changed", "surveyor2"),
        ("user_role_changed", "township2"),
        ("user_deactivated", "surveyor2"),
        ("user_identified", "county1"),
    ] {
        let found = entries(&svc, action);
        assert_eq!(found.len(), 1, "{action}: {found:?}");
        assert_eq!(found[0]["detail"]["username"], user, "{action}");
        assert_eq!(
            found[0]["actor"]["kind"], "operator",
            "{action} names the operator"
        );
    }
    let role = &entries(&svc, "user_role_changed")[0]["detail"];
    assert_eq!(
        (
            role["was"]["role"].as_str(),
            role["role"].as_str(),
            role["org"].as_str()
        ),
        (Some("reviewer"), Some("auditor"), Some("522732000000"))
    );
    let person = &entries(&svc, "user_identified")[0]["detail"]["person"];
    assert_eq!(person.as_str().map(str::len), Some(16));
    let ledger = svc
        .sql_texts("SELECT entry AS t FROM ledger_entries")
        .join("\n");
    assert!(
        !ledger.contains("522732198711145257"),
        "no ID number in the ledger"
    );
    assert!(!ledger.contains("另一个密码"), "no password in the ledger");
    let r = app.post_json(
        None,
        "/api/v1/auth/login",
        &json!({"username": "surveyor2", "password": "另一个密码-2026"}),
    );
    assert_eq!(r.status, 401, "deactivated");

    // Importing the same file again is recognised, not recorded twice; a changed one is.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("org.csv");
    std::fs::write(
        &file,
        std::fs::read(common::fixture("org-units.csv")).unwrap(),
    )
    .unwrap();
    svc.cli(&["org", "import", file.to_str().unwrap()], None);
    let before = entries(&svc, "registry_imported").len();
    svc.cli(&["org", "import", file.to_str().unwrap()], None);
    assert_eq!(
        entries(&svc, "registry_imported").len(),
        before,
        "the same file again"
    );
    let mut changed = std::fs::read(&file).unwrap();
    changed.extend_from_slice(b"522732101299,new village,village,522732101000,,\n");
    std::fs::write(&file, changed).unwrap();
    svc.cli(&["org", "import", file.to_str().unwrap()], None);
    let after = entries(&svc, "registry_imported");
    assert_eq!(after.len(), before + 1, "a changed file");
    assert_eq!(after[before]["actor"]["kind"], "operator");
    // The first file again changes the registry back: on record too.
    std::fs::write(
        &file,
        std::fs::read(common::fixture("org-units.csv")).unwrap(),
    )
    .unwrap();
    svc.cli(&["org", "import", file.to_str().unwrap()], None);
    assert_eq!(
        entries(&svc, "registry_imported").len(),
        before + 2,
        "A, B, then A again"
    );
    let (ok, out) = svc.cli_status(&["ledger", "verify"]);
    assert!(ok, "{out}");
}
