'use strict';
// pika-news pages: everything works without this script; it keeps times
// fresh, refreshes the parts of a page that change while lanes run, and
// makes the log viewer live (stream, load earlier/later, search, line links,
// timestamps, foldable sections, links, follow, first error). Text is only
// ever inserted as text, never as markup.
(() => {
  const $ = (s, r = document) => r.querySelector(s);
  const $$ = (s, r = document) => Array.from(r.querySelectorAll(s));

  // ---- times: the same words as the server's format.rs ----
  function duration(ms) {
    ms = Math.max(0, ms);
    if (ms < 10000) {
      const tenths = Math.floor(ms / 100);
      return tenths % 10 === 0 ? `${tenths / 10}s` : `${Math.floor(tenths / 10)}.${tenths % 10}s`;
    }
    const s = Math.floor(ms / 1000), p = (n) => String(n).padStart(2, '0');
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m ${p(s % 60)}s`;
    return `${Math.floor(s / 3600)}h ${p(Math.floor((s % 3600) / 60))}m`;
  }
  function relative(t, now) {
    const s = Math.floor((now - t) / 1000);
    if (s < -60) return `in ${duration(t - now)}`;
    if (s < 10) return 'just now';
    if (s < 60) return `${s}s ago`;
    if (s < 3600) return `${Math.floor(s / 60)}m ago`;
    if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
    if (s < 2592000) return `${Math.floor(s / 86400)}d ago`;
    return new Date(t).toISOString().slice(0, 10);
  }
  function refreshTimes() {
    for (const el of $$('time[datetime]')) {
      const t = Date.parse(el.getAttribute('datetime'));
      if (!isNaN(t)) el.textContent = relative(t, Date.now());
    }
  }
  setInterval(refreshTimes, 15000);

  // ---- parts marked data-swap are refreshed in place while lanes run ----
  let refreshing = false;
  async function refreshParts() {
    if (refreshing) return;
    refreshing = true;
    try {
      const r = await fetch(location.href, { credentials: 'same-origin' });
      if (!r.ok) return;
      const doc = new DOMParser().parseFromString(await r.text(), 'text/html');
      for (const fresh of $$('[data-swap][id]', doc)) {
        const cur = document.getElementById(fresh.id);
        if (!cur || cur.querySelector('#log') || fresh.querySelector('#log')) continue;
        if (cur.contains(document.activeElement)) continue;
        cur.replaceWith(document.importNode(fresh, true));
      }
      document.body.dataset.active = doc.body.dataset.active || '0';
      refreshTimes();
    } catch (e) {
      // The next round tries again.
    } finally {
      refreshing = false;
    }
  }
  const timer = setInterval(() => {
    if (document.body.dataset.active !== '1') clearInterval(timer);
    else if (!document.hidden) refreshParts();
  }, 5000);

  // ---- ANSI: the same rules as the server's ansi.rs ----
  function indexed(n) {
    if (n < 16) return { p: n };
    if (n < 232) {
      const m = n - 16, level = (v) => (v === 0 ? 0 : 55 + v * 40);
      return { r: level(Math.floor(m / 36)), g: level(Math.floor(m / 6) % 6), b: level(m % 6) };
    }
    const v = 8 + (n - 232) * 10;
    return { r: v, g: v, b: v };
  }
  const hex2 = (v) => v.toString(16).padStart(2, '0');
  class Ansi {
    constructor() { this.reset(); }
    reset() { this.fg = null; this.bg = null; this.bold = false; this.dim = false; this.italic = false; this.underline = false; }
    copy() { const a = new Ansi(); Object.assign(a, this); return a; }
    plain() { return !this.fg && !this.bg && !this.bold && !this.dim && !this.italic && !this.underline; }
    apply(params) {
      const codes = params.split(/[;:]/).map((p) => { const n = /^[0-9]+$/.test(p) ? Number(p) : 0; return n > 65535 ? 0 : n; });
      for (let i = 0; i < codes.length; i++) {
        const c = codes[i];
        if (c === 0) this.reset();
        else if (c === 1) this.bold = true;
        else if (c === 2) this.dim = true;
        else if (c === 3) this.italic = true;
        else if (c === 4) this.underline = true;
        else if (c === 22) { this.bold = false; this.dim = false; }
        else if (c === 23) this.italic = false;
        else if (c === 24) this.underline = false;
        else if (c >= 30 && c <= 37) this.fg = { p: c - 30 };
        else if (c >= 90 && c <= 97) this.fg = { p: c - 90 + 8 };
        else if (c >= 40 && c <= 47) this.bg = { p: c - 40 };
        else if (c >= 100 && c <= 107) this.bg = { p: c - 100 + 8 };
        else if (c === 39) this.fg = null;
        else if (c === 49) this.bg = null;
        else if (c === 38 || c === 48) {
          let col = null;
          if (codes[i + 1] === 5) {
            if (i + 2 < codes.length) col = indexed(Math.min(codes[i + 2], 255));
            i += 2;
          } else if (codes[i + 1] === 2) {
            const v = (k) => (i + k < codes.length ? Math.min(codes[i + k], 255) : 0);
            col = { r: v(2), g: v(3), b: v(4) };
            i += 4;
          }
          if (c === 38) this.fg = col; else this.bg = col;
        }
      }
    }
    span(text) {
      const s = document.createElement('span');
      const cls = [];
      if (this.bold) cls.push('b');
      if (this.dim) cls.push('d');
      if (this.italic) cls.push('i');
      if (this.underline) cls.push('u');
      let style = '';
      for (const [col, k, prop] of [[this.fg, 'f', 'color'], [this.bg, 'g', 'background']]) {
        if (!col) continue;
        if (col.p !== undefined) cls.push(k + col.p);
        else style += `${prop}:#${hex2(col.r)}${hex2(col.g)}${hex2(col.b)};`;
      }
      if (cls.length) s.className = cls.join(' ');
      if (style) s.setAttribute('style', style);
      s.textContent = text;
      return s;
    }
  }
  const isControl = (c) => { const n = c.charCodeAt(0); return n < 0x20 || (n >= 0x7f && n <= 0x9f); };
  // ---- links: the same rules as ansi.rs (safe_href, url_end, url_pieces) ----
  function safeHref(u) {
    const l = u.slice(0, 8).toLowerCase();
    const allowed = ['http://', 'https://', 'mailto:'].some((s) => l.startsWith(s) && u.length > s.length);
    return allowed && !/[\x00-\x1f\x7f-\x9f ]/.test(u) ? u : null;
  }
  function urlEnd(s) {
    let end = s.length;
    for (let k = 0; k < s.length; k++) if (s[k] <= ' ' || '<>"\'`\x7f'.includes(s[k])) { end = k; break; }
    for (;;) {
      const u = s.slice(0, end), c = u[u.length - 1];
      const unbalanced = (o, x) => u.split(x).length > u.split(o).length;
      if (c !== undefined && '.,;:!?'.includes(c)) end--;
      else if (c === ')' && unbalanced('(', ')')) end--;
      else if (c === ']' && unbalanced('[', ']')) end--;
      else return end;
    }
  }
  function urlPieces(text) {
    const out = [];
    let done = 0, from = 0;
    for (let at; (at = text.indexOf('http', from)) >= 0;) {
      const rest = text.slice(at);
      const p = rest.startsWith('https://') ? 8 : rest.startsWith('http://') ? 7 : 0;
      const wordStart = at === 0 || !/[A-Za-z0-9]/.test(text[at - 1]);
      const e = p ? urlEnd(rest) : 0;
      if (p && wordStart && e > p) {
        if (at > done) out.push([text.slice(done, at), false]);
        out.push([text.slice(at, at + e), true]);
        done = from = at + e;
      } else from = at + 4;
    }
    if (done < text.length) out.push([text.slice(done), false]);
    return out;
  }
  function link(href, text) {
    const a = document.createElement('a');
    a.className = 'ln';
    a.setAttribute('href', href);
    a.rel = 'noopener nofollow';
    a.target = '_blank';
    a.textContent = text;
    return a;
  }
  function segment(text, st, into) {
    let run = '', href = null;
    const flush = () => {
      if (run && into) {
        const holder = st.plain() ? into : into.appendChild(st.span(''));
        if (href) holder.appendChild(link(href, run));
        else for (const [p, url] of urlPieces(run)) holder.appendChild(url ? link(p, p) : document.createTextNode(p));
      }
      run = '';
    };
    for (let k = 0; k < text.length; k++) {
      const c = text[k];
      if (c === '\x1b') {
        const nx = text[k + 1];
        if (nx === '[') {
          let params = '', fin = null;
          for (k += 2; k < text.length; k++) {
            const ch = text[k];
            if (ch >= '\x40' && ch <= '\x7e') { fin = ch; break; }
            params += ch;
          }
          if (fin === 'm' && /^[0-9;:]*$/.test(params)) { flush(); st.apply(params); }
        } else if (nx === ']') {
          let cmd = '';
          for (k += 2; k < text.length; k++) {
            const ch = text[k];
            if (ch === '\x07') break;
            if (ch === '\x1b') { if (text[k + 1] === '\\') k++; break; }
            cmd += ch;
          }
          // OSC 8 ; params ; URI: a link starts (an empty URI ends it).
          if (cmd.startsWith('8;')) {
            const r = cmd.slice(2), semi = r.indexOf(';');
            flush();
            href = safeHref(semi >= 0 ? r.slice(semi + 1) : '');
          }
        } else if (nx !== undefined) {
          k++;
          while (k < text.length && text[k] >= ' ' && text[k] <= '/') k++;
        }
      } else if (c === '\t' || !isControl(c)) {
        run += c;
      }
    }
    flush();
  }
  function renderLine(text, st, into) {
    if (text.endsWith('\r')) text = text.slice(0, -1);
    const cr = text.lastIndexOf('\r');
    if (cr >= 0) { segment(text.slice(0, cr), st, null); text = text.slice(cr + 1); }
    segment(text, st, into);
  }

  // ---- sections: the same rules as sections.rs (marker, is_error) ----
  const ERROR = /^\s*(error:|error\[|fatal:|##\[error\])|FAILED|panicked at|Error:|ERROR|Traceback \(most recent call last\)/;
  function stripCsi(s) {
    for (let m; (m = /^\x1b\[[^\x40-\x7e]*[\x40-\x7e]/.exec(s));) s = s.slice(m[0].length);
    return s;
  }
  function gitlabFields(s) {
    const c = s.indexOf(':');
    if (c < 0 || !/^[+-]?\d+$/.test(s.slice(0, c))) return null;
    let name = s.slice(c + 1), opts = '';
    const b = name.indexOf('[');
    if (b >= 0) { opts = name.slice(b + 1); name = name.slice(0, b); if (opts.endsWith(']')) opts = opts.slice(0, -1); }
    return name ? { stamp: Number(s.slice(0, c)) * 1000, name, opts } : null;
  }
  function marker(line) {
    if (line.endsWith('\r')) line = line.slice(0, -1);
    line = stripCsi(line);
    if (line.startsWith('::group::')) { const n = line.slice(9).trim(); return { start: true, style: 'github', name: n, title: n, closed: true }; }
    if (line.trimEnd() === '::endgroup::') return { end: true, style: 'github', name: null, stamp: null };
    if (line.trimEnd() === '^^^ +++') return { expand: true };
    for (const [p, closed, quiet] of [['--- ', true, false], ['+++ ', false, false], ['~~~ ', true, true]]) {
      if (line.startsWith(p)) { const t = line.slice(4).trim(); return { start: true, style: 'buildkite', name: t, title: t, closed, quiet }; }
    }
    if (line.startsWith('section_start:')) {
      const rest = line.slice(14), cr = rest.indexOf('\r');
      const f = gitlabFields(cr >= 0 ? rest.slice(0, cr) : rest);
      if (!f) return null;
      const header = cr >= 0 ? stripCsi(rest.slice(cr + 1)).trim() : '';
      return { start: true, style: 'gitlab', name: f.name, title: header || f.name, closed: f.opts.split(',').some((o) => o.trim() === 'collapsed=true'), stamp: f.stamp };
    }
    if (line.startsWith('section_end:')) {
      const f = gitlabFields(line.slice(12).split('\r')[0]);
      return f ? { end: true, style: 'gitlab', name: f.name, stamp: f.stamp } : null;
    }
    return null;
  }
  // Opens the sections around an element, so that it can be seen.
  function reveal(el) {
    for (let d = el.closest('details'); d; d = d.parentElement && d.parentElement.closest('details')) d.open = true;
  }

  const log = document.getElementById('log');
  if (log) viewer(log);

  function viewer(log) {
    const d = log.dataset;
    const lines = $('#lines', log);
    const CHUNK = 256 * 1024;
    let start = Number(d.start), end = Number(d.end), size = Number(d.size);
    let first = Number(d.first);
    const numbered = d.numbered !== '0';
    let openRow = $('.l.open', lines);
    const rows = () => $$('.l', lines);
    let last = first + rows().length - 1 - (openRow ? 1 : 0);
    const state = new Ansi();
    state.apply(d.ansi || '0');
    let pending = '';
    let live = d.live === '1';
    let busy = false;
    const cut = d.cut === '1';
    const raw = d.raw, json = d.json, stream = d.stream;
    // Whether the log has arrival times: lines then carry a time, live text
    // comes with a `2026-03-24T16:12:38.123Z ` prefix on each line, and
    // lines read by range get theirs from raw?timestamps=1.
    const hasTimes = d.times === '1';
    const STAMP = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d\.\d{3})Z /;
    const logend = $('#logend', log);

    const nearBottom = () => log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    const followButton = $('#follow');
    // Whether new lines are kept in view: on for a live log until the
    // reader scrolls away from the end or turns it off.
    let following = live;
    const toEnd = () => { log.scrollTop = log.scrollHeight; };
    const width = () => log.style.setProperty('--nw', `${Math.max(4, String(last + 1).length)}ch`);
    function setTime(t, stamp) {
      if (!stamp) return;
      t.textContent = stamp[2];
      t.title = `${stamp[1]} ${stamp[2]} UTC`;
    }
    // A row; with times, a `.t` cell filled from the line's prefix, if any.
    function makeRow(n, text, st, open, tag = 'div', title = null) {
      const row = document.createElement(tag);
      row.className = open ? 'l open' : 'l';
      row.id = `L${n}`;
      const a = document.createElement('a');
      a.className = 'n';
      if (numbered) {
        a.href = `#L${n}`;
        a.dataset.n = n;
        a.setAttribute('aria-label', `Line ${n}`);
      } else {
        // The server could not count the lines before these: no numbers.
        row.removeAttribute('id');
        a.dataset.n = '?';
      }
      row.append(a);
      if (hasTimes) {
        const t = document.createElement('span');
        t.className = 't';
        const stamp = STAMP.exec(text);
        if (stamp) { text = text.slice(stamp[0].length); setTime(t, stamp); }
        row.append(t);
      }
      const x = document.createElement('span');
      x.className = 'x';
      renderLine(title === null ? text : title, st, x);
      row.append(x);
      return row;
    }
    // Where the next line goes: the innermost open section, or the top.
    const into = (ctx) => (ctx.stack.length ? ctx.stack[ctx.stack.length - 1].el : ctx.root);
    function setDur(det, ms) {
      const sum = det.querySelector(':scope > summary');
      if (!sum) return;
      let d = $(':scope > .dur', sum);
      if (!d) { d = document.createElement('span'); d.className = 'dur'; sum.append(d); }
      d.textContent = duration(ms);
    }
    function closeTop(ctx, ms, stamp) {
      const top = ctx.stack.pop();
      if (!top) return;
      if (top.time !== null && ms !== null) setDur(top.el, ms - top.time);
      else if (top.stamp !== null && stamp !== null) setDur(top.el, stamp - top.stamp);
      top.el.removeAttribute('data-unclosed');
    }
    const innermost = (ctx, style, name) => ctx.stack.findLastIndex((o) => o.style === style && (name === null || o.name === name));
    // Adds a whole line to `ctx` ({root, stack, lastBk}), folding markers
    // into sections as sections.rs does; returns its row.
    function addLine(ctx, n, text, st) {
      const stamp = hasTimes ? STAMP.exec(text) : null;
      const bare = stamp ? text.slice(stamp[0].length) : text;
      const ms = stamp ? Date.parse(`${stamp[1]}T${stamp[2]}Z`) : null;
      const m = marker(bare);
      if (m && m.start) {
        // GitHub groups do not nest; a Buildkite header ends the one before.
        if (m.style !== 'gitlab') { const k = innermost(ctx, m.style, null); while (k >= 0 && ctx.stack.length > k) closeTop(ctx, ms, null); }
        const det = document.createElement('details');
        det.className = m.quiet ? 'sec quiet' : 'sec';
        det.open = !m.closed;
        det.dataset.style = m.style;
        det.dataset.name = m.name;
        det.dataset.unclosed = '1';
        const row = makeRow(n, text, st, false, 'summary', m.title);
        row.className = 'l sh';
        det.append(row);
        into(ctx).append(det);
        ctx.stack.push({ el: det, style: m.style, name: m.name, time: ms, stamp: m.stamp ?? null });
        if (m.style === 'buildkite') ctx.lastBk = det;
        return row;
      }
      const row = makeRow(n, text, st, false);
      if (m) {
        row.classList.add('se');
        const k = m.end ? innermost(ctx, m.style, m.name) : -1;
        if (m.expand && ctx.lastBk) ctx.lastBk.open = true;
        while (k >= 0 && ctx.stack.length > k + 1) closeTop(ctx, ms, m.stamp);
        into(ctx).append(row);
        if (k >= 0) closeTop(ctx, ms, m.stamp);
        return row;
      }
      if (ERROR.test(row.querySelector('.x').textContent)) {
        row.classList.add('err');
        for (const o of ctx.stack) o.el.open = true;
      }
      into(ctx).append(row);
      return row;
    }
    // Live lines carry on inside the sections still open at the window's end.
    const liveCtx = {
      root: lines,
      stack: $$('details.sec[data-unclosed]', lines).map((el) => ({
        el, style: el.dataset.style, name: el.dataset.name,
        time: el.dataset.t ? Number(el.dataset.t) : null, stamp: el.dataset.stamp ? Number(el.dataset.stamp) : null,
      })),
      lastBk: $$('details.sec[data-style=buildkite]', lines).pop() || null,
    };
    // The times of whole lines [a, b) (shown in `rows`), from the raw route.
    async function fillTimes(rows, a, b) {
      if (!hasTimes || !raw || !rows.length || b <= a) return;
      try {
        const r = await fetch(`${raw}&timestamps=1&offset=${a}&limit=${b - a}`, { credentials: 'same-origin' });
        if (!r.ok) return;
        const timed = (await r.text()).split('\n');
        rows.forEach((row, i) => { const t = row.querySelector('.t'); if (t) setTime(t, STAMP.exec(timed[i] || '')); });
      } catch (e) { /* the lines stay without times */ }
    }
    const human = (n) => (n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : n < 1073741824 ? `${(n / 1048576).toFixed(1)} MiB` : `${(n / 1073741824).toFixed(2)} GiB`);
    function note() {
      if (!logend) return;
      logend.textContent = live ? `${human(Math.max(size, end))} so far · following live` : `End of log · ${last} lines · ${human(Math.max(size, end))}`;
    }

    // ---- search ----
    const find = $('#find'), q = $('#q'), hits = $('#hits');
    let re = null, marks = [], cur = -1;
    function markRow(row) {
      const x = row.querySelector('.x');
      if (!x || !re) return [];
      const text = x.textContent, found = [];
      re.lastIndex = 0;
      for (let m; (m = re.exec(text));) found.push([m.index, m.index + m[0].length]);
      if (!found.length) return [];
      const nodes = [];
      const walker = document.createTreeWalker(x, NodeFilter.SHOW_TEXT);
      for (let n, pos = 0; (n = walker.nextNode()); pos += n.data.length) nodes.push([n, pos]);
      const out = [];
      for (let h = found.length - 1; h >= 0; h--) {
        const [s, e] = found[h], pieces = [];
        for (let k = nodes.length - 1; k >= 0; k--) {
          const [n, p] = nodes[k];
          if (p + n.data.length <= s || p >= e) continue;
          const r = document.createRange();
          r.setStart(n, Math.max(s, p) - p);
          r.setEnd(n, Math.min(e, p + n.data.length) - p);
          const mk = document.createElement('mark');
          r.surroundContents(mk);
          pieces.unshift(mk);
        }
        out.unshift(pieces);
      }
      return out;
    }
    function clearMarks() {
      for (const m of $$('mark', lines)) {
        const p = m.parentNode;
        p.replaceChild(document.createTextNode(m.textContent), m);
        p.normalize();
      }
      marks = [];
      cur = -1;
    }
    function showHit(scroll) {
      for (const m of $$('mark.cur', lines)) m.classList.remove('cur');
      if (hits) hits.textContent = re ? (marks.length ? `${cur + 1} of ${marks.length}` : 'no matches') : '';
      if (cur < 0 || !marks[cur]) return;
      for (const m of marks[cur]) m.classList.add('cur');
      if (scroll) { reveal(marks[cur][0]); marks[cur][0].scrollIntoView({ block: 'center' }); }
    }
    function runSearch() {
      clearMarks();
      const s = q.value;
      re = s ? new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi') : null;
      if (re) for (const row of rows()) marks.push(...markRow(row));
      cur = -1;
      if (marks.length) {
        const top = log.scrollTop;
        cur = marks.findIndex((m) => m[0].closest('.l').offsetTop >= top);
        if (cur < 0) cur = 0;
      }
      showHit(true);
    }
    function step(by) {
      if (!marks.length) return;
      cur = (cur + by + marks.length) % marks.length;
      showHit(true);
    }
    if (find && q) {
      find.hidden = false;
      let debounce = null;
      q.addEventListener('input', () => { clearTimeout(debounce); debounce = setTimeout(runSearch, 120); });
      q.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') { e.preventDefault(); clearTimeout(debounce); if (!re || re.source !== q.value) runSearch(); else step(e.shiftKey ? -1 : 1); }
        else if (e.key === 'Escape') { q.value = ''; runSearch(); q.blur(); }
      });
      $('#next')?.addEventListener('click', () => step(1));
      $('#prev')?.addEventListener('click', () => step(-1));
    }
    const searchNew = (rows, atTop) => {
      if (!re) return;
      const found = rows.flatMap(markRow);
      if (atTop) { marks = found.concat(marks); if (cur >= 0) cur += found.length; }
      else marks = marks.concat(found);
      showHit(false);
    };

    // ---- appending (live) ----
    function append(text) {
      if (!text) return;
      const parts = (pending + text).split('\n');
      pending = parts.pop();
      if (openRow) { openRow.remove(); openRow = null; }
      const added = [];
      for (const p of parts) added.push(addLine(liveCtx, ++last, p, state));
      // A line still being written may be half a marker: text until it ends.
      if (pending) { openRow = makeRow(last + 1, pending, state.copy(), true); into(liveCtx).append(openRow); added.push(openRow); }
      width();
      searchNew(added, false);
      note();
      if (following) toEnd();
    }

    // ---- reading more by range ----
    async function fail(r) {
      let msg = `${r.status}`;
      try { msg = (await r.json()).error || msg; } catch (e) { /* not JSON */ }
      throw new Error(msg);
    }
    async function rawRange(a, b) {
      const r = await fetch(raw, { credentials: 'same-origin', headers: { Range: `bytes=${a}-${b - 1}` } });
      if (r.status === 416) return new Uint8Array(0);
      if (r.status !== 206 && r.status !== 200) await fail(r);
      const buf = new Uint8Array(await r.arrayBuffer());
      return r.status === 200 ? buf.subarray(a, b) : buf;
    }
    async function jsonRange(a, b) {
      const r = await fetch(`${json}?offset=${a}&limit=${b - a}`, { credentials: 'same-origin' });
      if (!r.ok) await fail(r);
      const body = await r.json();
      return { text: body.log || '', len: body.len || 0, total: body.total_size || 0 };
    }
    const decoder = () => new TextDecoder('utf-8');
    const concat = (x, y) => { const z = new Uint8Array(x.length + y.length); z.set(x); z.set(y, x.length); return z; };

    // The complete lines just before `start`, and where they begin.
    async function earlierLines() {
      let a = Math.max(0, start - CHUNK);
      if (json) {
        // Text from the JSON route: begin on a character boundary.
        let got = await jsonRange(a, start);
        for (let k = 0; a > 0 && k < 3 && got.text.startsWith('\uFFFD'); k++) { a -= 1; got = await jsonRange(a, start); }
        let text = got.text;
        while (a > 0) {
          const nl = text.indexOf('\n');
          if (nl >= 0 && nl < text.length - 1) {
            a += new TextEncoder().encode(text.slice(0, nl + 1)).length;
            text = text.slice(nl + 1);
            break;
          }
          if (start - a > 8 * CHUNK) return null;
          const a2 = Math.max(0, a - CHUNK);
          text = (await jsonRange(a2, a)).text + text;
          a = a2;
        }
        return { from: a, text };
      }
      let bytes = await rawRange(a, start);
      while (a > 0) {
        const nl = bytes.indexOf(10);
        if (nl >= 0 && nl < bytes.length - 1) { a += nl + 1; bytes = bytes.subarray(nl + 1); break; }
        if (start - a > 8 * CHUNK) return null;
        const a2 = Math.max(0, a - CHUNK);
        bytes = concat(await rawRange(a2, a), bytes);
        a = a2;
      }
      return { from: a, text: decoder().decode(bytes) };
    }
    const earlierLink = $('#earlier', log);
    async function earlier() {
      if (busy || start <= 0 || cut) return;
      busy = true;
      try {
        const got = await earlierLines();
        if (!got) throw new Error('the line before this one is too long to show: download the raw log');
        const parts = got.text.split('\n');
        if (parts[parts.length - 1] === '') parts.pop();
        const st = new Ansi(), frag = document.createDocumentFragment(), added = [];
        const top = first - parts.length;
        // Lines read by range have no time prefix to strip; their sections
        // are folded within what was read.
        const ctx = { root: frag, stack: [], lastBk: null };
        parts.forEach((p, i) => added.push(addLine(ctx, top + i, p, st)));
        for (const o of ctx.stack) o.el.removeAttribute('data-unclosed');
        const oldStart = start;
        const before = log.scrollHeight, scrolled = log.scrollTop;
        lines.insertBefore(frag, lines.firstChild);
        log.scrollTop = scrolled + (log.scrollHeight - before);
        start = got.from;
        first = top;
        searchNew(added, true);
        fillTimes(added, start, oldStart);
        if (earlierLink) {
          if (start <= 0) earlierLink.remove();
          else earlierLink.textContent = `Load earlier lines (${first - 1} before)`;
        }
      } catch (e) {
        if (earlierLink) earlierLink.textContent = `Could not load earlier lines: ${e.message}`;
      } finally {
        busy = false;
      }
    }
    if (earlierLink) earlierLink.addEventListener('click', (e) => { e.preventDefault(); earlier(); });

    const laterLink = $('#later', log);
    async function later() {
      if (busy) return;
      busy = true;
      try {
        let text, got, reachedEnd;
        if (json) {
          const j = await jsonRange(end, end + CHUNK);
          text = j.text; got = j.len; reachedEnd = end + got >= j.total;
          size = Math.max(size, j.total);
        } else {
          const bytes = await rawRange(end, end + CHUNK);
          got = bytes.length; reachedEnd = got < CHUNK;
          let keep = bytes;
          if (!reachedEnd) { const nl = bytes.lastIndexOf(10); if (nl >= 0) keep = bytes.subarray(0, nl + 1); }
          got = keep.length;
          text = decoder().decode(keep);
        }
        const from = end;
        end += got;
        const before = rows().length - (openRow ? 1 : 0);
        append(text);
        fillTimes(rows().slice(before).filter((r) => !r.classList.contains('open')), from, end);
        if (reachedEnd) {
          laterLink?.remove();
          if (live) followLive();
        }
      } catch (e) {
        if (laterLink) laterLink.textContent = `Could not load later lines: ${e.message}`;
      } finally {
        busy = false;
      }
    }
    if (laterLink) laterLink.addEventListener('click', (e) => { e.preventDefault(); later(); });

    // ---- following a log that is being written ----
    const badge = $('#livebadge');
    function finished() {
      live = false;
      if (badge) badge.remove();
      // Nothing more will come: nothing to follow.
      following = false;
      if (followButton) followButton.hidden = true;
      note();
      refreshParts();
    }
    let source = null;
    function followLive() {
      if (stream) {
        if (source) return;
        source = new EventSource(`${stream}&offset=${end}${hasTimes ? '&timestamps=1' : ''}`);
        // `log`: the text as a JSON string, `id:` the offset after it; the
        // browser resumes from that id by itself after a broken connection.
        source.addEventListener('log', (e) => {
          let text;
          try { text = JSON.parse(e.data); } catch (err) { return; }
          append(text);
          const at = Number(e.lastEventId);
          if (at > 0) { end = at; size = Math.max(size, at); }
        });
        let seen = null;
        source.addEventListener('status', (e) => {
          let s;
          try { s = JSON.parse(e.data); } catch (err) { return; }
          if (seen !== null && s.status !== seen) refreshParts();
          seen = s.status;
        });
        source.addEventListener('end', () => { source.close(); finished(); });
        source.addEventListener('error', (e) => {
          // The server's own `error` event (with data) says why it stopped
          // (the log truncated or replaced, a record too large): reconnecting
          // would only hear it again. A broken connection has no data.
          if (e.data) {
            source.close();
            let why = '';
            try { why = JSON.parse(e.data).error; } catch (err) { why = ''; }
            if (badge) badge.textContent = 'stopped';
            if (logend) logend.textContent = `Not following: ${why} · reload to read it again`;
            return;
          }
          if (source.readyState === EventSource.CLOSED && badge) badge.textContent = 'disconnected';
        });
      } else if (json) {
        const poll = async () => {
          try {
            for (;;) {
              const j = await jsonRange(end, end + CHUNK);
              end += j.len;
              size = Math.max(size, j.total);
              append(j.text);
              if (j.len < CHUNK) break;
            }
          } catch (e) { /* try again */ }
          if (document.body.dataset.active === '1') setTimeout(poll, 1500);
          else finished();
        };
        poll();
      }
    }

    // ---- timestamps ----
    const tsButton = $('#ts');
    function setTimestamps(on) {
      log.classList.toggle('ts', on);
      if (tsButton) tsButton.setAttribute('aria-pressed', String(on));
      try { localStorage.setItem('pika-news-timestamps', on ? '1' : '0'); } catch (e) { /* private mode */ }
    }
    if (tsButton && hasTimes) tsButton.addEventListener('click', (e) => { e.preventDefault(); setTimestamps(!log.classList.contains('ts')); });
    try { if (hasTimes && localStorage.getItem('pika-news-timestamps') === '1') setTimestamps(true); } catch (e) { /* private mode */ }

    // ---- line links ----
    function goLine() {
      const m = /^#L(\d+)$/.exec(location.hash);
      if (!m) return false;
      for (const r of $$('.l.hl', lines)) r.classList.remove('hl');
      const row = document.getElementById(`L${m[1]}`);
      if (row) {
        reveal(row);
        row.classList.add('hl');
        row.scrollIntoView({ block: 'center' });
        return true;
      }
      const u = new URL(location.href);
      if (u.searchParams.get('line') !== m[1]) {
        u.searchParams.set('line', m[1]);
        location.replace(u.toString());
      }
      return true;
    }
    window.addEventListener('hashchange', goLine);

    // ---- follow ----
    function setFollow(on) {
      following = on;
      if (followButton) followButton.setAttribute('aria-pressed', String(on));
      if (on) toEnd();
    }
    if (followButton) {
      followButton.hidden = false;
      followButton.addEventListener('click', () => setFollow(!following));
    }
    // Scrolling away from the end (reading) stops following; only the
    // reader scrolls there: following keeps the view at the end.
    log.addEventListener('scroll', () => { if (following && !nearBottom()) setFollow(false); });

    // ---- the first error ----
    const errButton = $('#jumperr');
    async function firstError() {
      let row = $('.l.err', lines);
      // Not in what is loaded: look in up to 1 MiB before it.
      for (let k = 0; !row && k < 4 && start > 0 && !cut; k++) { await earlier(); row = $('.l.err', lines); }
      if (!row) { if (hits) hits.textContent = 'no error-looking line'; return; }
      setFollow(false);
      for (const r of $$('.l.hl', lines)) r.classList.remove('hl');
      reveal(row);
      row.classList.add('hl');
      row.scrollIntoView({ block: 'center' });
    }
    if (errButton) {
      errButton.hidden = false;
      errButton.addEventListener('click', firstError);
    }

    document.addEventListener('keydown', (e) => {
      if (e.ctrlKey || e.metaKey || e.altKey || /^(INPUT|TEXTAREA|SELECT|BUTTON)$/.test(e.target.tagName)) return;
      if (e.key === '/' && q) { e.preventDefault(); q.focus(); q.select(); }
      else if (e.key === 't' && hasTimes) setTimestamps(!log.classList.contains('ts'));
      else if (e.key === 'e') earlier();
      else if (e.key === 'g') log.scrollTop = 0;
      else if (e.key === 'G') toEnd();
      else if (e.key === 'n') step(1);
      else if (e.key === 'N') step(-1);
      else if (e.key === 'f' && followButton) setFollow(!following);
      else if (e.key === 'E') firstError();
    });

    width();
    if (!goLine()) toEnd();
    else setFollow(false);
    if (live && !laterLink) followLive();
    window.pikaNewsViewer = { ready: performance.now(), earlier, later, append, following: () => following };
  }
})();
