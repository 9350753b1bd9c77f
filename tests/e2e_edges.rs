//! Bad input, authentication and jurisdiction at the API's edge, the operations endpoints, and
//! personal data kept out of logs and metrics. Run on `dev` (the HTTP layer is the same code in
//! every deployment).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::Service;
use common::client::{Part, multipart};
use common::survey::{Key, Upload};
use serde_json::json;

#[test]
fn bad_uploads_get_a_clear_answer_and_change_nothing() {
    let svc = Service::dev();
    let app = svc.client();
    let token = app.token("surveyor1");
    let key = Key::demo();
    let upload = Upload::household_h1();
    let survey = upload.signed_by(&key);
    let path = "/api/v1/submissions";

    // 413: a survey part over 256 KiB, 13 photos, a photo over 15 MiB.
    let mut big = survey.clone();
    big["remarks"] = json!("长".repeat(100_000));
    let r = app.upload(&token, &big, &upload.parts);
    assert_eq!(r.status, 413, "{}", r.text);
    assert_eq!(r.content_type, "application/problem+json");
    assert_eq!(r.body["errors"][0]["field"], "survey");
    let many: Vec<Part> = (0..13)
        .map(|i| Part {
            name: format!("x{i}"),
            content_type: "image/jpeg".into(),
            bytes: vec![0xff; 10],
        })
        .collect();
    let r = app.upload(&token, &survey, &many);
    assert_eq!(r.status, 413);
    assert_eq!(r.body["errors"][0]["field"], "photos");
    let huge = vec![Part {
        name: "p1".into(),
        content_type: "image/jpeg".into(),
        bytes: vec![0xff; 16 * 1024 * 1024],
    }];
    let r = app.upload(&token, &survey, &huge);
    assert_eq!(r.status, 413);
    assert_eq!(r.body["errors"][0]["field"], "photo", "{}", r.text);
    assert!(
        r.body["detail"].as_str().unwrap().contains("单张照片"),
        "{}",
        r.text
    );
    common::assert_in_chinese(&r.body);

    // 415: not multipart, a survey part that is not JSON, a photo part that is not an image.
    let r = app.post_raw(Some(&token), path, "text/plain", b"hello");
    assert_eq!(r.status, 415);
    common::assert_in_chinese(&r.body);
    let (body, ctype) = multipart(survey.to_string().as_bytes(), "text/html", &[]);
    assert_eq!(app.post_raw(Some(&token), path, &ctype, &body).status, 415);
    let html = vec![Part {
        name: "p1".into(),
        content_type: "text/html".into(),
        bytes: b"<html>".to_vec(),
    }];
    assert_eq!(app.upload(&token, &survey, &html).status, 415);

    // 400: malformed multipart, a survey that is not JSON, one without a usable id.
    let r = app.post_raw(
        Some(&token),
        path,
        "multipart/form-data; boundary=xyz",
        b"--xyz\r\nnot a part header\r\n\r\n",
    );
    assert_eq!(r.status, 400, "{}", r.text);
    let (body, ctype) = multipart(b"{not json", "application/json", &[]);
    let r = app.post_raw(Some(&token), path, &ctype, &body);
    assert_eq!(r.status, 400);
    assert_eq!(r.body["errors"][0]["code"], "invalid_document");
    common::assert_in_chinese(&r.body);
    let mut no_id = survey.clone();
    no_id["id"] = json!("not-a-uuid");
    no_id["household_code"] = json!("nope");
    let r = app.upload(&token, &no_id, &upload.parts);
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body["errors"].as_array().unwrap().len(),
        2,
        "every reason: {}",
        r.text
    );
    common::assert_in_chinese(&r.body);

    // 401: no token, a tampered token, alg none.
    assert_eq!(app.upload("", &survey, &upload.parts).status, 401);
    let parts: Vec<&str> = token.split('.').collect();
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let mut forged = claims.clone();
    forged["role"] = json!("admin");
    forged["exp"] = json!(claims["exp"].as_u64().unwrap() + 86_400);
    let forged_payload = URL_SAFE_NO_PAD.encode(forged.to_string());
    let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    assert_eq!(app.upload(&tampered, &survey, &upload.parts).status, 401);
    let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    assert_eq!(
        app.upload(
            &format!("{none_header}.{}.", parts[1]),
            &survey,
            &upload.parts
        )
        .status,
        401
    );
    let mut expired = claims.clone();
    expired["exp"] = json!(1_000_000);
    let expired = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(expired.to_string()),
        parts[2]
    );
    assert_eq!(
        app.get(
            Some(&expired),
            "/api/v1/submissions/00000000-0000-0000-0000-000000000000"
        )
        .status,
        401
    );

    // 403: another township's household, and a reviewer uploading.
    let mut elsewhere = Upload::household_h1();
    elsewhere.doc["household_code"] = json!("522732102201-0001");
    let r = app.upload(&token, &elsewhere.signed_by(&key), &elsewhere.parts);
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(
        app.upload(&app.token("township1"), &survey, &upload.parts)
            .status,
        403
    );

    // None of it stored anything: the id is unknown.
    let r = app.get(
        Some(&token),
        &format!("/api/v1/submissions/{}", upload.id()),
    );
    assert_eq!(r.status, 404);
    assert_eq!(
        app.get(
            Some(&token),
            &format!("/api/v1/submissions/{}", elsewhere.id())
        )
        .status,
        404
    );
}

#[test]
fn submissions_are_visible_inside_the_jurisdiction_only() {
    let svc = Service::dev();
    let app = svc.client();
    let token = app.token("surveyor1");
    let upload = Upload::household_h1();
    assert_eq!(
        app.upload(&token, &upload.signed_by(&Key::demo()), &upload.parts)
            .status,
        202
    );
    app.wait_final(&token, &upload.id());
    let path = format!("/api/v1/submissions/{}", upload.id());
    assert_eq!(app.get(Some(&app.token("township1")), &path).status, 200);
    assert_eq!(app.get(Some(&app.token("county1")), &path).status, 200);
    let other = app.get(Some(&app.token("township2")), &path);
    assert_eq!(other.status, 404, "outside the jurisdiction looks absent");
    assert_eq!(app.get(Some(&app.token("surveyor2")), &path).status, 404);
    assert_eq!(app.get(None, &path).status, 401);
}

#[test]
fn tokens_rotate_and_a_deactivated_user_stops_at_once() {
    let svc = Service::dev();
    let app = svc.client();
    let pair = app.login("surveyor2", "demo-surveyor2");
    assert_eq!(
        app.post_json(
            None,
            "/api/v1/auth/login",
            &json!({"username": "surveyor2", "password": "wrong"})
        )
        .status,
        401
    );
    let refresh = pair["refresh_token"].as_str().unwrap();
    let next = app.post_json(
        None,
        "/api/v1/auth/refresh",
        &json!({"refresh_token": refresh}),
    );
    assert_eq!(next.status, 200, "{}", next.text);
    assert_ne!(next.body["refresh_token"], pair["refresh_token"]);
    let reused = app.post_json(
        None,
        "/api/v1/auth/refresh",
        &json!({"refresh_token": refresh}),
    );
    assert_eq!(reused.status, 401, "the old refresh token stops working");
    let successor = next.body["refresh_token"].as_str().unwrap();
    let after_reuse = app.post_json(
        None,
        "/api/v1/auth/refresh",
        &json!({"refresh_token": successor}),
    );
    assert_eq!(
        after_reuse.status, 401,
        "reusing a spent token revokes its whole family"
    );

    let access = next.body["access_token"].as_str().unwrap();
    let key = Key::generate();
    let code = svc.enrolment_code("surveyor2");
    assert_eq!(
        app.post_json(
            Some(access),
            "/api/v1/keys",
            &json!({"public_key": key.public_b64(), "enrolment_code": code.to_lowercase()})
        )
        .status,
        201,
        "a code is read however it is typed"
    );

    // A password alone enrols nothing: the code is required, the caller's own, one-time, and
    // valid 24 h. Every refusal leaves the keys as they were.
    let other = Key::generate();
    let enrol = |code: &str| {
        app.post_json(
            Some(access),
            "/api/v1/keys",
            &json!({"public_key": other.public_b64(), "enrolment_code": code}),
        )
    };
    let r = app.post_json(
        Some(access),
        "/api/v1/keys",
        &json!({"public_key": other.public_b64()}),
    );
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (403, Some("enrolment_code_required")),
        "{}",
        r.text
    );
    for (code, what) in [
        (svc.enrolment_code("surveyor1"), "someone else's code"),
        ("ABCD-EFGH-JKMN".to_owned(), "an unknown code"),
        (code, "a used code"),
    ] {
        let r = enrol(&code);
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (403, Some("invalid_enrolment_code")),
            "{what}: {}",
            r.text
        );
    }
    let expired = svc.enrolment_code("surveyor2");
    svc.sql("UPDATE enrolment_codes SET expires_at = '2020-01-01 00:00:00' WHERE used_at IS NULL");
    let r = enrol(&expired);
    assert_eq!(r.status, 403, "an expired code: {}", r.text);
    assert!(r.text.contains("已过期"), "{}", r.text);
    assert_eq!(
        svc.sql_count(
            "SELECT count(*) AS n FROM signing_keys k JOIN users u ON u.id = k.user_id \
             WHERE u.username = 'surveyor2'"
        ),
        1,
        "only the key enrolled with a valid code"
    );
    assert_eq!(
        svc.sql_count(
            "SELECT count(*) AS n FROM ledger_entries WHERE entry LIKE '%enrolment_code_issued%' \
             AND entry LIKE '%\"username\":\"surveyor%'"
        ),
        // The demo's own for the field app (one each for surveyor1 and surveyor2) and the three
        // issued here.
        5,
        "every code issued is on record"
    );
    svc.cli(&["user", "deactivate", "surveyor2"], None);
    let r = app.post_json(
        Some(access),
        "/api/v1/keys",
        &json!({"public_key": Key::generate().public_b64()}),
    );
    assert_eq!(
        r.status, 401,
        "the unexpired token of a deactivated user is refused"
    );
}

#[test]
fn operations_endpoints_answer_and_personal_data_stays_out_of_logs() {
    let svc = Service::dev();
    let app = svc.client();
    let token = app.token("surveyor1");
    let canary_id = "110101199003074514";
    let canary_name = "测试金丝雀";
    let mut upload = Upload::household_h1();
    upload.doc["members"][0]["id_number"] = json!(canary_id);
    upload.doc["members"][0]["name"] = json!(canary_name);
    let r = app.upload(&token, &upload.signed_by(&Key::demo()), &upload.parts);
    assert_eq!(r.status, 202);
    let sub = app.wait_final(&token, &upload.id());
    assert_eq!(sub["status"], "signed_off", "{sub}");
    // And a rejected one: its reasons name the field, never the value.
    let mut bad = Upload::household_h1();
    bad.doc["members"][1]["id_number"] = json!(canary_id);
    bad.doc["members"][0]["id_number"] = json!(canary_id);
    bad.doc["members"][1]["name"] = json!(canary_name);
    assert_eq!(
        app.upload(&token, &bad.signed_by(&Key::demo()), &bad.parts)
            .status,
        202
    );
    let rejected = app.wait_final(&token, &bad.id());
    assert!(!rejected["rejections"].to_string().contains(canary_id));
    assert!(!rejected["rejections"].to_string().contains(canary_name));

    assert_eq!(app.get(None, "/healthz").status, 200);
    let ready = app.get(None, "/readyz");
    assert_eq!(ready.status, 200);
    assert_eq!(ready.body, json!({"database": true, "broker": true}));
    let metrics = app.get(None, "/metrics").text;
    assert!(
        metrics.contains("fieldsurvey_http_request_duration_seconds"),
        "{metrics}"
    );
    assert!(
        metrics.contains("fieldsurvey_uploads_total{result=\"accepted\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains("fieldsurvey_outbox_backlog"));
    let openapi = app.get(None, "/api/v1/openapi.json");
    assert_eq!(openapi.status, 200);
    for path in [
        "/api/v1/submissions",
        "/api/v1/submissions/{id}",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/keys",
        "/readyz",
    ] {
        assert!(
            openapi.body["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }

    let logs = svc.logs();
    assert!(
        logs.contains(&upload.id()),
        "the logs do name the submission"
    );
    assert!(!logs.contains(canary_id), "an ID number reached the logs");
    assert!(!logs.contains(canary_name), "a name reached the logs");
    assert!(!metrics.contains(canary_id));
}

/// One HTTP/1.1 exchange on a fresh connection, read to its end: status, headers (names in
/// lower case) and whatever bytes followed them. A client library would not read a body after
/// a HEAD even if the server sent one; this does.
fn raw_exchange(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    use std::io::{Read, Write};
    let host = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head");
    let head = String::from_utf8_lossy(&answer[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, answer[end + 4..].to_vec())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn head_is_get_without_the_body() {
    let svc = Service::dev();
    let app = svc.client();
    let token = app.token("surveyor1");
    let upload = Upload::household_h1();
    let r = app.upload(&token, &upload.signed_by(&Key::demo()), &upload.parts);
    assert_eq!(r.status, 202, "{}", r.text);
    let path = format!("/api/v1/submissions/{}", upload.id());
    let cases = [
        ("/api/v1/openapi.json", None),
        ("/healthz", None),
        (path.as_str(), Some(token.as_str())),
        ("/console/login", None),
    ];
    for (path, token) in cases {
        let (get, get_headers, body) = raw_exchange(&app.base, "GET", path, token);
        assert_eq!(get, 200, "GET {path}");
        let (head, head_headers, nothing) = raw_exchange(&app.base, "HEAD", path, token);
        assert_eq!(head, 200, "HEAD {path}");
        assert!(
            nothing.is_empty(),
            "HEAD {path} sent {} bytes",
            nothing.len()
        );
        assert_eq!(
            header(&head_headers, "content-type"),
            header(&get_headers, "content-type"),
            "HEAD {path}"
        );
        if header(&get_headers, "content-length").is_some() {
            assert_eq!(
                header(&head_headers, "content-length"),
                Some(body.len().to_string().as_str()),
                "HEAD {path} gives the GET's length"
            );
        }
    }
    // The rest of the GET's answer holds too: no token, no submission.
    let (status, headers, nothing) = raw_exchange(&app.base, "HEAD", &path, None);
    assert_eq!(status, 401);
    assert_eq!(
        header(&headers, "content-type"),
        Some("application/problem+json")
    );
    assert!(nothing.is_empty());
    // A path without GET still refuses HEAD, and says what it takes.
    let (status, headers, _) = raw_exchange(&app.base, "HEAD", "/api/v1/auth/login", None);
    assert_eq!(status, 405);
    assert_eq!(header(&headers, "allow"), Some("POST"));
    let (status, headers, _) = raw_exchange(&app.base, "DELETE", "/healthz", None);
    assert_eq!(status, 405);
    assert_eq!(header(&headers, "allow"), Some("GET, HEAD"));
}
