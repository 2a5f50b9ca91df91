//! The branch CI page: `/news/branch/{branch_id}/ci`.
//!
//! Suites, lanes and jobs are rendered on the server; a small script (no
//! external assets) shows a job's log tail first, loads earlier parts on
//! demand, renders ANSI colours, and refreshes while lanes run.

use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use pikaci_core::FailureKind;

use super::pikaci::load_run;
use super::query::{self, Params};
use crate::auth::{COOKIE, ReadAccess};
use crate::db::{BranchId, LaneStatus};
use crate::error::ApiError;
use crate::state::AppState;

/// Escapes text for HTML.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r"
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ddd;padding:.3em .6em;text-align:left}
.passed{color:#1a7f37}.failed{color:#cf222e}.running,.queued{color:#9a6700}.cancelled,.skipped{color:#666}
pre#log{background:#111;color:#ddd;padding:1em;max-height:70vh;overflow:auto;white-space:pre-wrap}
.b{font-weight:bold}.c30{color:#555}.c31{color:#f55}.c32{color:#5d5}.c33{color:#dd5}.c34{color:#59f}.c35{color:#d5d}.c36{color:#5dd}.c37{color:#eee}
button{margin:.2em}
";

const SCRIPT: &str = r#"
const CHUNK = 65536;
let cur = null;
function ansi(text, into) {
  const re = /\x1b\[([0-9;]*)m/g; let last = 0, cls = [], m;
  const put = (s) => { if (!s) return; const span = document.createElement('span'); span.textContent = s; span.className = cls.join(' '); into.appendChild(span); };
  while ((m = re.exec(text))) {
    put(text.slice(last, m.index)); last = re.lastIndex;
    for (const p of (m[1] || '0').split(';').map(Number)) {
      if (p === 0) cls = []; else if (p === 1) cls.push('b');
      else if (p >= 30 && p <= 37) cls = cls.filter(c => !c.startsWith('c')).concat('c' + p);
      else if (p >= 90 && p <= 97) cls = cls.filter(c => !c.startsWith('c')).concat('c' + (p - 60));
    }
  }
  put(text.slice(last).replace(/\x1b\[[0-9;]*[A-Za-z]/g, ''));
}
async function api(url) { const r = await fetch(url, {credentials: 'same-origin'}); if (!r.ok) throw new Error((await r.json()).error); return r.json(); }
async function show(base, field, title) {
  const d = await api(`${base}&tail=${CHUNK}`);
  const info = field === 'guest' ? d.guest_log : d;
  cur = {base, field, offset: info ? info.offset : 0};
  const pre = document.getElementById('log'); pre.textContent = ''; ansi(d[field] || '', pre);
  document.getElementById('logtitle').textContent = title;
  document.getElementById('earlier').hidden = !(cur.offset > 0);
  pre.scrollTop = pre.scrollHeight;
}
async function earlier() {
  if (!cur || cur.offset === 0) return;
  const start = Math.max(0, cur.offset - CHUNK);
  const d = await api(`${cur.base}&offset=${start}&limit=${cur.offset - start}`);
  const pre = document.getElementById('log'); const frag = document.createElement('div'); ansi(d[cur.field] || '', frag);
  pre.insertBefore(frag, pre.firstChild); cur.offset = start;
  document.getElementById('earlier').hidden = cur.offset === 0;
}
function openLog(b) {
  if (b.dataset.run) show(`/news/api/forge/pikaci/logs/${b.dataset.run}?job=${encodeURIComponent(b.dataset.job)}&kind=guest`, 'guest', `${b.dataset.job} (run ${b.dataset.run})`);
  else show(`/news/api/forge/lane/${b.dataset.lane}/log?`, 'log', `lane run ${b.dataset.lane}`);
}
document.addEventListener('click', (e) => { const b = e.target.closest('[data-run],[data-lane]'); if (b) openLog(b); });
const first = document.querySelector('[data-run]') || document.querySelector('[data-lane]'); if (first) openLog(first);
if (document.body.dataset.active === '1') setTimeout(() => location.reload(), 5000);
"#;

/// `GET /news/branch/{branch_id}/ci`. A `?token=` is exchanged for an
/// HttpOnly cookie and dropped from the address.
pub(crate) async fn branch_ci(
    State(state): State<AppState>,
    Path(branch_id): Path<String>,
    Query(params): Query<Params>,
    access: Result<ReadAccess, ApiError>,
) -> Result<Response, ApiError> {
    let id: BranchId = query::row_id("branch id", &branch_id)?;
    if let Some(token) = params.get("token") {
        if state.db.token_role(token).await?.is_none() {
            return Err(ApiError::Unauthorized);
        }
        let cookie = format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/news");
        let mut resp = Redirect::to(&format!("/news/branch/{id}/ci")).into_response();
        resp.headers_mut().insert(
            header::SET_COOKIE,
            cookie
                .parse()
                .map_err(|_| ApiError::BadRequest("invalid token".into()))?,
        );
        return Ok(resp);
    }
    access?;
    let branch = state
        .db
        .branch(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("branch {id} not found")))?;
    let suites = state.db.suites(id).await?;
    let active = suites
        .iter()
        .flat_map(|s| &s.lanes)
        .any(|l| matches!(l.status, LaneStatus::Queued | LaneStatus::Running));
    let mut body = String::new();
    let _ = write!(
        body,
        "<!doctype html><html><head><meta charset=utf-8><title>CI: {name}</title><style>{STYLE}</style></head>\
         <body data-active=\"{}\"><h1>CI for branch {name}</h1><p>head <code>{head}</code>, {state}</p>",
        u8::from(active),
        name = escape(&branch.name),
        head = escape(branch.head.as_deref().unwrap_or("-")),
        state = branch.state.as_str(),
    );
    for suite in suites.iter().take(10) {
        let _ = write!(
            body,
            "<h2>suite {} <span class=\"{st}\">{st}</span></h2><p>head <code>{}</code>, queued {}{}</p>",
            suite.id,
            escape(&suite.head),
            escape(&suite.created_at),
            suite
                .message
                .as_deref()
                .map(|m| format!(": {}", escape(m)))
                .unwrap_or_default(),
            st = suite.status.as_str(),
        );
        body.push_str("<table><tr><th>lane</th><th>status</th><th>failure</th><th>started</th><th>finished</th><th>pikaci run</th><th>jobs</th></tr>");
        for lane in &suite.lanes {
            let mut jobs = String::new();
            let run = lane.pikaci_run_id.as_deref().and_then(|r| r.parse().ok());
            if let Some(run) = run
                && let Ok(record) = load_run(&state, run).await
            {
                for j in &record.jobs {
                    let _ = write!(
                        jobs,
                        "<button data-run=\"{r}\" data-job=\"{id}\" class=\"{st}\">{id}: {st}</button>",
                        r = escape(record.run_id.as_str()),
                        id = escape(j.id.as_str()),
                        st = escape(j.status.as_str()),
                    );
                }
            }
            let _ = write!(
                body,
                "<tr class=\"lane\"><td>{title} <small>({lane})</small> <button data-lane=\"{lane_id}\">lane log</button></td><td class=\"{st}\">{st}</td><td>{fk}</td><td>{s}</td><td>{f}</td><td><code>{run}</code></td><td>{jobs}</td></tr>",
                lane_id = lane.id,
                title = escape(&lane.title),
                lane = escape(&lane.lane),
                st = lane.status.as_str(),
                fk = lane.failure_kind.map_or("", FailureKind::as_str),
                s = escape(lane.started_at.as_deref().unwrap_or("")),
                f = escape(lane.finished_at.as_deref().unwrap_or("")),
                run = escape(lane.pikaci_run_id.as_deref().unwrap_or("")),
            );
        }
        body.push_str("</table>");
    }
    let _ = write!(
        body,
        "<h2>log: <span id=logtitle>pick a job</span></h2><button id=earlier hidden onclick=\"earlier()\">load earlier</button>\
         <pre id=log></pre><script>{SCRIPT}</script></body></html>"
    );
    Ok(Html(body).into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup() {
        assert_eq!(
            super::escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
