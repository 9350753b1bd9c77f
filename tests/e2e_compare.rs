//! Department data comparison and 疑似漏评 (issue 18, items 1 and 3), on PostgreSQL + RabbitMQ
//! and on the embedded backend. The registry takes enrolment status and special groups; a
//! non-enrolled household whose signed-off survey fails the standard raises `suspected_missed`
//! at sign-off (an enrolled one does not); department lists (tests/fixtures/compare) import
//! keyed by the ID number's HMAC, never the number; a list with bad rows is refused whole and
//! changes nothing; `compare run` raises the expected clues and a second run none; a reported
//! suspected-missed household becomes a clue for its township and links to the household once
//! it is registered and surveyed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;

use common::Service;
use common::client::Client;
use common::real_services;
use common::survey::{Key, Upload, photo};
use serde_json::{Value, json};

const VILLAGE: &str = "522732101201";
const TOWNSHIP: &str = "522732101000";

fn code(n: u32) -> String {
    format!("{VILLAGE}-{n:04}")
}

fn list(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/compare")
        .join(name)
}

/// Upload a survey of fixture household `n` (failing the water indicator when `fails`) as
/// surveyor1 and wait until it is signed off.
fn survey(app: &Client, token: &str, n: u32, fails: bool) -> Value {
    let mut u = if n == 1 {
        Upload::household_h1()
    } else {
        let p = match n % 3 {
            2 => "h2",
            0 => "h3",
            _ => "h1",
        };
        Upload::household(
            &code(n),
            [
                &format!("{p}_house.jpg"),
                &format!("{p}_household_with_verifier.jpg"),
                &format!("{p}_water_source.jpg"),
            ],
        )
    };
    if fails {
        u.doc["water"]["safe"] = json!(false);
    }
    let r = app.upload(token, &u.signed_by(&Key::demo()), &u.parts);
    assert_eq!(r.status, 202, "{}", r.text);
    let s = app.wait_final(token, &u.id());
    assert_eq!(s["status"], "signed_off", "{s}");
    s
}

fn clue_kinds(s: &Value) -> Vec<String> {
    s["clues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap().to_owned())
        .collect()
}

fn count(svc: &Service, sql: &str) -> i64 {
    svc.sql_count(sql)
}

fn report(
    app: &Client,
    token: &str,
    report: &Value,
    photos: &[(&str, &str, Vec<u8>)],
) -> common::client::Reply {
    let (body, ctype) = common::client::report_body(report, photos);
    app.post_raw(Some(token), "/api/v1/suspected-missed", &ctype, &body)
}

fn codes_of(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|i| {
                    format!(
                        "{}@{}",
                        i["code"].as_str().unwrap_or(""),
                        i["field"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn registry_and_sign_off(svc: &Service, app: &Client, surveyor: &str) {
    // Household 7 is surveyed (failing) before the registry says it is not enrolled: its
    // 疑似漏评 is found by the comparison run, not the sign-off.
    let s7 = survey(app, surveyor, 7, true);
    assert!(
        !clue_kinds(&s7).contains(&"suspected_missed".to_owned()),
        "{s7}"
    );

    let out = svc.cli(
        &[
            "household",
            "import",
            list("registry-status.csv").to_str().unwrap(),
        ],
        None,
    );
    assert!(out.contains("8 imported, 0 refused"), "{out}");
    let status = |n: u32| {
        svc.sql_text(&format!(
            "SELECT COALESCE(enrolment, '-') || '|' || COALESCE(special_groups, '-') AS t \
             FROM households WHERE household_code = '{}'",
            code(n)
        ))
    };
    assert_eq!(status(2), "not_enrolled|");
    assert_eq!(status(8), "enrolled|laoren,zhongcan");
    assert_eq!(status(6), "-|");
    assert_eq!(
        status(9),
        "-|-",
        "a household the file does not name keeps its unknowns"
    );
    // An older file (no such columns) still imports and leaves the statuses as they are.
    let old = svc.dir.path().join("old-registry.csv");
    std::fs::write(
        &old,
        "household_code,head_name,head_id_number,member_count\n\
         522732101201-0002,徐德,52273219770908717X,3\n",
    )
    .unwrap();
    let out = svc.cli(&["household", "import", old.to_str().unwrap()], None);
    assert!(out.contains("1 imported, 0 refused"), "{out}");
    assert_eq!(status(2), "not_enrolled|");
    // A bad enrolment value is refused on its line.
    let bad = svc.dir.path().join("bad-registry.csv");
    std::fs::write(
        &bad,
        "household_code,head_name,head_id_number,member_count,enrolment,special_groups\n\
         522732101201-0002,徐德,52273219770908717X,3,perhaps,\n\
         522732101201-0003,李明小,52273219540404476X,2,enrolled,富裕\n",
    )
    .unwrap();
    let out = svc.cli(&["household", "import", bad.to_str().unwrap()], None);
    assert!(out.contains("0 imported, 2 refused"), "{out}");
    assert!(out.contains("line 2:") && out.contains("line 3:"), "{out}");

    // Not enrolled and failing: 疑似漏评 at sign-off. Enrolled and failing: not.
    let s2 = survey(app, surveyor, 2, true);
    assert!(
        clue_kinds(&s2).contains(&"suspected_missed".to_owned()),
        "{s2}"
    );
    let s3 = survey(app, surveyor, 3, true);
    assert!(
        !clue_kinds(&s3).contains(&"suspected_missed".to_owned()),
        "{s3}"
    );
    let s1 = survey(app, surveyor, 1, false);
    assert_eq!(s1["outcome"]["meets_standard"], true, "{s1}");
    assert!(!clue_kinds(&s1).contains(&"suspected_missed".to_owned()));
}

const SOURCES: [(&str, &str); 8] = [
    ("教育", "education.csv"),
    ("公安", "police.csv"),
    ("health", "health.csv"),
    ("住建", "housing.csv"),
    ("民政", "civil_affairs.csv"),
    ("残联", "disability.csv"),
    ("市场监管", "market.csv"),
    ("vehicles", "vehicles.csv"),
];

/// Every ID number in the department fixtures.
fn fixture_ids() -> Vec<String> {
    let mut ids = Vec::new();
    for (_, f) in SOURCES.iter().chain([("", "education-bad.csv")].iter()) {
        for line in std::fs::read_to_string(list(f)).unwrap().lines().skip(1) {
            ids.push(line.split(',').next().unwrap().to_owned());
        }
    }
    ids
}

fn imports_and_comparison(svc: &Service) {
    for (source, file) in SOURCES {
        let out = svc.cli(
            &[
                "compare",
                "import",
                "--source",
                source,
                list(file).to_str().unwrap(),
            ],
            None,
        );
        assert!(out.contains("rows imported, 0 refused"), "{source}: {out}");
    }
    assert_eq!(
        count(svc, "SELECT COUNT(*) AS n FROM department_records"),
        17
    );
    assert_eq!(
        count(
            svc,
            "SELECT COUNT(*) AS n FROM department_records WHERE source = 'education'"
        ),
        3
    );
    // ID numbers are never stored: each row holds a 64-hex keyed HMAC.
    assert_eq!(
        count(
            svc,
            "SELECT COUNT(*) AS n FROM department_records WHERE LENGTH(id_hmac) <> 64 OR id_hmac LIKE '5227%'"
        ),
        0
    );
    for id in fixture_ids() {
        assert_eq!(
            count(
                svc,
                &format!(
                    "SELECT COUNT(*) AS n FROM department_records WHERE id_hmac = '{id}' OR since = '{id}'"
                )
            ),
            0
        );
    }

    // A list with bad rows: every bad line named, nothing imported, the old list untouched.
    let (ok, out) = svc.cli_status(&[
        "compare",
        "import",
        "--source",
        "education",
        list("education-bad.csv").to_str().unwrap(),
    ]);
    assert!(!ok, "{out}");
    assert!(out.contains("nothing imported"), "{out}");
    assert!(
        out.contains("line 3: id_number is not a valid resident ID number"),
        "{out}"
    );
    assert!(out.contains("line 4: status \"graduated\""), "{out}");
    assert!(!out.contains("line 2:"), "{out}");
    assert!(
        !out.contains("522732201205055078"),
        "no ID number in the output: {out}"
    );
    assert_eq!(
        count(
            svc,
            "SELECT COUNT(*) AS n FROM department_records WHERE source = 'education'"
        ),
        3
    );
    let (ok, out) = svc.cli_status(&[
        "compare",
        "import",
        "--source",
        "税务",
        list("market.csv").to_str().unwrap(),
    ]);
    assert!(!ok && out.contains("unknown source"), "{out}");

    // The run: the expected clues, each once.
    let out = svc.cli(&["compare", "run"], None);
    assert!(out.contains("compare run: 15 clues raised"), "{out}");
    let by_rule = |rule: &str| {
        count(
            svc,
            &format!("SELECT COUNT(*) AS n FROM clues WHERE dedup_key LIKE 'compare:{rule}:%'"),
        )
    };
    for (rule, n) in [
        ("education_dropout", 2),
        ("police_deceased_member", 1),
        ("police_deceased_head", 1),
        ("police_moved_out", 1),
        ("health_uninsured", 1),
        ("health_serious_illness", 2),
        ("housing_dangerous", 2),
        ("civil_affairs_dibao", 1),
        ("civil_affairs_tekun", 0),
        ("civil_affairs_dibao_not_enrolled", 1),
        ("disability_severe", 0),
        ("market_business", 1),
        ("vehicles_vehicle", 1),
    ] {
        assert_eq!(by_rule(rule), n, "rule {rule}: {out}");
    }
    let kind_of = |rule: &str, household: u32| {
        svc.sql_text(&format!(
            "SELECT kind || '|' || source || '|' || COALESCE(org_code, '') AS t FROM clues \
             WHERE dedup_key LIKE 'compare:{rule}:{}:%'",
            code(household)
        ))
    };
    assert_eq!(
        kind_of("education_dropout", 1),
        format!("education|compare|{TOWNSHIP}")
    );
    assert_eq!(
        kind_of("police_deceased_head", 4),
        format!("deceased_member|compare|{TOWNSHIP}")
    );
    assert_eq!(
        kind_of("market_business", 3),
        format!("wrongly_enrolled|compare|{TOWNSHIP}")
    );
    assert_eq!(
        kind_of("civil_affairs_dibao_not_enrolled", 5),
        format!("suspected_missed|compare|{TOWNSHIP}")
    );
    // The record that disagreed: the department, its list row, the survey version and member.
    let reference: Value = serde_json::from_str(&svc.sql_text(&format!(
        "SELECT source_ref AS t FROM clues WHERE dedup_key LIKE 'compare:education_dropout:{}:%'",
        code(1)
    )))
    .unwrap();
    assert_eq!(reference["department"], "education", "{reference}");
    assert_eq!(reference["list"]["line"], 2, "{reference}");
    assert_eq!(reference["survey"]["member_index"], 1, "{reference}");
    assert!(
        reference["survey"]["submission_id"].is_string(),
        "{reference}"
    );
    // 疑似漏评 of household 7, signed off before the registry said it is not enrolled.
    assert_eq!(
        count(
            svc,
            &format!(
                "SELECT COUNT(*) AS n FROM clues WHERE kind = 'suspected_missed' AND household_code = '{}'",
                code(7)
            )
        ),
        1
    );
    // Household 2's sign-off raised its own; the run does not raise it again.
    assert_eq!(
        count(
            svc,
            &format!(
                "SELECT COUNT(*) AS n FROM clues WHERE kind = 'suspected_missed' AND household_code = '{}'",
                code(2)
            )
        ),
        1
    );
    for id in fixture_ids() {
        assert_eq!(
            count(
                svc,
                &format!(
                    "SELECT COUNT(*) AS n FROM clues WHERE source_ref LIKE '%{id}%' OR detail LIKE '%{id}%' OR description LIKE '%{id}%'"
                )
            ),
            0,
            "no ID number on a clue"
        );
    }
    let total = count(svc, "SELECT COUNT(*) AS n FROM clues");

    // Again: nothing new.
    let out = svc.cli(&["compare", "run"], None);
    assert!(out.contains("compare run: 0 clues raised"), "{out}");
    assert_eq!(count(svc, "SELECT COUNT(*) AS n FROM clues"), total);
    // On record: each import and each run.
    assert_eq!(
        count(
            svc,
            "SELECT COUNT(*) AS n FROM ledger_entries WHERE entry LIKE '%\"action\":\"department_list_imported\"%'"
        ),
        8
    );
    assert_eq!(
        count(
            svc,
            "SELECT COUNT(*) AS n FROM ledger_entries WHERE entry LIKE '%\"action\":\"comparison_run\"%'"
        ),
        2
    );
    // No ID number of a list in any process's log.
    let logs = svc.logs();
    for id in fixture_ids() {
        assert!(!logs.contains(&id), "an ID number in the logs");
    }
}

fn reported_suspected_missed(svc: &Service, app: &Client, surveyor: &str) {
    let township = app.token("township1");
    let house = photo("h2_house.jpg");
    let new_code = format!("{VILLAGE}-0099");
    let body = json!({
        "id": uuid::Uuid::new_v4(),
        "village_code": VILLAGE,
        "address": "示例11村三组 12 号",
        "description": "独居老人，住房破旧，未纳入底图",
        "household_code": new_code,
    });
    let r = report(
        app,
        surveyor,
        &body,
        &[("photo", "image/jpeg", house.clone())],
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let clue_id = r.body["clue_id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["org_code"], TOWNSHIP, "{}", r.text);
    assert_eq!(r.body["status"], "open");
    // The same report again: the same clue.
    let again = report(
        app,
        surveyor,
        &body,
        &[("photo", "image/jpeg", house.clone())],
    );
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.body["clue_id"], clue_id.as_str());
    // The same id with other content is not a resend: 409, and no second clue.
    let mut other = body.clone();
    other["description"] = json!("另一户，另一件事");
    let reused = report(
        app,
        surveyor,
        &other,
        &[("photo", "image/jpeg", house.clone())],
    );
    assert_eq!(reused.status, 409, "{}", reused.text);
    assert_eq!(
        svc.sql_count("SELECT COUNT(*) AS n FROM clues WHERE source = 'report'"),
        1
    );
    let row = svc.sql_text(&format!(
        "SELECT source || '|' || kind || '|' || COALESCE(household_code, '') || '|' || COALESCE(submission_id, '-') AS t \
         FROM clues WHERE id = '{clue_id}'"
    ));
    assert_eq!(row, format!("report|suspected_missed|{new_code}|-"));
    assert!(
        svc.sql_text(&format!(
            "SELECT evidence AS t FROM clues WHERE id = '{clue_id}'"
        ))
        .contains(&common::survey::sha256_hex(&house))
    );
    // A reviewer reports too.
    let by_reviewer = report(
        app,
        &township,
        &json!({"village_code": "522732101202", "address": "示例12村", "description": "疑似漏评"}),
        &[("photo", "image/jpeg", photo("h3_house.jpg"))],
    );
    assert_eq!(by_reviewer.status, 201, "{}", by_reviewer.text);

    // Refusals, each a problem with its reasons.
    let outside = report(
        app,
        surveyor,
        &json!({"village_code": "522732102201", "address": "示例21村", "description": "外乡"}),
        &[("photo", "image/jpeg", house.clone())],
    );
    assert_eq!(outside.status, 403, "{}", outside.text);
    let registered = report(
        app,
        surveyor,
        &json!({"village_code": VILLAGE, "address": "x", "description": "y", "household_code": code(3)}),
        &[("photo", "image/jpeg", house.clone())],
    );
    assert_eq!(registered.status, 409, "{}", registered.text);
    let fields = report(
        app,
        surveyor,
        &json!({"village_code": "5227", "address": "", "description": "y", "household_code": "522732102201-0001"}),
        &[("photo", "image/jpeg", house.clone())],
    );
    assert_eq!(fields.status, 400, "{}", fields.text);
    let codes = codes_of(&fields.body);
    for f in ["village_code", "address", "household_code"] {
        assert!(
            codes.iter().any(|c| c.ends_with(&format!("@{f}"))),
            "{f}: {codes:?}"
        );
    }
    let unknown_field = report(
        app,
        surveyor,
        &json!({"village_code": VILLAGE, "address": "x", "description": "y", "name": "z"}),
        &[("photo", "image/jpeg", house.clone())],
    );
    assert_eq!(unknown_field.status, 400, "{}", unknown_field.text);
    let no_photo = report(
        app,
        surveyor,
        &json!({"village_code": VILLAGE, "address": "x", "description": "y"}),
        &[],
    );
    assert_eq!(no_photo.status, 400, "{}", no_photo.text);
    let two = report(
        app,
        surveyor,
        &json!({"village_code": VILLAGE, "address": "x", "description": "y"}),
        &[
            ("photo", "image/jpeg", house.clone()),
            ("photo2", "image/jpeg", house.clone()),
        ],
    );
    assert_eq!(two.status, 400, "{}", two.text);
    let undecodable = report(
        app,
        surveyor,
        &json!({"village_code": VILLAGE, "address": "x", "description": "y"}),
        &[("photo", "image/jpeg", photo("not_an_image.jpg"))],
    );
    assert_eq!(undecodable.status, 400, "{}", undecodable.text);
    let html = report(
        app,
        surveyor,
        &json!({"village_code": VILLAGE, "address": "x", "description": "y"}),
        &[("photo", "text/html", b"<html></html>".to_vec())],
    );
    assert_eq!(html.status, 415, "{}", html.text);
    let auditor = app.token("auditor1");
    let by_auditor = report(
        app,
        &auditor,
        &body,
        &[("photo", "image/jpeg", house.clone())],
    );
    assert_eq!(by_auditor.status, 403, "{}", by_auditor.text);
    let json_body = app.post_json(Some(surveyor), "/api/v1/suspected-missed", &body);
    assert_eq!(json_body.status, 415, "{}", json_body.text);
    // A report part over the limit names the report, in Chinese.
    let (huge, ctype) = common::client::report_body(
        &json!({"village_code": VILLAGE, "address": "x".repeat(300 * 1024), "description": "x"}),
        &[("photo", "image/jpeg", house.clone())],
    );
    let too_big = app.post_raw(Some(surveyor), "/api/v1/suspected-missed", &ctype, &huge);
    assert_eq!(too_big.status, 413, "{}", too_big.text);
    assert_eq!(
        too_big.body["errors"][0]["field"], "report",
        "{}",
        too_big.text
    );
    assert!(
        too_big.body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("报告部分"),
        "{}",
        too_big.text
    );
    for r in [
        &outside,
        &registered,
        &fields,
        &no_photo,
        &undecodable,
        &by_auditor,
    ] {
        common::assert_in_chinese(&r.body);
    }

    // The township registers the household and it is surveyed: the clue links to it.
    let registry = svc.dir.path().join("new-household.csv");
    std::fs::write(
        &registry,
        format!("household_code,head_name,head_id_number,member_count\n{new_code},马勇,522732198711145257,5\n"),
    )
    .unwrap();
    svc.cli(&["household", "import", registry.to_str().unwrap()], None);
    let mut u = Upload::household_h1();
    u.doc["household_code"] = json!(new_code);
    let r = app.upload(surveyor, &u.signed_by(&Key::demo()), &u.parts);
    assert_eq!(r.status, 202, "{}", r.text);
    let s = app.wait_final(surveyor, &u.id());
    assert_eq!(s["status"], "signed_off", "{s}");
    assert_eq!(
        svc.sql_text(&format!(
            "SELECT COALESCE(submission_id, '-') AS t FROM clues WHERE id = '{clue_id}'"
        )),
        u.id(),
        "the report links to the surveyed household"
    );
}

fn workflow(svc: &Service) {
    let app = svc.client();
    let surveyor = app.token("surveyor1");
    registry_and_sign_off(svc, &app, &surveyor);
    imports_and_comparison(svc);
    reported_suspected_missed(svc, &app, &surveyor);
}

#[test]
fn comparison_and_suspected_missed_on_the_embedded_backend() {
    workflow(&Service::dev());
}

#[test]
fn comparison_and_suspected_missed_on_postgres_and_rabbitmq() {
    let Some((pg, amqp)) =
        real_services("comparison_and_suspected_missed_on_postgres_and_rabbitmq")
    else {
        return;
    };
    let svc = Service::production(&pg, &amqp, 1);
    workflow(&svc);
}
