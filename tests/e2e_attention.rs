//! Every acknowledged submission reaches a final state, or a person is told why it has not
//! (issue: proven under faults). On the real PostgreSQL and RabbitMQ.
//!
//! - A backlog of 3,000 surveys sharing three photo sets across the 120 fixture households,
//!   each household's versions a chain of corrections, released at once to two workers: all
//!   reach a final state with no manual step (contention waits; it never spends an attempt).
//! - A submission that cannot be processed (its photo lost from the store) becomes
//!   `needs_attention` with the reason, is listed for operators, and `fieldsurvey redrive`
//!   brings it to its final state once the photo is back.
//! - A queued submission whose message was lost is sent again by the sweeper.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::client::Part;
use common::survey::{Key, Upload};
use common::{Service, purge_queue, real_services};
use serde_json::{Value, json};

/// The townships of the fixture households and a surveyor (with an enrolled key) for each.
fn surveyors(svc: &Service) -> HashMap<&'static str, (String, Key)> {
    let mut by_township = HashMap::new();
    by_township.insert("522732101", ("surveyor1".to_owned(), Key::demo()));
    for (township, user) in [
        ("522732102", "surveyor2"),
        ("522722101", "surveyor3"),
        ("522722102", "surveyor4"),
    ] {
        if user != "surveyor2" {
            svc.cli(
                &[
                    "user",
                    "add",
                    user,
                    "--role",
                    "surveyor",
                    "--org",
                    &format!("{township}000"),
                    "--password-stdin",
                ],
                Some(&format!("demo-{user}\n")),
            );
        }
        let key = Key::generate();
        svc.cli(
            &["key", "add", user, "--public-key", &key.public_b64()],
            None,
        );
        by_township.insert(township, (user.to_owned(), key));
    }
    by_township
}

fn household_codes() -> Vec<String> {
    let text = std::fs::read_to_string(common::fixture("households.csv")).unwrap();
    text.lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_backlog_of_surveys_sharing_photos_all_reach_a_final_state_unattended() {
    let Some((pg, amqp)) =
        real_services("a_backlog_of_surveys_sharing_photos_all_reach_a_final_state_unattended")
    else {
        return;
    };
    // The workers are stopped: everything uploaded waits in the queue. (Four accounts send
    // 750 surveys each here: no per-account upload rate.)
    let mut svc = Service::production_with(&pg, &amqp, &amqp, 0, &[("UPLOADS_PER_MINUTE", "0")]);
    let people = surveyors(&svc);
    let app = svc.client();
    let tokens: HashMap<String, String> = people
        .values()
        .map(|(user, _)| (user.clone(), app.token(user)))
        .collect();
    let households = household_codes();
    assert_eq!(households.len(), 120);
    let sets = ["h1", "h2", "h3"];
    // 25 versions of each household; version k corrects version k − 1. Bodies are built first.
    let mut last: HashMap<String, String> = HashMap::new();
    let mut uploads: Vec<(String, Value, Vec<Part>)> = Vec::with_capacity(3_000);
    for i in 0..3_000 {
        let code = &households[i % households.len()];
        let set = sets[i % sets.len()];
        let mut u = Upload::household(
            code,
            [
                &format!("{set}_house.jpg"),
                &format!("{set}_household_with_verifier.jpg"),
                &format!("{set}_water_source.jpg"),
            ],
        );
        u.doc["supersedes"] = json!(last.get(code));
        last.insert(code.clone(), u.id());
        let (user, key) = &people[&code[..9]];
        uploads.push((user.clone(), u.signed_by(key), u.parts));
    }
    let started = Instant::now();
    let uploads = Arc::new(uploads);
    let tokens = Arc::new(tokens);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (uploads, tokens, app) = (uploads.clone(), tokens.clone(), svc.client());
            std::thread::spawn(move || {
                for (user, survey, parts) in uploads.iter().skip(t).step_by(4) {
                    let r = app.upload(&tokens[user], survey, parts);
                    assert_eq!(r.status, 202, "{}", r.text);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(
        svc.sql_count("SELECT count(*) AS n FROM submissions WHERE status = 'queued'"),
        3_000,
        "nothing processed while the workers were stopped"
    );

    eprintln!("3,000 uploads accepted in {:?}", started.elapsed());
    let released = Instant::now();
    // Release the backlog.
    svc.start_worker();
    svc.start_worker();
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let open = svc.sql_count(
            "SELECT count(*) AS n FROM submissions WHERE status IN ('queued', 'needs_attention')",
        );
        let stuck =
            svc.sql_count("SELECT count(*) AS n FROM submissions WHERE status = 'needs_attention'");
        assert_eq!(
            stuck,
            0,
            "a submission needs attention: {}",
            svc.sql_text(
                "SELECT submission_id || ' ' || reason AS t FROM submission_attention LIMIT 1"
            )
        );
        if open == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{open} submissions not final after 15 minutes"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    eprintln!(
        "all final {:?} after the release; {} waits",
        released.elapsed(),
        svc.logs().matches("waiting on other work").count()
    );
    // Each household: its last version current, the 24 before it superseded in turn.
    assert_eq!(
        svc.sql_count("SELECT count(*) AS n FROM submissions WHERE status = 'signed_off'"),
        120
    );
    assert_eq!(
        svc.sql_count("SELECT count(*) AS n FROM submissions WHERE status = 'superseded'"),
        2_880
    );
    assert_eq!(
        svc.sql_count("SELECT count(*) AS n FROM stage_runs WHERE stage = 'sign_off'"),
        3_000,
        "one result each"
    );
    assert_eq!(
        svc.sql_count("SELECT count(*) AS n FROM attention_log"),
        0,
        "nothing parked, nothing re-sent"
    );
    // The photos were seen for what they are: reused across households.
    assert!(
        svc.sql_count(
            "SELECT count(*) AS n FROM submissions WHERE status = 'signed_off' AND flags LIKE '%photo_reused%'"
        ) > 100
    );
    let logs = svc.logs();
    assert!(
        !logs.contains("message parked"),
        "no message was parked; contention is not failure"
    );
    let (ok, out) = svc.cli_status(&["ledger", "verify"]);
    assert!(ok, "{out}");
}

#[test]
fn a_submission_that_cannot_be_processed_needs_attention_and_is_redriven() {
    let Some((pg, amqp)) =
        real_services("a_submission_that_cannot_be_processed_needs_attention_and_is_redriven")
    else {
        return;
    };
    let mut svc = Service::production(&pg, &amqp, 0);
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
    let token = app.token("surveyor1");
    let u = Upload::household_h1();
    assert_eq!(
        app.upload(&token, &u.signed_by(&Key::demo()), &u.parts)
            .status,
        202
    );
    let id = u.id();
    // The photo store loses a photo before any worker reads it (a disk swapped, a bad restore).
    let sha = common::survey::sha256_hex(&u.parts[0].bytes);
    let stored = svc
        .dir
        .path()
        .join("photos/sha256")
        .join(&sha[..2])
        .join(&sha[2..4])
        .join(&sha);
    let kept = svc.dir.path().join("kept.jpg");
    std::fs::rename(&stored, &kept).unwrap();
    svc.start_worker();

    let deadline = Instant::now() + Duration::from_secs(60);
    let view = loop {
        let r = app.get(Some(&token), &format!("/api/v1/submissions/{id}"));
        if r.body["status"] == "needs_attention" {
            break r.body;
        }
        assert_eq!(r.body["status"], "queued", "{}", r.text);
        assert!(Instant::now() < deadline, "never parked: {}", r.text);
        std::thread::sleep(Duration::from_millis(100));
    };
    let reason = view["attention"]["reason"].as_str().unwrap();
    assert!(reason.contains("missing from the store"), "{reason}");
    assert!(view["attention"]["since"].is_string());

    // Operators see it: the metric, the command, the console page (admins only).
    let metrics = app.get(None, "/metrics").text;
    assert!(
        metrics.contains("fieldsurvey_submissions_needing_attention 1"),
        "{metrics}"
    );
    let listed = svc.cli(&["attention"], None);
    assert!(
        listed.contains(&id) && listed.contains("missing from the store"),
        "{listed}"
    );
    assert!(listed.contains("1 submissions need attention"), "{listed}");
    let cookie = app.console_session("admin1", "demo-admin1");
    let page = app.get_cookie(&cookie, "/console/attention");
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains(&id) && page.text.contains("处理受阻"),
        "{}",
        page.text
    );
    // The cause in words the operator acts on, the worker's own words beside it.
    assert!(
        page.text.contains("照片文件在存储中缺失")
            && page.text.contains("is missing from the store"),
        "{}",
        page.text
    );
    let reviewer = app.console_session("township1", "demo-township1");
    assert_eq!(app.get_cookie(&reviewer, "/console/attention").status, 403);

    // Re-driven before the cause is fixed (from the console), it is parked again, with the
    // reason; re-driven after (from the command line), it goes on.
    let csrf = page
        .text
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let again = app.post_form(
        &cookie,
        "/console/attention",
        &format!("csrf={csrf}&id={id}"),
    );
    assert_eq!(again.status, 200);
    assert!(
        again.text.contains("已将 1 份提交重新交给校验程序"),
        "{}",
        again.text
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while svc.sql_count(&format!(
        "SELECT count(*) AS n FROM attention_log WHERE submission_id = '{id}' AND event = 'parked'"
    )) < 2
    {
        assert!(Instant::now() < deadline, "not parked again");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::fs::rename(&kept, &stored).unwrap();
    let out = svc.cli(&["redrive", &id], None);
    assert!(
        out.contains("1 submissions sent to the workers again"),
        "{out}"
    );
    let done = app.wait_final(&token, &id);
    assert_eq!(done["status"], "signed_off", "{done}");
    assert!(done["attention"].is_null());
    let events = svc.sql_texts(&format!(
        "SELECT event AS t FROM attention_log WHERE submission_id = '{id}' ORDER BY id"
    ));
    assert_eq!(events, vec!["parked", "redriven", "parked", "redriven"]);
    let by = svc.sql_texts(&format!(
        "SELECT actor AS t FROM attention_log WHERE submission_id = '{id}' AND event = 'redriven' ORDER BY id"
    ));
    assert!(by[0].contains("admin1"), "the admin is named: {}", by[0]);
    assert!(
        by[1].contains("operator"),
        "the operator is named: {}",
        by[1]
    );
    // Nothing left to re-drive: the command says so and fails.
    let (ok, out) = svc.cli_status(&["redrive", &id]);
    assert!(!ok && out.contains("not waiting for attention"), "{out}");
    let logs = svc.logs();
    assert!(
        logs.contains(&format!("submission_id={id}"))
            || logs.contains(&format!("\"submission_id\":\"{id}\"")),
        "the parking is logged with its submission"
    );
}

#[test]
fn a_queued_submission_whose_message_was_lost_is_sent_again() {
    let Some((pg, amqp)) =
        real_services("a_queued_submission_whose_message_was_lost_is_sent_again")
    else {
        return;
    };
    let mut svc = Service::production_with(
        &pg,
        &amqp,
        &amqp,
        0,
        &[("SWEEP_EVERY_SECS", "1"), ("SWEEP_AFTER_SECS", "3")],
    );
    let app = svc.client();
    let token = app.token("surveyor1");
    let ids: Vec<String> = (0..3)
        .map(|_| {
            let u = Upload::household_h1();
            assert_eq!(
                app.upload(&token, &u.signed_by(&Key::demo()), &u.parts)
                    .status,
                202
            );
            u.id()
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while svc.sql_count("SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL") > 0 {
        assert!(Instant::now() < deadline, "outbox rows left unsent");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The broker loses the messages (a queue purged by hand, a node lost with its data).
    let prefix = svc.amqp_prefix.clone().unwrap();
    assert_eq!(purge_queue(&amqp, &prefix, "submissions"), 3);
    svc.start_worker();
    for id in &ids {
        assert_eq!(app.wait_final(&token, id)["status"], "signed_off");
    }
    assert_eq!(
        svc.sql_count("SELECT count(*) AS n FROM attention_log WHERE event = 'resent'"),
        3
    );
    let metrics = app.get(None, "/metrics").text;
    assert!(metrics.contains("fieldsurvey_resent_total 3"), "{metrics}");
}
