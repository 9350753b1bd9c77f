//! Every sign-off and rejection lands in the ledger in the same transaction, and `fieldsurvey
//! ledger verify` finds and names tampering done directly in the database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::survey::{Key, Upload};
use common::{Service, real_services};
use serde_json::json;

#[test]
fn ledger_verify_names_each_tampering_done_in_the_database() {
    let Some((pg, amqp)) = real_services("ledger_verify_names_each_tampering_done_in_the_database")
    else {
        return;
    };
    let svc = Service::production(&pg, &amqp, 2);
    let app = svc.client();
    let token = app.token("surveyor1");
    let key = Key::demo();
    let own = Key::generate();
    let r = app.post_json(
        Some(&token),
        "/api/v1/keys",
        &json!({"public_key": own.public_b64(), "enrolment_code": svc.enrolment_code("surveyor1")}),
    );
    assert_eq!(r.status, 201);
    let mut ids = Vec::new();
    for i in 0..4 {
        let mut u = Upload::household_h1();
        if i == 3 {
            u.doc["form"] = json!("household-verification/9");
        }
        assert_eq!(app.upload(&token, &u.signed_by(&key), &u.parts).status, 202);
        ids.push(u.id());
    }
    for id in &ids {
        app.wait_final(&token, id);
    }
    assert_eq!(
        svc.sql_count("SELECT count(*) AS n FROM ledger_entries WHERE submission_id IS NOT NULL"),
        4,
        "one entry per state change"
    );
    assert_eq!(
        svc.sql_count(
            "SELECT count(*) AS n FROM ledger_entries WHERE entry LIKE '%\"action\":\"key_enrolled\"%' AND entry LIKE '%\"actor\":{\"kind\":\"operator\"%'"
        ),
        1,
        "the key enrolled at the command line is on record, with its operator"
    );
    assert_eq!(
        svc.sql_count(
            "SELECT count(*) AS n FROM ledger_entries WHERE entry LIKE '%\"action\":\"rejected\"%'"
        ),
        1
    );
    let (ok, out) = svc.cli_status(&["ledger", "verify"]);
    assert!(ok, "{out}");
    // Two registry imports and seven accounts (the setup), the key enrolled at the command line,
    // an enrolment code and the surveyor's own enrolment with it, then four state changes.
    assert!(out.contains("ledger intact: 16 entries"), "{out}");
    assert_eq!(
        svc.sql_count("SELECT count(*) AS n FROM ledger_entries WHERE entry LIKE '%\"username\":\"surveyor1\"%' AND entry LIKE '%\"kind\":\"person\"%'"),
        1,
        "the surveyor's own enrolment names the surveyor"
    );

    // An edited survey (sealed at rest: any change breaks the seal) no longer matches what its
    // verifier signed; verify names the entry.
    let seq_of_first = svc.sql_count(&format!(
        "SELECT seq AS n FROM ledger_entries WHERE submission_id = '{}'",
        ids[0]
    ));
    let original = svc.sql_text(&format!(
        "SELECT document AS t FROM submissions WHERE id = '{}'",
        ids[0]
    ));
    assert!(original.starts_with("enc:v1:"), "sealed at rest");
    assert!(!original.contains("45000"));
    let flipped = if original.as_bytes()[30] == b'A' {
        "B"
    } else {
        "A"
    };
    svc.sql(&format!(
        "UPDATE submissions SET document = substr(document, 1, 30) || '{flipped}' || substr(document, 32) WHERE id = '{}'",
        ids[0]
    ));
    let (ok, out) = svc.cli_status(&["ledger", "verify"]);
    assert!(!ok);
    assert!(
        out.contains(&format!("ledger broken at entry {seq_of_first}")),
        "{out}"
    );
    svc.sql(&format!(
        "UPDATE submissions SET document = '{original}' WHERE id = '{}'",
        ids[0]
    ));
    assert!(
        svc.cli_status(&["ledger", "verify"]).0,
        "restored, intact again"
    );

    // A rewritten entry, then a deleted one.
    svc.sql("UPDATE ledger_entries SET entry = entry || ' ' WHERE seq = 2");
    let (ok, out) = svc.cli_status(&["ledger", "verify"]);
    assert!(!ok && out.contains("ledger broken at entry 2"), "{out}");
    svc.sql("DELETE FROM ledger_entries WHERE seq = 2");
    let (ok, out) = svc.cli_status(&["ledger", "verify"]);
    assert!(
        !ok && out.contains("ledger broken at entry 2") && out.contains("missing"),
        "{out}"
    );
}

#[test]
fn the_embedded_ledger_verifies_with_the_printed_public_key_too() {
    let svc = Service::dev();
    let app = svc.client();
    let token = app.token("surveyor1");
    let u = Upload::household_h1();
    assert_eq!(
        app.upload(&token, &u.signed_by(&Key::demo()), &u.parts)
            .status,
        202
    );
    assert_eq!(app.wait_final(&token, &u.id())["status"], "signed_off");
    let data = svc.dir.path().join("data");
    let out = std::process::Command::new(common::BIN)
        .args(["ledger", "verify"])
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", data.join("fieldsurvey.db").display()),
        )
        .env("LEDGER_KEY_FILE", data.join("ledger.key"))
        .env("PII_KEY_FILE", data.join("pii.key"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        // The demo: two registry imports, eight accounts, surveyor1's key, six reviewers',
        // auditors' and admins' enrolment codes, the grids, and the two surveyors' codes for a
        // phone; then the sign-off.
        out.status.success() && text.contains("ledger intact: 21 entries"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wrong = std::process::Command::new(common::BIN)
        .args([
            "ledger",
            "verify",
            "--public-key",
            "A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg",
        ])
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", data.join("fieldsurvey.db").display()),
        )
        .output()
        .unwrap();
    assert!(
        !wrong.status.success(),
        "another key's view of the ledger must not verify"
    );
}
