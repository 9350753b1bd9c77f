//! Every console page a person reads is in Chinese: the queue in each status, search, a
//! failing record, a flagged correction with its history and diff, a rejected upload with its
//! reasons, the photo viewer beside a reused photo, clues, the dashboard, 户户过 coverage and
//! the grids' assignment page, spot checks, keys, the ledger, the operators' page, a
//! household's record, and the pages that refuse — read as each role that may open them. A
//! word of English outside codes and identifiers fails the test
//! (`common::assert_page_in_chinese`, from the catalogue's list of identifiers).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::survey::{Key, Upload};
use common::{Service, assert_page_in_chinese};
use serde_json::json;

#[test]
fn every_console_page_reads_in_chinese() {
    let svc = Service::dev();
    let app = svc.client();
    let surveyor = app.token("surveyor1");
    let upload = |u: &Upload| {
        let r = app.upload(&surveyor, &u.signed_by(&Key::demo()), &u.parts);
        assert_eq!(r.status, 202, "{}", r.text);
        app.wait_final(&surveyor, &u.id())
    };

    // A failing record, returned with reasons and corrected far from its village (flagged).
    let mut v1 = Upload::household_h1();
    v1.doc["water"]["safe"] = json!(false);
    v1.doc["members"][1]["medical_insurance"] = json!(false);
    let f1 = upload(&v1);
    assert_eq!(f1["status"], "signed_off");
    let r = svc.review(
        "township1",
        &v1.id(),
        json!({"decision": "return", "digest": f1["content_digest"], "reasons": [
            {"action": "correct", "field": "water.safe", "note": "请核实水源"},
            {"action": "supplement", "field": "members[1].medical_insurance"}
        ]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let mut v2 = Upload::household_h1();
    v2.doc["supersedes"] = json!(v1.id());
    v2.doc["location"]["lat"] = json!(v2.doc["location"]["lat"].as_f64().unwrap() + 0.2);
    let f2 = upload(&v2);
    assert_eq!(f2["status"], "signed_off");
    // Approved with a note, so the two clues close with it (the closure's words are read on
    // the closed clues' page).
    let r = svc.review(
        "township1",
        &v2.id(),
        json!({"decision": "approve", "digest": f2["content_digest"], "reasons": [
            {"action": "keep", "note": "已电话核实地点"}
        ]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // Another household with the first one's house photo: reused.
    let reused = Upload::household(
        "522732101201-0002",
        [
            "h1_house.jpg",
            "h2_household_with_verifier.jpg",
            "h2_water_source.jpg",
        ],
    );
    let flagged = upload(&reused);
    assert!(
        flagged["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "photo_reused"),
        "{flagged}"
    );
    // A rejected upload: a wrong check character.
    let mut bad = Upload::household(
        "522732101201-0003",
        [
            "h3_house.jpg",
            "h3_household_with_verifier.jpg",
            "h3_water_source.jpg",
        ],
    );
    let id = bad.doc["members"][0]["id_number"]
        .as_str()
        .unwrap()
        .to_owned();
    let last = if id.ends_with('0') { "1" } else { "0" };
    bad.doc["members"][0]["id_number"] = json!(format!("{}{last}", &id[..17]));
    assert_eq!(upload(&bad)["status"], "rejected");

    let record = |id: &str| format!("/console/submissions/{id}");
    let reviewer_pages = vec![
        "/console/queue".to_owned(),
        "/console/queue?status=returned".into(),
        "/console/queue?status=approved".into(),
        "/console/queue?status=rejected".into(),
        "/console/queue?village=示例11".into(),
        "/console/queue?village=没有这个村".into(),
        "/console/queue?sort=due".into(),
        "/console/search".into(),
        "/console/search?q=马勇".into(),
        "/console/search?q=5227".into(),
        record(&v1.id()),
        record(&v2.id()),
        record(&reused.id()),
        record(&bad.id()),
        format!("{}/photos/p1", record(&reused.id())),
        format!("{}/photos/p2", record(&v2.id())),
        "/console/clues".into(),
        "/console/clues?status=closed".into(),
        "/console/clues?kind=water&village=示例".into(),
        "/console/dashboard".into(),
        "/console/coverage".into(),
        "/console/coverage?village=522732101201".into(),
        "/console/coverage?org=522732101000&unassigned=true".into(),
        "/console/coverage?surveyor=surveyor1&page=2".into(),
        "/console/grids".into(),
        "/console/grids?village=522732101201".into(),
        "/console/grids?village=没有这个村".into(),
        "/console/spot-checks".into(),
        "/console/keys".into(),
        "/console/households/522732101201-0001".into(),
        "/console/households/522732101201-0002".into(),
        "/console/no-such-page".into(),
        record("00000000-0000-7000-8000-000000000000"),
    ];
    let mut read = 0;
    for user in ["township1", "county1", "auditor1", "admin1"] {
        let cookie = app.console_session(user, &format!("demo-{user}"));
        let mut pages = reviewer_pages.clone();
        pages.extend([
            "/console/ledger".to_owned(),
            "/console/attention".to_owned(),
        ]);
        for path in &pages {
            let page = app.get_cookie(&cookie, &encoded(path));
            // A township reviewer opens every page of the list but the county's spot checks.
            let missing = path.contains("no-such")
                || path.contains("00000000")
                || !reviewer_pages.contains(path)
                || path == "/console/spot-checks";
            if user == "township1" && !missing {
                assert_eq!(page.status, 200, "{path}: {}", page.text);
            }
            if page.content_type.starts_with("text/html") {
                assert_page_in_chinese(&format!("{path} as {user}"), &page.text);
                read += 1;
            }
        }
    }
    let township = app.console_session("township1", "demo-township1");
    // An approval of a passing version confirms the checks' own clues at once (销号).
    let closed = app.get_cookie(&township, "/console/clues?status=confirmed");
    assert!(
        closed.text.contains("随审核通过自动销号"),
        "the automatic closure in words: {}",
        closed.text
    );
    let login = app.get_cookie("", "/console/login");
    assert_page_in_chinese("/console/login", &login.text);
    assert!(read > 100, "{read} pages read");
}

/// A path with its non-ASCII characters percent-encoded, as a browser sends it.
fn encoded(path: &str) -> String {
    path.chars()
        .map(|c| {
            if c.is_ascii() {
                c.to_string()
            } else {
                let mut buf = [0u8; 4];
                c.encode_utf8(&mut buf)
                    .bytes()
                    .map(|b| format!("%{b:02X}"))
                    .collect()
            }
        })
        .collect()
}

#[test]
fn the_page_check_catches_english() {
    let page =
        "<html><body><p>没有这条记录</p><p>no household_with_verifier photo</p></body></html>";
    let caught = std::panic::catch_unwind(|| assert_page_in_chinese("test", page));
    assert!(caught.is_err(), "English on a page is caught");
    assert_page_in_chinese(
        "test",
        "<p>照片 p1（2.4 km）<code>fieldsurvey ledger verify</code> <span title=\"键盘 Esc\">键</span></p>",
    );
    let placeholder = "<p>中文</p><input placeholder=\"field, e.g. water.safe\">";
    assert!(std::panic::catch_unwind(|| assert_page_in_chinese("test", placeholder)).is_err());
}
