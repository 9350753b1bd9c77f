//! Monthly bulletins (通报) end to end, on PostgreSQL + RabbitMQ and on the embedded backend.
//! Surveys are uploaded now and their times moved into two past months (January and February
//! 2025, Beijing time), so the bulletins of those months count them as of each month's end:
//! January ranks 三都示例1镇 first; February's surveys move 三都示例2镇 ahead, and February's
//! bulletin states the change against January's stored one (ranks and counts). A survey of
//! today counts in neither month. Issuing a month again stores nothing and changes nothing; a
//! month not yet ended is refused; the schedule's run (`bulletin --due`) is idempotent; the
//! table refuses an UPDATE; a bulletin altered in the database (its text, or its text and its
//! digest) fails `bulletin verify` against its ledger entry; readers outside the unit's
//! jurisdiction get 404, surveyors 403; the console lists and shows a bulletin in Chinese.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::client::Client;
use common::real_services;
use common::survey::{Key, Upload, sha256_hex};
use common::{Service, assert_page_in_chinese};
use diesel::connection::SimpleConnection;
use fieldsurvey_db::with_conn;
use serde_json::Value;

const COUNTY: &str = "522732000000";
const T1: &str = "522732101000";
const T2: &str = "522732102000";

fn upload(app: &Client, token: &str, key: &Key, u: &Upload) -> String {
    let r = app.upload(token, &u.signed_by(key), &u.parts);
    assert_eq!(r.status, 202, "{}", r.text);
    let s = app.wait_final(token, &u.id());
    assert_eq!(s["status"], "signed_off", "{s}");
    u.id()
}

fn photos(set: &str) -> [String; 3] {
    [
        format!("{set}_house.jpg"),
        format!("{set}_household_with_verifier.jpg"),
        format!("{set}_water_source.jpg"),
    ]
}

fn survey(code: &str, set: &str) -> Upload {
    let p = photos(set);
    Upload::household(code, [&p[0], &p[1], &p[2]])
}

/// Move a submission, and the clues it raised, to `at` (UTC, as stored).
fn backdate(svc: &Service, id: &str, at: &str) {
    svc.sql(&format!(
        "UPDATE submissions SET received_at = '{at}', processed_at = '{at}' WHERE id = '{id}'; \
         UPDATE clues SET opened_at = '{at}' WHERE submission_id = '{id}';"
    ));
}

/// Run SQL that may fail: whether it did.
fn try_sql(svc: &Service, sql: &str) -> bool {
    let db = svc.db();
    let mut c = db.get().unwrap();
    with_conn!(&mut c, |c| c.batch_execute(sql)).is_ok()
}

fn issue(svc: &Service, org: &str, period: &str) -> String {
    svc.cli(&["bulletin", "--org", org, "--period", period], None)
}

/// The id in `bulletin … issued: id X, digest …`.
fn id_in(out: &str) -> String {
    out.split("id ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap_or_else(|| panic!("no id in {out}"))
        .to_owned()
}

fn unit<'a>(b: &'a Value, code: &str) -> &'a Value {
    b["units"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["code"] == code)
        .unwrap_or_else(|| panic!("no unit {code} in {b}"))
}

fn workflow(svc: &Service, postgres: bool) {
    let app = svc.client();
    // The registry was there before both months.
    svc.sql("UPDATE households SET imported_at = '2024-12-01 00:00:00'");
    let surveyor1 = app.token("surveyor1");
    let surveyor2 = app.token("surveyor2");
    let key2 = svc.person_key("surveyor2");

    // January: one household of 三都示例1镇. February: two of 三都示例2镇, the second with the
    // first's photos (photo_reused: a clue). Today: one more of 三都示例1镇, in neither month.
    let jan = upload(
        &app,
        &surveyor1,
        &Key::demo(),
        &survey("522732101201-0001", "h1"),
    );
    backdate(svc, &jan, "2025-01-10 02:00:00");
    let feb1 = upload(&app, &surveyor2, &key2, &survey("522732102201-0001", "h2"));
    backdate(svc, &feb1, "2025-02-10 02:00:00");
    let feb2 = upload(&app, &surveyor2, &key2, &survey("522732102202-0001", "h2"));
    backdate(svc, &feb2, "2025-02-12 02:00:00");
    upload(
        &app,
        &surveyor1,
        &Key::demo(),
        &survey("522732101201-0002", "h3"),
    );
    let t2_clues = svc.sql_count(&format!(
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM clues WHERE submission_id IN ('{feb1}', '{feb2}')"
    ));
    assert!(t2_clues > 0, "the reused photos raise a clue");
    // The reuse raises clues on both households when the second arrives: in February too.
    svc.sql(&format!(
        "UPDATE clues SET opened_at = '2025-02-12 02:00:00' \
         WHERE submission_id IN ('{feb1}', '{feb2}')"
    ));

    // Refused: a month that has not ended, a malformed month, an unknown unit.
    let (ok, out) = svc.cli_status(&["bulletin", "--org", COUNTY, "--period", "2099-01"]);
    assert!(!ok && out.contains("has not ended"), "{out}");
    let (ok, out) = svc.cli_status(&["bulletin", "--org", COUNTY, "--period", "2025-13"]);
    assert!(!ok && out.contains("YYYY-MM"), "{out}");
    let (ok, out) = svc.cli_status(&["bulletin", "--org", "999999999999", "--period", "2025-01"]);
    assert!(!ok && out.contains("no org unit"), "{out}");

    let out_a = issue(svc, COUNTY, "2025-01");
    assert!(out_a.contains("issued: id"), "{out_a}");
    let out_b = issue(svc, COUNTY, "2025-02");
    assert!(out_b.contains("against 2025-01's bulletin"), "{out_b}");
    let (a_id, b_id) = (id_in(&out_a), id_in(&out_b));

    let county = app.token("county1");
    let a = app.get(Some(&county), &format!("/api/v1/bulletins/{a_id}"));
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["digest_matches"], true);
    let a = &a.body["bulletin"];
    assert_eq!(a["period"], "2025-01");
    assert_eq!(a["as_of"], "2025-01-31T16:00:00Z", "Beijing's midnight");
    assert_eq!(a["unit"]["figures"]["households"], 60);
    assert_eq!(a["unit"]["figures"]["verified"], 1);
    assert_eq!(unit(a, T1)["rank"], 1, "{a}");
    assert_eq!(unit(a, T1)["figures"]["verified"], 1);
    assert_eq!(unit(a, T2)["rank"], 2);
    assert_eq!(unit(a, T2)["figures"]["verified"], 0);
    assert_eq!(unit(a, T2)["figures"]["clues_raised"], 0);
    assert!(a["previous_bulletin"].is_null());
    assert!(a["ranking_rule"].as_str().unwrap().contains("coverage"));

    let b = app.get(Some(&county), &format!("/api/v1/bulletins/{b_id}"));
    assert_eq!(b.status, 200, "{}", b.text);
    let b = &b.body["bulletin"];
    assert_eq!(b["previous_bulletin"]["id"], a_id.as_str());
    // As of February's end: the survey of today counts in neither month.
    assert_eq!(b["unit"]["figures"]["verified"], 3);
    assert_eq!(unit(b, T1)["figures"]["verified"], 1);
    let t2 = unit(b, T2);
    assert_eq!(t2["rank"], 1, "三都示例2镇 moves ahead: {b}");
    assert_eq!(t2["previous"]["rank"], 2);
    assert_eq!(t2["figures"]["verified"], 2);
    assert_eq!(t2["figures"]["verified_in_period"], 2);
    assert_eq!(t2["previous"]["figures"]["verified"], 0);
    assert_eq!(t2["figures"]["clues_raised"], t2_clues);
    assert_eq!(t2["figures"]["clues_raised_in_period"], t2_clues);
    assert_eq!(t2["figures"]["clues_open"], t2_clues);
    assert_eq!(unit(b, T1)["rank"], 2);
    assert_eq!(unit(b, T1)["previous"]["rank"], 1);
    let trend = b["trend"].as_array().unwrap();
    assert_eq!(trend.len(), 30);
    assert_eq!(trend.last().unwrap()["date"], "2025-02-28");
    let verified_days: i64 = trend.iter().map(|d| d["verified"].as_i64().unwrap()).sum();
    assert_eq!(verified_days, 2, "{trend:?}");

    // Issuing a month again stores nothing and changes nothing.
    let again = issue(svc, COUNTY, "2025-02");
    assert!(again.contains("already issued (unchanged)"), "{again}");
    assert_eq!(id_in(&again), b_id);
    assert_eq!(
        svc.sql_count("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM bulletins"),
        2
    );
    let digest = svc.sql_text(&format!(
        "SELECT digest AS t FROM bulletins WHERE id = '{b_id}'"
    ));
    assert!(again.contains(&digest));
    let entries = |svc: &Service| {
        svc.sql_count(
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM ledger_entries \
             WHERE entry LIKE '%\"action\":\"bulletin_issued\"%'",
        )
    };
    assert_eq!(entries(svc), 2);

    // The schedule's run: last month's for every county and township, once.
    let due = svc.cli(&["bulletin", "--due"], None);
    assert!(due.contains("6 issued, 0 issued before"), "{due}");
    let due = svc.cli(&["bulletin", "--due"], None);
    assert!(due.contains("0 issued, 6 issued before"), "{due}");
    assert_eq!(entries(svc), 8);

    // Lists and jurisdiction.
    let list = app.get(
        Some(&county),
        &format!("/api/v1/bulletins?org={COUNTY}&period=2025-02"),
    );
    assert_eq!(list.status, 200, "{}", list.text);
    let items = list.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["id"], b_id.as_str());
    let bad = app.get(Some(&county), "/api/v1/bulletins?period=2025-1");
    assert_eq!(bad.status, 400, "{}", bad.text);
    let township = app.token("township1");
    assert_eq!(
        app.get(Some(&township), &format!("/api/v1/bulletins/{b_id}"))
            .status,
        404,
        "the county's bulletin is outside a township reviewer's jurisdiction"
    );
    assert_eq!(
        app.get(Some(&township), &format!("/api/v1/bulletins?org={COUNTY}"))
            .status,
        404
    );
    let own = app.get(Some(&township), "/api/v1/bulletins");
    assert_eq!(own.status, 200);
    for item in own.body["items"].as_array().unwrap() {
        assert_eq!(item["org_code"], T1, "{item}");
    }
    assert_eq!(
        app.get(Some(&surveyor1), &format!("/api/v1/bulletins/{b_id}"))
            .status,
        403
    );
    assert_eq!(app.get(None, "/api/v1/bulletins").status, 401);

    // The console: the list and the bulletin, in Chinese; 404 outside the jurisdiction.
    let cookie = app.console_session("county1", "demo-county1");
    let page = app.get_cookie(&cookie, "/console/bulletins?period=2025-02");
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains(&b_id));
    assert_page_in_chinese("/console/bulletins", &page.text);
    let page = app.get_cookie(&cookie, &format!("/console/bulletins/{b_id}"));
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("与 2025-01 通报相比"), "{}", page.text);
    assert!(page.text.contains("2025-02-28 24:00（北京时间）"));
    assert!(page.text.contains("id=\"change-chart\""));
    assert!(page.text.contains("存档内容与摘要值一致"));
    assert_page_in_chinese("/console/bulletins/{id}", &page.text);
    exports_open(svc, &cookie, &b_id);
    let other = app.console_session("township1", "demo-township1");
    assert_eq!(
        app.get_cookie(&other, &format!("/console/bulletins/{b_id}"))
            .status,
        404
    );

    // Immutable, and an altered bulletin fails its ledger check.
    let (ok, out) = svc.cli_status(&["bulletin", "verify"]);
    assert!(ok && out.contains("bulletins intact: 8 checked"), "{out}");
    assert!(
        !try_sql(
            svc,
            &format!("UPDATE bulletins SET issued_by = 'x' WHERE id = '{b_id}'")
        ),
        "the table refuses an update"
    );
    assert!(!try_sql(
        svc,
        &format!("DELETE FROM bulletins WHERE id = '{b_id}'")
    ));
    // Someone with the database's owner rights removes the guard and edits a figure.
    svc.sql(if postgres {
        "ALTER TABLE bulletins DISABLE TRIGGER bulletins_immutable"
    } else {
        "DROP TRIGGER bulletins_no_update"
    });
    let text = svc.sql_text(&format!(
        "SELECT snapshot AS t FROM bulletins WHERE id = '{b_id}'"
    ));
    let forged = text.replacen("\"verified\":2", "\"verified\":9", 1);
    assert_ne!(forged, text);
    svc.sql(&format!(
        "UPDATE bulletins SET snapshot = '{forged}' WHERE id = '{b_id}'"
    ));
    let (ok, out) = svc.cli_status(&["bulletin", "verify"]);
    assert!(!ok, "{out}");
    assert!(
        out.contains(&b_id) && out.contains("does not hash to its stored digest"),
        "{out}"
    );
    assert!(out.contains("1 of 8 bulletins fail"), "{out}");
    let shown = app.get(Some(&county), &format!("/api/v1/bulletins/{b_id}"));
    assert_eq!(shown.body["digest_matches"], false);
    // … and its digest too: the ledger entry still carries the one issued.
    svc.sql(&format!(
        "UPDATE bulletins SET digest = '{}' WHERE id = '{b_id}'",
        sha256_hex(forged.as_bytes())
    ));
    let (ok, out) = svc.cli_status(&["bulletin", "verify"]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("the ledger entry carries another digest"),
        "{out}"
    );
    // The service checks against the ledger too, not the row against itself.
    let shown = app.get(Some(&county), &format!("/api/v1/bulletins/{b_id}"));
    assert_eq!(shown.body["digest_matches"], false, "{}", shown.body);
    // The ledger itself is intact: the bulletin, not the ledger, was altered.
    let (ok, out) = svc.cli_status(&["ledger", "verify"]);
    assert!(ok, "{out}");
}

/// A console GET's status, content type and body bytes.
fn download(svc: &Service, cookie: &str, path: &str) -> (u16, String, Vec<u8>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut resp = agent
        .get(format!("{}{path}", svc.base))
        .header("Cookie", cookie)
        .call()
        .unwrap();
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = resp
        .body_mut()
        .with_config()
        .limit(20 * 1024 * 1024)
        .read_to_vec()
        .unwrap();
    (resp.status().as_u16(), ctype, bytes)
}

/// February's bulletin as XLSX (read back with calamine) and as PDF (read back with
/// pdftotext): the ranking, the change and the digest are in both.
fn exports_open(svc: &Service, cookie: &str, id: &str) {
    use calamine::{Data, Reader, Xlsx};
    let (status, ctype, bytes) = download(
        svc,
        cookie,
        &format!("/console/bulletins/{id}/bulletin.xlsx"),
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    assert!(ctype.contains("spreadsheetml"), "{ctype}");
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let sheet = book.worksheet_range("通报").unwrap();
    let text = |d: &Data| d.to_string();
    let rows: Vec<Vec<String>> = sheet.rows().map(|r| r.iter().map(text).collect()).collect();
    let find = |code: &str| {
        rows.iter()
            .find(|r| r.get(2).is_some_and(|c| c == code))
            .unwrap_or_else(|| panic!("no row {code} in {rows:?}"))
            .clone()
    };
    let t2 = find(T2);
    assert_eq!(
        (t2[0].as_str(), t2[1].as_str()),
        ("1", "2"),
        "rank now and last month: {t2:?}"
    );
    assert_eq!(
        (t2[5].as_str(), t2[6].as_str()),
        ("2", "0"),
        "verified now and last month"
    );
    let total = find(COUNTY);
    assert_eq!(total[0], "合计");
    assert!(
        rows.iter()
            .any(|r| r.iter().any(|c| c.contains("与 2025-01 通报相比")))
    );
    let trend = book.worksheet_range("近30天").unwrap();
    assert_eq!(trend.rows().count(), 31, "a heading and 30 days");

    let (status, ctype, bytes) = download(
        svc,
        cookie,
        &format!("/console/bulletins/{id}/bulletin.pdf"),
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    assert_eq!(ctype, "application/pdf");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bulletin.pdf");
    std::fs::write(&file, &bytes).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args([file.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils, scripts/setup)");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "月度通报",
        "三都示例2镇",
        "下级单位排名",
        "与 2025-01 通报相比",
        "整改销号率",
    ] {
        assert!(text.contains(needle), "{needle} not in the PDF: {text}");
    }
}

#[test]
fn bulletins_on_the_embedded_backend() {
    workflow(&Service::dev(), false);
}

#[test]
fn bulletins_on_postgres_and_rabbitmq() {
    let Some((pg, amqp)) = real_services("bulletins_on_postgres_and_rabbitmq") else {
        return;
    };
    let svc = Service::production(&pg, &amqp, 1);
    workflow(&svc, true);
}
