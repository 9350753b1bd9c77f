//! The production deployment as separate processes: `fieldsurvey api` and workers on a real
//! PostgreSQL database and real RabbitMQ queues (each test its own database and queue names).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::proxy::Proxy;
use common::survey::{Key, Upload};
use common::{Service, real_services};
use serde_json::json;

#[test]
fn surveys_flow_through_rabbitmq_to_signed_off_or_rejected() {
    let Some((pg, amqp)) = real_services("surveys_flow_through_rabbitmq_to_signed_off_or_rejected")
    else {
        return;
    };
    let svc = Service::production(&pg, &amqp, 2);
    let app = svc.client();
    let token = app.token("surveyor1");
    let key = Key::demo();

    let good = Upload::household_h1();
    assert_eq!(
        app.upload(&token, &good.signed_by(&key), &good.parts)
            .status,
        202
    );
    let mut bomb = Upload::household_h1();
    bomb.add_photo("p4", "other", "bomb_30000x30000.png");
    assert_eq!(
        app.upload(&token, &bomb.signed_by(&key), &bomb.parts)
            .status,
        202
    );
    let mut broken = Upload::household_h1();
    broken.add_photo("p4", "other", "truncated.jpg");
    broken.doc["members"][0]["id_number"] = json!("522732198711145258");
    assert_eq!(
        app.upload(&token, &broken.signed_by(&key), &broken.parts)
            .status,
        202
    );
    let other_key = Key::generate();
    let r = app.post_json(
        Some(&app.token("surveyor2")),
        "/api/v1/keys",
        &json!({"public_key": other_key.public_b64(), "enrolment_code": svc.enrolment_code("surveyor2")}),
    );
    assert_eq!(r.status, 201);
    let ghost = Upload::household_h1();
    assert_eq!(
        app.upload(&token, &ghost.signed_by(&other_key), &ghost.parts)
            .status,
        202
    );
    let revoked = Key::generate();
    assert_eq!(
        app.post_json(
            Some(&token),
            "/api/v1/keys",
            &json!({"public_key": revoked.public_b64(), "enrolment_code": svc.enrolment_code("surveyor1")})
        )
        .status,
        201
    );
    svc.cli(&["key", "revoke", &revoked.key_id], None);
    let late = Upload::household_h1();
    assert_eq!(
        app.upload(&token, &late.signed_by(&revoked), &late.parts)
            .status,
        202
    );

    let sub = app.wait_final(&token, &good.id());
    assert_eq!(sub["status"], "signed_off", "{sub}");
    assert_eq!(sub["outcome"]["meets_standard"], true);
    assert_eq!(sub["photos"][1]["kind"], "household_with_verifier");
    let code_of = |id: &str| -> Vec<String> {
        let s = app.wait_final(&token, id);
        assert_eq!(s["status"], "rejected", "{s}");
        s["rejections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["code"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(code_of(&bomb.id()), vec!["photo_too_large"]);
    // Decoded, the bomb would need 30000 × 30000 × 4 bytes = 3.6 GB; it is refused from its header.
    for worker in svc.procs.iter().filter(|p| p.name.starts_with("worker")) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", worker.child.id())).unwrap();
        let hwm_kb: u64 = status
            .lines()
            .find(|l| l.starts_with("VmHWM"))
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        assert!(hwm_kb < 400 * 1024, "a worker peaked at {hwm_kb} kB");
    }
    let both = code_of(&broken.id());
    assert!(
        both.contains(&"photo_undecodable".to_owned())
            && both.contains(&"invalid_id_number".to_owned()),
        "{both:?}"
    );
    assert_eq!(code_of(&ghost.id()), vec!["signer_not_verifier"]);
    assert_eq!(code_of(&late.id()), vec!["key_revoked"]);
    for stage in ["validate", "evidence", "signature", "sign_off"] {
        assert_eq!(
            svc.sql_count(&format!(
                "SELECT count(*) AS n FROM stage_runs WHERE stage = '{stage}'"
            )),
            5,
            "each processed exactly once, through every stage ({stage})"
        );
    }
    // The upload's request id travels through the outbox and the queue into the worker's log.
    let rid = svc.sql_text(&format!(
        "SELECT request_id AS t FROM submissions WHERE id = '{}'",
        good.id()
    ));
    let worker_logs: String = svc
        .procs
        .iter()
        .filter(|p| p.name.starts_with("worker"))
        .map(|p| std::fs::read_to_string(&p.log).unwrap_or_default())
        .collect();
    let line = worker_logs
        .lines()
        .find(|l| l.contains(&good.id()) && l.contains("submission processed"))
        .unwrap_or_else(|| panic!("no worker line for {}:\n{worker_logs}", good.id()));
    assert!(line.contains(&rid), "request id {rid} missing from {line}");

    // Twenty concurrent resends, one row.
    let again = Upload::household_h1();
    let survey = again.signed_by(&key);
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..20)
            .map(|_| s.spawn(|| svc.client().upload(&token, &survey, &again.parts).status))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 202).count(),
        1,
        "{statuses:?}"
    );
    assert!(statuses.iter().all(|s| matches!(s, 200 | 202)));
    let n = svc.sql_count(&format!(
        "SELECT count(*) AS n FROM submissions WHERE id = '{}'",
        again.id()
    ));
    assert_eq!(n, 1);
    assert_eq!(
        app.get(None, "/readyz").body,
        json!({"database": true, "broker": true})
    );
}

#[test]
fn nothing_accepted_is_lost_while_the_broker_is_unreachable() {
    let Some((pg, amqp)) =
        real_services("nothing_accepted_is_lost_while_the_broker_is_unreachable")
    else {
        return;
    };
    let proxy = Proxy::start("127.0.0.1:5672");
    let svc = Service::production_via(&pg, &amqp, &proxy.amqp_url(&amqp), 1);
    let app = svc.client();
    let token = app.token("surveyor1");
    let key = Key::demo();
    // Warm up: the path works through the proxy.
    let first = Upload::household_h1();
    assert_eq!(
        app.upload(&token, &first.signed_by(&key), &first.parts)
            .status,
        202
    );
    assert_eq!(app.wait_final(&token, &first.id())["status"], "signed_off");

    proxy.cut();
    let ids: Vec<String> = (0..10)
        .map(|_| {
            let u = Upload::household_h1();
            let r = app.upload(&token, &u.signed_by(&key), &u.parts);
            assert_eq!(
                r.status, 202,
                "uploads are accepted while the broker is unreachable: {}",
                r.text
            );
            u.id()
        })
        .collect();
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        svc.sql_count("SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL") >= 1,
        "the outbox holds them"
    );
    let waiting = app.get(Some(&token), &format!("/api/v1/submissions/{}", ids[0]));
    assert_eq!(waiting.body["status"], "queued");
    assert_eq!(
        app.get(None, "/readyz").status,
        503,
        "readiness reports the broker"
    );

    proxy.restore();
    for id in &ids {
        assert_eq!(app.wait_final(&token, id)["status"], "signed_off");
    }
    assert_eq!(
        svc.sql_count("SELECT count(*) AS n FROM stage_runs WHERE stage = 'validate'"),
        11,
        "each exactly once"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while svc.sql_count("SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL") > 0 {
        assert!(Instant::now() < deadline, "outbox rows left unsent");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_worker_killed_mid_run_loses_nothing_and_duplicates_nothing() {
    let Some((pg, amqp)) =
        real_services("a_worker_killed_mid_run_loses_nothing_and_duplicates_nothing")
    else {
        return;
    };
    let mut svc = Service::production(&pg, &amqp, 1);
    let app = svc.client();
    let token = app.token("surveyor1");
    let key = Key::demo();
    let ids: Vec<String> = (0..30)
        .map(|_| {
            let mut u = Upload::household_h1();
            u.add_photo("p4", "other", "large_4000x3000.jpg");
            assert_eq!(app.upload(&token, &u.signed_by(&key), &u.parts).status, 202);
            u.id()
        })
        .collect();
    // Kill the only worker as soon as it has finished one: the rest are in flight or queued.
    let deadline = Instant::now() + Duration::from_secs(60);
    let signed = "SELECT count(*) AS n FROM stage_runs WHERE stage = 'sign_off'";
    while svc.sql_count(signed) == 0 {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    let worker = svc
        .procs
        .iter_mut()
        .find(|p| p.name.starts_with("worker"))
        .unwrap();
    worker.kill9();
    let done_at_kill = svc.sql_count(signed);
    assert!(
        done_at_kill < 30,
        "the worker was killed mid-run ({done_at_kill} done)"
    );
    svc.start_worker();
    for id in &ids {
        assert_eq!(app.wait_final(&token, id)["status"], "signed_off");
    }
    assert_eq!(svc.sql_count(signed), 30, "one result each");
    assert_eq!(
        svc.sql_count("SELECT count(*) AS n FROM stage_runs"),
        4 * 30,
        "one row per stage each"
    );
    assert_eq!(
        svc.sql_count("SELECT count(*) AS n FROM submissions WHERE status = 'signed_off'"),
        30
    );
}
