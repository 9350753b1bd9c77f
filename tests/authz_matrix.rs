//! The authorisation matrix, generated from one table: every endpoint of the OpenAPI document ×
//! every role × inside / outside the jurisdiction × own / another's object, with the status
//! each cell must answer. An endpoint that appears in the OpenAPI document without a row here
//! fails the test, so a new endpoint cannot ship without its authorisation decided.
//!
//! Objects: a submission of surveyor1 (township 522732101000) with an open clue; surveyor3 of
//! the same township is "another's" surveyor, surveyor2 and township2 are outside.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::Service;
use common::client::multipart;
use common::survey::{Key, Upload};
use serde_json::{Value, json};

/// Who asks.
const CALLERS: [&str; 10] = [
    "anonymous",
    "surveyor1",   // the object's own surveyor
    "surveyor3",   // another surveyor of the same township
    "surveyor2",   // a surveyor of another township
    "township1",   // the township's reviewer
    "township2",   // another township's reviewer
    "county1",     // the county's reviewer (above the township)
    "prefecture1", // the prefecture's reviewer (above the county)
    "auditor1",    // the prefecture's auditor
    "admin1",      // the prefecture's admin
];

struct Row {
    method: &'static str,
    /// As in the OpenAPI document.
    template: &'static str,
    /// Expected statuses per caller (any one of them); callers not named expect `default`.
    cells: &'static [(&'static str, &'static [u16])],
    default: &'static [u16],
}

const SIGNED_IN_OK: &[(&str, &[u16])] = &[("anonymous", &[401])];
const REVIEWERS_AUDITORS_ADMINS: &[(&str, &[u16])] = &[
    ("anonymous", &[401]),
    ("township1", &[200]),
    ("township2", &[200]),
    ("county1", &[200]),
    ("prefecture1", &[200]),
    ("auditor1", &[200]),
    ("admin1", &[200]),
];

fn table() -> Vec<Row> {
    vec![
        // Sign-in answers anyone with their own credentials (checked separately below).
        Row {
            method: "post",
            template: "/api/v1/auth/login",
            cells: &[],
            default: &[200],
        },
        Row {
            method: "post",
            template: "/api/v1/auth/refresh",
            cells: &[],
            default: &[200],
        },
        Row {
            method: "post",
            template: "/api/v1/keys",
            // Every person enrols their own key, with a code issued for them (the matrix sends
            // one); e2e_edges covers codes that are missing, used, expired or another's.
            cells: &[("anonymous", &[401])],
            default: &[201],
        },
        Row {
            method: "post",
            template: "/api/v1/submissions",
            cells: &[
                ("anonymous", &[401]),
                ("surveyor1", &[202]),
                ("surveyor3", &[202]),
            ],
            default: &[403],
        },
        Row {
            method: "get",
            template: "/api/v1/submissions",
            cells: &[
                ("anonymous", &[401]),
                ("surveyor1", &[200]),
                ("surveyor3", &[200]),
                ("surveyor2", &[200]),
            ],
            default: &[403],
        },
        Row {
            method: "get",
            template: "/api/v1/submissions/{id}",
            cells: &[
                ("anonymous", &[401]),
                ("surveyor1", &[200]),
                ("township1", &[200]),
                ("county1", &[200]),
                ("prefecture1", &[200]),
                ("auditor1", &[200]),
                ("admin1", &[200]),
            ],
            default: &[404],
        },
        Row {
            method: "get",
            template: "/api/v1/submissions/{id}/photos/{part}",
            // Like the submission itself: its jurisdiction sees it, everyone else gets 404.
            cells: &[
                ("anonymous", &[401]),
                ("surveyor1", &[200]),
                ("township1", &[200]),
                ("county1", &[200]),
                ("prefecture1", &[200]),
                ("auditor1", &[200]),
                ("admin1", &[200]),
            ],
            default: &[404],
        },
        Row {
            method: "get",
            template: "/api/v1/submissions/{id}/photos/{part}/thumbnail",
            // Like the submission itself: its jurisdiction sees it, everyone else gets 404.
            cells: &[
                ("anonymous", &[401]),
                ("surveyor1", &[200]),
                ("township1", &[200]),
                ("county1", &[200]),
                ("prefecture1", &[200]),
                ("auditor1", &[200]),
                ("admin1", &[200]),
            ],
            default: &[404],
        },
        Row {
            method: "post",
            template: "/api/v1/submissions/{id}/review",
            // The matrix sends a digest that is not the current version's: a caller who passes
            // authorisation gets 409, one at the wrong level 403, everyone else 404.
            cells: &[
                ("anonymous", &[401]),
                ("township1", &[409]),
                ("county1", &[403]),
                ("prefecture1", &[403]),
            ],
            default: &[404],
        },
        Row {
            method: "post",
            template: "/api/v1/spot-checks",
            cells: &[
                ("anonymous", &[401]),
                ("county1", &[201]),
                ("prefecture1", &[201]), // 州对乡
                ("township2", &[404]),
            ],
            default: &[403],
        },
        Row {
            method: "post",
            template: "/api/v1/submissions/{id}/spot-check",
            // Not drawn: a reviewer of the jurisdiction gets 409, anyone else 404.
            cells: &[
                ("anonymous", &[401]),
                ("township1", &[409]),
                ("county1", &[409]),
                ("prefecture1", &[409]),
            ],
            default: &[404],
        },
        Row {
            method: "get",
            template: "/api/v1/review/queue",
            cells: REVIEWERS_AUDITORS_ADMINS,
            default: &[403],
        },
        Row {
            method: "get",
            template: "/api/v1/households/{code}/accountability",
            cells: &[
                ("anonymous", &[401]),
                ("township1", &[200]),
                ("county1", &[200]),
                ("prefecture1", &[200]),
                ("auditor1", &[200]),
                ("admin1", &[200]),
            ],
            default: &[404],
        },
        Row {
            method: "get",
            template: "/api/v1/households/{code}/dossier.pdf",
            // As the accountability record (ID numbers masked for the admin).
            cells: &[
                ("anonymous", &[401]),
                ("township1", &[200]),
                ("county1", &[200]),
                ("prefecture1", &[200]),
                ("auditor1", &[200]),
                ("admin1", &[200]),
            ],
            default: &[404],
        },
        Row {
            method: "post",
            template: "/api/v1/villages/{code}/dossiers",
            // Those who may read the village's dossiers ask for its ZIP (a job).
            cells: &[
                ("anonymous", &[401]),
                ("township1", &[202]),
                ("county1", &[202]),
                ("prefecture1", &[202]),
                ("auditor1", &[202]),
                ("admin1", &[202]),
            ],
            default: &[404],
        },
        Row {
            method: "get",
            template: "/api/v1/clues",
            cells: REVIEWERS_AUDITORS_ADMINS,
            default: &[403],
        },
        Row {
            method: "post",
            template: "/api/v1/clues/{id}/close",
            // The township it is assigned to closes it; the county confirms it and the levels
            // above see it, so they never close it themselves (403).
            cells: &[
                ("anonymous", &[401]),
                ("township1", &[200, 409]),
                ("county1", &[403]),
                ("prefecture1", &[403]),
            ],
            default: &[404],
        },
        Row {
            method: "post",
            template: "/api/v1/clues",
            // County and prefecture reviewers enter clues for a unit below them.
            cells: &[
                ("anonymous", &[401]),
                ("county1", &[201]),
                ("prefecture1", &[201]),
            ],
            default: &[403],
        },
        Row {
            method: "post",
            template: "/api/v1/clues/{id}/confirm",
            // The level above decides (never on its own closure); readers below it may not
            // (403); those who cannot see the clue are told it does not exist.
            cells: &[
                ("anonymous", &[401]),
                ("surveyor1", &[404]),
                ("surveyor2", &[404]),
                ("surveyor3", &[404]),
                ("township2", &[404]),
                ("county1", &[200, 403, 409]),
                ("prefecture1", &[200, 403, 409]),
            ],
            default: &[403],
        },
        Row {
            method: "post",
            template: "/api/v1/clues/{id}/reopen",
            // The level above decides (never on its own closure); readers below it may not
            // (403); those who cannot see the clue are told it does not exist.
            cells: &[
                ("anonymous", &[401]),
                ("surveyor1", &[404]),
                ("surveyor2", &[404]),
                ("surveyor3", &[404]),
                ("township2", &[404]),
                ("county1", &[200, 403, 409]),
                ("prefecture1", &[200, 403, 409]),
            ],
            default: &[403],
        },
        Row {
            method: "get",
            template: "/api/v1/stats",
            cells: REVIEWERS_AUDITORS_ADMINS,
            default: &[403],
        },
        Row {
            method: "get",
            template: "/api/v1/coverage",
            cells: REVIEWERS_AUDITORS_ADMINS,
            default: &[403],
        },
        Row {
            method: "get",
            template: "/api/v1/bulletins",
            cells: REVIEWERS_AUDITORS_ADMINS,
            default: &[403],
        },
        Row {
            method: "get",
            template: "/api/v1/bulletins/{id}",
            // No bulletin is issued here: 404 for every reader, 403 before that for the rest.
            cells: &[
                ("anonymous", &[401]),
                ("township1", &[404]),
                ("township2", &[404]),
                ("county1", &[404]),
                ("prefecture1", &[404]),
                ("auditor1", &[404]),
                ("admin1", &[404]),
            ],
            default: &[403],
        },
        Row {
            method: "post",
            template: "/api/v1/exports",
            // Reviewers, auditors and admins export a unit within their jurisdiction (a job).
            cells: &[
                ("anonymous", &[401]),
                ("township1", &[202]),
                ("township2", &[404]),
                ("county1", &[202]),
                ("prefecture1", &[202]),
                ("auditor1", &[202]),
                ("admin1", &[202]),
            ],
            default: &[403],
        },
        Row {
            method: "get",
            template: "/api/v1/exports/{dataset}",
            // The same readers, answered at once for a small export.
            cells: &[
                ("anonymous", &[401]),
                ("township1", &[200]),
                ("township2", &[404]),
                ("county1", &[200]),
                ("prefecture1", &[200]),
                ("auditor1", &[200]),
                ("admin1", &[200]),
            ],
            default: &[403],
        },
        Row {
            method: "get",
            template: "/api/v1/jobs",
            // Everyone signed in lists the jobs they asked for.
            cells: SIGNED_IN_OK,
            default: &[200],
        },
        Row {
            method: "get",
            template: "/api/v1/jobs/{id}",
            // township1's export: theirs (and their unit's same role: no one else here).
            cells: &[("anonymous", &[401]), ("township1", &[200])],
            default: &[404],
        },
        Row {
            method: "get",
            template: "/api/v1/jobs/{id}/download",
            // Done, or not yet (409); nobody else learns it exists.
            cells: &[("anonymous", &[401]), ("township1", &[200, 409])],
            default: &[404],
        },
        Row {
            method: "post",
            template: "/api/v1/suspected-missed",
            // Surveyors and reviewers report in their own jurisdiction (the first 201, a resend
            // of the same report 200); outside it, and for auditors and admins, 403.
            cells: &[
                ("anonymous", &[401]),
                ("surveyor1", &[200, 201]),
                ("surveyor3", &[200, 201]),
                ("township1", &[200, 201]),
                ("county1", &[200, 201]),
                ("prefecture1", &[200, 201]),
            ],
            default: &[403],
        },
        Row {
            method: "get",
            template: "/api/v1/assignments",
            // A surveyor's own grid.
            cells: &[
                ("anonymous", &[401]),
                ("surveyor1", &[200]),
                ("surveyor3", &[200]),
                ("surveyor2", &[200]),
            ],
            default: &[403],
        },
        Row {
            method: "put",
            template: "/api/v1/households/{code}/assignment",
            // Reviewers of the household's township or above; another township's is told it
            // does not exist; no other role assigns.
            cells: &[
                ("anonymous", &[401]),
                ("township1", &[200]),
                ("county1", &[200]),
                ("prefecture1", &[200]),
                ("township2", &[404]),
            ],
            default: &[403],
        },
        Row {
            method: "get",
            template: "/api/v1/ledger/checkpoint",
            cells: &[],
            default: &[200],
        },
        Row {
            method: "post",
            template: "/api/v1/ledger/checkpoint",
            cells: &[
                ("anonymous", &[401]),
                ("auditor1", &[200]),
                ("admin1", &[200]),
            ],
            default: &[403],
        },
        Row {
            method: "get",
            template: "/api/v1/ledger/entries",
            cells: &[
                ("anonymous", &[401]),
                ("auditor1", &[200]),
                ("admin1", &[200]),
            ],
            default: &[403],
        },
        Row {
            method: "get",
            template: "/api/v1/ledger/proof/inclusion",
            cells: SIGNED_IN_OK,
            default: &[200],
        },
        Row {
            method: "get",
            template: "/api/v1/ledger/proof/consistency",
            cells: SIGNED_IN_OK,
            default: &[200],
        },
        // Resumable uploads: anyone may ask what is spoken; surveyors create; an upload is its
        // owner's alone (anyone else is told it does not exist).
        Row {
            method: "options",
            template: "/api/v1/uploads",
            cells: &[],
            default: &[204],
        },
        Row {
            method: "post",
            template: "/api/v1/uploads",
            cells: &[
                ("anonymous", &[401]),
                ("surveyor1", &[201]),
                ("surveyor3", &[201]),
                ("surveyor2", &[201]),
            ],
            default: &[403],
        },
        Row {
            method: "head",
            template: "/api/v1/uploads/{id}",
            cells: &[("anonymous", &[401]), ("surveyor1", &[200])],
            default: &[404],
        },
        Row {
            method: "patch",
            template: "/api/v1/uploads/{id}",
            cells: &[("anonymous", &[401]), ("surveyor1", &[204])],
            default: &[404],
        },
        Row {
            method: "delete",
            template: "/api/v1/uploads/{id}",
            cells: &[("anonymous", &[401]), ("surveyor1", &[204])],
            default: &[404],
        },
        Row {
            method: "get",
            template: "/healthz",
            cells: &[],
            default: &[200],
        },
        Row {
            method: "get",
            template: "/readyz",
            cells: &[],
            default: &[200],
        },
        Row {
            method: "get",
            template: "/metrics",
            cells: &[],
            default: &[200],
        },
    ]
}

#[test]
fn every_endpoint_answers_every_role_as_the_table_says() {
    let svc = Service::dev();
    let app = svc.client();
    svc.cli(
        &[
            "user",
            "add",
            "surveyor3",
            "--role",
            "surveyor",
            "--org",
            "522732101000",
            "--password-stdin",
        ],
        Some("demo-surveyor3\n"),
    );

    // The objects: surveyor1's signed-off submission with an open clue (unsafe water).
    let surveyor = app.token("surveyor1");
    let mut u = Upload::household_h1();
    u.doc["water"]["safe"] = json!(false);
    assert_eq!(
        app.upload(&surveyor, &u.signed_by(&Key::demo()), &u.parts)
            .status,
        202
    );
    let sub = app.wait_final(&surveyor, &u.id());
    assert_eq!(sub["status"], "signed_off", "{sub}");
    let clue = sub["clues"][0]["id"].as_str().unwrap().to_owned();
    // township1's export, a job for the jobs rows.
    let exported = app.post_json(
        Some(&app.token("township1")),
        "/api/v1/exports",
        &json!({"dataset": "households", "format": "csv", "org": "522732101000"}),
    );
    assert_eq!(exported.status, 202, "{}", exported.body);
    let job = exported.body["id"].as_str().unwrap().to_owned();

    // Every operation in the OpenAPI document has a row, and every row an operation.
    let doc = app.get(None, "/api/v1/openapi.json").body;
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.clone(), path.clone()))
        })
        .collect();
    let rows = table();
    let tabled: BTreeSet<(String, String)> = rows
        .iter()
        .map(|r| (r.method.to_owned(), r.template.to_owned()))
        .collect();
    assert_eq!(
        documented.difference(&tabled).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "endpoints without a row in the authorisation matrix"
    );
    assert_eq!(
        tabled.difference(&documented).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "rows for endpoints that do not exist"
    );

    let tokens: BTreeMap<&str, Option<String>> = CALLERS
        .iter()
        .map(|c| (*c, (*c != "anonymous").then(|| app.token(c))))
        .collect();

    let mut failures = Vec::new();
    for row in &rows {
        if row.template.starts_with("/api/v1/auth/") {
            continue;
        }
        for (caller, token) in &tokens {
            let expected = row
                .cells
                .iter()
                .find(|(c, _)| c == caller)
                .map(|(_, s)| *s)
                .unwrap_or(row.default);
            let token = token.as_deref();
            let status = call(&svc, row, caller, token, &u, &sub, &clue, &job);
            if !expected.contains(&status) {
                failures.push(format!(
                    "{} {} as {caller}: {status}, expected {expected:?}",
                    row.method.to_uppercase(),
                    row.template
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Inside / outside for lists: the queue and the clues hold only the caller's jurisdiction.
    for (caller, sees) in [("township1", 1), ("township2", 0)] {
        let t = tokens[caller].clone().unwrap();
        let q = app.get(Some(&t), "/api/v1/review/queue");
        let items = q.body["items"].as_array().unwrap();
        assert_eq!(items.is_empty(), sees == 0, "{caller}'s queue");
        assert!(
            items
                .iter()
                .all(|i| i["village_code"].as_str().unwrap().starts_with("522732101")),
            "only township 1's villages"
        );
        let s = app.get(Some(&t), "/api/v1/stats?org=522732101000");
        assert_eq!(
            s.status,
            if sees == 1 { 200 } else { 404 },
            "{caller}'s stats"
        );
    }
    // Sign-in: one's own credentials only.
    let r = app.post_json(
        None,
        "/api/v1/auth/login",
        &json!({"username": "township1", "password": "wrong"}),
    );
    assert_eq!(r.status, 401);
    let refresh = app.login("township1", "demo-township1")["refresh_token"].clone();
    assert_eq!(
        app.post_json(
            None,
            "/api/v1/auth/refresh",
            &json!({"refresh_token": refresh})
        )
        .status,
        200
    );
    assert_eq!(
        app.post_json(
            None,
            "/api/v1/auth/refresh",
            &json!({"refresh_token": "forged"})
        )
        .status,
        401
    );
}

/// One request of a row, for one caller (the objects it may name passed one by one).
#[allow(clippy::too_many_arguments)]
fn call(
    svc: &Service,
    row: &Row,
    caller: &str,
    token: Option<&str>,
    _u: &Upload,
    sub: &Value,
    clue: &str,
    job: &str,
) -> u16 {
    let app = &svc.client();
    let id = sub["id"].as_str().unwrap();
    let stale = "0".repeat(64);
    match (row.method, row.template) {
        ("post", "/api/v1/keys") => {
            app.post_json(
                token,
                "/api/v1/keys",
                &json!({
                    "public_key": Key::generate().public_b64(),
                    "enrolment_code": if token.is_some() { svc.enrolment_code(caller) } else { String::new() },
                }),
            )
            .status
        }
        ("post", "/api/v1/submissions") => {
            // A fresh survey of a household of township 1 (for surveyor3 signed with another's
            // key: accepted here, rejected by the worker as 代签 — not an authorisation matter).
            let fresh = Upload::household_h1();
            let survey = fresh.signed_by(&Key::demo()).to_string();
            let (body, ctype) = multipart(survey.as_bytes(), "application/json", &fresh.parts);
            app.post_raw(token, "/api/v1/submissions", &ctype, &body)
                .status
        }
        ("get", "/api/v1/submissions") => {
            app.get(token, "/api/v1/submissions?status=signed_off")
                .status
        }
        ("get", "/api/v1/submissions/{id}") => {
            app.get(token, &format!("/api/v1/submissions/{id}")).status
        }
        ("get", "/api/v1/submissions/{id}/photos/{part}") => {
            let part = sub["photos"][0]["part"].as_str().unwrap();
            app.get(token, &format!("/api/v1/submissions/{id}/photos/{part}"))
                .status
        }
        ("get", "/api/v1/submissions/{id}/photos/{part}/thumbnail") => {
            let part = sub["photos"][0]["part"].as_str().unwrap();
            app.get(
                token,
                &format!("/api/v1/submissions/{id}/photos/{part}/thumbnail"),
            )
            .status
        }
        ("post", "/api/v1/submissions/{id}/review") => {
            // Signed with the caller's own enrolled key, so authorisation decides.
            let path = format!("/api/v1/submissions/{id}/review");
            let body = json!({"decision": "approve", "digest": stale, "reasons": []});
            let body = match token {
                Some(_) => svc.person_key(caller).seal_for(caller, &path, body),
                None => body,
            };
            app.post_json(token, &path, &body).status
        }
        ("post", "/api/v1/spot-checks") => {
            app.post_json(
                token,
                "/api/v1/spot-checks",
                &json!({"org": "522732101000"}),
            )
            .status
        }
        ("post", "/api/v1/submissions/{id}/spot-check") => {
            let path = format!("/api/v1/submissions/{id}/spot-check");
            let body = json!({"decision": "confirm", "digest": stale});
            let body = match token {
                Some(_) => svc.person_key(caller).seal_for(caller, &path, body),
                None => body,
            };
            app.post_json(token, &path, &body).status
        }
        ("get", "/api/v1/review/queue") => app.get(token, "/api/v1/review/queue").status,
        ("get", "/api/v1/households/{code}/accountability") => {
            app.get(token, "/api/v1/households/522732101201-0001/accountability")
                .status
        }
        ("get", "/api/v1/households/{code}/dossier.pdf") => {
            app.get_bytes(token, "/api/v1/households/522732101201-0001/dossier.pdf", None)
                .status
        }
        ("post", "/api/v1/villages/{code}/dossiers") => {
            app.post_json(token, "/api/v1/villages/522732101201/dossiers", &json!({}))
                .status
        }
        ("get", "/api/v1/clues") => app.get(token, "/api/v1/clues").status,
        ("post", "/api/v1/clues/{id}/close") => {
            let path = format!("/api/v1/clues/{clue}/close");
            let body = json!({"reason": "matrix"});
            let body = match token {
                Some(_) => svc.person_key(caller).seal_for(caller, &path, body),
                None => body,
            };
            app.post_json(token, &path, &body).status
        }
        ("post", "/api/v1/clues") => {
            let deadline = (chrono::Utc::now() + chrono::Duration::days(3))
                .format("%Y-%m-%d")
                .to_string();
            let body = json!({"source": "inspection", "kind": "other", "description": "matrix",
                              "org": "522732101000", "deadline": deadline});
            let body = match token {
                Some(_) => svc
                    .person_key(caller)
                    .seal_for(caller, "/api/v1/clues", body),
                None => body,
            };
            app.post_json(token, "/api/v1/clues", &body).status
        }
        ("post", "/api/v1/clues/{id}/confirm") | ("post", "/api/v1/clues/{id}/reopen") => {
            let action = row.template.rsplit('/').next().unwrap_or_default();
            let path = format!("/api/v1/clues/{clue}/{action}");
            let body = json!({"reason": "matrix"});
            let body = match token {
                Some(_) => svc.person_key(caller).seal_for(caller, &path, body),
                None => body,
            };
            app.post_json(token, &path, &body).status
        }
        ("get", "/api/v1/stats") => app.get(token, "/api/v1/stats").status,
        ("post", "/api/v1/exports") => {
            let body = json!({"dataset": "households", "format": "xlsx", "org": "522732101000"});
            app.post_json(token, "/api/v1/exports", &body).status
        }
        ("get", "/api/v1/exports/{dataset}") => {
            app.get_bytes(
                token,
                "/api/v1/exports/households?format=csv&org=522732101000",
                None,
            )
            .status
        }
        ("get", "/api/v1/jobs") => app.get(token, "/api/v1/jobs").status,
        ("get", "/api/v1/jobs/{id}") => app.get(token, &format!("/api/v1/jobs/{job}")).status,
        ("get", "/api/v1/jobs/{id}/download") => {
            app.get_bytes(token, &format!("/api/v1/jobs/{job}/download"), None)
                .status
        }
        ("post", "/api/v1/suspected-missed") => {
            // One report per caller, with the survey's first photo.
            let report = json!({
                "id": uuid::Uuid::new_v4(),
                "village_code": "522732101201",
                "address": "matrix",
                "description": "matrix",
            });
            let photo = &_u.parts[0];
            let boundary = "fieldsurvey-matrix-report";
            let mut body = Vec::new();
            for (name, ctype, bytes) in [
                ("report", "application/json", report.to_string().into_bytes()),
                ("photo", photo.content_type.as_str(), photo.bytes.clone()),
            ] {
                body.extend_from_slice(
                    format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\nContent-Type: {ctype}\r\n\r\n").as_bytes(),
                );
                body.extend_from_slice(&bytes);
                body.extend_from_slice(b"\r\n");
            }
            body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
            let ctype = format!("multipart/form-data; boundary={boundary}");
            app.post_raw(token, "/api/v1/suspected-missed", &ctype, &body)
                .status
        }
        ("put", "/api/v1/households/{code}/assignment") => {
            app.put_json(
                token,
                "/api/v1/households/522732101201-0001/assignment",
                &json!({"surveyor": "surveyor1"}),
            )
            .status
        }
        ("get", "/api/v1/ledger/checkpoint") => app.get(token, "/api/v1/ledger/checkpoint").status,
        ("post", "/api/v1/ledger/checkpoint") => {
            app.post_json(token, "/api/v1/ledger/checkpoint", &json!({}))
                .status
        }
        ("get", "/api/v1/ledger/entries") => {
            app.get(token, "/api/v1/ledger/entries?from=1&to=2").status
        }
        ("get", "/api/v1/ledger/proof/inclusion") => {
            app.get(token, "/api/v1/ledger/proof/inclusion?seq=1&size=1")
                .status
        }
        ("get", "/api/v1/ledger/proof/consistency") => {
            app.get(token, "/api/v1/ledger/proof/consistency?from=1&to=1")
                .status
        }
        ("options", "/api/v1/uploads") => app.tus("OPTIONS", token, "/api/v1/uploads", &[], None).0,
        ("post", "/api/v1/uploads") => {
            app.tus("POST", token, "/api/v1/uploads", &[("Upload-Length", "10")], None)
                .0
        }
        (method, "/api/v1/uploads/{id}") => {
            // A fresh upload of surveyor1's each time (a DELETE removes it).
            let owner = app.token("surveyor1");
            let (status, upload) = app.tus(
                "POST",
                Some(&owner),
                "/api/v1/uploads",
                &[("Upload-Length", "10")],
                None,
            );
            assert_eq!(status, 201);
            let headers = [
                ("Upload-Offset", "0"),
                ("Content-Type", "application/offset+octet-stream"),
            ];
            match method {
                "patch" => app.tus("PATCH", token, &upload, &headers, Some(b"01234")).0,
                other => app.tus(&other.to_uppercase(), token, &upload, &[], None).0,
            }
        }
        ("get", path) => app.get(token, path).status,
        (m, p) => panic!("no request for {m} {p}"),
    }
}
