//! 谁签字谁负责 for the reviewer (issue 14): on PostgreSQL, a review decision is taken only with
//! the reviewer's own signature over the exact decision document, made with a key enrolled for
//! them and not revoked, within ten minutes of the server's clock, once. Every refusal changes
//! nothing. The ledger keeps the document and the signature, and `ledger verify` — against the
//! database and offline against an export — fails when the decision's bytes are altered.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::survey::{Key, Upload};
use common::{Service, real_services};
use serde_json::{Value, json};

fn refusal(r: &common::client::Reply) -> (u16, String) {
    let code = match r.body["code"].as_str() {
        Some("bad_request") => r.body["errors"][0]["code"].as_str(),
        other => other,
    };
    (r.status, code.unwrap_or_default().to_owned())
}

#[test]
fn a_review_is_taken_only_with_the_reviewers_own_signature() {
    let Some((pg, amqp)) = real_services("a_review_is_taken_only_with_the_reviewers_own_signature")
    else {
        return;
    };
    let svc = Service::production(&pg, &amqp, 1);
    let app = svc.client();
    let surveyor = app.token("surveyor1");
    let township = app.token("township1");
    let v1 = Upload::household_h1();
    assert_eq!(
        app.upload(&surveyor, &v1.signed_by(&Key::demo()), &v1.parts)
            .status,
        202
    );
    let s = app.wait_final(&surveyor, &v1.id());
    assert_eq!(s["status"], "signed_off", "{s}");
    let digest = s["content_digest"].as_str().unwrap().to_owned();
    let id = v1.id();
    let url = format!("/api/v1/submissions/{id}/review");
    let body = json!({"decision": "return", "digest": digest,
                      "reasons": [{"action": "correct", "field": "water.safe", "note": "水源待核"}]});
    let key = svc.person_key("township1");
    let entries = || {
        svc.sql_count(&format!(
            "SELECT count(*) AS n FROM ledger_entries WHERE submission_id = '{id}'"
        ))
    };
    let before = entries();
    let post = |b: &Value| app.post_json(Some(&township), &url, b);

    // Unsigned, or signed with anything but the reviewer's own live key over this exact
    // decision: refused with a code, and nothing changes.
    let r = post(&body);
    assert_eq!(
        refusal(&r),
        (400, "signature_required".into()),
        "{}",
        r.text
    );
    let password_only = Key::generate();
    let r = post(&password_only.seal_review("township1", &id, body.clone()));
    assert_eq!(
        refusal(&r),
        (403, "unknown_key".into()),
        "a key never enrolled: {}",
        r.text
    );
    let county_key = svc.person_key("county1");
    let r = post(&county_key.seal_review("township1", &id, body.clone()));
    assert_eq!(
        refusal(&r),
        (403, "unknown_key".into()),
        "another person's key: {}",
        r.text
    );
    let r = post(&key.seal_review("county1", &id, body.clone()));
    assert_eq!(
        refusal(&r),
        (403, "bad_signature".into()),
        "signed in another person's name: {}",
        r.text
    );
    let mut changed = key.seal_review("township1", &id, body.clone());
    changed["reasons"][0]["note"] = json!("已核实，无问题");
    let r = post(&changed);
    assert_eq!(
        refusal(&r),
        (403, "bad_signature".into()),
        "reasons changed after signing: {}",
        r.text
    );
    let mut turned = key.seal_review("township1", &id, body.clone());
    turned["decision"] = json!("approve");
    turned["reasons"] = json!([]);
    assert_eq!(
        refusal(&post(&turned)).1,
        "bad_signature",
        "a return turned into an approval"
    );
    let old = chrono::Utc::now() - chrono::TimeDelta::minutes(11);
    let decided_at = old.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let doc = fieldsurvey_core::decision::review_document(
        "return",
        &id,
        &digest,
        &body["reasons"],
        &fieldsurvey_core::decision::Seal {
            decided_at: &decided_at,
            key_id: &key.key_id,
            signer: "township1",
        },
    );
    let mut stale = body.clone();
    stale["decided_at"] = json!(decided_at);
    stale["key_id"] = json!(key.key_id);
    stale["signature"] = json!(fieldsurvey_core::decision::sign(&doc, &key.seed).unwrap());
    assert_eq!(refusal(&post(&stale)), (400, "stale_decision".into()));
    assert_eq!(entries(), before, "no refusal reached the ledger");
    let now = app.get(Some(&surveyor), &format!("/api/v1/submissions/{id}"));
    assert_eq!(now.body["status"], "signed_off");

    // The reviewer's own signature: taken, with the document and signature on record.
    let signed = key.seal_review("township1", &id, body.clone());
    let r = post(&signed);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "returned");
    let last = r.body["ledger"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "returned");
    assert_eq!(
        last["signature"],
        json!({"kind": "decision", "key_id": key.key_id, "verified": true})
    );
    assert_eq!(last["decision"]["reasons"], body["reasons"]);
    assert_eq!(last["decision"]["signer"], "township1");
    let back = app.get(Some(&surveyor), "/api/v1/submissions?status=returned");
    assert_eq!(back.body["items"][0]["reasons"][0]["note"], "水源待核");

    // Posted again — a retry or a replay — it is not taken twice.
    let again = post(&signed);
    assert_eq!(
        refusal(&again),
        (409, "replayed_decision".into()),
        "{}",
        again.text
    );
    let mut padded = signed.clone();
    padded["signature"] = json!(format!("{}==", signed["signature"].as_str().unwrap()));
    assert_eq!(
        refusal(&post(&padded)),
        (400, "invalid_signature".into()),
        "the same signature spelled with padding is not a new one"
    );
    assert_eq!(entries(), before + 1);

    // A revoked key signs nothing more; a new key needs a new code.
    let mut v2 = Upload::household_h1();
    v2.doc["supersedes"] = json!(id);
    assert_eq!(
        app.upload(&surveyor, &v2.signed_by(&Key::demo()), &v2.parts)
            .status,
        202
    );
    let s2 = app.wait_final(&surveyor, &v2.id());
    assert_eq!(s2["status"], "signed_off", "{s2}");
    svc.cli(&["key", "revoke", &key.key_id], None);
    let approve = json!({"decision": "approve", "digest": s2["content_digest"], "reasons": []});
    let url2 = format!("/api/v1/submissions/{}/review", v2.id());
    let r = app.post_json(
        Some(&township),
        &url2,
        &key.seal_review("township1", &v2.id(), approve.clone()),
    );
    assert_eq!(refusal(&r), (403, "key_revoked".into()), "{}", r.text);
    let fresh = Key::generate();
    let r = app.post_json(
        Some(&township),
        "/api/v1/keys",
        &json!({"public_key": fresh.public_b64(), "enrolment_code": svc.enrolment_code("township1")}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app.post_json(
        Some(&township),
        &url2,
        &fresh.seal_review("township1", &v2.id(), approve),
    );
    assert_eq!(r.status, 200, "{}", r.text);

    // The ledger proves both decisions were the reviewer's: verified against the database and
    // offline; altering the decision's bytes is found either way.
    let (ok, out) = svc.cli_status(&["ledger", "verify"]);
    assert!(ok, "{out}");
    assert!(out.contains("2 signed decisions checked"), "{out}");
    let work = tempfile::tempdir().unwrap();
    let (export, identity) = svc.export_ledger(work.path());
    let public_key = svc.cli(&["ledger", "public-key"], None).trim().to_owned();
    let offline = |file: &std::path::Path| {
        svc.cli_status(&[
            "ledger",
            "verify",
            "--export",
            file.to_str().unwrap(),
            "--public-key",
            &public_key,
            "--identity",
            identity.to_str().unwrap(),
        ])
    };
    let (ok, out) = offline(&export);
    assert!(ok && out.contains("2 signed decisions checked"), "{out}");
    let text = common::decrypt_export(&export, &identity);
    assert!(text.contains("水源待核"));
    let altered = work.path().join("altered.jsonl");
    std::fs::write(&altered, text.replacen("水源待核", "水源已核", 1)).unwrap();
    let (ok, out) = offline(&altered);
    assert!(!ok, "an altered decision in an export verifies: {out}");
    let seq = svc.sql_count(&format!(
        "SELECT seq AS n FROM ledger_entries WHERE submission_id = '{id}' AND entry LIKE '%\"action\":\"returned\"%'"
    ));
    svc.sql(&format!(
        "UPDATE ledger_entries SET entry = replace(entry, '水源待核', '水源已核') WHERE seq = {seq}"
    ));
    let (ok, out) = svc.cli_status(&["ledger", "verify"]);
    assert!(!ok, "{out}");
    assert!(out.contains(&format!("entry {seq}")), "{out}");
}

/// The prefecture (州) level (issue 14): what the township and the county leave undecided
/// escalates to it; it draws a spot-check straight from a township (州对乡), overturns an
/// approved record with its own signature, and the surveyor sees the overturn's reason.
#[test]
fn the_prefecture_decides_what_escalates_and_spot_checks_a_township() {
    let Some((pg, amqp)) =
        real_services("the_prefecture_decides_what_escalates_and_spot_checks_a_township")
    else {
        return;
    };
    let svc = Service::production(&pg, &amqp, 1);
    let app = svc.client();
    let surveyor = app.token("surveyor1");
    let prefecture = app.token("prefecture1");
    let mut ids = Vec::new();
    for u in [
        Upload::household_h1(),
        Upload::household(
            "522732101201-0002",
            [
                "h2_house.jpg",
                "h2_household_with_verifier.jpg",
                "h2_water_source.jpg",
            ],
        ),
    ] {
        assert_eq!(
            app.upload(&surveyor, &u.signed_by(&Key::demo()), &u.parts)
                .status,
            202
        );
        let s = app.wait_final(&surveyor, &u.id());
        assert_eq!(s["status"], "signed_off", "{s}");
        ids.push((u.id(), s["content_digest"].as_str().unwrap().to_owned()));
    }
    let (late, late_digest) = ids[0].clone();
    let (approved, approved_digest) = ids[1].clone();
    let queue = |token: &str| -> Vec<String> {
        let q = app.get(Some(token), "/api/v1/review/queue");
        assert_eq!(q.status, 200, "{}", q.text);
        q.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let approve = |user: &str, id: &str, digest: &str| {
        svc.review(
            user,
            id,
            json!({"decision": "approve", "digest": digest, "reasons": []}),
        )
    };

    // Escalation: a day past the township's deadline the county may decide, not yet the
    // prefecture; two weeks past it, the prefecture too.
    let overdue = |days: i64| {
        svc.sql(&format!(
            "UPDATE submission_outcomes SET review_due_at = now() - interval '{days} days' \
             WHERE submission_id = '{late}'"
        ))
    };
    assert!(queue(&prefecture).is_empty());
    overdue(1);
    assert_eq!(queue(&app.token("county1")), vec![late.clone()]);
    assert!(
        queue(&prefecture).is_empty(),
        "one day late reaches the county only"
    );
    let r = approve("prefecture1", &late, &late_digest);
    assert_eq!(r.status, 403, "{}", r.text);
    overdue(14);
    assert_eq!(queue(&prefecture), vec![late.clone()]);
    let r = approve("prefecture1", &late, &late_digest);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "approved");
    let decided = r.body["ledger"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(decided["detail"]["level"], "prefecture");
    assert_eq!(decided["signature"]["verified"], true);

    // 州对乡: the township approves the other record; the prefecture draws the township and
    // overturns it.
    assert_eq!(
        approve("township1", &approved, &approved_digest).status,
        200
    );
    let draw = app.post_json(
        Some(&prefecture),
        "/api/v1/spot-checks",
        &json!({"org": "522732101000", "rate": 1.0, "seed": "州对乡-2026-11"}),
    );
    assert_eq!(draw.status, 201, "{}", draw.text);
    let drawn: Vec<&str> = draw.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["submission_id"].as_str().unwrap())
        .collect();
    assert!(drawn.contains(&approved.as_str()), "{}", draw.text);
    let county_draw = app.post_json(
        Some(&app.token("county1")),
        "/api/v1/spot-checks",
        &json!({"org": "522700000000"}),
    );
    assert_eq!(
        county_draw.status, 404,
        "the prefecture is outside a county's jurisdiction"
    );
    let r = svc.post_signed(
        "prefecture1",
        &format!("/api/v1/submissions/{approved}/spot-check"),
        json!({"decision": "overturn", "digest": approved_digest, "reason": "州级抽查：住房照片与实地不符"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "returned");
    let overturn = r.body["ledger"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (
            overturn["detail"]["level"].as_str(),
            overturn["signature"]["verified"].as_bool()
        ),
        (Some("prefecture"), Some(true))
    );
    let back = app.get(Some(&surveyor), "/api/v1/submissions?status=returned");
    let item = back.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == approved.as_str())
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        item["reasons"][0]["note"], "州级抽查：住房照片与实地不符",
        "{}",
        back.text
    );
    let (ok, out) = svc.cli_status(&["ledger", "verify"]);
    assert!(ok && out.contains("3 signed decisions checked"), "{out}");
}

/// Separation of duties by person, not account (issue 14): one person with a surveyor account
/// and a reviewer account cannot verify and approve one version; a county reviewer who approved
/// an escalated record cannot confirm it in the county's own spot-check.
#[test]
fn one_person_through_two_accounts_cannot_verify_and_decide_one_version() {
    let Some((pg, amqp)) =
        real_services("one_person_through_two_accounts_cannot_verify_and_decide_one_version")
    else {
        return;
    };
    let svc = Service::production(&pg, &amqp, 1);
    let app = svc.client();
    // 李四 has two accounts, both tied to the same ID number; 王五 is someone else.
    for (user, role, id_number) in [
        ("lisi_s", "surveyor", "522732198711145257"),
        ("lisi_r", "reviewer", "522732198711145257"),
        ("township1", "reviewer", "11010519491231002X"),
    ] {
        if user != "township1" {
            svc.cli(
                &[
                    "user",
                    "add",
                    user,
                    "--role",
                    role,
                    "--org",
                    "522732101000",
                    "--password-stdin",
                ],
                Some(&format!("demo-{user}\n")),
            );
        }
        svc.cli(
            &["user", "identify", user, "--id-number-stdin"],
            Some(&format!("{id_number}\n")),
        );
    }
    let lisi = app.token("lisi_s");
    let key = Key::generate();
    let r = app.post_json(
        Some(&lisi),
        "/api/v1/keys",
        &json!({"public_key": key.public_b64(), "enrolment_code": svc.enrolment_code("lisi_s")}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let u = Upload::household_h1();
    assert_eq!(app.upload(&lisi, &u.signed_by(&key), &u.parts).status, 202);
    let s = app.wait_final(&lisi, &u.id());
    assert_eq!(s["status"], "signed_off", "{s}");
    let approve = json!({"decision": "approve", "digest": s["content_digest"], "reasons": []});
    let r = svc.review("lisi_r", &u.id(), approve.clone());
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(r.text.contains("职责分离"), "{}", r.text);
    let still = app.get(Some(&lisi), &format!("/api/v1/submissions/{}", u.id()));
    assert_eq!(still.body["status"], "signed_off");

    // Another person may; then the county, which decided nothing, spot-checks it — but the
    // county reviewer who approves an escalated record may not confirm that one.
    let r = svc.review("township1", &u.id(), approve);
    assert_eq!(r.status, 200, "{}", r.text);
    let surveyor = app.token("surveyor1");
    let h2 = Upload::household(
        "522732101201-0002",
        [
            "h2_house.jpg",
            "h2_household_with_verifier.jpg",
            "h2_water_source.jpg",
        ],
    );
    assert_eq!(
        app.upload(&surveyor, &h2.signed_by(&Key::demo()), &h2.parts)
            .status,
        202
    );
    let s2 = app.wait_final(&surveyor, &h2.id());
    svc.sql(&format!(
        "UPDATE submission_outcomes SET review_due_at = now() - interval '1 day' \
         WHERE submission_id = '{}'",
        h2.id()
    ));
    let r = svc.review(
        "county1",
        &h2.id(),
        json!({"decision": "approve", "digest": s2["content_digest"], "reasons": []}),
    );
    assert_eq!(
        r.status, 200,
        "the county decides what is overdue: {}",
        r.text
    );
    let draw = app.post_json(
        Some(&app.token("county1")),
        "/api/v1/spot-checks",
        &json!({"org": "522732101000", "rate": 1.0, "seed": "两户"}),
    );
    assert_eq!(draw.status, 201, "{}", draw.text);
    let confirm = |id: &str, digest: &Value| {
        svc.post_signed(
            "county1",
            &format!("/api/v1/submissions/{id}/spot-check"),
            json!({"decision": "confirm", "digest": digest}),
        )
    };
    let r = confirm(&h2.id(), &s2["content_digest"]);
    assert_eq!(r.status, 403, "its own approval: {}", r.text);
    assert!(r.text.contains("职责分离"), "{}", r.text);
    let r = confirm(&u.id(), &s["content_digest"]);
    assert_eq!(r.status, 200, "the township's approval: {}", r.text);
}
