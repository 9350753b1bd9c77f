//! The lists people work from: a township reviewer's queue (own jurisdiction only, oldest
//! first, with deadlines) and a surveyor's worklist of what came back, with the reasons.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Service;
use common::survey::{Key, Upload};
use serde_json::json;

#[test]
fn reviewers_see_their_queue_and_surveyors_what_came_back() {
    let svc = Service::dev();
    let app = svc.client();
    let surveyor = app.token("surveyor1");
    let township = app.token("township1");
    let other_township = app.token("township2");
    let mut ids = Vec::new();
    for _ in 0..3 {
        let u = Upload::household_h1();
        assert_eq!(
            app.upload(&surveyor, &u.signed_by(&Key::demo()), &u.parts)
                .status,
            202
        );
        ids.push(u.id());
    }
    let mut digests = Vec::new();
    for id in &ids {
        let s = app.wait_final(&surveyor, id);
        assert_eq!(s["status"], "signed_off", "{s}");
        digests.push(s["content_digest"].as_str().unwrap().to_owned());
    }

    let q = app.get(Some(&township), "/api/v1/review/queue");
    assert_eq!(q.status, 200, "{}", q.text);
    let listed: Vec<&str> = q.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    let mut sorted_listed: Vec<&str> = listed.clone();
    sorted_listed.sort_unstable();
    let mut sorted_ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    sorted_ids.sort_unstable();
    assert_eq!(sorted_listed, sorted_ids, "all three, and only them");
    let entered: Vec<&str> = q.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["processed_at"].as_str().unwrap())
        .collect();
    assert!(
        entered.windows(2).all(|w| w[0] <= w[1]),
        "oldest first: {entered:?}"
    );
    // From here on, "the oldest" is the queue's first.
    let order: Vec<String> = listed.iter().map(|s| s.to_string()).collect();
    let digests: Vec<String> = order
        .iter()
        .map(|id| {
            let i = ids.iter().position(|x| x == id).unwrap();
            digests[i].clone()
        })
        .collect();
    let ids = order;
    let first = &q.body["items"][0];
    assert_eq!(first["overdue"], false);
    assert!(first["due_at"].as_str().is_some(), "{first}");
    assert_eq!(first["household_code"], "522732101201-0001");
    assert!(
        !q.text.contains("head_name") && !q.text.contains("id_number"),
        "the queue carries no personal data"
    );
    assert_eq!(q.body["has_more"], false);

    let other = app.get(Some(&other_township), "/api/v1/review/queue");
    assert_eq!(other.status, 200);
    assert_eq!(
        other.body["items"].as_array().unwrap().len(),
        0,
        "another township's queue does not hold them"
    );
    let filtered = app.get(Some(&township), "/api/v1/review/queue?village=522732102201");
    assert_eq!(filtered.body["items"].as_array().unwrap().len(), 0);
    assert_eq!(app.get(Some(&surveyor), "/api/v1/review/queue").status, 403);
    let bad = app.get(Some(&township), "/api/v1/review/queue?status=lost&page=0");
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.body["errors"].as_array().unwrap().len(),
        2,
        "{}",
        bad.text
    );

    // The township returns the oldest with reasons; it leaves the queue and reaches the
    // surveyor's worklist with them.
    let r = svc.review(
        "township1",
        &ids[0],
        json!({"decision": "return", "digest": digests[0],
                "reasons": [{"action": "supplement", "field": "photos", "note": "补拍饮水照片"}]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let q = app.get(Some(&township), "/api/v1/review/queue");
    assert_eq!(q.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(q.body["items"][0]["id"], ids[1].as_str());

    // Escalation: nothing is the county's until the township's deadline passes; then the
    // county sees it in its queue, marked overdue, and may decide it.
    let county = app.token("county1");
    let cq = app.get(Some(&county), "/api/v1/review/queue");
    assert_eq!(cq.status, 200);
    assert_eq!(cq.body["items"].as_array().unwrap().len(), 0, "{}", cq.text);
    let early = svc.review(
        "county1",
        &ids[1],
        json!({"decision": "approve", "digest": digests[1]}),
    );
    assert_eq!(early.status, 403, "{}", early.text);
    svc.sql(&format!(
        "UPDATE submission_outcomes SET review_due_at = '2026-01-05 00:00:00' WHERE submission_id = '{}'",
        ids[1]
    ));
    let q = app.get(Some(&township), "/api/v1/review/queue");
    assert_eq!(q.body["items"][0]["overdue"], true, "{}", q.text);
    assert_eq!(q.body["items"][1]["overdue"], false);
    let cq = app.get(Some(&county), "/api/v1/review/queue");
    let escalated = cq.body["items"].as_array().unwrap();
    assert_eq!(escalated.len(), 1, "{}", cq.text);
    assert_eq!(escalated[0]["id"], ids[1].as_str());
    assert_eq!(escalated[0]["overdue"], true);
    let late = svc.review(
        "county1",
        &ids[1],
        json!({"decision": "approve", "digest": digests[1]}),
    );
    assert_eq!(late.status, 200, "{}", late.text);
    let last = late.body["ledger"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["actor"]["username"], "county1");
    assert_eq!(last["detail"]["level"], "county");

    let back = app.get(Some(&surveyor), "/api/v1/submissions?status=returned");
    assert_eq!(back.status, 200, "{}", back.text);
    let items = back.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], ids[0].as_str());
    assert_eq!(items[0]["reasons"][0]["action"], "supplement");
    assert_eq!(items[0]["reasons"][0]["note"], "补拍饮水照片");
    assert_eq!(
        app.get(Some(&township), "/api/v1/submissions?status=returned")
            .status,
        403
    );
    let other_surveyor = app.token("surveyor2");
    let theirs = app.get(Some(&other_surveyor), "/api/v1/submissions?status=returned");
    assert_eq!(theirs.body["items"].as_array().unwrap().len(), 0);
}

/// Every time a person reads is in the office's zone (default Asia/Shanghai) with the zone
/// named: an upload received at 20:14 UTC arrived on the next day in Beijing, and a deadline
/// late in a UTC day falls on the next Beijing date.
#[test]
fn the_console_shows_times_in_the_office_zone_across_a_utc_day_boundary() {
    let svc = Service::dev();
    let app = svc.client();
    let surveyor = app.token("surveyor1");
    let u = Upload::household_h1();
    assert_eq!(
        app.upload(&surveyor, &u.signed_by(&Key::demo()), &u.parts)
            .status,
        202
    );
    let id = u.id();
    assert_eq!(app.wait_final(&surveyor, &id)["status"], "signed_off");
    svc.sql(&format!(
        "UPDATE submissions SET received_at = '2026-11-29 20:14:00', \
         processed_at = '2026-11-29 20:14:03' WHERE id = '{id}'; \
         UPDATE submission_outcomes SET review_due_at = '2026-12-04 16:30:00' \
         WHERE submission_id = '{id}'"
    ));
    let reviewer = app.console_session("township1", "demo-township1");

    let queue = app.get_cookie(&reviewer, "/console/queue");
    assert_eq!(queue.status, 200);
    assert!(
        queue.text.contains("接收时间（北京时间）"),
        "{}",
        queue.text
    );
    assert!(queue.text.contains("期限（北京时间）"), "{}", queue.text);
    assert!(queue.text.contains("2026-11-30 04:14"), "{}", queue.text);
    assert!(
        queue.text.contains("2026-12-05"),
        "the deadline's Beijing date"
    );
    assert!(
        !queue.text.contains("2026-11-29 20:14"),
        "no UTC time shown"
    );

    let page = app.get_cookie(&reviewer, &format!("/console/submissions/{id}"));
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains("接收：2026-11-30 04:14（北京时间）"),
        "{}",
        page.text
    );
    assert!(page.text.contains("校验完成：2026-11-30 04:14（北京时间）"));
    assert!(
        page.text.contains("时间（北京时间）"),
        "the ledger's column"
    );

    // A zone that is not in the time zone database stops a process before it starts.
    let bad = std::process::Command::new(common::BIN)
        .env_remove("DATABASE_URL")
        .env("OFFICE_TZ", "Beijing")
        .args(["migrate"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("Beijing") && err.contains("IANA"), "{err}");
}
