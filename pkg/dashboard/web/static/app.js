// monctl serve's live view. Everything shown comes from containers and
// targets, whose owners choose names, labels and log lines: it is written
// with textContent only, never as markup.
'use strict';
(() => {
  const interval = Math.max(1, Number(document.body.dataset.interval) || 5) * 1000;
  const SVG = 'http://www.w3.org/2000/svg';

  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = String(text);
    return e;
  }

  function humanBytes(n) {
    if (n < 1024) return n + 'B';
    let unit = 0;
    while (n >= 1024 * 1024 && unit < 4) { n /= 1024; unit++; }
    return (n / 1024).toFixed(1) + 'KMGTP'[unit] + 'iB';
  }

  function humanDuration(s) {
    s = Math.floor(s);
    if (s <= 0) return '–';
    const d = Math.floor(s / 86400), h = Math.floor(s / 3600), m = Math.floor(s / 60);
    if (d > 0) return d + 'd' + (h % 24) + 'h';
    if (h > 0) return h + 'h' + (m % 60) + 'm';
    if (m > 0) return m + 'm' + (s % 60) + 's';
    return s + 's';
  }

  // The same line as the server draws (pages.go, spark).
  function sparkPoints(values, w, h, floor) {
    if (!values || values.length === 0) return '';
    const top = Math.max(floor, ...values);
    const step = w / Math.max(1, values.length - 1);
    return values.map((v, i) => (i * step).toFixed(1) + ',' + (h - v / top * h).toFixed(1)).join(' ');
  }

  // Control characters (a terminal's escape sequences) as \xNN, as the
  // server writes them (pages.go, visible).
  function visible(s) {
    return s.replace(/[\x00-\x08\x0a-\x1f\x7f-\x9f]/g, (c) => '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0'));
  }

  function sparkline(values, floor) {
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('class', 'spark');
    svg.setAttribute('viewBox', '0 0 100 20');
    svg.setAttribute('preserveAspectRatio', 'none');
    const line = document.createElementNS(SVG, 'polyline');
    line.setAttribute('points', sparkPoints(values, 100, 20, floor));
    svg.appendChild(line);
    return svg;
  }

  function badges(c) {
    const f = document.createDocumentFragment();
    f.appendChild(el('span', 'badge state-' + c.state, c.state));
    if (c.health) {
      f.appendChild(document.createTextNode(' '));
      f.appendChild(el('span', 'badge health-' + c.health, c.health));
    }
    return f;
  }

  function memory(c) {
    return humanBytes(c.memory_used_bytes) + (c.memory_limit_bytes ? ' / ' + humanBytes(c.memory_limit_bytes) : '');
  }

  async function getJSON(url) {
    const r = await fetch(url, { cache: 'no-store', credentials: 'same-origin' });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(body.error || r.status + ' ' + r.statusText);
    return body;
  }

  function updated(time, err) {
    const u = document.getElementById('updated');
    u.classList.toggle('stale', !!err);
    u.textContent = err ? 'update failed: ' + err.message : 'updated ' + new Date(time).toISOString().replace(/\.\d+Z$/, 'Z');
  }

  // Sorting: a click on a column's head sorts by it, a second click the
  // other way. The order is kept across updates.
  function sortable(table, render) {
    const state = { key: null, dir: 1, numeric: false };
    table.querySelectorAll('th[data-key]').forEach((th) => {
      th.addEventListener('click', () => {
        state.dir = state.key === th.dataset.key ? -state.dir : (th.dataset.type === 'number' ? -1 : 1);
        state.key = th.dataset.key;
        state.numeric = th.dataset.type === 'number';
        table.querySelectorAll('th[data-key]').forEach((o) => o.removeAttribute('aria-sort'));
        th.setAttribute('aria-sort', state.dir > 0 ? 'ascending' : 'descending');
        render();
      });
    });
    return (rows) => {
      if (!state.key) return rows;
      const k = state.key;
      return rows.slice().sort((a, b) => {
        const x = a[k] ?? '', y = b[k] ?? '';
        const c = state.numeric ? x - y : String(x).localeCompare(String(y));
        return c * state.dir || String(a.name).localeCompare(String(b.name));
      });
    };
  }

  function fill(tbody, rows, columns, empty) {
    const body = document.createDocumentFragment();
    if (rows.length === 0) {
      const tr = el('tr', 'empty');
      const td = el('td', '', empty);
      td.colSpan = columns;
      tr.appendChild(td);
      body.appendChild(tr);
    }
    for (const { id, cells } of rows) {
      const tr = el('tr');
      if (id) tr.dataset.id = id;
      for (const [className, content] of cells) {
        const td = el('td', className);
        if (content instanceof Node) td.appendChild(content); else td.textContent = content;
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
    tbody.replaceChildren(body);
  }

  function indexPage() {
    const ctable = document.getElementById('containers');
    const ttable = document.getElementById('targets');
    let containers = null, targets = null;
    const renderContainers = () => {
      if (!containers) return;
      fill(ctable.tBodies[0], sortContainers(containers).map((c) => {
        const link = el('a', '', c.name);
        link.href = '/containers/' + encodeURIComponent(c.id);
        const h = c.history || {};
        return { id: c.id, cells: [['', c.host], ['', link], ['', c.image], ['', badges(c)],
          ['num', c.cpu_percent.toFixed(1)], ['trend', sparkline(h.cpu_percent, 1)],
          ['num', memory(c)], ['trend', sparkline(h.memory_used_bytes, 1048576)],
          ['num', c.restarts], ['num', humanDuration(c.uptime_seconds)]] };
      }), 10, 'No containers to show yet.');
    };
    const renderTargets = () => {
      if (!targets) return;
      fill(ttable.tBodies[0], sortTargets(targets).map((t) => ({ cells: [
        ['', t.name], ['', el('span', 'badge ' + (t.up ? 'up' : 'down'), t.up ? 'up' : 'down')], ['err', t.error || ''],
        ['num', t.scrape_duration_seconds.toFixed(3) + 's'], ['num', t.series], ['', t.last_scrape]] })),
      6, 'No targets: serve re-exposes those given with --target or in the config file.');
    };
    // The alerts' table is there when serve has rules.
    const atable = document.getElementById('alerts');
    let alerts = null;
    const renderAlerts = () => {
      if (!alerts) return;
      fill(atable.tBodies[0], sortAlerts(alerts).map((a) => {
        const notes = document.createDocumentFragment();
        for (const k of Object.keys(a.annotations || {}).sort()) {
          const line = el('div');
          line.append(el('b', '', k), ': ' + a.annotations[k]);
          notes.appendChild(line);
        }
        const labels = Object.keys(a.labels).filter((k) => k !== 'alertname').sort()
          .map((k) => k + '=' + JSON.stringify(a.labels[k])).join(', ');
        return { cells: [['', el('span', 'badge alert-' + a.state, a.state)], ['', a.labels.alertname],
          ['labels', labels], ['', notes], ['num', a.value], ['', a.activeAt]] };
      }), 6, 'No alert is pending or firing.');
    };
    const sortAlerts = atable ? sortable(atable, renderAlerts) : null;
    const sortContainers = sortable(ctable, renderContainers);
    const sortTargets = sortable(ttable, renderTargets);
    const refresh = async () => {
      try {
        const [c, t, a] = await Promise.all([getJSON('/api/v1/containers'), getJSON('/api/v1/targets'),
          atable ? getJSON('/api/v1/alerts') : null]);
        if (a) {
          alerts = a.alerts.map((x) => Object.assign({ name: x.labels.alertname }, x));
          document.getElementById('alert-count').textContent = alerts.length;
          renderAlerts();
        }
        containers = c.containers;
        targets = t.targets;
        document.getElementById('container-count').textContent = containers.length;
        document.getElementById('target-count').textContent = targets.length;
        const errs = document.getElementById('engine-errors');
        errs.replaceChildren(...c.engines.filter((e) => !e.up).map((e) => el('p', 'error', e.host + ': ' + e.error)));
        renderContainers();
        renderTargets();
        updated(c.time);
      } catch (err) {
        updated(null, err);
      }
    };
    return refresh;
  }

  function containerPage(main) {
    const id = main.dataset.id;
    const field = (name, text) => { main.querySelector('[data-field="' + name + '"]').textContent = text; };
    const chart = (name, values, floor, format) => {
      document.querySelector('#' + name + '-chart polyline').setAttribute('points', sparkPoints(values, 600, 120, floor));
      document.getElementById(name + '-peak').textContent = values && values.length ? 'peak ' + format(Math.max(...values)) : '';
    };
    const refresh = async () => {
      try {
        const c = await getJSON('/api/v1/containers/' + encodeURIComponent(id));
        document.getElementById('badges').replaceChildren(badges(c));
        field('cpu', c.cpu_percent.toFixed(1));
        field('memory', memory(c) + (c.memory_limit_bytes ? ' (' + c.memory_percent.toFixed(1) + '%)' : ''));
        field('net', humanBytes(c.network_rx_bytes) + ' / ' + humanBytes(c.network_tx_bytes));
        field('block', humanBytes(c.block_read_bytes) + ' / ' + humanBytes(c.block_write_bytes));
        field('pids', c.pids);
        field('restarts', c.restarts);
        field('uptime', humanDuration(c.uptime_seconds));
        const h = c.history || {};
        chart('cpu', h.cpu_percent, 1, (v) => v.toFixed(1) + '%');
        chart('memory', h.memory_used_bytes, 1048576, humanBytes);
        updated(c.time);
      } catch (err) {
        updated(null, err);
      }
    };
    // The search runs in place; without the script the form reloads the
    // page, which the server fills the same way.
    const form = document.getElementById('logs-form');
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const q = new URLSearchParams(new FormData(form));
      history.replaceState(null, '', '?' + q);
      const pre = document.getElementById('logs');
      const errP = document.getElementById('logs-error');
      try {
        const a = await getJSON('/api/v1/containers/' + encodeURIComponent(id) + '/logs?' + q);
        pre.replaceChildren(...a.lines.map((l) => logLine(l, false)));
        errP.textContent = a.error || (a.truncated ? 'only the first lines are shown: the answer was too large' : '');
      } catch (err) {
        pre.replaceChildren();
        errP.textContent = err.message;
      }
    });
    // Follow streams the lines as they come, with the search as a filter.
    const controls = document.getElementById('follow-controls');
    const f = follower(document.getElementById('logs'), false);
    const followButton = document.getElementById('follow');
    followButton.addEventListener('click', () => {
      const q = new URLSearchParams();
      const grep = form.querySelector('[name=grep]').value;
      if (grep) q.set('grep', grep);
      q.set('tail', '10');
      f.start(controls.dataset.stream + '?' + q);
    });
    return refresh;
  }

  // logLine is a line of logs as the page shows it: its time, the
  // container when several are followed, and the message, all as text.
  function logLine(l, withName) {
    const line = el('span', 'line ' + l.stream);
    line.appendChild(el('time', '', new Date(l.time).toISOString().replace(/\.\d+Z$/, 'Z')));
    if (withName) line.appendChild(el('span', 'who', ' ' + visible(l.name) + ' |'));
    line.appendChild(document.createTextNode(' ' + visible(l.message)));
    return line;
  }

  // follower follows a stream of lines (Server-Sent Events) into pre: the
  // last `keep` lines are kept, Pause holds new ones back (as many as
  // are kept) until Resume, and the page says what the stream does.
  function follower(pre, withName) {
    const status = document.getElementById('follow-status');
    const pause = document.getElementById('pause');
    const keepInput = document.getElementById('keep');
    let source = null;
    let paused = false;
    let held = [];
    let dropped = 0;
    const keep = () => Math.max(10, Math.min(10000, parseInt(keepInput.value, 10) || 1000));
    const say = (text) => { status.textContent = text + (dropped ? ' · ' + dropped + ' lines dropped (too many at once)' : ''); };
    const show = (lines) => {
      const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.append(...lines.map((l) => logLine(l, withName)));
      while (pre.childElementCount > keep()) pre.firstElementChild.remove();
      if (atEnd) pre.scrollTop = pre.scrollHeight;
    };
    pause.addEventListener('click', () => {
      paused = !paused;
      pause.textContent = paused ? 'Resume' : 'Pause';
      if (!paused) {
        show(held);
        held = [];
      }
      say(paused ? 'paused' : 'following');
    });
    const stop = (text) => {
      if (source) source.close();
      source = null;
      pause.disabled = true;
      say(text);
    };
    return {
      start(url) {
        if (source) source.close();
        pre.replaceChildren();
        held = [];
        dropped = 0;
        paused = false;
        pause.textContent = 'Pause';
        source = new EventSource(url);
        say('connecting…');
        source.addEventListener('hello', () => { pause.disabled = false; say('following'); });
        const take = (ev) => {
          const e = JSON.parse(ev.data);
          dropped += e.dropped || 0;
          if (paused) {
            held.push(...e.lines);
            held.splice(0, Math.max(0, held.length - keep()));
          } else {
            show(e.lines);
          }
          return e;
        };
        source.addEventListener('lines', take);
        source.addEventListener('end', (ev) => {
          const e = take(ev);
          stop('ended: ' + (e.error || 'the containers stopped'));
        });
        source.onerror = () => {
          // EventSource tries again by itself, from the last line it had;
          // a refused stream (429, 404) it does not.
          if (source && source.readyState === EventSource.CLOSED) stop('the server refused the stream (too many open, or no such container): try again later');
          else say('reconnecting…');
        };
      },
      stop,
    };
  }

  function logsPage() {
    const form = document.getElementById('stream-form');
    const f = follower(document.getElementById('logs'), true);
    const open = () => {
      const q = new URLSearchParams();
      const data = new FormData(form);
      for (const [k, v] of data) {
        if (k === 'filter') String(v).split(/\s+/).filter(Boolean).forEach((t) => q.append('filter', t));
        else if (v !== '') q.set(k, v);
      }
      history.replaceState(null, '', '?' + new URLSearchParams(data));
      f.start('/api/v1/logs/stream?' + q);
    };
    form.addEventListener('submit', (ev) => { ev.preventDefault(); open(); });
    if (new URLSearchParams(location.search).has('project') || new URLSearchParams(location.search).has('filter')) open();
    return async () => {};
  }

  const main = document.querySelector('main');
  if (!main) return;
  if (main.id === 'logs-page') {
    logsPage();
    return;
  }
  const refresh = main.id === 'index' ? indexPage() : containerPage(main);
  const loop = async () => {
    await refresh();
    setTimeout(loop, interval);
  };
  setTimeout(loop, document.getElementById('updated').querySelector('time') ? interval : 500);
})();
