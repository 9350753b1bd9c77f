//! Grids and 户户过, on PostgreSQL + RabbitMQ and on the embedded backend: `grid import` gives
//! households their responsible surveyors (包干到人) and names each refused line; a township
//! reviewer moves households between surveyors (API and console form, on record in the ledger
//! under their name) and nobody else may; an upload by another surveyor of the township is
//! signed off but flagged `not_assigned_surveyor`, the responsible one's is not; a surveyor's
//! list puts the unvisited first; coverage per village and grid agrees with the progress
//! figures, lists the unvisited a page at a time (heads' names for reviewers only) and moves
//! when a household is surveyed; the spreadsheet lists the unvisited without names.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Service;
use common::client::Client;
use common::real_services;
use common::survey::{Key, Upload};
use serde_json::{Value, json};

const TOWNSHIP: &str = "522732101000";
const VILLAGE: &str = "522732101201";

fn code(n: u32) -> String {
    format!("{VILLAGE}-{n:04}")
}

fn upload(app: &Client, token: &str, key: &Key, u: &Upload) -> Value {
    let r = app.upload(token, &u.signed_by(key), &u.parts);
    assert_eq!(r.status, 202, "{}", r.text);
    let s = app.wait_final(token, &u.id());
    assert_eq!(s["status"], "signed_off", "{s}");
    s
}

fn flag_codes(s: &Value) -> Vec<String> {
    s["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_owned())
        .collect()
}

fn village<'a>(coverage: &'a Value, code: &str) -> &'a Value {
    coverage["villages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["village_code"] == code)
        .unwrap_or_else(|| panic!("no village {code} in {coverage}"))
}

fn grid<'a>(village: &'a Value, surveyor: &str) -> &'a Value {
    village["grids"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["surveyor"] == surveyor)
        .unwrap_or_else(|| panic!("no grid of {surveyor} in {village}"))
}

fn unvisited_codes(coverage: &Value) -> Vec<String> {
    coverage["unvisited_households"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["household_code"].as_str().unwrap().to_owned())
        .collect()
}

/// The username responsible for `household`, as stored.
fn responsible(svc: &Service, household: &str) -> String {
    svc.sql_text(&format!(
        "SELECT u.username AS t FROM household_assignments a JOIN users u ON u.id = a.surveyor_id \
         WHERE a.household_code = '{household}'"
    ))
}

fn grid_import_refuses_lines_it_cannot_take(svc: &Service) {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("grids.csv");
    std::fs::write(
        &csv,
        format!(
            "household_code,username\n\
             {},surveyor1\n\
             {},surveyor1\n\
             {},surveyor3\n\
             {},surveyor2\n\
             {VILLAGE}-9999,surveyor1\n\
             not-a-code,surveyor1\n\
             {},nobody\n",
            code(1),
            code(2),
            code(3),
            code(4),
            code(5),
        ),
    )
    .unwrap();
    let out = svc.cli(&["grid", "import", csv.to_str().unwrap()], None);
    assert!(out.contains("3 imported, 4 refused"), "{out}");
    for line in [5, 6, 7, 8] {
        assert!(out.contains(&format!("line {line}:")), "{out}");
    }
    assert!(
        out.contains("surveyor2 is not an active surveyor whose unit contains village"),
        "another township's surveyor: {out}"
    );
    assert!(out.contains("not in the registry"), "{out}");
    assert_eq!(responsible(svc, &code(3)), "surveyor3");
    assert_eq!(responsible(svc, &code(1)), "surveyor1");
    assert!(
        svc.sql_count(
            "SELECT COUNT(*) AS n FROM ledger_entries WHERE entry LIKE '%\"action\":\"grids_imported\"%'"
        ) >= 1,
        "the import is on record"
    );
}

fn workflow(svc: &Service) {
    let app = svc.client();
    svc.cli(
        &[
            "user",
            "add",
            "surveyor3",
            "--role",
            "surveyor",
            "--org",
            TOWNSHIP,
            "--password-stdin",
        ],
        Some("demo-surveyor3\n"),
    );
    let key3 = svc.person_key("surveyor3");
    grid_import_refuses_lines_it_cannot_take(svc);

    let surveyor1 = app.token("surveyor1");
    let surveyor3 = app.token("surveyor3");
    let township = app.token("township1");
    let auditor = app.token("auditor1");

    // Coverage before any visit: every registry household of the village unvisited.
    let path = format!("/api/v1/coverage?org={TOWNSHIP}&village={VILLAGE}");
    let before = app.get(Some(&township), &path);
    assert_eq!(before.status, 200, "{}", before.text);
    let v = village(&before.body, VILLAGE);
    assert_eq!(v["households"], 10, "{v}");
    assert_eq!(v["visited"], 0);
    assert_eq!(v["unvisited"], 10);
    let grids = v["grids"].as_array().unwrap();
    assert_eq!(
        grids
            .iter()
            .map(|g| g["households"].as_i64().unwrap())
            .sum::<i64>(),
        10,
        "the grids share the village: {v}"
    );
    assert_eq!(grid(v, "surveyor3")["households"], 1);
    let unvisited = unvisited_codes(&before.body);
    assert_eq!(unvisited.len(), 10, "{}", before.text);
    assert!(unvisited.contains(&code(1)));
    let head_of_4 = before.body["unvisited_households"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["household_code"] == code(4).as_str())
        .unwrap()["head_name"]
        .as_str()
        .expect("a reviewer of the jurisdiction reads the heads' names")
        .to_owned();
    let audited = app.get(Some(&auditor), &path);
    assert_eq!(audited.status, 200);
    assert!(
        audited.body["unvisited_households"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["head_name"].is_null()),
        "an auditor reads codes, not names: {}",
        audited.text
    );

    // The responsible surveyor's upload raises nothing; another surveyor of the township is
    // accepted and flagged; a household nobody else is responsible for, surveyed by its own.
    let s1 = upload(&app, &surveyor1, &Key::demo(), &Upload::household_h1());
    assert!(
        !flag_codes(&s1).contains(&"not_assigned_surveyor".to_owned()),
        "{s1}"
    );
    let other = Upload::household(
        &code(2),
        [
            "h2_house.jpg",
            "h2_household_with_verifier.jpg",
            "h2_water_source.jpg",
        ],
    );
    let s2 = upload(&app, &surveyor3, &key3, &other);
    assert!(
        flag_codes(&s2).contains(&"not_assigned_surveyor".to_owned()),
        "{s2}"
    );
    let flag = s2["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "not_assigned_surveyor")
        .unwrap();
    assert!(
        flag["message"].as_str().unwrap().contains("surveyor1"),
        "the reviewer is told whose household it is: {flag}"
    );
    let own = Upload::household(
        &code(3),
        [
            "h3_house.jpg",
            "h3_household_with_verifier.jpg",
            "h3_water_source.jpg",
        ],
    );
    let s3 = upload(&app, &surveyor3, &key3, &own);
    assert!(
        !flag_codes(&s3).contains(&"not_assigned_surveyor".to_owned()),
        "{s3}"
    );

    // Coverage moves with the visits and agrees with the progress figures.
    let after = app.get(Some(&township), &path);
    let v = village(&after.body, VILLAGE);
    assert_eq!(v["visited"], 3, "{v}");
    assert_eq!(v["unvisited"], 7);
    assert_eq!(grid(v, "surveyor3")["visited"], 1);
    let unvisited = unvisited_codes(&after.body);
    for n in [1, 2, 3] {
        assert!(!unvisited.contains(&code(n)), "{unvisited:?}");
    }
    assert!(unvisited.contains(&code(4)));
    let stats = app.get(Some(&township), &format!("/api/v1/stats?org={TOWNSHIP}"));
    let figures = stats.body["units"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["code"] == VILLAGE)
        .unwrap();
    assert_eq!(figures["surveyed"], v["visited"], "coverage is 已核实");
    assert_eq!(figures["households"], v["households"]);
    let mine = app.get(
        Some(&township),
        &format!("/api/v1/coverage?org={TOWNSHIP}&surveyor=surveyor3"),
    );
    assert!(
        unvisited_codes(&mine.body).is_empty(),
        "surveyor3's one household is visited: {}",
        mine.text
    );

    // The surveyor's own list: unvisited first, each with its latest version.
    let list = app.get(Some(&surveyor1), "/api/v1/assignments");
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.body["surveyor"], "surveyor1");
    let items = list.body["items"].as_array().unwrap();
    let codes: Vec<&str> = items
        .iter()
        .map(|i| i["household_code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&code(1).as_str()) && codes.contains(&code(2).as_str()));
    assert!(!codes.contains(&code(3).as_str()), "surveyor3's: {codes:?}");
    let visited: Vec<bool> = items
        .iter()
        .map(|i| i["visited"].as_bool().unwrap())
        .collect();
    assert!(
        visited.windows(2).all(|w| !w[0] || w[1]),
        "unvisited first: {visited:?}"
    );
    let first = items
        .iter()
        .find(|i| i["household_code"] == code(1).as_str())
        .unwrap();
    assert_eq!(first["visited"], true);
    assert_eq!(first["latest"]["status"], "signed_off");
    assert_eq!(first["latest"]["id"], s1["id"]);
    assert_eq!(first["village_code"], VILLAGE);
    assert!(first["village_name"].as_str().unwrap().contains('村'));
    assert!(first["head_name"].is_string(), "{first}");
    assert!(
        !svc.logs().contains(&head_of_4),
        "a head's name reaches no log"
    );

    // A township reviewer moves a household to another surveyor of the township, on record.
    let put = |token: &str, household: &str, surveyor: &str| {
        app.put_json(
            Some(token),
            &format!("/api/v1/households/{household}/assignment"),
            &json!({"surveyor": surveyor}),
        )
    };
    let moved = put(&township, &code(4), "surveyor3");
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(moved.body["surveyor"], "surveyor3");
    assert!(moved.body["ledger_seq"].as_i64().unwrap() > 0);
    assert_eq!(responsible(svc, &code(4)), "surveyor3");
    assert!(
        svc.sql_count(
            "SELECT COUNT(*) AS n FROM ledger_entries WHERE entry LIKE '%\"action\":\"household_assigned\"%' \
             AND entry LIKE '%\"username\":\"township1\"%'"
        ) >= 1,
        "the move names the reviewer"
    );
    let theirs = app.get(Some(&surveyor3), "/api/v1/assignments");
    assert!(
        theirs.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["household_code"] == code(4).as_str()),
        "{}",
        theirs.text
    );
    // Nobody else may: another township's reviewer is told it does not exist, a surveyor and
    // an auditor are refused, and a surveyor of another township cannot be made responsible.
    assert_eq!(
        put(&app.token("township2"), &code(4), "surveyor1").status,
        404
    );
    assert_eq!(put(&surveyor1, &code(4), "surveyor1").status, 403);
    assert_eq!(put(&auditor, &code(4), "surveyor1").status, 403);
    let wrong = put(&township, &code(4), "surveyor2");
    assert_eq!(wrong.status, 400, "{}", wrong.text);
    assert_eq!(wrong.body["errors"][0]["code"], "invalid_surveyor");
    common::assert_in_chinese(&wrong.body);
    assert_eq!(responsible(svc, &code(4)), "surveyor3");
    assert_eq!(
        app.get(Some(&surveyor1), "/api/v1/coverage").status,
        403,
        "a surveyor cannot read coverage"
    );
    assert_eq!(
        app.get(Some(&app.token("township2")), &path).status,
        404,
        "nor another township's reviewer this one's"
    );

    // The console: the village's form, a refusal kept beside its household, the page of
    // coverage and its spreadsheet.
    let cookie = app.console_session("township1", "demo-township1");
    let page = app.get_cookie(&cookie, &format!("/console/grids?village={VILLAGE}"));
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains(&format!("value=\"{}\"", code(5))));
    let at = page.text.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = page.text[at..].split('"').next().unwrap().to_owned();
    let form = |surveyor: &str| {
        format!(
            "csrf={csrf}&village={VILLAGE}&household={}&surveyor={surveyor}",
            code(5)
        )
    };
    let refused = app.post_form(&cookie, "/console/grids", &form("surveyor2"));
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(refused.text.contains("未保存"), "{}", refused.text);
    let saved = app.post_form(&cookie, "/console/grids", &form("surveyor3"));
    assert!(saved.status < 400, "{}: {}", saved.status, saved.text);
    assert_eq!(responsible(svc, &code(5)), "surveyor3");
    let forged = app.post_form(
        &cookie,
        "/console/grids",
        &format!(
            "csrf=forged&village={VILLAGE}&household={}&surveyor=surveyor1",
            code(5)
        ),
    );
    assert_eq!(forged.status, 403);
    assert_eq!(responsible(svc, &code(5)), "surveyor3");

    let page = app.get_cookie(&cookie, "/console/coverage");
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("户户过"));
    assert!(
        page.text
            .contains(&format!("data-household=\"{}\"", code(4)))
    );
    assert!(page.text.contains(&head_of_4), "names for the reviewer");
    let csv = app.get_cookie(&cookie, "/console/coverage.csv");
    assert_eq!(csv.status, 200);
    let head = csv.text.lines().next().unwrap();
    assert!(
        head.contains("户码") && head.contains("责任网格员账号"),
        "{head}"
    );
    assert!(csv.text.contains(&format!("{},{VILLAGE},", code(4))));
    assert!(!csv.text.contains(&format!("{},", code(1))), "visited");
    assert!(!csv.text.contains(&head_of_4), "no names in the file");
    let audit = app.console_session("auditor1", "demo-auditor1");
    let page = app.get_cookie(&audit, "/console/coverage");
    assert_eq!(page.status, 200);
    assert!(!page.text.contains(&head_of_4), "no names for the auditor");
    assert_eq!(app.get_cookie(&audit, "/console/grids").status, 403);
}

#[test]
fn grids_and_coverage_on_the_embedded_backend() {
    workflow(&Service::dev());
}

#[test]
fn grids_and_coverage_on_postgres_and_rabbitmq() {
    let Some((pg, amqp)) = real_services("grids_and_coverage_on_postgres_and_rabbitmq") else {
        return;
    };
    let svc = Service::production(&pg, &amqp, 1);
    workflow(&svc);
}
