//! The clue ledger end to end (issue 18, item 2), on the embedded backend and on PostgreSQL +
//! RabbitMQ: the county enters an audit clue with a deadline for a township; the township
//! records its rectification and closes it (signed); the county reopens it once with a reason,
//! then confirms it (销号, signed) — and the closure rate moves only then. An overdue clue
//! escalates to the county once, however often the job runs. Wrong jurisdiction is 404, wrong
//! role 403, unsigned or mis-signed decisions 4xx, bad list filters 400 naming each.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Service;
use common::client::Client;
use common::real_services;
use serde_json::{Value, json};

const TOWNSHIP: &str = "522732101000";
const COUNTY: &str = "522732000000";

fn unit<'a>(stats: &'a Value, code: &str) -> &'a Value {
    stats["units"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["code"] == code)
        .unwrap_or_else(|| panic!("no unit {code} in {stats}"))
}

/// The township's clue figures as the county reads them.
fn township_figures(app: &Client, county: &str) -> Value {
    let stats = app.get(Some(county), "/api/v1/stats");
    assert_eq!(stats.status, 200, "{}", stats.text);
    unit(&stats.body, TOWNSHIP).clone()
}

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn audit_clue(deadline: &str) -> Value {
    json!({
        "source": "audit",
        "kind": "other",
        "description": "审计发现：2026 年产业补助资金拨付台账与到户清单不一致",
        "org": TOWNSHIP,
        "deadline": deadline,
        "severity": "high",
        "evidence": ["ab".repeat(32)],
        "source_ref": {"report": "审计报告 2026-11 第 3 项"},
    })
}

fn tomorrow() -> String {
    (chrono::Utc::now() + chrono::Duration::days(2))
        .format("%Y-%m-%d")
        .to_string()
}

fn ledger_actions(app: &Client) -> Vec<String> {
    common::ledger_entries(app)
        .iter()
        .map(|e| e["action"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn story(svc: &Service) {
    let app = svc.client();
    let county = app.token("county1");
    let township = app.token("township1");
    let before = township_figures(&app, &county);

    // Entering: county and prefecture reviewers only, in their jurisdiction, below their unit.
    let r = svc.post_signed("township1", "/api/v1/clues", audit_clue(&tomorrow()));
    assert_eq!(r.status, 403, "{}", r.text);
    let r = app.post_json(
        Some(&app.token("surveyor1")),
        "/api/v1/clues",
        &audit_clue(&tomorrow()),
    );
    assert_eq!(r.status, 403, "{}", r.text);
    // Entering is a signed decision (谁录入、谁签字): unsigned, or signed by another's key, it is
    // refused and nothing is entered.
    let mut unsigned = audit_clue(&tomorrow());
    unsigned["id"] = json!(uuid::Uuid::now_v7().to_string());
    let r = app.post_json(Some(&county), "/api/v1/clues", &unsigned);
    assert_eq!(r.status, 400, "unsigned: {}", r.text);
    assert!(
        fields(&r.body).contains(&"signature".to_owned()) || r.text.contains("signature"),
        "{}",
        r.text
    );
    let forged = svc
        .person_key("township1")
        .seal_for("county1", "/api/v1/clues", unsigned.clone());
    let r = app.post_json(Some(&county), "/api/v1/clues", &forged);
    assert_eq!(r.status, 403, "another person's key: {}", r.text);
    assert_eq!(
        svc.sql_count(&format!(
            "SELECT COUNT(*) AS n FROM clues WHERE id = '{}'",
            unsigned["id"].as_str().unwrap()
        )),
        0
    );
    let mut bad = audit_clue("2020-01-01");
    bad["source"] = json!("check");
    bad["kind"] = json!("bribery");
    bad["description"] = json!(" ");
    bad["severity"] = json!("extreme");
    bad["evidence"] = json!(["not-a-hash"]);
    let r = svc.post_signed("county1", "/api/v1/clues", bad);
    assert_eq!(r.status, 400, "{}", r.text);
    let named = fields(&r.body);
    for f in [
        "source",
        "kind",
        "description",
        "deadline",
        "severity",
        "evidence",
    ] {
        assert!(named.contains(&f.to_owned()), "{f} not named in {named:?}");
    }
    // In Chinese, naming the values a client may send.
    for e in r.body["errors"].as_array().unwrap() {
        let m = e["message"].as_str().unwrap();
        assert!(
            m.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
            "{m}"
        );
    }
    let mut own = audit_clue(&tomorrow());
    own["org"] = json!(COUNTY);
    let r = svc.post_signed("county1", "/api/v1/clues", own);
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["errors"][0]["code"], "invalid_unit");

    let signed =
        svc.person_key("county1")
            .seal_for("county1", "/api/v1/clues", audit_clue(&tomorrow()));
    let r = app.post_json(Some(&county), "/api/v1/clues", &signed);
    assert_eq!(r.status, 201, "{}", r.text);
    let clue = r.body.clone();
    let id = clue["id"].as_str().unwrap().to_owned();
    assert_eq!(
        id,
        signed["id"].as_str().unwrap(),
        "the id the enterer chose"
    );
    // A resend (the answer was lost on a bad line) is the same clue; the same id with other
    // content is refused.
    let r = app.post_json(Some(&county), "/api/v1/clues", &signed);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["id"], id.as_str());
    let mut other = audit_clue(&tomorrow());
    other["id"] = json!(id);
    other["description"] = json!("另一件事");
    let r = svc.post_signed("county1", "/api/v1/clues", other);
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(
        svc.sql_count(&format!(
            "SELECT COUNT(*) AS n FROM clues WHERE id = '{id}'"
        )),
        1
    );
    // Its ledger entry carries the county reviewer's decision, which verifies on its own.
    let raised = common::clue_raised_entry(&app, &id);
    assert_eq!(raised.decision.as_ref().unwrap()["signer"], "county1");
    assert_eq!(
        raised.decision.as_ref().unwrap()["description"],
        "审计发现：2026 年产业补助资金拨付台账与到户清单不一致"
    );
    assert_eq!(fieldsurvey_core::decision::check_entry(&raised), Ok(()));
    assert_eq!(clue["status"], "open");
    assert_eq!(clue["source"], "audit");
    assert_eq!(clue["org_code"], TOWNSHIP);
    assert_eq!(clue["confirm_org"], COUNTY);
    assert_eq!(clue["overdue"], false);
    assert!(clue["household_code"].is_null());
    let f = township_figures(&app, &county);
    assert_eq!(
        f["clues_raised"].as_i64().unwrap(),
        before["clues_raised"].as_i64().unwrap() + 1
    );
    assert_eq!(
        f["clues"]["open"],
        before["clues"]["open"].as_i64().unwrap() + 1
    );

    // The list's filters.
    let r = app.get(
        Some(&county),
        "/api/v1/clues?status=done&source=rumour&kind=x&overdue=maybe&unit=12",
    );
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(
        fields(&r.body),
        ["status", "source", "kind", "overdue", "unit"],
        "{}",
        r.text
    );
    let r = app.get(Some(&township), "/api/v1/clues?unit=522732102000");
    assert_eq!(r.status, 400, "another township's unit: {}", r.text);
    let r = app.get(
        Some(&township),
        &format!("/api/v1/clues?source=audit&kind=other&overdue=false&unit={TOWNSHIP}"),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == id.as_str())
    );
    let r = app.get(Some(&app.token("township2")), "/api/v1/clues?source=audit");
    assert!(r.body["items"].as_array().unwrap().is_empty(), "{}", r.text);

    // The township rectifies and closes: signed; another township's reviewer is told it does
    // not exist; unsigned and mis-signed closures are refused.
    let close = format!("/api/v1/clues/{id}/close");
    let rectified =
        json!({"reason": "已核对拨付凭证，补录到户清单 12 户", "evidence": ["cd".repeat(32)]});
    let r = svc.post_signed("township2", &close, rectified.clone());
    assert_eq!(r.status, 404, "{}", r.text);
    // The county confirms, so it never closes the clue itself (no unit signs off its own work).
    let r = svc.post_signed("county1", &close, rectified.clone());
    assert_eq!(r.status, 403, "{}", r.text);
    let r = app.post_json(Some(&township), &close, &rectified);
    assert_eq!(r.status, 400, "unsigned: {}", r.text);
    let mut forged = svc
        .person_key("county1")
        .seal_for("township1", &close, rectified.clone());
    forged["key_id"] = svc
        .person_key("township1")
        .seal_for("township1", &close, rectified.clone())["key_id"]
        .clone();
    let r = app.post_json(Some(&township), &close, &forged);
    assert!(
        r.status == 403 || r.status == 400,
        "mis-signed: {} {}",
        r.status,
        r.text
    );
    let r = svc.post_signed("township1", &close, rectified.clone());
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "closed");
    assert_eq!(
        r.body["rectification"],
        "已核对拨付凭证，补录到户清单 12 户"
    );
    assert_eq!(r.body["rectification_evidence"][0], "cd".repeat(32));
    // Closed is not confirmed: the closure rate has not moved.
    let f = township_figures(&app, &county);
    assert_eq!(f["clues_closed"], before["clues_closed"]);
    assert_eq!(
        f["clues"]["awaiting"],
        before["clues"]["awaiting"].as_i64().unwrap() + 1
    );

    // Confirming is the level above's: the township may not, the county reopens once with a
    // reason, then confirms.
    let confirm = format!("/api/v1/clues/{id}/confirm");
    let reopen = format!("/api/v1/clues/{id}/reopen");
    let r = svc.post_signed("township1", &confirm, json!({"reason": ""}));
    assert_eq!(r.status, 403, "{}", r.text);
    let r = app.post_json(Some(&county), &confirm, &json!({"reason": ""}));
    assert_eq!(r.status, 400, "unsigned: {}", r.text);
    let r = svc.post_signed("county1", &reopen, json!({"reason": "  "}));
    assert_eq!(r.status, 400, "a reopening needs a reason: {}", r.text);
    let r = svc.post_signed("county1", &reopen, json!({"reason": "到户清单未附签字"}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "open");
    assert_eq!(r.body["reopen_count"], 1);
    assert_eq!(r.body["reopen_reason"], "到户清单未附签字");
    let r = svc.post_signed("county1", &confirm, json!({"reason": ""}));
    assert_eq!(r.status, 409, "an open clue is not confirmed: {}", r.text);
    let r = svc.post_signed(
        "township1",
        &close,
        json!({"reason": "到户清单已由农户签字确认"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = svc.post_signed("county1", &confirm, json!({"reason": "核实无误"}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "confirmed");
    assert!(r.body["confirmed_at"].is_string());
    let f = township_figures(&app, &county);
    assert_eq!(
        f["clues_closed"].as_i64().unwrap(),
        before["clues_closed"].as_i64().unwrap() + 1,
        "the closure rate moves with the confirmation"
    );
    assert_eq!(
        f["clues"]["confirmed"],
        before["clues"]["confirmed"].as_i64().unwrap() + 1
    );
    let r = svc.post_signed("county1", &confirm, json!({"reason": "again"}));
    assert_eq!(r.status, 409, "{}", r.text);
    let r = app.get(Some(&county), "/api/v1/clues?status=confirmed&source=audit");
    assert!(
        r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == id.as_str())
    );

    // Overdue: a clue past its deadline escalates to the county once.
    let r = svc.post_signed("county1", "/api/v1/clues", audit_clue(&tomorrow()));
    assert_eq!(r.status, 201, "{}", r.text);
    let late = r.body["id"].as_str().unwrap().to_owned();
    svc.sql(&format!(
        "UPDATE clues SET deadline = '2026-01-01 00:00:00' WHERE id = '{late}'"
    ));
    let r = app.get(Some(&county), "/api/v1/clues?overdue=true");
    let items = r.body["items"].as_array().unwrap();
    assert!(
        items
            .iter()
            .any(|c| c["id"] == late.as_str() && c["overdue"] == true),
        "{}",
        r.text
    );
    let mut escalated = Value::Null;
    // The upkeep runs every 30 s by default.
    for _ in 0..200 {
        let r = app.get(Some(&county), "/api/v1/clues?overdue=true&source=audit");
        escalated = r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == late.as_str())
            .cloned()
            .unwrap_or(Value::Null);
        if escalated["escalation_level"] == 1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    assert_eq!(escalated["escalation_level"], 1, "{escalated}");
    assert!(escalated["escalated_at"].is_string());
    // Later runs of the job find nothing more to do: one escalation entry.
    let actions = ledger_actions(&app);
    assert_eq!(
        actions.iter().filter(|a| *a == "clue_escalated").count(),
        1,
        "{actions:?}"
    );
    for a in [
        "clue_raised",
        "clue_closed",
        "clue_reopened",
        "clue_confirmed",
    ] {
        assert!(actions.iter().any(|x| x == a), "no {a} in {actions:?}");
    }
    let f = township_figures(&app, &county);
    assert_eq!(
        f["clues"]["overdue"],
        before["clues"]["overdue"].as_i64().unwrap() + 1
    );
    assert_eq!(
        f["clues"]["escalated"],
        before["clues"]["escalated"].as_i64().unwrap() + 1
    );

    let (ok, out) = svc.cli_status(&["ledger", "verify"]);
    assert!(ok, "{out}");
}

#[test]
fn the_clue_ledger_on_the_embedded_backend() {
    story(&Service::dev_with(&[("QUEUE_VACUUM_SECS", "1")]));
}

#[test]
fn the_clue_ledger_on_postgres_and_rabbitmq() {
    let Some((pg, amqp)) = real_services("the_clue_ledger_on_postgres_and_rabbitmq") else {
        return;
    };
    let svc = Service::production_with(&pg, &amqp, &amqp, 1, &[("QUEUE_VACUUM_SECS", "1")]);
    story(&svc);
}
