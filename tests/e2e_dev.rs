//! The whole path in `fieldsurvey dev`: one process, SQLite, the in-process queue.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use common::Service;
use common::client::Part;
use common::survey::{Key, Upload, photo};
use serde_json::{Value, json};

fn codes(sub: &Value) -> BTreeSet<String> {
    sub["rejections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_surveyed_household_is_signed_off_and_a_resend_changes_nothing() {
    let svc = Service::dev();
    let app = svc.client();
    let token = app.token("surveyor1");
    let key = Key::demo();

    let upload = Upload::household_h1();
    let survey = upload.signed_by(&key);
    let r = app.upload(&token, &survey, &upload.parts);
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.body["status"], "queued");
    assert_eq!(
        r.body["status_url"],
        format!("/api/v1/submissions/{}", upload.id())
    );

    let sub = app.wait_final(&token, &upload.id());
    assert_eq!(sub["status"], "signed_off", "{sub}");
    assert_eq!(sub["outcome"]["meets_standard"], true);
    assert_eq!(sub["outcome"]["indicators"]["income"]["pass"], true);
    assert_eq!(sub["verifier"]["username"], "surveyor1");
    assert_eq!(sub["verifier"]["key_id"], key.key_id.as_str());
    assert_eq!(sub["photos"].as_array().unwrap().len(), 3);
    assert_eq!(sub["photos"][0]["width"], 1600);
    assert_eq!(sub["photos"][0]["height"], 1200);
    assert_eq!(sub["photos"][0]["kind"], "house");
    assert_eq!(sub["rejections"], json!([]));

    let again = app.upload(&token, &survey, &upload.parts);
    assert_eq!(again.status, 200, "a resend answers with the current state");
    assert_eq!(again.body["status"], "signed_off");

    let mut other = upload.doc.clone();
    other["remarks"] = json!("改过的内容");
    let conflict = app.upload(&token, &key.sign(&other), &upload.parts);
    assert_eq!(conflict.status, 409, "{}", conflict.text);
    assert_eq!(conflict.content_type, "application/problem+json");

    let mut hungry = Upload::household_h1();
    hungry.doc["food_secure"] = json!(false);
    let r = app.upload(&token, &hungry.signed_by(&key), &hungry.parts);
    assert_eq!(r.status, 202);
    let sub = app.wait_final(&token, &hungry.id());
    assert_eq!(sub["status"], "signed_off");
    assert_eq!(sub["outcome"]["meets_standard"], false);
    assert_eq!(sub["outcome"]["indicators"]["food"]["pass"], false);
    assert_eq!(sub["outcome"]["indicators"]["clothing"]["pass"], true);
}

#[test]
fn every_rejection_reason_is_reported() {
    let svc = Service::dev();
    let app = svc.client();
    let token = app.token("surveyor1");
    let key = Key::demo();

    // Another surveyor's enrolled key, and a key of surveyor1's that gets revoked.
    let other_key = Key::generate();
    let r = app.post_json(
        Some(&app.token("surveyor2")),
        "/api/v1/keys",
        &json!({"public_key": other_key.public_b64(), "enrolment_code": svc.enrolment_code("surveyor2")}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let revoked = Key::generate();
    let r = app.post_json(
        Some(&token),
        "/api/v1/keys",
        &json!({"public_key": revoked.public_b64(), "enrolment_code": svc.enrolment_code("surveyor1")}),
    );
    assert_eq!(r.body["key_id"], revoked.key_id.as_str());
    let db_url = format!(
        "sqlite://{}",
        svc.dir.path().join("data/fieldsurvey.db").display()
    );
    let mut cli = std::process::Command::new(common::BIN);
    let out = cli
        .args(["key", "revoke", &revoked.key_id])
        .env("LEDGER_KEY_FILE", svc.dir.path().join("data/ledger.key"))
        .env("DATABASE_URL", &db_url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut cases: Vec<(&str, Value, Vec<Part>)> = Vec::new();
    let mut add = |expect: &'static str, u: &Upload, signed: Value| {
        cases.push((
            expect,
            signed,
            u.parts
                .iter()
                .map(|p| Part {
                    name: p.name.clone(),
                    content_type: p.content_type.clone(),
                    bytes: p.bytes.clone(),
                })
                .collect(),
        ))
    };

    let mut u = Upload::household_h1();
    u.doc["colour"] = json!("blue");
    add("invalid_document", &u, u.signed_by(&key));
    let mut u = Upload::household_h1();
    u.doc["form"] = json!("household-verification/9");
    add("unknown_form", &u, u.signed_by(&key));
    let mut u = Upload::household_h1();
    u.doc["members"][0]["id_number"] = json!("522732198711145258");
    add("invalid_id_number", &u, u.signed_by(&key));
    let mut u = Upload::household_h1();
    u.doc["visited_at"] = json!("2030-01-01T10:00:00+08:00");
    add("visit_in_future", &u, u.signed_by(&key));
    let mut u = Upload::household_h1();
    u.add_photo("p4", "other", "not_an_image.jpg");
    add("photo_undecodable", &u, u.signed_by(&key));
    let mut u = Upload::household_h1();
    u.add_photo("p4", "document", "truncated.jpg");
    add("photo_undecodable", &u, u.signed_by(&key));
    let mut u = Upload::household_h1();
    u.add_photo("p4", "other", "bomb_30000x30000.png");
    add("photo_too_large", &u, u.signed_by(&key));
    let mut u = Upload::household_h1();
    u.swap_part_bytes("p3", "h2_water_source.jpg");
    add("photo_hash_mismatch", &u, u.signed_by(&key));
    let mut u = Upload::household_h1();
    u.parts.push(Part {
        name: "p9".into(),
        content_type: "image/jpeg".into(),
        bytes: photo("h2_house.jpg"),
    });
    add("photo_part_mismatch", &u, u.signed_by(&key));
    let mut u = Upload::household_h1();
    u.doc["photos"]
        .as_array_mut()
        .unwrap()
        .retain(|p| p["kind"] != "household_with_verifier");
    u.parts.retain(|p| p.name != "p2");
    add("missing_evidence", &u, u.signed_by(&key));
    let u = Upload::household_h1();
    let mut tampered = u.signed_by(&key);
    tampered["remarks"] = json!("签名之后改过");
    add("bad_signature", &u, tampered);
    let u = Upload::household_h1();
    let mut unsigned = u.doc.clone();
    unsigned.as_object_mut().unwrap().remove("signature");
    add("bad_signature", &u, unsigned);
    let u = Upload::household_h1();
    add("signer_not_verifier", &u, u.signed_by(&other_key));
    let u = Upload::household_h1();
    add("key_revoked", &u, u.signed_by(&revoked));
    let mut u = Upload::household_h1();
    u.doc["supersedes"] = json!(uuid::Uuid::new_v4().to_string());
    add("supersedes_mismatch", &u, u.signed_by(&key));

    for (expect, doc, parts) in &cases {
        let r = app.upload(&token, doc, parts);
        assert_eq!(r.status, 202, "{expect}: {}", r.text);
    }
    for (expect, doc, _) in &cases {
        let sub = app.wait_final(&token, doc["id"].as_str().unwrap());
        assert_eq!(sub["status"], "rejected", "{expect}: {sub}");
        assert!(
            codes(&sub).contains(*expect),
            "{expect} expected, got {:?}",
            codes(&sub)
        );
        assert_eq!(
            sub["outcome"],
            Value::Null,
            "a rejected survey has no outcome"
        );
        // Every reason in Chinese, the code and field unchanged (the message catalogue).
        common::assert_in_chinese(&json!({
            "title": "驳回",
            "errors": sub["rejections"],
        }));
    }
}

#[test]
fn concurrent_resends_of_one_id_make_one_submission() {
    let svc = Service::dev();
    let app = svc.client();
    let token = app.token("surveyor1");
    let upload = Upload::household_h1();
    let survey = upload.signed_by(&Key::demo());
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|_| s.spawn(|| svc.client().upload(&token, &survey, &upload.parts).status))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 202).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 202 || *s == 200),
        "{statuses:?}"
    );
    let sub = app.wait_final(&token, &upload.id());
    assert_eq!(sub["status"], "signed_off");
}

#[test]
fn the_demo_is_safe_to_start_twice() {
    let mut svc = Service::dev();
    assert_eq!(
        svc.client().login("township1", "demo-township1")["token_type"],
        "Bearer"
    );
    let status = svc.procs[0].terminate();
    assert!(
        status.is_some_and(|s| s.success()),
        "dev stops cleanly on SIGTERM: {status:?}"
    );
    svc.procs.clear();
    svc.start_dev();
    let app = svc.client();
    assert_eq!(
        app.login("surveyor1", "demo-surveyor1")["token_type"],
        "Bearer"
    );
    let log = svc.logs();
    assert!(
        log.contains("120 households"),
        "the second --demo reloads the same data"
    );
}
