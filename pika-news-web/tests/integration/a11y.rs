//! Accessibility and layout of every page in headless Chromium, against a
//! real server with a green, a red and a running lane: axe-core finds no
//! serious or critical violation in light and dark at 1400 and 390 px; at
//! 390 px nothing overflows the page sideways and tables are cards; the
//! theme picker is remembered and applied before the page is drawn;
//! reduced motion stops the animations; keyboard focus is visible.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::browser::Browser;
use crate::page_env::{PageEnv, nightly, scene};

/// Where `scripts/test-setup.sh` installs axe-core (`AXE_CORE_JS` overrides).
const AXE_DEFAULT: &str = "/opt/axe-core/node_modules/axe-core/axe.min.js";

/// axe-core's script; a test fails with the fix when it is missing.
fn axe_source() -> String {
    let path = std::env::var_os("AXE_CORE_JS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(AXE_DEFAULT));
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "axe-core is needed for this test and {} cannot be read ({e}): run \
             `bash scripts/test-setup.sh` (it runs `npm install --prefix /opt/axe-core axe-core@4`), \
             or set AXE_CORE_JS to an axe.min.js",
            path.display()
        )
    })
}

/// Sets the viewport width (a phone's is emulated as mobile).
fn viewport(b: &mut Browser, width: u32) {
    b.call(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 760}),
    );
}

/// The serious and critical violations axe finds on the open page, each as
/// `rule (impact): help; where`.
fn axe_violations(b: &mut Browser, axe: &str) -> Vec<String> {
    // DevTools evaluation is not bound by the page's Content-Security-Policy.
    b.eval(&format!("{axe};\ntrue"));
    let found = b.eval(
        "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations
           .filter(v => v.impact === 'serious' || v.impact === 'critical')
           .map(v => v.id + ' (' + v.impact + '): ' + v.help + '; ' +
                v.nodes.map(n => n.target.join(' ') + ' ' + (n.failureSummary || '')
                  .replace(/\\s+/g, ' ')).join(' | ')))",
    );
    found
        .as_array()
        .expect("axe answers a list")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_owned())
        .collect()
}

/// A branch whose one lane is still queued (the scene has green, red and
/// running lanes): its status is on the overview and its page.
async fn queued_branch(env: &PageEnv) -> pika_news_core::db::BranchId {
    let branch = env.branch("waiting").await;
    let suite = env.suite(branch).await;
    env.lane(suite, "later", "a lane not started yet").await;
    env.refresh(suite).await;
    branch
}

/// The contrast (WCAG) of what axe cannot measure: text drawn by CSS
/// (`::before`, the line numbers) and, on the open page, one status of each
/// kind put in `main`. Each entry `what: ratio`, below 4.5 only.
fn low_contrast_axe_cannot_see(b: &mut Browser) -> Vec<String> {
    b.eval(
        "(() => {
           const rgb = c => { const m = c.match(/[\\d.]+/g).map(Number); return m; };
           const lum = ([r, g, b]) => [r, g, b].map(v => { v /= 255;
             return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); })
             .reduce((a, v, i) => a + v * [0.2126, 0.7152, 0.0722][i], 0);
           const ratio = (f, b) => { const [x, y] = [lum(rgb(f)), lum(rgb(b))].sort((p, q) => q - p);
             return (x + 0.05) / (y + 0.05); };
           const bgOf = e => { for (; e; e = e.parentElement) { const c = getComputedStyle(e).backgroundColor;
             if (!/rgba\\(.*, 0\\)$/.test(c) && c !== 'transparent') return c; } return 'rgb(255, 255, 255)'; };
           const low = [];
           const probe = document.createElement('div');
           for (const w of ['passed', 'failed', 'running', 'queued', 'cancelled', 'skipped']) {
             const sp = document.createElement('span'); sp.className = 'st st-' + w; sp.textContent = w; probe.append(sp);
           }
           document.querySelector('main').append(probe);
           for (const sp of probe.children) {
             const r = ratio(getComputedStyle(sp).color, bgOf(sp));
             if (r < 4.5) low.push(sp.className + ': ' + r.toFixed(2));
           }
           probe.remove();
           for (const n of document.querySelectorAll('.l .n')) {
             const r = ratio(getComputedStyle(n, '::before').color, bgOf(n));
             if (r < 4.5) { low.push('line number ' + n.dataset.n + ': ' + r.toFixed(2)); break; }
           }
           return low;
         })()",
    )
    .as_array()
    .expect("a list")
    .iter()
    .map(|v| v.as_str().unwrap_or_default().to_owned())
    .collect()
}

/// Opens the 403 page as a browser meets it: a form on another origin
/// (here `about:blank`) posting a token to the sign-in route.
fn open_forbidden(b: &mut Browser, base: &str, token: &str) {
    b.call("Page.navigate", json!({"url": "about:blank"}));
    b.wait_for("location.href === 'about:blank' && document.readyState === 'complete'");
    let action = serde_json::to_string(&format!("{base}/news/sign-in")).unwrap();
    let token = serde_json::to_string(token).unwrap();
    b.eval(&format!(
        "(() => {{ const f = document.createElement('form'); f.method = 'post'; f.action = {action};
           for (const [k, v] of [['token', {token}], ['back', '/news/ci']]) {{
             const i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v;
             f.appendChild(i); }}
           document.body.appendChild(f); f.submit(); return true; }})()"
    ));
    b.wait_for(
        "location.pathname === '/news/sign-in' && document.readyState === 'complete' \
         && document.title.startsWith('Not allowed')",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_has_no_serious_axe_violation_in_light_and_dark_at_both_widths() {
    let axe = axe_source();
    let env = PageEnv::new();
    let s = scene(&env).await;
    let (nightly_id, nightly_lane, _) = nightly(&env, s.main).await;
    let waiting = queued_branch(&env).await;
    let (base, server) = env.serve().await;
    let mut b = Browser::launch();
    let mut failures = Vec::new();
    let mut checked = 0;
    let pages: Vec<(&str, String)> = vec![
        ("overview", "/news/ci".to_owned()),
        ("branch", format!("/news/branch/{}/ci", s.main)),
        ("running branch", format!("/news/branch/{}/ci", s.hostile)),
        ("queued branch", format!("/news/branch/{waiting}/ci")),
        (
            "red lane",
            format!("/news/branch/{}/ci/lane/{}", s.main, s.failed_lane),
        ),
        (
            "host log",
            format!(
                "/news/branch/{}/ci/lane/{}?job=test&kind=host&timestamps=1",
                s.main, s.failed_lane
            ),
        ),
        (
            "running lane",
            format!("/news/branch/{}/ci/lane/{}", s.hostile, s.hostile_lane),
        ),
        ("nightly", format!("/news/nightly/{nightly_id}")),
        (
            "nightly lane",
            format!("/git/nightly/{nightly_id}/lane/{nightly_lane}"),
        ),
        ("sign-in when signed in", "/news/sign-in".to_owned()),
        ("404", "/news/no/such/page".to_owned()),
        ("404 under /git", "/git/nightly/999".to_owned()),
    ];
    for width in [1400, 390] {
        viewport(&mut b, width);
        for scheme in ["light", "dark"] {
            b.color_scheme(scheme);
            // Signed out: the sign-in form (as a page without a token shows
            // it, with its alert) and the 403.
            b.call("Network.clearBrowserCookies", json!({}));
            b.goto(&format!("{base}/news/ci"));
            assert_eq!(b.eval("document.title"), json!("Sign in · pika-news"));
            for v in axe_violations(&mut b, &axe) {
                failures.push(format!("sign-in {width}px {scheme}: {v}"));
            }
            b.screenshot(&format!("a11y-sign-in-{width}-{scheme}.png"), false);
            open_forbidden(&mut b, &base, &env.read);
            for v in axe_violations(&mut b, &axe) {
                failures.push(format!("403 {width}px {scheme}: {v}"));
            }
            b.screenshot(&format!("a11y-403-{width}-{scheme}.png"), false);
            checked += 2;
            // Signed in as a writer, so the buttons are checked too.
            b.sign_in(&base, &env.write, "/news/ci");
            for (name, path) in &pages {
                b.goto(&format!("{base}{path}"));
                if name.contains("lane") || name.contains("log") {
                    b.wait_for("window.pikaNewsViewer");
                }
                for v in axe_violations(&mut b, &axe) {
                    failures.push(format!("{name} ({path}) {width}px {scheme}: {v}"));
                }
                for v in low_contrast_axe_cannot_see(&mut b) {
                    failures.push(format!("{name} ({path}) {width}px {scheme}: contrast {v}"));
                }
                let file: String = name
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                    .collect();
                b.screenshot(&format!("a11y-{file}-{width}-{scheme}.png"), false);
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 2 * 2 * (2 + pages.len()));
    // The 401, 403 and 404 pages were asked for: their statuses are no fault.
    b.errors
        .retain(|e| !e.contains("the server responded with a status of 4"));
    assert!(
        failures.is_empty(),
        "{} serious or critical axe violations:\n{}",
        failures.len(),
        failures.join("\n")
    );
    b.assert_no_script_errors();
    drop(b);
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_phone_width_nothing_overflows_and_tables_are_cards() {
    let env = PageEnv::new();
    let s = scene(&env).await;
    let (nightly_id, _, _) = nightly(&env, s.main).await;
    let (base, server) = env.serve().await;
    let mut b = Browser::launch();
    b.sign_in(&base, &env.write, "/news/ci");
    viewport(&mut b, 390);
    for path in [
        "/news/ci".to_owned(),
        format!("/news/branch/{}/ci", s.main),
        format!("/news/branch/{}/ci", s.hostile),
        format!("/news/branch/{}/ci/lane/{}", s.main, s.failed_lane),
        format!("/news/branch/{}/ci/lane/{}", s.hostile, s.hostile_lane),
        format!("/news/nightly/{nightly_id}"),
        "/news/sign-in".to_owned(),
        "/news/nope".to_owned(),
    ] {
        b.goto(&format!("{base}{path}"));
        // A page wider than a phone makes a mobile browser widen its layout
        // viewport (and zoom out) past the device's 390 px.
        assert_eq!(
            b.eval("innerWidth"),
            json!(390),
            "{path}: the page widened the layout viewport"
        );
        let (scroll, inner) = (
            b.eval("document.scrollingElement.scrollWidth"),
            b.eval("innerWidth"),
        );
        assert!(
            scroll.as_u64().unwrap() <= inner.as_u64().unwrap(),
            "{path}: the page is {scroll} px wide in a {inner} px window; wider: {}",
            b.eval(
                "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > innerWidth + 0.5)
                   .slice(0, 8).map(e => e.tagName + '.' + e.className).join(', ')"
            )
        );
        // Every table: its header row hidden but there (screen readers),
        // its rows blocks inside the window.
        let tables = b.eval(
            "[...document.querySelectorAll('table.grid')].map(t => {
               const row = t.querySelector('tbody tr'); const head = t.querySelector('thead');
               return {row: getComputedStyle(row).display, head: head.getBoundingClientRect().height,
                       right: row.getBoundingClientRect().right, border: getComputedStyle(row).borderTopStyle}; })",
        );
        for t in tables.as_array().unwrap() {
            assert_eq!(t["row"], json!("flex"), "{path}: {t}");
            assert!(t["head"].as_f64().unwrap() <= 1.0, "{path}: {t}");
            assert!(t["right"].as_f64().unwrap() <= 390.5, "{path}: {t}");
            assert_eq!(
                t["border"],
                json!("solid"),
                "{path}: a card has its own border: {t}"
            );
        }
        let name = path.trim_start_matches('/').replace('/', "-");
        b.screenshot(&format!("phone-{name}.png"), true);
    }
    // The 404 page was asked for: its status is no fault.
    b.errors
        .retain(|e| !e.contains("the server responded with a status of 404"));
    // At a desk's width the tables are tables.
    viewport(&mut b, 1400);
    b.goto(&format!("{base}/news/ci"));
    assert_eq!(
        b.eval("getComputedStyle(document.querySelector('table.grid tbody tr')).display"),
        json!("table-row")
    );
    b.assert_no_script_errors();
    drop(b);
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_theme_is_remembered_and_applied_before_the_page_is_drawn() {
    let env = PageEnv::new();
    let s = scene(&env).await;
    let (base, server) = env.serve().await;
    let mut b = Browser::launch();
    b.color_scheme("light");
    // What the root says when <body> first exists, on every page opened.
    b.call(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({"source": "new MutationObserver((_, o) => { if (document.body) { \
            window.__themeAtBody = document.documentElement.getAttribute('data-theme') || 'auto'; \
            o.disconnect(); } }).observe(document, {childList: true, subtree: true});"}),
    );
    b.sign_in(&base, &env.read, "/news/ci");
    let bg = "getComputedStyle(document.body).backgroundColor";
    assert_eq!(b.eval(bg), json!("rgb(255, 255, 255)"));
    // The picker is shown (the script runs) and says auto.
    assert_eq!(
        b.eval("document.querySelector('.theme').hidden"),
        json!(false)
    );
    assert_eq!(
        b.eval("document.getElementById('theme').value"),
        json!("auto")
    );
    // Choosing dark: applied at once and remembered.
    b.eval(
        "(() => { const s = document.getElementById('theme'); s.value = 'dark'; \
          s.dispatchEvent(new Event('change')); return true; })()",
    );
    assert_eq!(b.eval(bg), json!("rgb(13, 17, 23)"));
    assert_eq!(
        b.eval("localStorage.getItem('pika-news-theme')"),
        json!("dark")
    );
    // Another page: dark before the body was drawn (no flash of light),
    // though the system says light.
    b.goto(&format!("{base}/news/branch/{}/ci", s.main));
    assert_eq!(b.eval("window.__themeAtBody"), json!("dark"));
    assert_eq!(b.eval(bg), json!("rgb(13, 17, 23)"));
    assert_eq!(
        b.eval("document.getElementById('theme').value"),
        json!("dark")
    );
    // Light wins over a dark system; auto follows the system again.
    b.eval(
        "(() => { const s = document.getElementById('theme'); s.value = 'light'; \
          s.dispatchEvent(new Event('change')); return true; })()",
    );
    b.color_scheme("dark");
    b.goto(&format!("{base}/news/ci"));
    assert_eq!(b.eval("window.__themeAtBody"), json!("light"));
    assert_eq!(b.eval(bg), json!("rgb(255, 255, 255)"));
    b.eval(
        "(() => { const s = document.getElementById('theme'); s.value = 'auto'; \
          s.dispatchEvent(new Event('change')); return true; })()",
    );
    assert_eq!(
        b.eval("localStorage.getItem('pika-news-theme')"),
        Value::Null
    );
    assert_eq!(b.eval(bg), json!("rgb(13, 17, 23)"));
    // The picker's dark and the system's dark are the same colours, and so
    // are the two lights (the style sheet states the dark ones twice).
    let colours = "(() => { const st = getComputedStyle(document.documentElement); \
        return ['--bg', '--fg', '--muted', '--border', '--soft', '--link', '--pass', '--fail', '--run', \
        '--queue', '--log-bg', '--log-fg', '--log-muted', '--hl', '--on-link'] \
        .map(p => p + ' ' + st.getPropertyValue(p).trim()).join('; '); })()";
    let set = |t: &str| {
        format!(
            "(() => {{ const s = document.getElementById('theme'); s.value = '{t}'; \
             s.dispatchEvent(new Event('change')); return true; }})()"
        )
    };
    for system in ["dark", "light"] {
        b.color_scheme(system);
        let by_system = b.eval(colours);
        let other = if system == "dark" { "light" } else { "dark" };
        b.color_scheme(other);
        b.eval(&set(system));
        assert_eq!(b.eval(colours), by_system, "the picker's {system}");
        b.eval(&set("auto"));
    }
    b.assert_no_script_errors();
    drop(b);
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reduced_motion_stops_the_animations_and_keyboard_focus_is_visible() {
    let env = PageEnv::new();
    let s = scene(&env).await;
    let (base, server) = env.serve().await;
    let mut b = Browser::launch();
    b.sign_in(&base, &env.read, &format!("/news/branch/{}/ci", s.hostile));
    let pulse = "getComputedStyle(document.querySelector('.st-running'), '::before').animationName";
    assert_eq!(b.eval(pulse), json!("pulse"), "a running lane pulses");
    b.call(
        "Emulation.setEmulatedMedia",
        json!({"features": [{"name": "prefers-reduced-motion", "value": "reduce"}]}),
    );
    assert_eq!(b.eval(pulse), json!("none"));
    // The first Tab reaches the skip link, which shows itself with an outline.
    b.eval("document.activeElement.blur(); true");
    b.call(
        "Input.dispatchKeyEvent",
        json!({"type": "keyDown", "key": "Tab", "code": "Tab", "windowsVirtualKeyCode": 9}),
    );
    b.call(
        "Input.dispatchKeyEvent",
        json!({"type": "keyUp", "key": "Tab", "code": "Tab", "windowsVirtualKeyCode": 9}),
    );
    assert_eq!(b.eval("document.activeElement.className"), json!("skip"));
    let focus = b.eval(
        "(() => { const e = document.activeElement, st = getComputedStyle(e), r = e.getBoundingClientRect();
           return [st.outlineStyle, st.outlineWidth, r.top >= 0]; })()",
    );
    assert_eq!(focus, json!(["solid", "2px", true]));
    b.assert_no_script_errors();
    drop(b);
    server.abort();
}
