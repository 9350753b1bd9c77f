//! Personal data stays where it belongs (PIPL). A canary ID number and name are planted in a
//! survey and in the registry; the test then searches every place they must not reach: the
//! logs of every process, the queue's messages (the outbox rows are the published bodies),
//! error bodies, the metrics, lists and the accountability record, and the database at rest
//! (sealed). The one place the full number may appear is the single-submission read by a
//! caller of its jurisdiction, and that read is recorded.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::survey::{Key, Upload};
use common::{Service, real_services};
use serde_json::json;

const CANARY_ID: &str = "522732198503157317";
const CANARY_REGISTRY_ID: &str = "522732197901010025";
const CANARY_NAME: &str = "金丝雀测试员";

#[test]
fn a_canary_id_number_reaches_no_log_message_error_or_metric() {
    let Some((pg, amqp)) =
        real_services("a_canary_id_number_reaches_no_log_message_error_or_metric")
    else {
        return;
    };
    let svc = Service::production(&pg, &amqp, 1);
    let app = svc.client();
    let surveyor = app.token("surveyor1");
    let township = app.token("township1");
    let auditor = app.token("auditor1");

    // The registry, with a canary head.
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("registry.csv");
    std::fs::write(
        &csv,
        format!(
            "household_code,head_name,head_id_number,member_count\n522732101201-0077,{CANARY_NAME},{CANARY_REGISTRY_ID},2\n"
        ),
    )
    .unwrap();
    let out = svc.cli(&["household", "import", csv.to_str().unwrap()], None);
    assert!(out.contains("1 imported"), "{out}");
    assert!(!out.contains(CANARY_REGISTRY_ID));

    // A survey with a canary member, signed off with a failing indicator (so a clue opens).
    let mut u = Upload::household_h1();
    u.doc["members"][1]["id_number"] = json!(CANARY_ID);
    u.doc["members"][1]["name"] = json!(CANARY_NAME);
    u.doc["water"]["safe"] = json!(false);
    assert_eq!(
        app.upload(&surveyor, &u.signed_by(&Key::demo()), &u.parts)
            .status,
        202
    );
    let s = app.wait_final(&surveyor, &u.id());
    assert_eq!(s["status"], "signed_off", "{s}");

    // Faulty uploads carrying the canary: refused or rejected without echoing it.
    let mut bad = Upload::household_h1();
    bad.doc["members"][0]["id_number"] = json!(format!("{CANARY_ID}9"));
    bad.doc["members"][1]["id_number"] = json!(CANARY_ID);
    let r = app.upload(&surveyor, &bad.signed_by(&Key::demo()), &bad.parts);
    let mut bodies = vec![r.text.clone()];
    if r.status == 202 {
        // (The verifier's own single read shows their members; the reasons must not.)
        let rejected = app.wait_final(&surveyor, &bad.id());
        assert_eq!(rejected["status"], "rejected");
        bodies.push(rejected["rejections"].to_string());
    }
    let mut broken = Upload::household_h1();
    broken.doc["members"][1]["id_number"] = json!(CANARY_ID);
    broken.doc["surprise"] = json!(CANARY_ID);
    let r = app.upload(&surveyor, &broken.signed_by(&Key::demo()), &broken.parts);
    bodies.push(r.text.clone());
    let (body, ctype) = common::client::multipart(
        format!("{{\"members\": [{{\"id_number\": \"{CANARY_ID}\"").as_bytes(),
        "application/json",
        &[],
    );
    let r = app.post_raw(Some(&surveyor), "/api/v1/submissions", &ctype, &body);
    assert_eq!(r.status, 400, "{}", r.text);
    bodies.push(r.text.clone());

    // The single read shows it whole to the township reviewer, and is recorded.
    let one = app.get(Some(&township), &format!("/api/v1/submissions/{}", u.id()));
    assert_eq!(one.status, 200);
    assert!(
        one.text.contains(CANARY_ID),
        "the full number, for its jurisdiction"
    );
    assert_eq!(
        svc.sql_count(&format!(
            "SELECT count(*) AS n FROM pii_reads WHERE submission_id = '{}'",
            u.id()
        )),
        1,
        "the read is on record"
    );
    // Decisions answer with masked numbers.
    let r = svc.review(
        "township1",
        &u.id(),
        json!({"decision": "return", "digest": s["content_digest"],
                "reasons": [{"action": "correct", "field": "water.safe"}]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("522732********7317"), "masked: {}", r.text);
    assert!(!r.text.contains(CANARY_ID), "{}", r.text);

    // Lists, figures and records.
    for path in [
        "/api/v1/review/queue?status=returned".to_owned(),
        "/api/v1/clues".to_owned(),
        "/api/v1/stats".to_owned(),
        "/api/v1/households/522732101201-0001/accountability".to_owned(),
    ] {
        let r = app.get(Some(&township), &path);
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        bodies.push(r.text);
    }
    bodies.push(
        app.get(Some(&surveyor), "/api/v1/submissions?status=returned")
            .text,
    );
    bodies.push(
        app.get(Some(&auditor), "/api/v1/ledger/entries?from=1&to=1000")
            .text,
    );
    bodies.push(app.get(None, "/metrics").text);

    for (i, b) in bodies.iter().enumerate() {
        for canary in [CANARY_ID, CANARY_REGISTRY_ID, CANARY_NAME] {
            assert!(!b.contains(canary), "answer {i} leaks {canary}: {b}");
        }
    }
    let logs = svc.logs();
    assert!(logs.contains("submission accepted"), "the logs were read");
    for canary in [CANARY_ID, CANARY_REGISTRY_ID, CANARY_NAME] {
        assert!(!logs.contains(canary), "the logs leak {canary}");
        for (table, column) in [
            ("outbox", "payload"),
            ("submissions", "document"),
            ("submissions", "rejections"),
            ("submissions", "flags"),
            ("households", "head_id_number"),
            ("households", "head_name"),
            ("ledger_entries", "entry"),
            ("clues", "detail"),
        ] {
            assert_eq!(
                svc.sql_count(&format!(
                    "SELECT count(*) AS n FROM {table} WHERE {column} LIKE '%{canary}%'"
                )),
                0,
                "{table}.{column} holds {canary} in the clear"
            );
        }
    }
}
