//! The console by role, on the embedded backend and on PostgreSQL + RabbitMQ: each role's menu
//! offers exactly the pages it may open (the same authorisation decides both); refusals and
//! unknown addresses answer console pages in Chinese that keep the menu, and refused forms come
//! back with what was typed; the auditor reads the ledger and the records with no action
//! offered; a surveyor at the console is told where to work, not that the password is wrong.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::client::{Client, Reply};
use common::survey::{Key, Upload};
use common::{Service, real_services};

/// Every page a menu can offer.
const PAGES: [(&str, &str); 12] = [
    ("/console/queue", "待审队列"),
    ("/console/search", "查找农户"),
    ("/console/clues", "问题线索"),
    ("/console/dashboard", "进度看板"),
    ("/console/coverage", "户户过"),
    ("/console/grids", "网格分配"),
    ("/console/spot-checks", "抽查"),
    ("/console/ledger", "问责账本"),
    ("/console/bulletins", "月度通报"),
    ("/console/jobs", "导出与任务"),
    ("/console/keys", "签名密钥"),
    ("/console/attention", "处理受阻"),
];

/// The menu of a page: the addresses its `<nav>` links to (empty when there is none).
fn menu(page: &Reply) -> Vec<String> {
    let Some(start) = page.text.find("<nav>") else {
        return vec![];
    };
    let nav = &page.text[start..start + page.text[start..].find("</nav>").unwrap()];
    nav.split("href=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_owned())
        .collect()
}

/// The session's CSRF token, as a page's forms carry it.
fn csrf(page: &Reply) -> String {
    let at = page.text.find("name=\"csrf\" value=\"").expect("a form") + 19;
    page.text[at..].split('"').next().unwrap().to_owned()
}

fn assert_console_page(r: &Reply, status: u16, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.text);
    assert!(
        r.content_type.starts_with("text/html"),
        "{what}: a console page, not {}: {}",
        r.content_type,
        r.text
    );
}

/// Each role's menu, and that it agrees with the pages: every page offered opens, every page
/// not offered is refused, with the menu kept on the refusal.
fn menus_agree_with_the_pages(app: &Client) {
    let expected: [(&str, &[&str]); 5] = [
        (
            "township1",
            &[
                "/console/queue",
                "/console/search",
                "/console/clues",
                "/console/dashboard",
                "/console/bulletins",
                "/console/coverage",
                "/console/grids",
                "/console/jobs",
                "/console/keys",
            ],
        ),
        (
            "county1",
            &[
                "/console/queue",
                "/console/search",
                "/console/clues",
                "/console/dashboard",
                "/console/bulletins",
                "/console/coverage",
                "/console/grids",
                "/console/spot-checks",
                "/console/jobs",
                "/console/keys",
            ],
        ),
        (
            "prefecture1",
            &[
                "/console/queue",
                "/console/search",
                "/console/clues",
                "/console/dashboard",
                "/console/bulletins",
                "/console/coverage",
                "/console/grids",
                "/console/spot-checks",
                "/console/jobs",
                "/console/keys",
            ],
        ),
        (
            "auditor1",
            &[
                "/console/queue",
                "/console/search",
                "/console/clues",
                "/console/dashboard",
                "/console/bulletins",
                "/console/coverage",
                "/console/ledger",
                "/console/jobs",
                "/console/keys",
            ],
        ),
        (
            "admin1",
            &[
                "/console/queue",
                "/console/search",
                "/console/clues",
                "/console/dashboard",
                "/console/bulletins",
                "/console/coverage",
                "/console/ledger",
                "/console/jobs",
                "/console/keys",
                "/console/attention",
            ],
        ),
    ];
    for (user, offered) in expected {
        let cookie = app.console_session(user, &format!("demo-{user}"));
        let keys = app.get_cookie(&cookie, "/console/keys");
        assert_eq!(keys.status, 200, "{user}");
        assert_eq!(menu(&keys), offered, "{user}'s menu");
        for (path, name) in PAGES {
            let r = app.get_cookie(&cookie, path);
            if offered.contains(&path) {
                assert_eq!(r.status, 200, "{user} is offered {name} and may open it");
            } else {
                assert_console_page(&r, 403, &format!("{user} opens {name}"));
                assert_eq!(
                    menu(&r),
                    offered,
                    "{user}'s refusal at {name} keeps the menu: {}",
                    r.text
                );
                assert!(r.text.contains("退出"), "and the signed-in person");
            }
        }
    }
}

/// Unknown console addresses answer the console's 404 page (with the menu when signed in);
/// unknown API addresses still answer a problem document.
fn unknown_addresses(app: &Client) {
    let cookie = app.console_session("township1", "demo-township1");
    let r = app.get_cookie(&cookie, "/console/anything-unknown");
    assert_console_page(&r, 404, "an unknown console page");
    assert!(r.text.contains("没有这个页面"), "{}", r.text);
    assert!(
        menu(&r).contains(&"/console/queue".to_owned()),
        "{}",
        r.text
    );
    assert!(
        r.text.contains("（乡镇）") && r.text.contains("退出"),
        "the signed-in person, with their level"
    );
    let deep = app.get_cookie(&cookie, "/console/queue/extra/parts");
    assert_console_page(&deep, 404, "a deeper unknown console page");
    let anonymous = app.get(None, "/console/anything-unknown");
    assert_console_page(&anonymous, 404, "an unknown console page, signed out");
    assert!(menu(&anonymous).is_empty());
    assert!(
        anonymous.text.contains("/console/login"),
        "{}",
        anonymous.text
    );
    let api = app.get(None, "/api/v1/anything-unknown");
    assert_eq!(api.status, 404);
    assert!(
        api.content_type.starts_with("application/problem+json"),
        "{}",
        api.content_type
    );
    // A query the console could not read: a console page, not the API's problem document.
    let bad = app.get_cookie(&cookie, "/console/queue?page=many");
    assert_console_page(&bad, 400, "an unreadable query");
    assert!(menu(&bad).contains(&"/console/queue".to_owned()));
}

/// A refused form comes back as typed, with the reason, inside the layout.
fn refused_forms_keep_what_was_typed(app: &Client) {
    // The sign-in: the username stays (never the password).
    let wrong = app.console_sign_in("township1", "not-the-password");
    assert_console_page(&wrong, 401, "a wrong password");
    assert!(wrong.text.contains("用户名或密码错误"), "{}", wrong.text);
    assert!(wrong.text.contains("value=\"township1\""), "{}", wrong.text);
    assert!(!wrong.text.contains("not-the-password"));

    // The spot-check draw with a rate that is no number.
    let county = app.console_session("county1", "demo-county1");
    let page = app.get_cookie(&county, "/console/spot-checks");
    let token = csrf(&page);
    let r = app.post_form(
        &county,
        "/console/spot-checks",
        &format!("csrf={token}&org=522732102000&rate=ten&seed=typed-seed-7"),
    );
    assert_console_page(&r, 400, "a draw with a rate that is no number");
    assert!(r.text.contains("比例须为"), "{}", r.text);
    assert!(
        r.text.contains("value=\"ten\""),
        "the rate as typed: {}",
        r.text
    );
    assert!(
        r.text.contains("value=\"typed-seed-7\""),
        "the seed as typed"
    );
    assert!(
        r.text.contains("<option value=\"522732102000\" selected>"),
        "the unit as chosen: {}",
        r.text
    );
    assert!(menu(&r).contains(&"/console/spot-checks".to_owned()));

    // A key enrolment with a code nobody issued.
    let township = app.console_session("township1", "demo-township1");
    let page = app.get_cookie(&township, "/console/keys");
    let token = csrf(&page);
    let r = app.post_form(
        &township,
        "/console/keys",
        &format!(
            "csrf={token}&enrolment_code=ABCD-EFGH-JKMN&public_key={}",
            Key::generate().public_b64()
        ),
    );
    assert_console_page(&r, 403, "an enrolment code nobody issued");
    assert!(r.text.contains("登记码无效"), "{}", r.text);
    assert!(r.text.contains("value=\"ABCD-EFGH-JKMN\""), "{}", r.text);
    assert!(menu(&r).contains(&"/console/queue".to_owned()));

    // An enrolment code for oneself.
    let r = app.post_form(
        &township,
        "/console/enrolment-codes",
        &format!("csrf={token}&username=township1"),
    );
    assert_console_page(&r, 403, "a code for oneself");
    assert!(r.text.contains("登记码只能由"), "{}", r.text);
    assert!(r.text.contains("value=\"township1\""), "{}", r.text);

    // An expired form (no CSRF token) is refused inside the layout too.
    let r = app.post_form(&township, "/console/spot-checks", "org=522732101000");
    assert_console_page(&r, 403, "a form without its token");
    assert!(
        menu(&r).contains(&"/console/queue".to_owned()),
        "{}",
        r.text
    );

    // A surveyor with the right password is told where to work, with the name kept.
    let surveyor = app.console_sign_in("surveyor1", "demo-surveyor1");
    assert_console_page(&surveyor, 403, "a surveyor at the console");
    assert!(surveyor.text.contains("外业采集应用"), "{}", surveyor.text);
    assert!(!surveyor.text.contains("用户名或密码错误"));
    assert!(surveyor.text.contains("value=\"surveyor1\""));
    assert_eq!(app.console_sign_in("surveyor1", "guess").status, 401);
}

/// The auditor reads the ledger and the records, and is offered no action.
fn the_auditor_reads_without_acting(svc: &Service, app: &Client) {
    let surveyor = app.token("surveyor1");
    let u = Upload::household_h1();
    assert_eq!(
        app.upload(&surveyor, &u.signed_by(&Key::demo()), &u.parts)
            .status,
        202
    );
    let sub = app.wait_final(&surveyor, &u.id());
    assert_eq!(sub["status"], "signed_off", "{sub}");
    // A checkpoint covering the sign-off, as the service publishes them.
    let auditor_token = app.token("auditor1");
    let cp = app.post_json(
        Some(&auditor_token),
        "/api/v1/ledger/checkpoint",
        &serde_json::json!({}),
    );
    assert_eq!(cp.status, 200, "{}", cp.text);

    let auditor = app.console_session("auditor1", "demo-auditor1");
    let only_logout = |text: &str, what: &str| {
        assert_eq!(
            text.matches("method=\"post\"").count(),
            1,
            "{what}: no form but signing out: {}",
            text
        );
        assert!(text.contains("action=\"/console/logout\""));
    };

    let ledger = app.get_cookie(&auditor, "/console/ledger");
    assert_eq!(ledger.status, 200, "{}", ledger.text);
    only_logout(&ledger.text, "the ledger");
    let size = cp.body["size"].as_u64().unwrap();
    assert!(
        ledger.text.contains(&format!("前 {size} 条")),
        "the checkpoint's size: {}",
        ledger.text
    );
    assert!(ledger.text.contains(cp.body["root_hash"].as_str().unwrap()));
    assert!(
        ledger.text.contains("（北京时间）"),
        "times in the office's zone, named"
    );
    assert!(ledger.text.contains("校验签核"), "actions in words");
    assert!(ledger.text.contains("自动校验"), "the worker in words");
    assert!(
        ledger
            .text
            .contains("href=\"/console/households/522732101201-0001\""),
        "entries link to the household's record"
    );
    assert!(ledger.text.contains("fieldsurvey ledger verify"));
    assert!(ledger.text.contains("--against"));

    let record = app.get_cookie(&auditor, "/console/households/522732101201-0001");
    assert_eq!(record.status, 200, "{}", record.text);
    // The one thing an auditor asks of a household's page: the village's dossiers for the
    // archive (a job that reads, writes nothing to the record). No decision form.
    let without_archive = record.text.replace(
        "<form method=\"post\" action=\"/console/villages/522732101201/dossiers\"",
        "<form action=\"/console/villages/522732101201/dossiers\"",
    );
    only_logout(&without_archive, "a household's record");
    assert!(record.text.contains("校验签核"));

    let page = app.get_cookie(&auditor, &format!("/console/submissions/{}", u.id()));
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        !page.text.contains("id=\"approve\"") && !page.text.contains("/review\""),
        "no review form for the auditor: {}",
        page.text
    );

    // A household of the registry nobody surveyed yet is there, not "no such record".
    let unsurveyed = app.get_cookie(&auditor, "/console/households/522732101202-0001");
    assert_eq!(unsurveyed.status, 200, "{}", unsurveyed.text);
    assert!(
        unsurveyed.text.contains("还没有核实记录"),
        "{}",
        unsurveyed.text
    );
    assert!(!unsurveyed.text.contains("没有这条记录"));
    // A code that is in neither the registry nor any survey is not.
    let none = app.get_cookie(&auditor, "/console/households/522732101202-0999");
    assert_console_page(&none, 404, "a household nobody knows");

    // The queue is read-only for the auditor too, and the ledger is not a reviewer's page.
    let queue = app.get_cookie(&auditor, "/console/queue");
    assert_eq!(queue.status, 200);
    assert!(queue.text.contains(&u.id()), "{}", queue.text);
    let township = app.console_session("township1", "demo-township1");
    assert_console_page(
        &app.get_cookie(&township, "/console/ledger"),
        403,
        "a reviewer at the ledger",
    );
    let (ok, out) = svc.cli_status(&["ledger", "verify"]);
    assert!(ok, "{out}");
}

fn workflow(svc: &Service) {
    let app = svc.client();
    menus_agree_with_the_pages(&app);
    unknown_addresses(&app);
    refused_forms_keep_what_was_typed(&app);
    the_auditor_reads_without_acting(svc, &app);
}

#[test]
fn the_console_by_role_on_the_embedded_backend() {
    workflow(&Service::dev());
}

#[test]
fn the_console_by_role_on_postgres_and_rabbitmq() {
    let Some((pg, amqp)) = real_services("the_console_by_role_on_postgres_and_rabbitmq") else {
        return;
    };
    let svc = Service::production(&pg, &amqp, 1);
    // The production harness adds no admin; the embedded demo has one.
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
    workflow(&svc);
}
