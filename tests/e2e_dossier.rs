//! 一户一档 end to end: a fixture household verified, returned, corrected and approved; its
//! dossier PDF read back with poppler (the Chinese text, the indicators, the signers, the
//! photos), hidden outside the reader's jurisdiction, masked or whole by role with the whole
//! read on record, and its attached ledger proof verified offline by `fieldsurvey ledger verify
//! --dossier` — and refused once a byte of it is altered. Then the village's dossiers as a ZIP
//! made by a worker job: one PDF per household of the registry's village.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::survey::{Key, Upload};
use common::{Service, real_services};
use serde_json::{Value, json};

const HEAD_ID: &str = "522732198711145257";
const HEAD_ID_MASKED: &str = "522732********5257";

/// Poppler's reading of a PDF file: `pdftotext` (layout kept) or `pdfimages -list`.
fn poppler(tool: &str, args: &[&str], pdf: &Path) -> String {
    let mut cmd = Command::new(tool);
    cmd.args(args).arg(pdf);
    if tool == "pdftotext" {
        cmd.arg("-");
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{tool} (poppler-utils, scripts/setup): {e}"));
    assert!(
        out.status.success(),
        "{tool}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn pii_reads(svc: &Service, user: &str) -> i64 {
    svc.sql_count(&format!(
        "SELECT count(*) AS n FROM pii_reads r JOIN users u ON u.id = r.user_id \
         WHERE u.username = '{user}'"
    ))
}

#[test]
fn a_dossier_reads_in_chinese_shows_its_photos_and_proves_itself_offline() {
    let Some((pg, amqp)) =
        real_services("a_dossier_reads_in_chinese_shows_its_photos_and_proves_itself_offline")
    else {
        return;
    };
    let svc = Service::production(&pg, &amqp, 1);
    svc.cli(
        &[
            "user",
            "add",
            "admin1",
            "--role",
            "admin",
            "--org",
            "522700000000",
            "--password-stdin",
        ],
        Some("demo-admin1\n"),
    );
    let app = svc.client();
    let surveyor = app.token("surveyor1");
    let key = Key::demo();
    let public_key = svc.cli(&["ledger", "public-key"], None).trim().to_owned();

    // Verified and signed by surveyor1, returned by the township (纠), corrected, approved.
    let v1 = Upload::household_h1();
    let code = v1.doc["household_code"].as_str().unwrap().to_owned();
    assert_eq!(
        app.upload(&surveyor, &v1.signed_by(&key), &v1.parts).status,
        202
    );
    let s1 = app.wait_final(&surveyor, &v1.id());
    assert_eq!(s1["status"], "signed_off", "{s1}");
    let r = svc.review(
        "township1",
        &v1.id(),
        json!({"decision": "return", "digest": s1["content_digest"], "reasons": [
            {"action": "correct", "field": "income.net_cny", "note": "工资收入与务工证明不符"}
        ]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let mut v2 = Upload::household_h1();
    v2.doc["supersedes"] = json!(v1.id());
    v2.doc["income"]["net_cny"] = json!(41000);
    assert_eq!(
        app.upload(&surveyor, &v2.signed_by(&key), &v2.parts).status,
        202
    );
    let s2 = app.wait_final(&surveyor, &v2.id());
    assert_eq!(s2["status"], "signed_off", "{s2}");
    let r = svc.review(
        "township1",
        &v2.id(),
        json!({"decision": "approve", "digest": s2["content_digest"], "reasons": []}),
    );
    assert_eq!(r.status, 200, "{}", r.text);

    let dir = tempfile::tempdir().unwrap();
    let path = format!("/api/v1/households/{code}/dossier.pdf");

    // An audit finding about the household, tied to no version, is in its file too.
    let deadline = (chrono::Utc::now() + chrono::Duration::days(3))
        .format("%Y-%m-%d")
        .to_string();
    let audit = svc.post_signed(
        "county1",
        "/api/v1/clues",
        json!({"source": "audit", "kind": "other", "description": "补贴发放不到户",
               "org": "522732101000", "household_code": code, "deadline": deadline}),
    );
    assert_eq!(audit.status, 201, "{}", audit.text);

    // The township's reviewer reads it whole; the read is on record, once per version.
    let township = app.token("township1");
    let before = pii_reads(&svc, "township1");
    let got = app.get_bytes(Some(&township), &path, None);
    assert_eq!(got.status, 200);
    assert_eq!(got.content_type, "application/pdf");
    assert!(got.bytes.starts_with(b"%PDF-"));
    assert!(
        got.bytes.len() < 2_000_000,
        "the font is embedded as a subset: {} bytes",
        got.bytes.len()
    );
    assert_eq!(
        pii_reads(&svc, "township1"),
        before + 2,
        "one read per version shown whole"
    );
    let pdf = dir.path().join("dossier.pdf");
    std::fs::write(&pdf, &got.bytes).unwrap();

    let text = poppler("pdftotext", &["-layout"], &pdf);
    assert!(text.contains("审计"), "the audit clue: {text}");
    for words in [
        "一户一档",
        code.as_str(),
        "基本情况",
        "核实记录",
        "七项指标",
        "一达标（人均纯收入）",
        "不愁吃",
        "不愁穿",
        "义务教育有保障",
        "基本医疗有保障",
        "住房安全有保障",
        "饮水安全有保障",
        "达标",
        "马勇",
        HEAD_ID,
        "审核通过",
        "退回",
        "纠：家庭纯收入",
        "工资收入",
        "核实人本人签名",
        "已验证",
        "佐证照片",
        "拍摄时间",
        "检查点",
        "第 1 页",
        "北京时间",
    ] {
        assert!(text.contains(words), "the dossier shows {words:?}:\n{text}");
    }
    // Every page carries the household code and its number.
    let pages = text.split('\u{c}').filter(|p| !p.trim().is_empty()).count();
    assert!(pages >= 2, "{pages} pages");
    let coded = text.matches(&format!("户编码 {code}")).count();
    assert!(coded >= pages, "the code on every page: {coded} of {pages}");
    assert!(text.contains(&format!("共 {pages} 页")), "{text}");

    // The photos: two versions of three photos each, as images in the PDF.
    let images = poppler("pdfimages", &["-list"], &pdf);
    let listed = images
        .lines()
        .skip(2)
        .filter(|l| !l.trim().is_empty())
        .count();
    assert_eq!(listed, 6, "{images}");
    assert!(
        images.contains("jpeg"),
        "thumbnails embedded as JPEG: {images}"
    );

    // The attached proof verifies offline with the public key alone…
    let (ok, out) = svc.cli_status(&[
        "ledger",
        "verify",
        "--dossier",
        pdf.to_str().unwrap(),
        "--public-key",
        &public_key,
    ]);
    assert!(ok, "{out}");
    assert!(
        out.contains("dossier proof intact") && out.contains(&code),
        "{out}"
    );
    // …and fails when one byte of it is altered (a hex digit of an entry hash).
    let mut bytes = got.bytes.clone();
    let at = bytes
        .windows(14)
        .position(|w| w == b"\"entry_hash\":\"")
        .expect("the proof is attached uncompressed")
        + 14;
    bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
    let altered = dir.path().join("altered.pdf");
    std::fs::write(&altered, &bytes).unwrap();
    let (ok, out) = svc.cli_status(&[
        "ledger",
        "verify",
        "--dossier",
        altered.to_str().unwrap(),
        "--public-key",
        &public_key,
    ]);
    assert!(!ok, "an altered proof is refused: {out}");
    assert!(out.contains("dossier proof broken"), "{out}");

    // Outside the reader's jurisdiction it does not exist.
    let other = app.token("township2");
    let r = app.get(Some(&other), &path);
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.body["status"], 404);
    assert_eq!(
        app.get(Some(&surveyor), &path).status,
        404,
        "a surveyor reads no dossier"
    );
    assert_eq!(app.get(None, &path).status, 401);
    assert_eq!(
        app.get(
            Some(&township),
            "/api/v1/households/522732101201-9999/dossier.pdf"
        )
        .status,
        404,
        "not a household the service knows"
    );

    // An admin of the prefecture reads it with ID numbers masked, and no read is recorded.
    let admin = app.token("admin1");
    let got = app.get_bytes(Some(&admin), &path, None);
    assert_eq!(got.status, 200);
    let masked = dir.path().join("masked.pdf");
    std::fs::write(&masked, &got.bytes).unwrap();
    let text = poppler("pdftotext", &["-layout"], &masked);
    assert!(text.contains(HEAD_ID_MASKED), "{text}");
    assert!(!text.contains(HEAD_ID), "no whole ID number for an admin");
    assert!(!text.contains("马勇"), "no name for an admin: {text}");
    assert!(
        text.contains("马某"),
        "the name masked for an admin: {text}"
    );
    assert!(text.contains("身份证号已脱敏"), "{text}");
    assert_eq!(pii_reads(&svc, "admin1"), 0);

    // The village's dossiers as one ZIP, made by a worker job.
    let village = &code[..12];
    let r = app.post_json(
        Some(&township),
        &format!("/api/v1/villages/{village}/dossiers"),
        &json!({}),
    );
    assert_eq!(r.status, 202, "{}", r.text);
    let job = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.post_json(
            Some(&other),
            &format!("/api/v1/villages/{village}/dossiers"),
            &json!({})
        )
        .status,
        404,
        "another township's village does not exist for its reviewer"
    );
    let deadline = Instant::now() + Duration::from_secs(180);
    let done: Value = loop {
        let r = app.get(Some(&township), &format!("/api/v1/jobs/{job}"));
        assert_eq!(r.status, 200, "{}", r.text);
        match r.body["status"].as_str() {
            Some("done") => break r.body,
            Some("failed") => panic!("the ZIP job failed: {}", r.text),
            _ => {}
        }
        assert!(
            Instant::now() < deadline,
            "the ZIP job is still not done: {}",
            r.text
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let households = svc.sql_count(&format!(
        "SELECT count(*) AS n FROM households WHERE village_code = '{village}'"
    ));
    assert!(households >= 1);
    assert_eq!(done["progress"]["done"], households, "{done}");
    assert_eq!(done["progress"]["total"], households, "{done}");
    let zip = app.get_bytes(
        Some(&township),
        &format!("/api/v1/jobs/{job}/download"),
        None,
    );
    assert_eq!(zip.status, 200);
    let zip_path = dir.path().join("village.zip");
    std::fs::write(&zip_path, &zip.bytes).unwrap();
    let listing = Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\n\
             for n in z.namelist(): print(n, z.read(n)[:5].decode('latin-1'))",
        ])
        .arg(&zip_path)
        .output()
        .unwrap();
    assert!(
        listing.status.success(),
        "{}",
        String::from_utf8_lossy(&listing.stderr)
    );
    let listing = String::from_utf8_lossy(&listing.stdout).into_owned();
    let pdfs: Vec<&str> = listing.lines().filter(|l| l.ends_with(" %PDF-")).collect();
    assert_eq!(
        pdfs.len() as i64,
        households,
        "one PDF per household:\n{listing}"
    );
    assert!(
        listing.contains(&format!("{village}/{code}.pdf")),
        "{listing}"
    );
}
