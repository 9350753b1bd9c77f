//! An HTTP client that speaks the service's API the way a field app or a reviewer does.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub struct Client {
    pub base: String,
    agent: ureq::Agent,
}

pub struct Reply {
    pub status: u16,
    pub content_type: String,
    /// The `Retry-After` header, empty when there is none.
    pub retry_after: String,
    pub body: Value,
    pub text: String,
}

/// A binary answer with the headers that matter for caching.
pub struct Bytes {
    pub status: u16,
    pub etag: String,
    pub content_type: String,
    pub cache_control: String,
    pub bytes: Vec<u8>,
}

/// One photo part of an upload.
pub struct Part {
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl Client {
    pub fn new(base: &str) -> Client {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .new_agent();
        Client {
            base: base.to_owned(),
            agent,
        }
    }

    fn reply(resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
        let mut resp = resp.expect("request failed at the transport level");
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let text = resp
            .body_mut()
            .with_config()
            .limit(50 * 1024 * 1024)
            .read_to_string()
            .unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            content_type,
            retry_after,
            body,
            text,
        }
    }

    pub fn get(&self, token: Option<&str>, path: &str) -> Reply {
        let mut req = self.agent.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        Self::reply(req.call())
    }

    /// A GET whose answer is bytes (a photo), optionally conditional on `If-None-Match`.
    pub fn get_bytes(&self, token: Option<&str>, path: &str, if_none_match: Option<&str>) -> Bytes {
        let mut req = self.agent.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        if let Some(tag) = if_none_match {
            req = req.header("If-None-Match", tag);
        }
        let mut resp = req.call().expect("request failed at the transport level");
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let (etag, content_type, cache_control) = (
            header("etag"),
            header("content-type"),
            header("cache-control"),
        );
        Bytes {
            status: resp.status().as_u16(),
            etag,
            content_type,
            cache_control,
            bytes: resp
                .body_mut()
                .with_config()
                .limit(50 * 1024 * 1024)
                .read_to_vec()
                .unwrap_or_default(),
        }
    }

    /// A browser-like GET with a `Cookie` header (the console).
    pub fn get_cookie(&self, cookie: &str, path: &str) -> Reply {
        Self::reply(
            self.agent
                .get(format!("{}{path}", self.base))
                .header("Cookie", cookie)
                .call(),
        )
    }

    /// Sign in to the console as a browser would (the sign-in form's token, then the form);
    /// returns the `Cookie` header value of the session.
    pub fn console_session(&self, user: &str, password: &str) -> String {
        let (reply, session) = self.console_form(user, password);
        let session =
            session.unwrap_or_else(|| panic!("{user} could not sign in: {}", reply.status));
        format!("fs_session={session}")
    }

    /// The console's answer to a sign-in (not following its redirect).
    pub fn console_sign_in(&self, user: &str, password: &str) -> Reply {
        self.console_form(user, password).0
    }

    fn console_form(&self, user: &str, password: &str) -> (Reply, Option<String>) {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .new_agent();
        let set_cookie = |resp: &ureq::http::Response<ureq::Body>, name: &str| {
            resp.headers()
                .get_all("set-cookie")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(|c| {
                    c.strip_prefix(&format!("{name}="))
                        .map(|rest| rest.split(';').next().unwrap_or_default().to_owned())
                })
        };
        let page = agent
            .get(format!("{}/console/login", self.base))
            .call()
            .unwrap();
        let token = set_cookie(&page, "fs_login").expect("the sign-in form's token");
        let resp = agent
            .post(format!("{}/console/login", self.base))
            .header("Cookie", format!("fs_login={token}"))
            .content_type("application/x-www-form-urlencoded")
            .send(format!("csrf={token}&username={user}&password={password}").as_bytes());
        let session = resp
            .as_ref()
            .ok()
            .and_then(|r| set_cookie(r, "fs_session"))
            .filter(|s| !s.is_empty());
        (Self::reply(resp), session)
    }

    /// A browser-like form POST with a `Cookie` header (the console).
    pub fn post_form(&self, cookie: &str, path: &str, form: &str) -> Reply {
        Self::reply(
            self.agent
                .post(format!("{}{path}", self.base))
                .header("Cookie", cookie)
                .content_type("application/x-www-form-urlencoded")
                .send(form.as_bytes()),
        )
    }

    pub fn post_json(&self, token: Option<&str>, path: &str, body: &Value) -> Reply {
        let mut req = self.agent.post(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        Self::reply(
            req.content_type("application/json")
                .send(body.to_string().as_bytes()),
        )
    }

    pub fn put_json(&self, token: Option<&str>, path: &str, body: &Value) -> Reply {
        let mut req = self.agent.put(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        Self::reply(
            req.content_type("application/json")
                .send(body.to_string().as_bytes()),
        )
    }

    pub fn post_raw(
        &self,
        token: Option<&str>,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> Reply {
        let mut req = self.agent.post(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        Self::reply(req.content_type(content_type).send(body))
    }

    pub fn login(&self, user: &str, password: &str) -> Value {
        let r = self.post_json(
            None,
            "/api/v1/auth/login",
            &json!({"username": user, "password": password}),
        );
        assert_eq!(r.status, 200, "login {user}: {}", r.text);
        r.body
    }

    /// An access token for a demo user (password `demo-<user>`).
    pub fn token(&self, user: &str) -> String {
        self.login(user, &format!("demo-{user}"))["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Upload a survey with its parts as multipart/form-data, the field app's way.
    pub fn upload(&self, token: &str, survey: &Value, parts: &[Part]) -> Reply {
        let (body, ctype) = multipart(survey.to_string().as_bytes(), "application/json", parts);
        self.post_raw(Some(token), "/api/v1/submissions", &ctype, &body)
    }

    /// A resumable-upload request (tus 1.0.0: `Tus-Resumable` added): status and `Location`.
    pub fn tus(
        &self,
        method: &str,
        token: Option<&str>,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> (u16, String) {
        let mut req = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("Tus-Resumable", "1.0.0");
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = match body {
            Some(b) => self.agent.run(req.body(b.to_vec()).unwrap()),
            None => self.agent.run(req.body(()).unwrap()),
        }
        .expect("request failed at the transport level");
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (resp.status().as_u16(), location)
    }

    /// Poll a submission until its status is final (not `queued`).
    pub fn wait_final(&self, token: &str, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let r = self.get(Some(token), &format!("/api/v1/submissions/{id}"));
            if r.status == 200 && r.body["status"] != "queued" {
                return r.body;
            }
            assert!(
                Instant::now() < deadline,
                "submission {id} still not final: {} {}",
                r.status,
                r.text
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A multipart/form-data body: the survey part first, then the photo parts.
pub fn multipart(survey: &[u8], survey_type: &str, parts: &[Part]) -> (Vec<u8>, String) {
    let boundary = format!("fieldsurvey-test-{}", uuid::Uuid::new_v4().simple());
    let mut out = Vec::new();
    let mut part = |name: &str, ctype: &str, data: &[u8]| {
        out.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\nContent-Type: {ctype}\r\n\r\n").as_bytes());
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
    };
    part("survey", survey_type, survey);
    for p in parts {
        part(&p.name, &p.content_type, &p.bytes);
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (out, format!("multipart/form-data; boundary={boundary}"))
}

/// A suspected-missed report's multipart body (`POST /api/v1/suspected-missed`): part
/// `report`, then the given photo parts.
pub fn report_body(report: &Value, photos: &[(&str, &str, Vec<u8>)]) -> (Vec<u8>, String) {
    let boundary = format!("fs-report-{}", uuid::Uuid::new_v4().simple());
    let mut out = Vec::new();
    let mut part = |name: &str, ctype: &str, data: &[u8]| {
        out.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\nContent-Type: {ctype}\r\n\r\n"
            )
            .as_bytes(),
        );
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
    };
    part("report", "application/json", report.to_string().as_bytes());
    for (name, ctype, bytes) in photos {
        part(name, ctype, bytes);
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (out, format!("multipart/form-data; boundary={boundary}"))
}
