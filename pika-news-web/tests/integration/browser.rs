//! `Browser`: headless Chromium driven over the DevTools protocol, so page
//! tests click, type and wait like a person: navigate, evaluate, click at an
//! element's centre, type text, press keys, take screenshots, and collect the
//! page's script errors (uncaught exceptions, console errors, blocked
//! scripts). Blocking: call it from a multi-threaded test runtime.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

/// Where Chromium is; a test fails with the fix when it is missing.
pub(crate) fn chromium() -> &'static str {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect(
            "headless Chromium is needed for this test: run `bash scripts/test-setup.sh` (it installs chromium)",
        )
}

/// Where screenshots go (`pika-news-web/tests/artifacts`, not committed).
pub(crate) fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub(crate) struct Browser {
    child: Child,
    _profile: tempfile::TempDir,
    ws: WebSocket<TcpStream>,
    next_id: u64,
    session: String,
    /// Script errors seen so far.
    pub(crate) errors: Vec<String>,
}

impl Browser {
    /// Starts Chromium with a fresh profile and opens one tab.
    pub(crate) fn launch() -> Self {
        let profile = tempfile::tempdir().unwrap();
        let child = Command::new(chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-port=0",
                "--window-size=1280,900",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromium starts");
        // Chromium writes the port it picked into the profile.
        let port_file = profile.path().join("DevToolsActivePort");
        let deadline = Instant::now() + Duration::from_secs(60);
        let (port, path) = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                let mut lines = text.lines();
                if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                    break (port.to_owned(), path.to_owned());
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromium did not open its DevTools port"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        // The port can be written a moment before the socket answers: try again.
        let ws = loop {
            let attempt = TcpStream::connect(format!("127.0.0.1:{port}"))
                .map_err(|e| e.to_string())
                .and_then(|stream| {
                    stream
                        .set_read_timeout(Some(Duration::from_secs(120)))
                        .map_err(|e| e.to_string())?;
                    tungstenite::client(format!("ws://127.0.0.1:{port}{path}"), stream)
                        .map(|(ws, _)| ws)
                        .map_err(|e| e.to_string())
                });
            match attempt {
                Ok(ws) => break ws,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("the DevTools websocket does not open: {e}"),
            }
        };
        let mut b = Self {
            child,
            _profile: profile,
            ws,
            next_id: 0,
            session: String::new(),
            errors: Vec::new(),
        };
        let target = b.browser_call("Target.createTarget", json!({"url": "about:blank"}));
        let target = target["targetId"].as_str().unwrap().to_owned();
        let attached = b.browser_call(
            "Target.attachToTarget",
            json!({"targetId": target, "flatten": true}),
        );
        b.session = attached["sessionId"].as_str().unwrap().to_owned();
        b.call("Runtime.enable", json!({}));
        b.call("Log.enable", json!({}));
        b.call("Page.enable", json!({}));
        b.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": false}),
        );
        b
    }

    fn send(&mut self, method: &str, params: Value, session: bool) -> Value {
        match self.send_inner(method, params, session) {
            Ok(v) => v,
            Err(e) => panic!("{method} failed: {e}"),
        }
    }

    fn send_inner(&mut self, method: &str, params: Value, session: bool) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if session {
            msg["sessionId"] = json!(self.session);
        }
        self.ws.send(Message::text(msg.to_string())).unwrap();
        loop {
            let text = match self.ws.read() {
                Ok(Message::Text(t)) => t,
                Ok(_) => continue,
                // A signal for another test's child process interrupted the read.
                Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::Interrupted => {
                    continue;
                }
                Err(e) => return Err(format!("DevTools does not answer: {e}")),
            };
            let v: Value = serde_json::from_str(&text).unwrap();
            if v["id"] == json!(id) {
                if let Some(e) = v.get("error") {
                    return Err(e.to_string());
                }
                return Ok(v["result"].clone());
            }
            self.note_event(&v);
        }
    }

    fn note_event(&mut self, v: &Value) {
        match v["method"].as_str() {
            Some("Runtime.exceptionThrown") => self
                .errors
                .push(format!("exception: {}", v["params"]["exceptionDetails"])),
            Some("Runtime.consoleAPICalled") if v["params"]["type"] == "error" => self
                .errors
                .push(format!("console.error: {}", v["params"]["args"])),
            Some("Log.entryAdded") if v["params"]["entry"]["level"] == "error" => {
                let text = v["params"]["entry"]["text"].as_str().unwrap_or("");
                // A failed favicon fetch is not the page's fault.
                if !text.contains("favicon") {
                    self.errors.push(format!("log: {}", v["params"]["entry"]));
                }
            }
            _ => {}
        }
    }

    fn browser_call(&mut self, method: &str, params: Value) -> Value {
        self.send(method, params, false)
    }

    /// A DevTools command on the tab.
    pub(crate) fn call(&mut self, method: &str, params: Value) -> Value {
        self.send(method, params, true)
    }

    /// Evaluates `expr` in the page (awaiting a promise) and returns its value.
    pub(crate) fn eval(&mut self, expr: &str) -> Value {
        match self.try_eval(expr) {
            Ok(v) => v,
            Err(e) => panic!("{expr}: {e}"),
        }
    }

    /// [`eval`](Self::eval), with an error instead of a panic (a page that
    /// navigates while it is asked something says so).
    fn try_eval(&mut self, expr: &str) -> Result<Value, String> {
        let r = self.send_inner(
            "Runtime.evaluate",
            json!({"expression": expr, "returnByValue": true, "awaitPromise": true}),
            true,
        )?;
        if let Some(e) = r.get("exceptionDetails") {
            return Err(e.to_string());
        }
        Ok(r["result"]["value"].clone())
    }

    /// Opens `url` and waits until the page has loaded.
    pub(crate) fn goto(&mut self, url: &str) {
        // Mark the page being left, so the wait below cannot see it as loaded.
        let _ = self.try_eval("window.__leaving = true");
        self.call("Page.navigate", json!({"url": url}));
        self.wait_for(
            "!window.__leaving && document.readyState === 'complete' && location.href !== 'about:blank'",
        );
    }

    /// Signs in as a user does: opens the sign-in form (going back to
    /// `page`, a path of `base`), types `token` into it, submits it, and
    /// waits until `page` has loaded with the cookie set.
    pub(crate) fn sign_in(&mut self, base: &str, token: &str, page: &str) {
        let back: String = page
            .chars()
            .map(|c| match c {
                '?' => "%3F".to_owned(),
                '&' => "%26".to_owned(),
                '=' => "%3D".to_owned(),
                c => c.to_string(),
            })
            .collect();
        self.goto(&format!("{base}/news/sign-in?back={back}"));
        self.click("input[name=token]");
        self.type_text(token);
        let _ = self.try_eval("window.__leaving = true");
        self.click("form.sign-in button[type=submit]");
        let page_json = serde_json::to_string(page).unwrap();
        self.wait_for(&format!(
            "!window.__leaving && document.readyState === 'complete' \
             && location.pathname + location.search === {page_json}"
        ));
    }

    /// Waits (up to 60 s) until `expr` is truthy; returns its value.
    pub(crate) fn wait_for(&mut self, expr: &str) -> Value {
        self.wait_for_within(expr, Duration::from_secs(60))
    }

    pub(crate) fn wait_for_within(&mut self, expr: &str, limit: Duration) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            // A page that is navigating answers nothing yet: ask again.
            let v = self
                .try_eval(&format!(
                    "(() => {{ try {{ return {expr}; }} catch (e) {{ return null; }} }})()"
                ))
                .unwrap_or(Value::Null);
            if !(v.is_null() || v == json!(false) || v == json!(0) || v == json!("")) {
                return v;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {expr}");
            std::thread::sleep(Duration::from_millis(40));
        }
    }

    /// Clicks the centre of the first element matching `selector`, as a mouse would.
    pub(crate) fn click(&mut self, selector: &str) {
        let sel = serde_json::to_string(selector).unwrap();
        let rect = self.eval(&format!(
            "(() => {{ const e = document.querySelector({sel}); if (!e) return null; e.scrollIntoView({{block: 'center'}}); \
             const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()"
        ));
        let (x, y) = match rect.as_array() {
            Some(a) => (a[0].as_f64().unwrap(), a[1].as_f64().unwrap()),
            None => panic!("nothing matches {selector}"),
        };
        for kind in ["mouseMoved", "mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}),
            );
        }
    }

    /// Types `text` into the focused element.
    pub(crate) fn type_text(&mut self, text: &str) {
        self.call("Input.insertText", json!({"text": text}));
    }

    /// Presses one key (`Enter`, `/`, `t`...), with Shift when asked.
    pub(crate) fn press(&mut self, key: &str, shift: bool) {
        let (code, vk, text) = match key {
            "Enter" => ("Enter".to_owned(), 13, "\r".to_owned()),
            "Escape" => ("Escape".to_owned(), 27, String::new()),
            "/" => ("Slash".to_owned(), 191, "/".to_owned()),
            k if k.len() == 1 => {
                let c = k.chars().next().unwrap();
                (
                    format!("Key{}", c.to_ascii_uppercase()),
                    c.to_ascii_uppercase() as i64,
                    k.to_owned(),
                )
            }
            other => panic!("no key {other}"),
        };
        let modifiers = if shift { 8 } else { 0 };
        let down = if text.is_empty() {
            "rawKeyDown"
        } else {
            "keyDown"
        };
        self.call(
            "Input.dispatchKeyEvent",
            json!({"type": down, "key": key, "code": code, "windowsVirtualKeyCode": vk, "text": text, "modifiers": modifiers}),
        );
        self.call(
            "Input.dispatchKeyEvent",
            json!({"type": "keyUp", "key": key, "code": code, "windowsVirtualKeyCode": vk, "modifiers": modifiers}),
        );
    }

    /// Emulates a light or dark colour scheme.
    pub(crate) fn color_scheme(&mut self, scheme: &str) {
        self.call(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme", "value": scheme}]}),
        );
    }

    /// Saves a PNG of the viewport (or the whole page) to `tests/artifacts/NAME`.
    pub(crate) fn screenshot(&mut self, name: &str, full_page: bool) -> PathBuf {
        let r = self.call(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": full_page}),
        );
        let bytes = base64(r["data"].as_str().unwrap());
        let path = artifacts().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// Fails with the script errors the page raised, if any.
    pub(crate) fn assert_no_script_errors(&mut self) {
        // Drain what arrived since the last command.
        self.eval("1");
        assert!(self.errors.is_empty(), "script errors: {:#?}", self.errors);
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.ws.send(Message::text(
            json!({"id": 0, "method": "Browser.close"}).to_string(),
        ));
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Standard base64 (screenshots come so).
fn base64(s: &str) -> Vec<u8> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for v in s.bytes().filter_map(value) {
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

#[test]
fn base64_decodes() {
    assert_eq!(base64("aGVsbG8gd29ybGQ="), b"hello world");
    assert_eq!(base64("YQ=="), b"a");
}
