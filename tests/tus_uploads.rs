//! Resumable photo uploads (tus 1.0.0 at `/api/v1/uploads`) and JSON submissions naming them,
//! on the embedded backend and on PostgreSQL + RabbitMQ: the protocol's answers (create, HEAD,
//! PATCH in pieces, wrong offset, wrong checksum, expiry, termination, another user's upload,
//! over-size), a connection cut mid-PATCH resuming from the stored offset with the photo's
//! bytes received about once, and a survey sent as JSON reaching `signed_off` — or refused with
//! the reason when an upload is unfinished or not the photo the signed survey declares.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::survey::{Key, Upload, sha256_hex};
use common::{Service, real_services};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// A field app's tus client, as plain as the protocol.
struct Tus {
    base: String,
    token: String,
    agent: ureq::Agent,
}

struct Answer {
    status: u16,
    headers: ureq::http::HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    fn offset(&self) -> Option<u64> {
        self.header("upload-offset").and_then(|v| v.parse().ok())
    }
}

impl Tus {
    fn new(svc: &Service, user: &str) -> Tus {
        Tus {
            base: svc.base.clone(),
            token: svc.client().token(user),
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(60)))
                .build()
                .new_agent(),
        }
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Option<&[u8]>,
    ) -> Answer {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let mut req = ureq::http::Request::builder()
            .method(method)
            .uri(url)
            .header("Authorization", format!("Bearer {}", self.token));
        for (k, v) in headers {
            req = req.header(*k, v.as_str());
        }
        let resp = match body {
            Some(b) => self.agent.run(req.body(b.to_vec()).unwrap()),
            None => self.agent.run(req.body(()).unwrap()),
        };
        let mut resp = resp.expect("transport");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = if method == "HEAD" {
            String::new()
        } else {
            resp.body_mut().read_to_string().unwrap_or_default()
        };
        Answer {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    fn v() -> (&'static str, String) {
        ("Tus-Resumable", "1.0.0".to_owned())
    }

    /// Create an upload of `length` bytes: its path.
    fn create(&self, length: usize, filetype: &str) -> String {
        let meta = format!("filetype {}", STANDARD.encode(filetype));
        let a = self.call(
            "POST",
            "/api/v1/uploads",
            &[
                Self::v(),
                ("Upload-Length", length.to_string()),
                ("Upload-Metadata", meta),
            ],
            None,
        );
        assert_eq!(a.status, 201, "{}", a.body);
        assert_eq!(a.header("tus-resumable").as_deref(), Some("1.0.0"));
        assert!(a.header("upload-expires").unwrap().ends_with(" GMT"));
        let loc = a.header("location").unwrap();
        assert!(loc.starts_with("/api/v1/uploads/"), "{loc}");
        loc
    }

    fn head(&self, loc: &str) -> Answer {
        self.call("HEAD", loc, &[Self::v()], None)
    }

    fn patch(&self, loc: &str, offset: u64, bytes: &[u8], checksum: Option<String>) -> Answer {
        let mut h = vec![
            Self::v(),
            ("Upload-Offset", offset.to_string()),
            ("Content-Type", "application/offset+octet-stream".to_owned()),
        ];
        if let Some(c) = checksum {
            h.push(("Upload-Checksum", c));
        }
        self.call("PATCH", loc, &h, Some(bytes))
    }

    /// A whole photo as one finished upload: its id.
    fn upload(&self, bytes: &[u8]) -> String {
        let loc = self.create(bytes.len(), "image/jpeg");
        let a = self.patch(&loc, 0, bytes, None);
        assert_eq!(a.status, 204, "{}", a.body);
        assert_eq!(a.offset(), Some(bytes.len() as u64));
        loc.rsplit('/').next().unwrap().to_owned()
    }
}

fn sha256_b64(bytes: &[u8]) -> String {
    format!("sha256 {}", STANDARD.encode(Sha256::digest(bytes)))
}

fn bytes_received(svc: &Service) -> u64 {
    let text = svc.client().get(None, "/metrics").text;
    text.lines()
        .find_map(|l| l.strip_prefix("fieldsurvey_upload_bytes_received_total "))
        .map(|v| v.trim().parse::<f64>().unwrap() as u64)
        .unwrap_or(0)
}

fn protocol(svc: &Service) {
    let tus = Tus::new(svc, "surveyor1");
    let photo = &Upload::household_h1().parts[0].bytes;
    let len = photo.len();

    // What the server speaks.
    let o = tus.call("OPTIONS", "/api/v1/uploads", &[], None);
    assert_eq!(o.status, 204);
    assert_eq!(o.header("tus-version").as_deref(), Some("1.0.0"));
    assert_eq!(
        o.header("tus-extension").as_deref(),
        Some("creation,expiration,termination,checksum")
    );
    assert_eq!(
        o.header("tus-checksum-algorithm").as_deref(),
        Some("sha256")
    );
    let max: u64 = o.header("tus-max-size").unwrap().parse().unwrap();
    assert_eq!(max, 15 * 1024 * 1024);

    // Create, HEAD at 0, PATCH in three pieces (the second with its checksum).
    let loc = tus.create(len, "image/jpeg");
    let h = tus.head(&loc);
    assert_eq!(h.status, 200);
    assert_eq!(h.offset(), Some(0));
    assert_eq!(h.header("upload-length"), Some(len.to_string()));
    assert_eq!(h.header("tus-resumable").as_deref(), Some("1.0.0"));
    let (a, b) = (len / 3, 2 * len / 3);
    let r = tus.patch(&loc, 0, &photo[..a], None);
    assert_eq!((r.status, r.offset()), (204, Some(a as u64)), "{}", r.body);
    assert_eq!(tus.head(&loc).offset(), Some(a as u64));

    // A wrong offset: 409, nothing changes.
    let r = tus.patch(&loc, 0, &photo[..a], None);
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.body["code"], "offset_mismatch");
    assert_eq!(r.header("tus-resumable").as_deref(), Some("1.0.0"));
    common::assert_in_chinese(&r.body);

    // A wrong checksum: 460, the chunk discarded, the offset unchanged.
    let r = tus.patch(
        &loc,
        a as u64,
        &photo[a..b],
        Some(sha256_b64(b"other bytes")),
    );
    assert_eq!(r.status, 460, "{}", r.body);
    assert_eq!(r.body["code"], "checksum_mismatch");
    common::assert_in_chinese(&r.body);
    assert_eq!(tus.head(&loc).offset(), Some(a as u64));
    // The right one.
    let r = tus.patch(&loc, a as u64, &photo[a..b], Some(sha256_b64(&photo[a..b])));
    assert_eq!((r.status, r.offset()), (204, Some(b as u64)), "{}", r.body);
    let r = tus.patch(&loc, b as u64, &photo[b..], None);
    assert_eq!(
        (r.status, r.offset()),
        (204, Some(len as u64)),
        "{}",
        r.body
    );
    let id = loc.rsplit('/').next().unwrap();
    assert_eq!(
        svc.sql_text(&format!(
            "SELECT sha256 AS t FROM uploads WHERE id = '{id}'"
        )),
        sha256_hex(photo),
        "the hash computed as the bytes arrived is the photo's"
    );

    // Not tus 1.0.0: 412 naming the version spoken.
    let r = tus.call("HEAD", &loc, &[("Tus-Resumable", "0.2.2".into())], None);
    assert_eq!(r.status, 412);
    assert_eq!(r.header("tus-version").as_deref(), Some("1.0.0"));

    // Another user's upload is not there for them; a reviewer may not create one.
    let other = Tus::new(svc, "surveyor2");
    assert_eq!(other.head(&loc).status, 404);
    assert_eq!(other.patch(&loc, len as u64, b"", None).status, 404);
    assert_eq!(other.call("DELETE", &loc, &[Tus::v()], None).status, 404);
    let reviewer = Tus::new(svc, "township1");
    let r = reviewer.call(
        "POST",
        "/api/v1/uploads",
        &[Tus::v(), ("Upload-Length", "10".into())],
        None,
    );
    assert_eq!(r.status, 403);

    // Over the photo limit: 413 at creation; more bytes than declared: 413, nothing kept.
    let r = tus.call(
        "POST",
        "/api/v1/uploads",
        &[Tus::v(), ("Upload-Length", (max + 1).to_string())],
        None,
    );
    assert_eq!(r.status, 413, "{}", r.body);
    common::assert_in_chinese(&r.body);
    let small = tus.create(4, "image/jpeg");
    let r = tus.patch(&small, 0, b"12345", None);
    assert_eq!(r.status, 413, "{}", r.body);
    assert_eq!(tus.head(&small).offset(), Some(0));
    // Missing or unreadable headers: 400 naming the header; wrong body type: 415.
    let r = tus.call("POST", "/api/v1/uploads", &[Tus::v()], None);
    assert_eq!(r.status, 400);
    assert_eq!(r.body["errors"][0]["code"], "invalid_upload_header");
    common::assert_in_chinese(&r.body);
    let r = tus.call(
        "PATCH",
        &small,
        &[
            Tus::v(),
            ("Upload-Offset", "0".into()),
            ("Content-Type", "image/jpeg".into()),
        ],
        Some(b"1234"),
    );
    assert_eq!(r.status, 415);

    // Terminate: 204, then 404.
    let r = tus.call("DELETE", &small, &[Tus::v()], None);
    assert_eq!(r.status, 204);
    assert_eq!(tus.head(&small).status, 404);

    // Expired (backdated): 410, and the upkeep collects it.
    let old = tus.create(10, "image/jpeg");
    let old_id = old.rsplit('/').next().unwrap();
    svc.sql(&format!(
        "UPDATE uploads SET created_at = '2020-01-01 00:00:00', expires_at = '2020-01-08 00:00:00' WHERE id = '{old_id}'"
    ));
    let r = tus.head(&old);
    assert_eq!(r.status, 410);
    let r = tus.patch(&old, 0, b"0123456789", None);
    assert_eq!(r.status, 410);
    assert_eq!(r.body["code"], "upload_expired");
    common::assert_in_chinese(&r.body);
    let deadline = Instant::now() + Duration::from_secs(30);
    while svc.sql_count(&format!(
        "SELECT COUNT(*) AS n FROM uploads WHERE id = '{old_id}'"
    )) > 0
    {
        assert!(
            Instant::now() < deadline,
            "the expired upload was not collected"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(tus.head(&old).status, 404);

    // Unfinished uploads per account are capped (MAX_UNFINISHED_UPLOADS=4 here): 429.
    let open: Vec<String> = (0..4).map(|_| tus.create(10, "image/png")).collect();
    let r = tus.call(
        "POST",
        "/api/v1/uploads",
        &[Tus::v(), ("Upload-Length", "10".into())],
        None,
    );
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.body["code"], "too_many_uploads");
    common::assert_in_chinese(&r.body);
    for loc in open {
        assert_eq!(tus.call("DELETE", &loc, &[Tus::v()], None).status, 204);
    }
}

/// A PATCH from `offset` that sends only `bytes[offset..cut]` of the body it declares: raw
/// TCP. With `stall`, the client then waits for the server's answer (the body stopped
/// arriving: 408 after the idle limit), which is returned; otherwise the connection is cut.
fn partial_patch(
    svc: &Service,
    token: &str,
    loc: &str,
    bytes: &[u8],
    (offset, cut): (usize, usize),
    stall: bool,
) -> String {
    use std::io::Read;
    let addr = svc.base.strip_prefix("http://").unwrap();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "PATCH {loc} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nTus-Resumable: 1.0.0\r\n\
         Upload-Offset: {offset}\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: {}\r\n\r\n",
        bytes.len() - offset
    )
    .unwrap();
    s.write_all(&bytes[offset..cut]).unwrap();
    s.flush().unwrap();
    if stall {
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut answer = vec![0u8; 512];
        let n = s.read(&mut answer).unwrap_or(0);
        return String::from_utf8_lossy(&answer[..n]).into_owned();
    }
    std::thread::sleep(Duration::from_millis(300));
    s.shutdown(std::net::Shutdown::Both).unwrap();
    String::new()
}

/// HEAD until the offset is `want` (the server notices a cut a moment later).
fn offset_becomes(tus: &Tus, loc: &str, want: usize) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let h = tus.head(loc);
        assert_eq!(h.status, 200);
        let o = h.offset().unwrap();
        if o == want as u64 || Instant::now() > deadline {
            return o;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn resume_after_a_cut(svc: &Service) {
    let tus = Tus::new(svc, "surveyor1");
    let photo = &Upload::household_h1().parts[1].bytes;
    let len = photo.len();
    let cut = len * 9 / 10;
    let before = bytes_received(svc);
    let loc = tus.create(len, "image/jpeg");
    // A stall past the idle limit (BODY_IDLE_TIMEOUT_SECS=2 here) after a third: 408, and the
    // third is kept.
    let third = len / 3;
    let answer = partial_patch(svc, &tus.token, &loc, photo, (0, third), true);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert_eq!(offset_becomes(&tus, &loc, third), third as u64);
    // Then the connection cut at 90%: every byte that arrived is kept.
    partial_patch(svc, &tus.token, &loc, photo, (third, cut), false);
    let offset = offset_becomes(&tus, &loc, cut);
    assert_eq!(offset, cut as u64, "every byte that arrived is kept");
    let id = loc.rsplit('/').next().unwrap();
    assert_eq!(
        svc.sql_count(&format!(
            "SELECT upload_offset AS n FROM uploads WHERE id = '{id}'"
        )),
        cut as i64
    );
    // Resume from there (after a restart of the hash state, the stored prefix is re-read).
    let r = tus.patch(&loc, offset, &photo[cut..], None);
    assert_eq!(
        (r.status, r.offset()),
        (204, Some(len as u64)),
        "{}",
        r.body
    );
    let received = bytes_received(svc) - before;
    assert!(
        received >= len as u64 && received <= len as u64 + len as u64 / 50,
        "the photo's {len} bytes were received about once, not {received}"
    );
    assert_eq!(
        svc.sql_text(&format!(
            "SELECT sha256 AS t FROM uploads WHERE id = '{id}'"
        )),
        sha256_hex(photo)
    );
}

fn json_submissions(svc: &Service) {
    let app = svc.client();
    let tus = Tus::new(svc, "surveyor1");
    let key = Key::demo();
    let upload = Upload::household_h1();
    let ids: Vec<String> = upload.parts.iter().map(|p| tus.upload(&p.bytes)).collect();
    let uploads: serde_json::Map<String, Value> = upload
        .parts
        .iter()
        .zip(&ids)
        .map(|(p, id)| (p.name.clone(), json!(id)))
        .collect();
    let survey = upload.signed_by(&key);
    let body = json!({"survey": survey, "uploads": uploads});
    let r = app.post_json(Some(&tus.token), "/api/v1/submissions", &body);
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.body["status"], "queued");
    let view = app.wait_final(&tus.token, &upload.id());
    assert_eq!(view["status"], "signed_off", "{view}");
    assert_eq!(view["photos"].as_array().unwrap().len(), 3);
    // A resend is the same submission; other content under the id is 409.
    let r = app.post_json(Some(&tus.token), "/api/v1/submissions", &body);
    assert_eq!(r.status, 200, "{}", r.text);
    let mut other = survey.clone();
    other["remarks"] = json!("改过");
    let r = app.post_json(
        Some(&tus.token),
        "/api/v1/submissions",
        &json!({"survey": other, "uploads": uploads}),
    );
    assert_eq!(r.status, 409, "{}", r.text);

    // An upload whose bytes are not the photo the survey declares: refused with the reason.
    let next = Upload::household_h1();
    let mut swapped = uploads.clone();
    swapped.insert("p1".into(), json!(ids[1]));
    let r = app.post_json(
        Some(&tus.token),
        "/api/v1/submissions",
        &json!({"survey": next.signed_by(&key), "uploads": swapped}),
    );
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["errors"][0]["code"], "upload_hash_mismatch");
    assert_eq!(r.body["errors"][0]["field"], "uploads.p1");
    common::assert_in_chinese(&r.body);
    // An unfinished upload, an unknown one, and another user's: every reason at once.
    let half = tus.create(next.parts[2].bytes.len(), "image/jpeg");
    assert_eq!(
        tus.patch(&half, 0, &next.parts[2].bytes[..100], None)
            .status,
        204
    );
    let theirs = Tus::new(svc, "surveyor2").upload(&next.parts[1].bytes);
    let r = app.post_json(
        Some(&tus.token),
        "/api/v1/submissions",
        &json!({"survey": next.signed_by(&key), "uploads": {
            "p1": ids[0], "p2": theirs, "p3": half.rsplit('/').next().unwrap()
        }}),
    );
    assert_eq!(r.status, 400, "{}", r.text);
    let codes: Vec<&str> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["unknown_upload", "upload_incomplete"], "{}", r.text);
    common::assert_in_chinese(&r.body);
    assert_eq!(
        app.get(
            Some(&tus.token),
            &format!("/api/v1/submissions/{}", next.id())
        )
        .status,
        404,
        "nothing was taken"
    );
    // The rules of the form hold as they do for multipart: no survey is 400, a reviewer 403.
    let r = app.post_json(
        Some(&tus.token),
        "/api/v1/submissions",
        &json!({"uploads": {}}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.body["errors"][0]["code"], "missing_survey");
    let r = app.post_json(Some(&app.token("township1")), "/api/v1/submissions", &body);
    assert_eq!(r.status, 403);
}

/// Expired uploads collected every second, a 2 s idle limit, four unfinished uploads each.
const SETTINGS: &[(&str, &str)] = &[
    ("QUEUE_VACUUM_SECS", "1"),
    ("BODY_IDLE_TIMEOUT_SECS", "2"),
    ("MAX_UNFINISHED_UPLOADS", "4"),
];

#[test]
fn resumable_uploads_and_json_submissions_on_the_embedded_backend() {
    let svc = Service::dev_with(SETTINGS);
    protocol(&svc);
    resume_after_a_cut(&svc);
    json_submissions(&svc);
}

#[test]
fn resumable_uploads_and_json_submissions_on_postgres_and_rabbitmq() {
    let Some((pg, amqp)) =
        real_services("resumable_uploads_and_json_submissions_on_postgres_and_rabbitmq")
    else {
        return;
    };
    let svc = Service::production_with(&pg, &amqp, &amqp, 1, SETTINGS);
    protocol(&svc);
    resume_after_a_cut(&svc);
    json_submissions(&svc);
}
