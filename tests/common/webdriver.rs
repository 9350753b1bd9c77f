//! A small W3C WebDriver client (the handful of commands the console tests use) over the
//! test's HTTP client, driving Debian's chromium through chromedriver. The protocol is a few
//! JSON endpoints; a full WebDriver crate would add an HTTP/TLS stack to the build for these.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
    pub shots: PathBuf,
}

/// chromedriver and chromium, if installed. With `CI=true` their absence fails the test.
pub fn available(test: &str) -> bool {
    let ok = ["/usr/bin/chromedriver", "/usr/bin/chromium"]
        .iter()
        .all(|p| std::path::Path::new(p).exists());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{test}: chromium and chromedriver are required in CI (scripts/setup installs them)"
        );
        eprintln!("SKIPPED {test}: chromium or chromedriver not installed (scripts/setup)");
    }
    ok
}

impl Browser {
    pub fn start() -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .new_agent();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while agent.get(format!("{base}/status")).call().is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
        let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        let mut b = Browser {
            driver,
            base,
            session: String::new(),
            agent,
            shots,
        };
        let r = b.call(
            "POST",
            "/session",
            Some(json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": "/usr/bin/chromium",
                    "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                             "--disable-dev-shm-usage", "--window-size=1366,768",
                             "--lang=zh-CN"]
                }
            }}})),
        );
        b.session = r["sessionId"].as_str().expect("a session").to_owned();
        b
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body)
            .unwrap_or_else(|(err, message)| panic!("webdriver {method} {path}: {err}: {message}"))
    }

    /// A WebDriver command; its error code and message when the driver refuses it.
    fn try_call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, (String, String)> {
        let url = format!("{}{path}", self.base);
        let resp = match method {
            "GET" => self.agent.get(&url).call(),
            "DELETE" => self.agent.delete(&url).call(),
            _ => self
                .agent
                .post(&url)
                .content_type("application/json")
                .send(body.unwrap_or(json!({})).to_string().as_bytes()),
        };
        let text = resp
            .expect("chromedriver answers")
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        if let Some(err) = v["value"]["error"].as_str() {
            return Err((err.to_owned(), v["value"]["message"].to_string()));
        }
        Ok(v.get("value").cloned().unwrap_or(v))
    }

    fn s(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    pub fn goto(&self, url: &str) {
        self.call("POST", &self.s("/url"), Some(json!({ "url": url })));
    }

    pub fn url(&self) -> String {
        self.call("GET", &self.s("/url"), None)
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Wait (up to 15 s) until the page's address contains `part`; returns it.
    pub fn wait_url(&self, part: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let url = self.url();
            if url.contains(part) {
                return url;
            }
            assert!(
                Instant::now() < deadline,
                "still at {url}, waiting for {part}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn source(&self) -> String {
        self.call("GET", &self.s("/source"), None)
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub fn find(&self, css: &str) -> String {
        let v = self.call(
            "POST",
            &self.s("/element"),
            Some(json!({"using": "css selector", "value": css})),
        );
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v} on {}", self.source()))
            .to_owned()
    }

    pub fn count(&self, css: &str) -> usize {
        self.call(
            "POST",
            &self.s("/elements"),
            Some(json!({"using": "css selector", "value": css})),
        )
        .as_array()
        .map_or(0, Vec::len)
    }

    pub fn click(&self, css: &str) {
        let e = self.find(css);
        self.call("POST", &self.s(&format!("/element/{e}/click")), None);
    }

    pub fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.call(
            "POST",
            &self.s(&format!("/element/{e}/value")),
            Some(json!({ "text": text })),
        );
    }

    /// Run `script` in the page as an async function body (its `return` is awaited) and give
    /// back what it returns.
    pub fn run_async(&self, script: &str, args: Value) -> Value {
        let wrapped = format!(
            "const done = arguments[arguments.length - 1];\n\
             (async (...args) => {{ {script} }})(...Array.from(arguments).slice(0, -1))\n\
             .then(done, (e) => done({{error: String(e && e.message || e)}}));"
        );
        self.call(
            "POST",
            &self.s("/execute/async"),
            Some(json!({"script": wrapped, "args": args})),
        )
    }

    /// Cut the browser off the network (Chromium's emulation: the page and its service worker
    /// see `offline`), or put it back.
    pub fn offline(&self, offline: bool) {
        self.call(
            "POST",
            &self.s("/chromium/network_conditions"),
            Some(json!({"network_conditions": {
                "offline": offline, "latency": 0,
                "download_throughput": 1_000_000_000, "upload_throughput": 1_000_000_000
            }})),
        );
    }

    /// Press and release one key on the page (WebDriver's key codes: U+E012 is ←, U+E014 →,
    /// U+E00C Esc), as a person at the keyboard would, wherever the focus is.
    pub fn press(&self, key: &str) {
        self.call(
            "POST",
            &self.s("/actions"),
            Some(
                json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
                    {"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}
                ]}]}),
            ),
        );
        self.call("DELETE", &self.s("/actions"), None);
    }

    pub fn text(&self, css: &str) -> String {
        let e = self.find(css);
        self.call("GET", &self.s(&format!("/element/{e}/text")), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The element's text, or nothing while the page is still being replaced: the element
    /// may be missing, or found and then detached before its text is read (a stale element).
    fn text_now(&self, css: &str) -> String {
        let found = self.try_call(
            "POST",
            &self.s("/element"),
            Some(json!({"using": "css selector", "value": css})),
        );
        let Some(e) = found
            .ok()
            .and_then(|v| v[ELEMENT].as_str().map(str::to_owned))
        else {
            return String::new();
        };
        match self.try_call("GET", &self.s(&format!("/element/{e}/text")), None) {
            Ok(v) => v.as_str().unwrap_or_default().to_owned(),
            Err((err, _)) if err == "stale element reference" => String::new(),
            Err((err, message)) => panic!("webdriver text of {css}: {err}: {message}"),
        }
    }

    /// Wait (up to 20 s) until the element's text contains `needle`; the text.
    pub fn wait_text(&self, css: &str, needle: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let text = self.text_now(css);
            if text.contains(needle) {
                return text;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{css} never showed {needle:?}: {text:?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// A DOM property of an element (e.g. an image's `naturalWidth`).
    pub fn property(&self, element: &str, name: &str) -> Value {
        self.call(
            "GET",
            &self.s(&format!("/element/{element}/property/{name}")),
            None,
        )
    }

    pub fn elements(&self, css: &str) -> Vec<String> {
        self.call(
            "POST",
            &self.s("/elements"),
            Some(json!({"using": "css selector", "value": css})),
        )
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e[ELEMENT].as_str().unwrap().to_owned())
        .collect()
    }

    pub fn cookie(&self, name: &str) -> String {
        self.call("GET", &self.s(&format!("/cookie/{name}")), None)["value"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Save a screenshot of the whole page (the window stretched to the page's height, up to
    /// 6,000 px, then put back) as `target/console-screenshots/NAME.png`.
    pub fn screenshot(&self, name: &str) {
        let height = self
            .call(
                "POST",
                &self.s("/execute/sync"),
                Some(json!({"script": "return document.documentElement.scrollHeight", "args": []})),
            )
            .as_u64()
            .unwrap_or(768)
            .clamp(768, 6000);
        self.call(
            "POST",
            &self.s("/window/rect"),
            Some(json!({"width": 1366, "height": height + 100})),
        );
        let b64 = self.call("GET", &self.s("/screenshot"), None);
        self.call(
            "POST",
            &self.s("/window/rect"),
            Some(json!({"width": 1366, "height": 768})),
        );
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap())
            .unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self
                .agent
                .delete(format!("{}/session/{}", self.base, self.session))
                .call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
