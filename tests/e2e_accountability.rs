//! 谁核实、谁签字、谁负责, end to end: review decisions bound to the digest the reviewer saw,
//! corrections as new versions, separation of duties, the accountability record checked offline
//! against a signed checkpoint, the ledger endpoints' proofs, witnesses' checkpoints (and forged
//! ones), and the export verified with the public key alone. Every attack fails and leaves the
//! ledger verifiable.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::survey::{Key, Upload};
use common::{Service, real_services};
use fieldsurvey_core::ledger::{Checkpoint, LedgerKey};
use fieldsurvey_core::merkle::{leaf_hash, verify_consistency, verify_inclusion};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Review as `user` through the API, signed with their enrolled test key.
fn review(svc: &Service, user: &str, id: &str, decision: &str, digest: &str) -> (u16, Value) {
    let reasons = if decision == "return" {
        json!([{"action": "correct", "field": "income.net_cny", "note": "工资收入与务工证明不符"}])
    } else {
        json!([])
    };
    let r = svc.review(
        user,
        id,
        json!({"decision": decision, "digest": digest, "reasons": reasons}),
    );
    (r.status, r.body)
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

/// Check an accountability answer as an auditor would offline: the checkpoint's signature with
/// the public key, and for every step its canonical text's hash, the service signature, and its
/// inclusion proof up to the checkpoint's root.
fn check_offline(answer: &Value, public_key: &[u8; 32]) -> usize {
    let cp: Checkpoint = serde_json::from_value(answer["checkpoint"].clone()).unwrap();
    cp.verify(public_key).expect("the checkpoint is signed");
    let root = cp.root().unwrap();
    let mut steps = 0;
    for v in answer["versions"].as_array().unwrap() {
        for s in v["steps"].as_array().unwrap() {
            let canonical = s["canonical"].as_str().unwrap();
            let hash = hex::encode(Sha256::digest(canonical.as_bytes()));
            assert_eq!(s["entry_hash"], hash.as_str());
            assert!(fieldsurvey_core::ledger::verify_service_signature(
                public_key,
                &hash,
                s["service_signature"].as_str().unwrap()
            ));
            let path: Vec<Vec<u8>> = s["inclusion_proof"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| unhex(h.as_str().unwrap()))
                .collect();
            let seq = s["seq"].as_u64().unwrap();
            assert_eq!(
                verify_inclusion(
                    seq - 1,
                    cp.size,
                    &leaf_hash(canonical.as_bytes()),
                    &path,
                    &root
                ),
                Ok(()),
                "entry {seq} is in the checkpoint's tree"
            );
            steps += 1;
        }
    }
    steps
}

fn actions(version: &Value) -> Vec<String> {
    version["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn review_corrections_and_accountability_hold_to_the_signing_rule() {
    let Some((pg, amqp)) =
        real_services("review_corrections_and_accountability_hold_to_the_signing_rule")
    else {
        return;
    };
    let svc = Service::production(&pg, &amqp, 2);
    let app = svc.client();
    let surveyor = app.token("surveyor1");
    let township = app.token("township1");
    let other_township = app.token("township2");
    let auditor = app.token("auditor1");
    let key = Key::demo();
    let public_key: [u8; 32] = URL_SAFE_NO_PAD
        .decode(svc.cli(&["ledger", "public-key"], None).trim())
        .unwrap()
        .try_into()
        .unwrap();

    // Version 1, verified and signed by surveyor1, signed off by a worker.
    let v1 = Upload::household_h1();
    assert_eq!(
        app.upload(&surveyor, &v1.signed_by(&key), &v1.parts).status,
        202
    );
    let s1 = app.wait_final(&surveyor, &v1.id());
    assert_eq!(s1["status"], "signed_off", "{s1}");
    let d1 = s1["content_digest"].as_str().unwrap().to_owned();
    assert_eq!(s1["ledger"][0]["action"], "signed_off");

    // Attacks on the review, each refused and changing nothing.
    let (status, _) = review(&svc, "township2", &v1.id(), "approve", &d1);
    assert_eq!(status, 404, "another township's reviewer cannot see it");
    let (status, _) = review(&svc, "county1", &v1.id(), "approve", &d1);
    assert_eq!(
        status, 403,
        "the county does not take the township's decision"
    );
    let (status, body) = review(&svc, "surveyor1", &v1.id(), "approve", &d1);
    assert_eq!(status, 404, "a surveyor reviews nothing: {body}");
    let (status, body) = review(&svc, "township1", &v1.id(), "return", &d1.replace('a', "b"));
    assert!(status == 409 || status == 400, "{body}");
    let r = app.post_json(
        Some(&township),
        &format!("/api/v1/submissions/{}/review", v1.id()),
        &json!({"decision": "return", "digest": d1, "reasons": [{"action": "burn"}]}),
    );
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("reasons[0].action"), "{}", r.text);
    let r = app.post_json(
        Some(&township),
        &format!("/api/v1/submissions/{}/review", v1.id()),
        &json!({"decision": "return", "digest": d1, "reasons": []}),
    );
    assert_eq!(r.status, 400, "a return names its reasons: {}", r.text);
    assert_eq!(
        svc.sql_count(&format!(
            "SELECT count(*) AS n FROM ledger_entries WHERE submission_id = '{}'",
            v1.id()
        )),
        1,
        "refused decisions leave no entry"
    );

    // The township returns version 1 with what to correct (纠).
    let (status, body) = review(&svc, "township1", &v1.id(), "return", &d1);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "returned");
    let last = body["ledger"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["action"], "returned");
    assert_eq!(last["actor"]["username"], "township1");
    assert_eq!(last["detail"]["reasons"][0]["action"], "correct");

    // Version 2 corrects it, signed anew; version 1 becomes superseded, its entries stay.
    let mut v2 = Upload::household_h1();
    v2.doc["supersedes"] = json!(v1.id());
    v2.doc["income"]["net_cny"] = json!(41000);
    assert_eq!(
        app.upload(&surveyor, &v2.signed_by(&key), &v2.parts).status,
        202
    );
    let s2 = app.wait_final(&surveyor, &v2.id());
    assert_eq!(s2["status"], "signed_off", "{s2}");
    let d2 = s2["content_digest"].as_str().unwrap().to_owned();
    let old = app.get(Some(&surveyor), &format!("/api/v1/submissions/{}", v1.id()));
    assert_eq!(old.body["status"], "superseded");
    assert_eq!(old.body["superseded_by"], v2.id().as_str());

    // A stale digest, or the old version, cannot be approved (R4).
    let (status, body) = review(&svc, "township1", &v1.id(), "approve", &d1);
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "stale_digest");
    assert!(
        body["detail"].as_str().unwrap().contains(&v2.id()),
        "{body}"
    );
    let (status, body) = review(&svc, "township1", &v2.id(), "approve", &d1);
    assert_eq!((status, body["code"].as_str()), (409, Some("stale_digest")));

    // A correction of the already corrected version is refused, naming the correction.
    let mut fork = Upload::household_h1();
    fork.doc["supersedes"] = json!(v1.id());
    assert_eq!(
        app.upload(&surveyor, &fork.signed_by(&key), &fork.parts)
            .status,
        202
    );
    let f = app.wait_final(&surveyor, &fork.id());
    assert_eq!(f["status"], "rejected", "{f}");
    assert_eq!(f["rejections"][0]["code"], "supersedes_mismatch");

    // The township approves version 2; approving twice is refused.
    let (status, body) = review(&svc, "township1", &v2.id(), "approve", &d2);
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("approved")),
        "{body}"
    );
    let (status, body) = review(&svc, "township1", &v2.id(), "approve", &d2);
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("not_reviewable"))
    );

    // Separation of duties: a surveyor later made a reviewer cannot decide on their own survey.
    svc.cli(
        &[
            "user",
            "add",
            "dual1",
            "--role",
            "surveyor",
            "--org",
            "522732101000",
            "--password-stdin",
        ],
        Some("demo-dual1\n"),
    );
    let dual = app.token("dual1");
    let dual_key = Key::generate();
    let r = app.post_json(
        Some(&dual),
        "/api/v1/keys",
        &json!({"public_key": dual_key.public_b64(), "enrolment_code": svc.enrolment_code("dual1")}),
    );
    assert_eq!(r.status, 201);
    // 代签: surveyor1 uploads a survey signed with dual1's key; rejected, on record.
    let proxy = Upload::household_h1();
    assert_eq!(
        app.upload(&surveyor, &proxy.signed_by(&dual_key), &proxy.parts)
            .status,
        202
    );
    let p = app.wait_final(&surveyor, &proxy.id());
    assert_eq!(p["status"], "rejected");
    assert_eq!(p["rejections"][0]["code"], "signer_not_verifier", "{p}");
    assert_eq!(p["ledger"][0]["action"], "rejected");

    let own = Upload::household_h1();
    let own_signed = own.signed_by(&dual_key);
    assert_eq!(app.upload(&dual, &own_signed, &own.parts).status, 202);
    let so = app.wait_final(&dual, &own.id());
    assert_eq!(so["status"], "signed_off", "{so}");
    svc.sql("UPDATE users SET role = 'reviewer' WHERE username = 'dual1'");
    let (status, body) = review(
        &svc,
        "dual1",
        &own.id(),
        "approve",
        so["content_digest"].as_str().unwrap(),
    );
    assert_eq!(status, 403, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("职责分离"));

    // The accountability record: every version, every step, checkable offline.
    let r = app.get(
        Some(&township),
        "/api/v1/households/522732101201-0001/accountability",
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let versions = r.body["versions"].as_array().unwrap();
    let first = versions
        .iter()
        .find(|v| v["submission_id"] == v1.id().as_str())
        .unwrap();
    let second = versions
        .iter()
        .find(|v| v["submission_id"] == v2.id().as_str())
        .unwrap();
    assert_eq!(actions(first), ["signed_off", "returned", "superseded"]);
    assert_eq!(actions(second), ["signed_off", "approved"]);
    assert_eq!(first["verified_by"]["username"], "surveyor1");
    assert_eq!(first["steps"][1]["actor"]["username"], "township1");
    assert_eq!(second["steps"][0]["actor"]["kind"], "worker");
    assert!(second["steps"][0]["actor"]["ruleset"].as_str().is_some());
    assert_eq!(second["supersedes"], v1.id().as_str());
    assert!(check_offline(&r.body, &public_key) >= 5);
    for (who, token) in [
        ("another township", &other_township),
        ("a surveyor", &surveyor),
    ] {
        let r = app.get(
            Some(token),
            "/api/v1/households/522732101201-0001/accountability",
        );
        assert_eq!(r.status, 404, "{who} cannot read it");
    }

    // The ledger endpoints: the checkpoint is open, entries are for auditors, proofs verify.
    let cp_reply = app.get(None, "/api/v1/ledger/checkpoint");
    assert_eq!(cp_reply.status, 200, "{}", cp_reply.text);
    let old_cp: Checkpoint = serde_json::from_value(cp_reply.body).unwrap();
    old_cp.verify(&public_key).unwrap();
    assert_eq!(
        app.get(Some(&township), "/api/v1/ledger/entries?from=1&to=5")
            .status,
        403
    );
    let r = app.get(Some(&auditor), "/api/v1/ledger/entries?from=1&to=3");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["entries"].as_array().unwrap().len(), 3);
    assert_eq!(r.body["entries"][2]["seq"], 3);
    assert_eq!(
        app.get(Some(&auditor), "/api/v1/ledger/entries?from=0&to=3")
            .status,
        400
    );
    assert_eq!(
        app.get(Some(&auditor), "/api/v1/ledger/entries?from=x")
            .status,
        400
    );

    // More activity, then a fresh checkpoint on demand that extends the old one.
    let v3 = Upload::household_h1();
    assert_eq!(
        app.upload(&surveyor, &v3.signed_by(&key), &v3.parts).status,
        202
    );
    app.wait_final(&surveyor, &v3.id());
    assert_eq!(
        app.post_json(Some(&township), "/api/v1/ledger/checkpoint", &json!({}))
            .status,
        403
    );
    let r = app.post_json(Some(&auditor), "/api/v1/ledger/checkpoint", &json!({}));
    assert_eq!(r.status, 200, "{}", r.text);
    let new_cp: Checkpoint = serde_json::from_value(r.body).unwrap();
    new_cp.verify(&public_key).unwrap();
    assert!(new_cp.size > old_cp.size);
    let r = app.get(
        Some(&surveyor),
        &format!(
            "/api/v1/ledger/proof/consistency?from={}&to={}",
            old_cp.size, new_cp.size
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let proof: Vec<Vec<u8>> = r.body["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| unhex(h.as_str().unwrap()))
        .collect();
    assert_eq!(
        verify_consistency(
            old_cp.size,
            new_cp.size,
            &proof,
            &old_cp.root().unwrap(),
            &new_cp.root().unwrap()
        ),
        Ok(())
    );
    let r = app.get(
        Some(&auditor),
        &format!("/api/v1/ledger/proof/inclusion?seq=2&size={}", new_cp.size),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let entry = app
        .get(Some(&auditor), "/api/v1/ledger/entries?from=2&to=2")
        .body["entries"][0]
        .clone();
    let path: Vec<Vec<u8>> = r.body["audit_path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| unhex(h.as_str().unwrap()))
        .collect();
    assert_eq!(
        verify_inclusion(
            1,
            new_cp.size,
            &leaf_hash(entry["canonical"].as_str().unwrap().as_bytes()),
            &path,
            &new_cp.root().unwrap()
        ),
        Ok(())
    );
    let too_far = format!(
        "/api/v1/ledger/proof/inclusion?seq=1&size={}",
        new_cp.size + 1000
    );
    assert_eq!(app.get(Some(&auditor), &too_far).status, 400);

    // A witness keeps a checkpoint; the ledger must extend it. Forged ones are refused.
    let dir = tempfile::tempdir().unwrap();
    let kept = dir.path().join("county.json");
    let out = svc.cli(
        &["ledger", "checkpoint", "--out", kept.to_str().unwrap()],
        None,
    );
    assert!(out.contains("checkpoint:"), "{out}");
    let (ok, out) = svc.cli_status(&["ledger", "verify", "--against", kept.to_str().unwrap()]);
    assert!(ok && out.contains("ledger intact"), "{out}");

    let genuine: Checkpoint =
        serde_json::from_str(&std::fs::read_to_string(&kept).unwrap()).unwrap();
    let forgeries = {
        let mut rerooted = genuine.clone();
        rerooted.root_hash = hex::encode([7u8; 32]);
        let other_key = LedgerKey::from_seed(&[42; 32]);
        let by_other_key = Checkpoint::sign(genuine.size, &[7; 32], &genuine.head_hash, &other_key);
        let mut disguised = by_other_key.clone();
        disguised.public_key = genuine.public_key.clone();
        let mut from_the_future = genuine.clone();
        from_the_future.size += 10;
        [rerooted, by_other_key, disguised, from_the_future]
    };
    for (i, forged) in forgeries.iter().enumerate() {
        let path = dir.path().join(format!("forged-{i}.json"));
        std::fs::write(&path, serde_json::to_string(forged).unwrap()).unwrap();
        let (ok, out) = svc.cli_status(&["ledger", "verify", "--against", path.to_str().unwrap()]);
        assert!(
            !ok && out.contains("checkpoint"),
            "forgery {i} must be refused: {out}"
        );
    }

    let (ok, out) = svc.cli_status(&["ledger", "verify"]);
    assert!(ok, "every attack left the ledger verifiable: {out}");

    // Verifying a busy ledger: uploads keep arriving while `verify` runs.
    let busy = {
        let app = svc.client();
        let token = surveyor.clone();
        std::thread::spawn(move || {
            let mut ids = Vec::new();
            for _ in 0..12 {
                let u = Upload::household_h1();
                assert_eq!(
                    app.upload(&token, &u.signed_by(&Key::demo()), &u.parts)
                        .status,
                    202
                );
                ids.push(u.id());
            }
            for id in &ids {
                app.wait_final(&token, id);
            }
        })
    };
    for _ in 0..3 {
        let (ok, out) = svc.cli_status(&["ledger", "verify"]);
        assert!(ok, "a busy ledger verifies: {out}");
    }
    busy.join().unwrap();

    // Export, encrypted to the auditor and on record; verified offline with the public key and
    // the auditor's identity alone; a tampered export is refused.
    let (export, identity) = svc.export_ledger(dir.path());
    let sealed = std::fs::read(&export).unwrap();
    assert!(sealed.starts_with(b"age-encryption.org/v1"));
    assert!(
        !sealed.windows(6).any(|w| w == "马勇".as_bytes()),
        "no name in clear"
    );
    assert_eq!(
        svc.sql_count(
            "SELECT count(*) AS n FROM ledger_entries WHERE entry LIKE '%\"action\":\"ledger_exported\"%' \
             AND entry LIKE '%\"recipient\":\"age1%'"
        ),
        1,
        "making the export is on record, with its recipient"
    );
    let pk = URL_SAFE_NO_PAD.encode(public_key);
    let offline = |file: &std::path::Path| {
        let out = std::process::Command::new(common::BIN)
            .args([
                "ledger",
                "verify",
                "--export",
                file.to_str().unwrap(),
                "--public-key",
                &pk,
                "--identity",
                identity.to_str().unwrap(),
            ])
            .arg("--against")
            .arg(&kept)
            .env_clear()
            .output()
            .unwrap();
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (ok, out) = offline(&export);
    assert!(ok && out.contains("ledger intact"), "{out}");
    // The auditor's decrypted copy (`age -d`) verifies the same; the tampering below is done
    // to it.
    let text = common::decrypt_export(&export, &identity);
    let tampered = dir.path().join("tampered.jsonl");
    std::fs::write(&tampered, text.replacen("41000", "21000", 1)).unwrap();
    let (ok, out) = offline(&tampered);
    assert!(!ok && out.contains("ledger broken at entry"), "{out}");
    let truncated = dir.path().join("truncated.jsonl");
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&truncated, lines[..lines.len() - 3].join("\n")).unwrap();
    let (ok, _) = offline(&truncated);
    assert!(!ok, "a truncated export does not pass");

    // Removing the newest entries is caught by the witness's checkpoint.
    svc.sql(&format!(
        "DELETE FROM ledger_entries WHERE seq >= {0}; UPDATE ledger_head SET seq = {0} - 1",
        genuine.size
    ));
    let (ok, out) = svc.cli_status(&["ledger", "verify", "--against", kept.to_str().unwrap()]);
    assert!(!ok && out.contains("removed"), "{out}");
}

#[test]
fn the_embedded_mode_keeps_the_same_accountability() {
    let svc = Service::dev();
    let app = svc.client();
    let surveyor = app.token("surveyor1");
    let township = app.token("township1");
    let u = Upload::household_h1();
    assert_eq!(
        app.upload(&surveyor, &u.signed_by(&Key::demo()), &u.parts)
            .status,
        202
    );
    let s = app.wait_final(&surveyor, &u.id());
    assert_eq!(s["status"], "signed_off", "{s}");
    let (status, body) = review(
        &svc,
        "township1",
        &u.id(),
        "approve",
        s["content_digest"].as_str().unwrap(),
    );
    assert_eq!(status, 200, "{body}");
    let public_key: [u8; 32] = URL_SAFE_NO_PAD
        .decode(svc.cli(&["ledger", "public-key"], None).trim())
        .unwrap()
        .try_into()
        .unwrap();
    let r = app.get(
        Some(&township),
        "/api/v1/households/522732101201-0001/accountability",
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(actions(&r.body["versions"][0]), ["signed_off", "approved"]);
    assert_eq!(check_offline(&r.body, &public_key), 2);

    let dir = tempfile::tempdir().unwrap();
    let (export, identity) = svc.export_ledger(dir.path());
    let verify = |identity: Option<&std::path::Path>| {
        let mut args = vec![
            "ledger".to_owned(),
            "verify".into(),
            "--export".into(),
            export.to_str().unwrap().into(),
            "--public-key".into(),
            URL_SAFE_NO_PAD.encode(public_key),
        ];
        if let Some(i) = identity {
            args.extend(["--identity".into(), i.to_str().unwrap().to_owned()]);
        }
        svc.cli_status(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let (ok, out) = verify(Some(&identity));
    assert!(
        ok && out.contains("1 verifier signatures and 1 signed decisions checked"),
        "{out}"
    );
    let (ok, out) = verify(None);
    assert!(!ok && out.contains("--identity"), "{out}");
    let stranger = dir.path().join("stranger.key");
    svc.cli(
        &["ledger", "auditor-key", "--out", stranger.to_str().unwrap()],
        None,
    );
    let (ok, out) = verify(Some(&stranger));
    assert!(!ok, "another auditor's key does not open it: {out}");
}
