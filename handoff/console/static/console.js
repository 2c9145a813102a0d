// The console's one script. Pages carry no script of their own (the page's policy
// allows only this file): they say what they need with data- attributes.
'use strict';
const csrf = document.querySelector('meta[name=csrf]').content;

// post sends a change with the session's CSRF token; it answers {ok, status, data}.
async function post(url, body) {
  try {
    const r = await fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
      body: JSON.stringify(body || {})});
    if (r.status === 401) { location.href = '/console/login'; return {ok: false, status: 401, data: {}}; }
    let data = {};
    try { data = await r.json(); } catch (e) {}
    return {ok: r.ok, status: r.status, data};
  } catch (e) {
    return {ok: false, status: 0, data: {error: document.body.dataset.offline || 'offline'}};
  }
}

function say(el, text) {
  const out = el && el.querySelector('.error');
  if (out) { out.textContent = text; out.hidden = !text; } else if (text) { alert(text); }
}

// <form data-post="/console/api/…" [data-then="/url"]>: its named fields as JSON.
document.querySelectorAll('form[data-post]').forEach(f => f.addEventListener('submit', async e => {
  e.preventDefault();
  const body = {};
  for (const el of f.elements) {
    if (!el.name || el.disabled) { continue; }
    if (el.type === 'checkbox') { body[el.name] = el.checked; } else if (el.type === 'number') { body[el.name] = el.value === '' ? null : Number(el.value); } else if (el.multiple) { body[el.name] = [...el.selectedOptions].map(o => o.value); } else { body[el.name] = el.value; }
  }
  const button = f.querySelector('button[type=submit], button:not([type])');
  if (button) { button.disabled = true; }
  const r = await post(f.dataset.post, body);
  if (button) { button.disabled = false; }
  if (!r.ok) { say(f, r.data.error || String(r.status)); return; }
  f.dataset.sent = '1';
  if (f.dataset.then) { location.href = f.dataset.then; } else { location.reload(); }
}));

// <button data-post="/console/api/…" [data-body='{…}'] [data-confirm="…"] [data-reason="…"]>
document.querySelectorAll('button[data-post]').forEach(b => b.addEventListener('click', async () => {
  const body = b.dataset.body ? JSON.parse(b.dataset.body) : {};
  if (b.dataset.confirm && !confirm(b.dataset.confirm)) { return; }
  if (b.dataset.reason) {
    const reason = prompt(b.dataset.reason);
    if (reason === null || reason.trim() === '') { return; }
    body.reason = reason.trim();
  }
  b.disabled = true;
  const r = await post(b.dataset.post, body);
  b.disabled = false;
  if (!r.ok) { say(b.closest('section'), r.data.error || String(r.status)); return; }
  if (b.dataset.then) { location.href = b.dataset.then; } else { location.reload(); }
}));

// Logging out, the language and the presence menus.
document.querySelectorAll('form[data-logout]').forEach(f => f.addEventListener('submit', async e => {
  e.preventDefault();
  await post(f.action);
  location.href = '/console/login';
}));
const uilang = document.getElementById('uilang');
if (uilang) { uilang.addEventListener('change', async () => { await post('/console/api/me', {lang: uilang.value}); location.reload(); }); }
const presence = document.getElementById('presence');
if (presence) { presence.addEventListener('change', async () => { await post('/console/api/me', {presence: presence.value}); }); }

// <select data-canned="textareaID">: a canned reply goes into the reply box, to edit.
document.querySelectorAll('select[data-canned]').forEach(s => s.addEventListener('change', () => {
  const t = document.getElementById(s.dataset.canned);
  if (t && s.value) { t.value = t.value ? t.value + '\n' + s.value : s.value; t.dispatchEvent(new Event('input')); t.focus(); }
  s.selectedIndex = 0;
}));

// <textarea data-sms="outputID">: how many SMS the reply takes, counted as the
// hotline counts (GSM-7, else UCS-2; a long reply goes in parts).
const gsmBasic = '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const gsmExt = '^{}\\[~]|€\f';
function smsCount(text) {
  let n = 0, gsm = true;
  for (const ch of text) { if (!gsmBasic.includes(ch) && !gsmExt.includes(ch)) { gsm = false; break; } }
  if (gsm) { for (const ch of text) { n += gsmExt.includes(ch) ? 2 : 1; } } else { for (const ch of text) { n += ch.codePointAt(0) > 0xFFFF ? 2 : 1; } }
  const single = gsm ? 160 : 70, multi = gsm ? 153 : 67;
  return {n, gsm, segments: n === 0 ? 0 : (n <= single ? 1 : Math.ceil(n / multi))};
}
document.querySelectorAll('textarea[data-sms]').forEach(t => {
  const out = document.getElementById(t.dataset.sms);
  const show = () => {
    const c = smsCount(t.value);
    out.textContent = (c.gsm ? out.dataset.gsm : out.dataset.ucs2).replace('{n}', c.n).replace('{s}', c.segments);
  };
  t.addEventListener('input', show);
  show();
});

// <time data-since="RFC 3339">: a timer that runs.
function ago(from) {
  let s = Math.max(0, Math.floor((Date.now() - from) / 1000));
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  return (h ? h + 'h' : '') + (h || m ? String(m).padStart(h ? 2 : 1, '0') + 'm' : '') + String(s).padStart(h || m ? 2 : 1, '0') + 's';
}
const timers = [...document.querySelectorAll('time[data-since]')].map(t => [t, Date.parse(t.dataset.since)]);
if (timers.length) { setInterval(() => timers.forEach(([t, from]) => { t.textContent = ago(from); }), 1000); }

// Live: <body data-live="/console/events?…" data-sig="…">. The page loads itself
// again when what it shows changed (not while something is being typed), and says so
// when someone new waits or an alert comes; polling when the stream cannot be held.
function busy() {
  return [...document.querySelectorAll('textarea, input[type=text], input:not([type])')].some(t => t.value !== '' && !t.readOnly && t.closest('form') && !t.closest('form').dataset.sent);
}
function notify(text) {
  document.title = '● ' + document.title.replace(/^● /, '');
  try { const a = new AudioContext(), o = a.createOscillator(); o.frequency.value = 660; o.connect(a.destination); o.start(); o.stop(a.currentTime + 0.4); } catch (e) {}
  if (window.Notification && Notification.permission === 'granted') { new Notification(text); }
}
// Said again once the page has loaded itself: the reload would cut the tone.
if (sessionStorage.getItem('notify')) { notify(sessionStorage.getItem('notify')); sessionStorage.removeItem('notify'); }
if (window.Notification && Notification.permission === 'default') {
  document.addEventListener('click', () => Notification.requestPermission(), {once: true});
}
function changed(d) {
  if (busy()) { if (d.notify) { notify(d.notify); } return; }
  if (d.notify) { sessionStorage.setItem('notify', d.notify); }
  location.reload();
}
const live = document.body.dataset.live;
if (live) {
  const shown = document.body.dataset.sig;
  const events = new EventSource(live);
  events.addEventListener('changed', e => {
    const d = JSON.parse(e.data);
    document.getElementById('notlive').hidden = true;
    if (d.sig !== shown) { changed(d); }
  });
  events.onerror = () => {
    if (events.readyState !== EventSource.CLOSED) { return; }
    // The stream is gone for good (a proxy that buffers, an expired session): poll.
    setInterval(async () => {
      try {
        const r = await fetch(live.replace('/console/events', '/console/api/sig'));
        if (r.status === 401) { location.href = '/console/login'; return; }
        if (!r.ok) { document.getElementById('notlive').hidden = false; return; }
        const d = await r.json();
        document.getElementById('notlive').hidden = true;
        if (d.sig !== shown) { changed(d); }
      } catch (e) { document.getElementById('notlive').hidden = false; }
    }, 5000);
  };
}

// <form data-post-nested="/console/api/…" [data-confirm="…"] [data-then="/url"]>: as
// form[data-post], but a field named "a.b" goes into the object a under the key b
// ({"a": {"b": …}}), for APIs that take a text per language.
document.querySelectorAll('form[data-post-nested]').forEach(f => f.addEventListener('submit', async e => {
  e.preventDefault();
  const body = {};
  for (const el of f.elements) {
    if (!el.name || el.disabled) { continue; }
    const dot = el.name.indexOf('.');
    if (dot > 0) {
      const outer = el.name.slice(0, dot);
      if (typeof body[outer] !== 'object' || body[outer] === null) { body[outer] = {}; }
      body[outer][el.name.slice(dot + 1)] = el.value;
    } else {
      body[el.name] = el.value;
    }
  }
  if (f.dataset.confirm && !confirm(f.dataset.confirm)) { return; }
  const button = f.querySelector('button[type=submit], button:not([type])');
  if (button) { button.disabled = true; }
  const r = await post(f.dataset.postNested, body);
  if (button) { button.disabled = false; }
  if (!r.ok) { say(f, r.data.error || String(r.status)); return; }
  f.dataset.sent = '1';
  if (f.dataset.then) { location.href = f.dataset.then; } else { location.reload(); }
}));

// <div data-reload="seconds">: the page loads itself again every so often (counts
// that move without an event to say so), but not while something is being typed or
// chosen in a form.
const reload = document.querySelector('[data-reload]');
if (reload) {
  const every = Math.max(5, Number(reload.dataset.reload) || 30) * 1000;
  const chosen = () => [...document.querySelectorAll('form select')].some(s => [...s.options].some(o => o.selected !== o.defaultSelected));
  setInterval(() => { if (!busy() && !chosen()) { location.reload(); } }, every);
}
