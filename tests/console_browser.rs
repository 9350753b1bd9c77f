//! The reviewers' console in a real headless Chromium (chromedriver): a township reviewer signs
//! in, enrols a WebCrypto Ed25519 key made in the browser with a one-time code, opens the oldest
//! household in the queue, sees its photos, returns it with a reason (signed in the page); the
//! surveyor's app resubmits; the reviewer approves the new version, sees the dashboard's
//! closure rate change and both decisions verified on the household's record. Another township's reviewer cannot open the page or the photos, and a
//! form posted without its CSRF token is refused. Screenshots of each page are saved to
//! `target/console-screenshots/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Service;
use common::survey::{Key, Upload};
use common::webdriver::{Browser, available};
use serde_json::json;

fn sign_in(b: &Browser, base: &str, user: &str) {
    b.goto(&format!("{base}/console/login"));
    b.type_into("input[name=username]", user);
    b.type_into("input[name=password]", &format!("demo-{user}"));
    b.click("#sign-in");
    b.wait_url("/console/queue");
}

/// Make `user`'s key in the browser (WebCrypto) and enrol it with a code the operator issued.
fn enrol_browser_key(b: &Browser, svc: &Service, user: &str) {
    b.goto(&format!("{}/console/keys", svc.base));
    b.wait_text("#browser-key", "还没有签名密钥");
    b.type_into("input[name=enrolment_code]", &svc.enrolment_code(user));
    b.click("#enrol");
    b.wait_url("/console/keys?enrolled=k_");
    b.wait_text("#browser-key", "已登记，可以签字");
}

#[test]
fn a_township_reviewer_works_the_queue_in_a_browser() {
    if !available("a_township_reviewer_works_the_queue_in_a_browser") {
        return;
    }
    let svc = Service::dev();
    let app = svc.client();
    let base = svc.base.clone();
    let surveyor = app.token("surveyor1");

    // The field app's upload: unsafe water, and the second member has no medical insurance,
    // so two indicators fail and two clues open.
    let mut v1 = Upload::household_h1();
    v1.doc["water"]["safe"] = json!(false);
    v1.doc["members"][1]["medical_insurance"] = json!(false);
    let uninsured = v1.doc["members"][1]["name"].as_str().unwrap().to_owned();
    assert_eq!(
        app.upload(&surveyor, &v1.signed_by(&Key::demo()), &v1.parts)
            .status,
        202
    );
    assert_eq!(app.wait_final(&surveyor, &v1.id())["status"], "signed_off");

    let b = Browser::start();
    b.goto(&format!("{base}/console/queue"));
    b.wait_url("/console/login");
    b.screenshot("01-login");
    sign_in(&b, &base, "township1");
    b.screenshot("02-queue");
    assert_eq!(b.count("table.queue tbody tr"), 1);

    // Without a key in this browser, a decision is not sent.
    b.click("table.queue a.open");
    b.wait_url(&v1.id());
    b.click("#approve");
    b.wait_text(".sign-status", "签名密钥");
    assert_eq!(
        app.get(Some(&surveyor), &format!("/api/v1/submissions/{}", v1.id()))
            .body["status"],
        "signed_off"
    );

    // The browser makes its key and enrols it with the code the operator issued.
    enrol_browser_key(&b, &svc, "township1");
    b.screenshot("02b-keys");

    // A mistyped code changes nothing: this browser keeps the key it has.
    b.type_into("input[name=enrolment_code]", "AAAA-BBBB-CCCC");
    b.click("#enrol");
    b.wait_text("main", "登记码无效");
    b.goto(&format!("{base}/console/keys"));
    b.wait_text("#browser-key", "已登记，可以签字");

    // The township's reviewer issues a code for one of its surveyors (never for themselves);
    // the surveyor's app enrols a new key with it, and the ledger names who issued it.
    b.type_into("input[name=username]", "township1");
    b.click("#issue");
    b.wait_text("main", "登记码只能由");
    b.goto(&format!("{base}/console/keys"));
    b.type_into("input[name=username]", "surveyor1");
    b.click("#issue");
    let issued = b.wait_text("#issued-code", "surveyor1 的登记码");
    let page = b.source();
    let title = &page[page.find("<title>").unwrap()..page.find("</title>").unwrap()];
    assert!(
        !title.contains("登记码"),
        "the code stays out of the title: {title}"
    );
    b.screenshot("02c-code-issued");
    let code = issued
        .split_whitespace()
        .find_map(|w| {
            w.split(['：', '（'])
                .find(|p| p.len() == 14 && p.matches('-').count() == 2)
        })
        .expect("the code is shown")
        .to_owned();
    let new_key = Key::generate();
    let r = app.post_json(
        Some(&surveyor),
        "/api/v1/keys",
        &json!({"public_key": new_key.public_b64(), "enrolment_code": code}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let entry = svc.sql_text(&format!(
        "SELECT entry AS t FROM ledger_entries WHERE entry LIKE '%{}%'",
        new_key.key_id
    ));
    assert!(
        entry.contains("\"issued_by\":{\"kind\":\"person\"") && entry.contains("township1"),
        "{entry}"
    );

    b.goto(&format!("{base}/console/dashboard"));
    assert_eq!(b.text("#closure-rate"), "0.0%");
    b.screenshot("03-dashboard-before");
    b.goto(&format!("{base}/console/clues"));
    assert!(
        b.source().contains("饮水安全有保障"),
        "the open clue is listed"
    );
    b.screenshot("03b-clues");

    // Find the household by its head's name (matched through the name's keyed look-up value)
    // and open its current version.
    b.goto(&format!("{base}/console/search"));
    b.type_into("#q", "马 勇");
    b.click("#find");
    // Posted, so the name stays out of the address (and of any access log).
    b.wait_text("main", "找到 1 户");
    assert!(!b.url().contains("q="), "{}", b.url());
    b.wait_text("table.search", "522732101201-0001");
    assert_eq!(
        b.count("table.search tbody tr"),
        1,
        "one household is headed by 马勇"
    );
    assert!(
        b.source().contains("马勇"),
        "the head is named in the result"
    );
    b.screenshot("03c-search");
    b.click("table.search a.open");
    b.wait_url(&v1.id());
    let photos = b.elements(".photos img");
    assert_eq!(photos.len(), 3, "three photos");
    // The full record: the uninsured member's row is marked with the rule it fails, and the
    // indicator names them.
    assert_eq!(b.count("table.members tr.failing"), 1, "one failing member");
    let failing = b.text("table.members tr.failing");
    assert!(
        failing.contains(&uninsured) && failing.contains("未参保") && failing.contains("基本医疗"),
        "{failing}"
    );
    let indicators = b.text("table.indicators");
    assert!(
        indicators.contains(&format!("未参保：{uninsured}")),
        "{indicators}"
    );
    assert!(
        b.count("svg.map") == 1,
        "the visit and photo positions are drawn"
    );
    for img in &photos {
        // Thumbnails are made on first view; give them a moment.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let mut w = 0;
        while w == 0 && std::time::Instant::now() < deadline {
            w = b.property(img, "naturalWidth").as_u64().unwrap_or(0);
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert!(w > 0 && w <= 320, "a thumbnail loaded ({w} px wide)");
    }
    let page = b.source();
    assert!(
        page.contains("饮水安全有保障") && page.contains("未达标"),
        "the failing indicator"
    );
    assert!(
        page.contains("522732198711145257"),
        "the full ID number on the single page"
    );
    b.screenshot("04-submission");

    // The photo viewer: large, with where and when it was taken; → and ← turn the photos,
    // Esc goes back to the record.
    b.click(".photos a.photo");
    b.wait_url("/photos/p1");
    b.wait_text("table.answers", "拍摄时间");
    assert!(b.text("table.answers").contains("拍摄地点"));
    b.screenshot("04b-photo-viewer");
    b.press("\u{E014}");
    b.wait_url("/photos/p2");
    b.press("\u{E012}");
    b.wait_url("/photos/p1");
    b.press("\u{E00C}");
    b.wait_url(&format!("/console/submissions/{}", v1.id()));

    // Return it: 纠 the water answer, picked from what fails on this record; 补 the member's
    // insurance.
    b.click("select[name=action0] option[value=correct]");
    b.click("select[name=field0] option[value='water.safe']");
    b.click("select[name=action1] option[value=supplement]");
    b.click("select[name=field1] option[value='members[1].medical_insurance']");
    // Enter in the note (U+E007 is WebDriver's Enter) decides nothing: the implicit submission
    // once took the form's first button, 审核通过.
    b.type_into("input[name=note0]", "饮水不安全，请核实水源\u{E007}");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(
        b.url()
            .contains(&format!("/console/submissions/{}", v1.id())),
        "Enter left the page: {}",
        b.url()
    );
    let undecided = app.get(Some(&surveyor), &format!("/api/v1/submissions/{}", v1.id()));
    assert_eq!(
        undecided.body["status"], "signed_off",
        "Enter decided nothing"
    );
    b.click("#return");
    b.wait_url("/console/queue?done=returned");
    assert!(b.source().contains("已退回"));
    b.screenshot("05-returned");

    // The surveyor's app sees why and resubmits a corrected version.
    let back = app.get(Some(&surveyor), "/api/v1/submissions?status=returned");
    assert_eq!(
        back.body["items"][0]["reasons"][0]["note"],
        "饮水不安全，请核实水源"
    );
    assert_eq!(
        back.body["items"][0]["reasons"][1]["field"],
        "members[1].medical_insurance"
    );
    // The correction fixes both, but was taken 20 km from the village: it is flagged.
    let mut v2 = Upload::household_h1();
    v2.doc["supersedes"] = json!(v1.id());
    v2.doc["location"]["lat"] = json!(v2.doc["location"]["lat"].as_f64().unwrap() + 0.2);
    assert_eq!(
        app.upload(&surveyor, &v2.signed_by(&Key::demo()), &v2.parts)
            .status,
        202
    );
    assert_eq!(app.wait_final(&surveyor, &v2.id())["status"], "signed_off");

    // The correction's page: what changed against the returned version, and the return's
    // reasons in words on the record's history.
    b.goto(&format!("{base}/console/queue"));
    b.click("table.queue a.open");
    b.wait_url(&v2.id());
    let changes = b.text("#changes");
    assert!(
        changes.contains("饮水安全") && changes.contains(&format!("{uninsured}）的基本医疗保险")),
        "{changes}"
    );
    let history = b.text("table.history");
    assert!(
        history.contains("纠：饮水安全")
            && history.contains("饮水不安全，请核实水源")
            && history.contains(&format!("补：成员 2（{uninsured}）的基本医疗保险")),
        "{history}"
    );
    assert!(!b.text("ul.flags").is_empty(), "the correction is flagged");
    b.screenshot("05b-correction");

    // Approving a flagged record takes a note: without one, nothing is decided.
    b.click("#approve");
    b.wait_text(".sign-status", "审核意见");
    let undecided = app.get(Some(&surveyor), &format!("/api/v1/submissions/{}", v2.id()));
    assert_eq!(undecided.body["status"], "signed_off");
    // Approve the new version with a note; the clues close and the closure rate moves.
    b.type_into(
        "textarea[name=approval_note]",
        "已电话核实：户主在县城务工期间补拍，地点偏差属实",
    );
    b.click("#approve");
    b.wait_url("/console/queue?done=approved");
    let approved = app.get(Some(&surveyor), &format!("/api/v1/submissions/{}", v2.id()));
    let approval = approved.body["ledger"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "approved")
        .cloned()
        .unwrap();
    assert_eq!(
        approval["decision"]["reasons"][0],
        json!({"action": "keep", "note": "已电话核实：户主在县城务工期间补拍，地点偏差属实"}),
        "the note is inside the signed decision"
    );
    assert_eq!(approval["signature"]["verified"], true);
    b.goto(&format!("{base}/console/dashboard"));
    assert_eq!(b.text("#closure-rate"), "100.0%");
    b.screenshot("06-dashboard-after");
    b.goto(&format!("{base}/console/households/522732101201-0001"));
    let record = b.source();
    assert!(record.contains("第 2 版") && record.contains("审核通过") && record.contains("退回"));
    assert_eq!(
        record.matches("本人签名 ✓ 已验证").count(),
        2,
        "the return and the approval, each verified as the reviewer's own"
    );
    b.screenshot("07-accountability");

    // A form without its CSRF token is refused, and changes nothing.
    let cookie = format!("fs_session={}", b.cookie("fs_session"));
    let v3 = app.get(Some(&surveyor), &format!("/api/v1/submissions/{}", v2.id()));
    let forged = app.post_form(
        &cookie,
        &format!("/console/submissions/{}/review", v2.id()),
        &format!(
            "digest={}&decision=return&action0=delete",
            v3.body["content_digest"].as_str().unwrap()
        ),
    );
    assert_eq!(forged.status, 403, "{}", forged.text);
    assert!(forged.text.contains("CSRF"));
    let logout = app.post_form(&cookie, "/console/logout", "");
    assert_eq!(logout.status, 403, "logging out needs the token too");

    // Another township's reviewer: neither the page nor the photos.
    sign_in(&b, &base, "township2");
    b.goto(&format!("{base}/console/submissions/{}", v2.id()));
    assert!(
        b.source().contains("未找到"),
        "another township's reviewer sees nothing"
    );
    b.screenshot("08-other-township");
    let other = format!("fs_session={}", b.cookie("fs_session"));
    for part in ["p1", "p2", "p3"] {
        for size in ["", "?size=thumb"] {
            let r = app.get_cookie(&other, &format!("/console/photos/{}/{part}{size}", v2.id()));
            assert_eq!(r.status, 404, "photo {part}{size}");
        }
    }
    let mine = app.get_cookie(&cookie, &format!("/console/photos/{}/p1", v2.id()));
    assert_eq!(
        mine.status, 200,
        "the township's own reviewer gets the photo"
    );
    assert_eq!(mine.content_type, "image/jpeg");
    let thumb = app.get_cookie(
        &cookie,
        &format!("/console/photos/{}/p1?size=thumb", v2.id()),
    );
    assert_eq!(
        (thumb.status, thumb.content_type.as_str()),
        (200, "image/jpeg")
    );

    // The county draws a spot-check of the township and overturns the approved record.
    sign_in(&b, &base, "county1");
    enrol_browser_key(&b, &svc, "county1");
    b.goto(&format!("{base}/console/spot-checks"));
    b.click("select[name=org] option[value='522732101000']");
    b.type_into("input[name=rate]", "0");
    b.type_into("input[name=seed]", "2026-11-抽查");
    b.click("#draw");
    b.wait_url("/console/spot-checks?id=");
    assert!(b.source().contains("2026-11-抽查"), "the seed is on record");
    assert_eq!(
        b.count("button.overturn"),
        1,
        "the one approved record was drawn"
    );
    b.type_into("input[name=reason]", "实地抽查：饮水设施已损坏\u{E007}");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(
        !b.url().contains("done="),
        "Enter in the reason confirmed nothing: {}",
        b.url()
    );
    b.click("button.overturn");
    b.wait_url("done=overturned");
    assert!(b.source().contains("推翻：实地抽查"));
    b.screenshot("09-spot-check");
    let reopened = app.get(Some(&surveyor), &format!("/api/v1/submissions/{}", v2.id()));
    assert_eq!(reopened.body["status"], "returned");
    let overturn = reopened.body["ledger"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (
            overturn["action"].as_str(),
            overturn["signature"]["verified"].as_bool()
        ),
        (Some("spot_checked"), Some(true)),
        "the county's overturn carries the county reviewer's own verified signature: {overturn}"
    );

    b.goto(&format!("{base}/console/queue"));
    b.click("form.logout button");
    b.wait_url("/console/login");
    b.goto(&format!("{base}/console/queue"));
    b.wait_url("/console/login");

    // Pages stay light for a slow line.
    for path in ["/console/queue", "/console/dashboard", "/console/clues"] {
        let r = app.get_cookie(&cookie, path);
        assert!(
            r.text.len() < 200 * 1024,
            "{path} is {} bytes",
            r.text.len()
        );
    }
}

#[test]
fn a_county_reviewer_opens_a_monthly_bulletin_in_a_browser() {
    if !available("a_county_reviewer_opens_a_monthly_bulletin_in_a_browser") {
        return;
    }
    let svc = Service::dev();
    let app = svc.client();
    let base = svc.base.clone();
    // A survey of January 2025 on a registry of December 2024: January's bulletin counts it.
    svc.sql("UPDATE households SET imported_at = '2024-12-01 00:00:00'");
    let surveyor = app.token("surveyor1");
    let v1 = Upload::household_h1();
    assert_eq!(
        app.upload(&surveyor, &v1.signed_by(&Key::demo()), &v1.parts)
            .status,
        202
    );
    assert_eq!(app.wait_final(&surveyor, &v1.id())["status"], "signed_off");
    svc.sql(&format!(
        "UPDATE submissions SET received_at = '2025-01-10 02:00:00', \
         processed_at = '2025-01-10 02:00:00' WHERE id = '{}'",
        v1.id()
    ));
    for period in ["2024-12", "2025-01"] {
        svc.cli(
            &["bulletin", "--org", "522732000000", "--period", period],
            None,
        );
    }

    let b = Browser::start();
    sign_in(&b, &base, "county1");
    b.goto(&format!("{base}/console/bulletins?period=2025-01"));
    assert_eq!(b.count("table.bulletins tbody tr"), 1);
    b.screenshot("20-bulletins");
    b.click("table.bulletins tbody tr a");
    b.wait_url("/console/bulletins/");
    b.wait_text("#bulletin-title", "2025-01 月度通报");
    assert!(b.text("#as-of").contains("2025-01-31 24:00（北京时间）"));
    assert!(b.text("#as-of").contains("与 2024-12 通报相比"));
    assert_eq!(b.count("#change-chart"), 1);
    assert_eq!(b.text("tr[data-unit='522732101000'] td.rank"), "1");
    assert_eq!(
        b.text("tr[data-unit='522732101000'] td.verified-change"),
        "+1"
    );
    b.screenshot("21-bulletin");
}

/// The clue ledger once through the pages (issue 18): the county enters an audit clue with a
/// deadline, the township records its rectification and closes it (signed in its browser), the
/// county confirms it (signed) — and the closure rate moves only then.
#[test]
fn a_clue_is_entered_rectified_and_confirmed_in_a_browser() {
    if !available("a_clue_is_entered_rectified_and_confirmed_in_a_browser") {
        return;
    }
    let svc = Service::dev();
    let app = svc.client();
    let base = svc.base.clone();
    let county_token = app.token("county1");
    let rate = |app: &common::client::Client| {
        let s = app.get(Some(&county_token), "/api/v1/stats");
        let t = s.body["units"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["code"] == "522732101000")
            .unwrap()
            .clone();
        (
            t["clues_raised"].as_i64().unwrap(),
            t["clues_closed"].as_i64().unwrap(),
        )
    };

    let county = Browser::start();
    sign_in(&county, &base, "county1");
    enrol_browser_key(&county, &svc, "county1");
    county.goto(&format!("{base}/console/clues"));
    county.click("#enter-clue");
    county.wait_url("/console/clues/new");
    let deadline = (chrono::Utc::now() + chrono::Duration::days(10))
        .format("%Y-%m-%d")
        .to_string();
    county.run_async(
        "document.querySelector('select[name=source]').value = 'audit';\
         document.querySelector('select[name=org]').value = '522732101000';\
         document.querySelector('input[name=deadline]').value = args[0];\
         return true;",
        json!([deadline]),
    );
    county.type_into(
        "textarea[name=description]",
        "审计发现：危房改造补助到户清单缺少农户签字",
    );
    county.screenshot("30-clue-new");
    county.click("#enter");
    county.wait_url("/console/clues?done=entered");
    county.wait_text("main", "线索已录入");
    let listed = app.get(Some(&county_token), "/api/v1/clues?source=audit");
    let id = listed.body["items"][0]["id"].as_str().unwrap().to_owned();
    assert!(listed.body["items"][0]["deadline"].is_string());
    // Signed in the page with the county reviewer's browser key, and the signature verifies.
    let raised = common::clue_raised_entry(&app, &id);
    assert_eq!(raised.decision.as_ref().unwrap()["signer"], "county1");
    assert_eq!(fieldsurvey_core::decision::check_entry(&raised), Ok(()));
    let (raised, closed) = rate(&app);

    let township = Browser::start();
    sign_in(&township, &base, "township1");
    enrol_browser_key(&township, &svc, "township1");
    township.goto(&format!("{base}/console/clues?source=audit"));
    let row = format!("#clue-{id}");
    township.type_into(
        &format!("{row} textarea[name=reason]"),
        "已补齐 8 户农户签字并归档",
    );
    township.screenshot("31-clue-rectify");
    township.click(&format!("{row} form.rectify button"));
    township.wait_url("/console/clues?done=closed");
    township.wait_text("main", "待上级确认销号");
    assert_eq!(rate(&app), (raised, closed), "closed is not yet confirmed");

    county.goto(&format!("{base}/console/clues?status=closed"));
    county.wait_text(&row, "已补齐 8 户农户签字并归档");
    county.screenshot("32-clue-confirm");
    county.click(&format!("{row} button[value=confirm]"));
    county.wait_url("done=confirmed");
    county.wait_text("main", "已确认销号");
    assert_eq!(
        rate(&app),
        (raised, closed + 1),
        "confirmed: the rate moves"
    );
    county.goto(&format!(
        "{base}/console/clues?status=confirmed&source=audit"
    ));
    county.wait_text(&row, "已补齐 8 户农户签字并归档");
    county.screenshot("33-clue-confirmed");
    let (ok, out) = svc.cli_status(&["ledger", "verify"]);
    assert!(ok, "{out}");
}

/// 一户一档 from the household's page (issue 19): the township reviewer downloads the dossier
/// PDF with the browser's own session, and asks for the village's dossiers as a ZIP, which a
/// worker makes and the jobs page offers for download.
#[test]
fn a_township_reviewer_downloads_a_dossier_in_a_browser() {
    if !available("a_township_reviewer_downloads_a_dossier_in_a_browser") {
        return;
    }
    let svc = Service::dev();
    let app = svc.client();
    let base = svc.base.clone();
    let surveyor = app.token("surveyor1");
    let v1 = Upload::household_h1();
    assert_eq!(
        app.upload(&surveyor, &v1.signed_by(&Key::demo()), &v1.parts)
            .status,
        202
    );
    assert_eq!(app.wait_final(&surveyor, &v1.id())["status"], "signed_off");

    let b = Browser::start();
    sign_in(&b, &base, "township1");
    b.goto(&format!("{base}/console/households/522732101201-0001"));
    assert_eq!(b.text("#dossier-pdf"), "下载一户一档（PDF）");
    assert!(
        b.source()
            .contains("href=\"/console/households/522732101201-0001/dossier.pdf\""),
        "the button links the dossier"
    );
    b.screenshot("30-household-dossier-button");
    // The link downloads (the page stays), and what it serves to this browser's session is
    // the dossier PDF.
    b.click("#dossier-pdf");
    assert!(b.url().ends_with("/console/households/522732101201-0001"));
    let cookie = format!("fs_session={}", b.cookie("fs_session"));
    let pdf = app.get_cookie(&cookie, "/console/households/522732101201-0001/dossier.pdf");
    // (Its contents are read back with poppler in tests/e2e_dossier.rs.)
    assert_eq!(pdf.status, 200);
    let other = app.console_session("township2", "demo-township2");
    assert_eq!(
        app.get_cookie(&other, "/console/households/522732101201-0001/dossier.pdf")
            .status,
        404,
        "another township's reviewer gets no dossier"
    );

    // The village's dossiers as a ZIP: asked for on the page, made by the worker.
    b.click("#village-dossiers");
    b.wait_url("/console/jobs");
    b.screenshot("31-village-dossiers-job");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let download = loop {
        b.goto(&format!("{base}/console/jobs"));
        assert!(b.source().contains("本村全部一户一档（ZIP，522732101201）"));
        let page = b.source();
        if let Some(at) = page.find("href=\"/console/jobs/") {
            let rest = &page[at + 6..];
            break rest[..rest.find('"').unwrap()].to_owned();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the ZIP job did not finish"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    b.screenshot("32-village-dossiers-done");
    assert!(download.ends_with("/download"), "{download}");
    let zip = app.get_cookie(&cookie, &download);
    assert_eq!(
        zip.status, 200,
        "the ZIP downloads with the browser's session"
    );
}
