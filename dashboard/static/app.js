/* lanner's alert dashboard: one page over the dashboard API (dashboard/api.py).
 *
 * Plain JS, no build step, loaded under the page's CSP (script-src 'self', style-src 'self'):
 * no inline code, no eval, no style attributes in markup. Text from alerts is untrusted: it
 * reaches the page only through textContent / createTextNode (see el()); nothing here assigns
 * innerHTML. The token never goes into the URL the page keeps (the hash holds the view only).
 *
 * Stable hooks for tests and tools (data-testid):
 *   auth-message            why no data is shown and how to get in (no token, token refused)
 *   login-form              Cognito sign-in: login-username, login-password, login-new-password
 *                           (shown for NEW_PASSWORD_REQUIRED), login-mfa-code (the authenticator
 *                           app's code, shown for SOFTWARE_TOKEN_MFA), login-submit, login-error
 *   range-presets           the presets: range-5m range-15m range-1h range-6h range-24h range-7d
 *                           range-30d range-custom (aria-pressed="true" on the active one)
 *   custom-range            the custom range form: custom-from, custom-to (local time), custom-apply
 *   search-form, search-input   free text over the output (the API's q)
 *   chips                   the active filters; each: chip (data-key, data-value), with chip-remove;
 *                           chips-clear (with two or more)
 *   filter-link             a value that adds a filter when clicked (data-key, data-value): in the
 *                           table, the detail view and the counters
 *   counters                counter-total and counter-<Priority> (e.g. counter-Critical); the
 *                           number is in the element's .value child, data-count holds it unformatted
 *   counts-note             what the counts cover (aligned range, exact or not)
 *   chart-timeline chart-priority chart-rule chart-source chart-tag
 *                           the <canvas> elements; Chart.getChart(canvas).data is what they show
 *   events-table            the table; event-row per alert (data-uuid, data-priority), open-detail,
 *                           repeat-badge ("×N on M hosts", summaries only), output; no-events,
 *                           and in it (no filters, nothing in range, older alerts stored)
 *                           show-newest: widens the range to reach the newest stored alert
 *   load-more               the next page (the API's cursor); hidden when there is none
 *   status                  when the data was loaded, or what went wrong
 *   detail                  the detail <dialog>: detail-title, detail-body, detail-fields,
 *                           detail-output, detail-output-fields, detail-raw (the alert's JSON),
 *                           detail-repeat (summaries), detail-copy, detail-close
 *   auto-refresh (checkbox), refresh, export, theme-toggle, logout
 * And on elements without a testid: body[data-refreshes] counts the views loaded (it changes
 * once a view's counters, charts and table are all drawn); detail[data-uuid] is the alert the
 * detail view shows once it is drawn; body[data-auth] is "in" or "out".
 */
(function () {
  "use strict";

  // Falco's priorities, most severe first (lanner.Priority).
  const PRIORITIES = ["Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug"];
  const PRIORITY_COLORS = {
    Emergency: "#7f1d1d", Alert: "#b91c1c", Critical: "#e11d48", Error: "#f97316",
    Warning: "#f59e0b", Notice: "#3b82f6", Informational: "#06b6d4", Debug: "#94a3b8",
  };
  const PALETTE = ["#6366f1", "#14b8a6", "#f59e0b", "#ec4899", "#3b82f6", "#84cc16", "#a855f7",
    "#ef4444", "#0ea5e9", "#f97316"];
  const OTHER_COLOR = "#94a3b8";
  const PRESETS = { "5m": 300, "15m": 900, "1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800, "30d": 2592000 };
  const DEFAULT_RANGE = "24h";
  // The API's filters (dashboard/schema.py FILTERS, less "text", which is the search box's q).
  const FILTER_KEYS = ["priority", "rule", "source", "tag", "hostname", "namespace", "account"];
  const FILTER_LABELS = {
    priority: "priority ≥", rule: "rule", source: "source", tag: "tag",
    hostname: "host", namespace: "namespace", account: "account",
  };
  const GROUP_CHARTS = [  // chart name = the API's `by` = the filter it adds when clicked
    { by: "rule", top: 10, label: 34 }, { by: "source", top: 10, label: 20 }, { by: "tag", top: 10, label: 24 },
  ];
  const PAGE_SIZE = 50;
  const MAX_RANGE_S = 400 * 86400 - 60;  // the API answers ranges of at most 400 days
  const REFRESH_MS = 30000;
  const EXPORT_MAX_PARTS = 20;  // 5 MB each: past that, narrow the range
  const TOKEN_KEY = "lanner.token";
  const COGNITO_KEY = "lanner.cognito";
  const THEME_KEY = "lanner.theme";
  const AUTO_KEY = "lanner.autorefresh";
  const NO_TOKEN = "No access token. Open the URL `lanner ui` printed (it ends in ?token=…); " +
    "in the cloud, open the dashboard's URL and sign in.";
  const REFUSED = "The access token was refused. Open the URL `lanner ui` printed to sign in again " +
    "(a restarted `lanner ui` prints a new one).";

  // ---------------------------------------------------------------- small helpers

  const $ = (id, root) => (root || document).querySelector(`[data-testid="${id}"]`);

  /** Builds an element. Children that are strings become text nodes: never parsed as HTML. */
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "testid") node.dataset.testid = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function store(kind) {  // storage can be disabled (private modes, file://): fall back to none
    try { return window[kind]; } catch (e) { return null; }
  }
  function getItem(kind, key) { const s = store(kind); try { return s ? s.getItem(key) : null; } catch (e) { return null; } }
  function setItem(kind, key, value) {
    const s = store(kind);
    try { if (s) { if (value === null) s.removeItem(key); else s.setItem(key, value); } } catch (e) { /* full or denied */ }
  }

  const pad = (n, w) => String(n).padStart(w || 2, "0");

  /** A Date from an API or alert time (nanosecond fractions allowed); null when not a time. */
  function parseTime(text) {
    if (typeof text !== "string" || !text) return null;
    const cut = text.replace(/(\.\d{3})\d+/, "$1");
    const d = new Date(cut);
    return Number.isNaN(d.getTime()) ? null : d;
  }
  function fmtDate(d) { return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`; }
  function fmtClock(d) { return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`; }
  function fmtLocal(text) {
    const d = parseTime(text);
    return d ? `${fmtDate(d)} ${fmtClock(d)}` : String(text || "");
  }
  function toInputValue(iso) {  // ISO → datetime-local's "YYYY-MM-DDTHH:MM:SS" (local time)
    const d = parseTime(iso);
    return d ? `${fmtDate(d)}T${fmtClock(d)}` : "";
  }
  const fmtCount = (n) => Number(n || 0).toLocaleString("en-US");
  const clip = (text, n) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);
  const plural = (n, word) => `${fmtCount(n)} ${word}${n === 1 ? "" : "s"}`;
  const isPriority = (p) => PRIORITIES.includes(p);

  // ---------------------------------------------------------------- view state, kept in the URL hash

  const blankState = () => ({ range: DEFAULT_RANGE, from: "", to: "", q: "", filters: {}, alert: "" });
  let state = blankState();

  function readHash() {
    const params = new URLSearchParams(location.hash.slice(1));
    const s = blankState();
    const range = params.get("range");
    if (range && (Object.hasOwn(PRESETS, range) || range === "custom")) s.range = range;
    if (s.range === "custom") {
      s.from = params.get("from") || "";
      s.to = params.get("to") || "";
      if (!parseTime(s.from) || !parseTime(s.to)) { s.range = DEFAULT_RANGE; s.from = ""; s.to = ""; }
    }
    for (const key of FILTER_KEYS) {
      const value = params.get(key);
      if (value) s.filters[key] = value;
    }
    s.q = params.get("q") || "";
    s.alert = params.get("alert") || "";
    return s;
  }

  function hashOf(s) {
    const params = new URLSearchParams();
    if (s.range !== DEFAULT_RANGE) params.set("range", s.range);
    if (s.range === "custom") { params.set("from", s.from); params.set("to", s.to); }
    for (const key of FILTER_KEYS) if (s.filters[key]) params.set(key, s.filters[key]);
    if (s.q) params.set("q", s.q);
    if (s.alert) params.set("alert", s.alert);
    const text = params.toString();
    return text ? `#${text}` : "";
  }
  const viewKey = (s) => hashOf({ ...s, alert: "" });

  /** Moves to another view: a new history entry (back works), the hash shareable. */
  function navigate(next) {
    const hash = hashOf(next);
    if (hash !== location.hash) history.pushState(null, "", `${location.pathname}${location.search}${hash}`);
    applyState(next, false);
  }

  function applyState(next, force) {
    const changed = viewKey(next) !== viewKey(state);
    state = next;
    syncControls();
    if (changed || force) refresh();
    syncDetail();
  }

  function currentRange() {
    if (state.range === "custom") return { from: parseTime(state.from).toISOString(), to: parseTime(state.to).toISOString() };
    const to = new Date();
    return { from: new Date(to.getTime() - PRESETS[state.range] * 1000).toISOString(), to: to.toISOString() };
  }

  function queryParams(range) {
    const params = new URLSearchParams({ from: range.from, to: range.to });
    for (const key of FILTER_KEYS) if (state.filters[key]) params.set(key, state.filters[key]);
    if (state.q) params.set("q", state.q);
    return params;
  }
  function withParams(params, extra) {
    const out = new URLSearchParams(params);
    for (const [k, v] of Object.entries(extra)) if (v !== null && v !== undefined) out.set(k, String(v));
    return out;
  }

  function addFilter(key, value) {
    if (!FILTER_KEYS.includes(key) || !value) return;
    navigate({ ...state, filters: { ...state.filters, [key]: value }, alert: "" });
  }
  function removeFilter(key) {
    const filters = { ...state.filters };
    delete filters[key];
    navigate({ ...state, filters });
  }

  // ---------------------------------------------------------------- auth

  let config = { auth: "token" };
  class Unauthorized extends Error {}

  /** ?token= (token mode) goes to sessionStorage and out of the address bar, so it is in
   *  neither the history nor a shared link; returns it ("" when absent). */
  function takeTokenFromUrl() {
    const url = new URL(location.href);
    if (!url.searchParams.has("token")) return "";
    const token = url.searchParams.get("token") || "";
    url.searchParams.delete("token");
    history.replaceState(null, "", `${url.pathname}${url.search}${url.hash}`);
    return token;
  }

  function cognitoSession() {
    try { return JSON.parse(getItem("sessionStorage", COGNITO_KEY) || "null"); } catch (e) { return null; }
  }
  const signedIn = () => (config.auth === "cognito" ? Boolean(cognitoSession()) : Boolean(getItem("sessionStorage", TOKEN_KEY)));

  async function accessToken() {
    if (config.auth !== "cognito") {
      const token = getItem("sessionStorage", TOKEN_KEY);
      if (!token) throw new Unauthorized(NO_TOKEN);
      return token;
    }
    const session = cognitoSession();
    if (!session) throw new Unauthorized("Sign in to see alerts.");
    if (session.expiresAt - Date.now() < 60000) {
      // One refresh for the view's parallel requests, not one each.
      refreshing = refreshing || refreshCognito(session).finally(() => { refreshing = null; });
      return (await refreshing).access;
    }
    return session.access;
  }
  let refreshing = null;

  function signOut(message) {
    setItem("sessionStorage", TOKEN_KEY, null);
    setItem("sessionStorage", COGNITO_KEY, null);
    generation++;  // responses still on their way are dropped
    clearData();
    showAuth(message);
  }

  function showAuth(message) {
    document.body.dataset.auth = "out";
    $("auth-message").textContent = message;
    $("login-form").hidden = config.auth !== "cognito";
    document.getElementById("auth").hidden = false;
    document.getElementById("app").hidden = true;
    $("custom-range").hidden = true;
    setAutoRefresh(false, false);
    if (config.auth === "cognito") $("login-username").focus();
  }

  function showApp() {
    document.body.dataset.auth = "in";
    document.getElementById("auth").hidden = true;
    document.getElementById("app").hidden = false;
  }

  // Cognito (cloud): the user pool's own API, no hosted UI (so no callback URL to configure).
  const cognitoChallenge = { name: "", session: "", username: "" };
  // The challenges the form answers: the field it shows and what it says (any other is an error).
  const CHALLENGES = {
    NEW_PASSWORD_REQUIRED: {
      field: "login-new-password", box: ".new-password", submit: "Set password and sign in",
      message: "Choose a new password (the one you were given was temporary).",
      responses: (value) => ({ NEW_PASSWORD: value }),
    },
    SOFTWARE_TOKEN_MFA: {
      field: "login-mfa-code", box: ".mfa-code", submit: "Verify code and sign in",
      message: "Enter the 6-digit code your authenticator app shows for lanner.",
      responses: (value) => ({ SOFTWARE_TOKEN_MFA_CODE: value.replace(/\s+/g, "") }),
    },
  };

  async function cognito(target, body) {
    const res = await fetch(`https://cognito-idp.${config.region}.amazonaws.com/`, {
      method: "POST",
      headers: {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": `AWSCognitoIdentityProviderService.${target}`,
      },
      body: JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
    let data = {};
    try { data = await res.json(); } catch (e) { /* not JSON: the status says enough */ }
    if (!res.ok) {
      const kind = typeof data.__type === "string" ? data.__type.split("#").pop() : `HTTP ${res.status}`;
      const error = new Error(typeof data.message === "string" && data.message ? data.message : kind);
      error.kind = kind;
      throw error;
    }
    return data;
  }

  function keepCognito(result, previous) {
    const session = {
      access: result.AccessToken,
      refresh: result.RefreshToken || (previous && previous.refresh) || "",
      expiresAt: Date.now() + Number(result.ExpiresIn || 3600) * 1000,
    };
    setItem("sessionStorage", COGNITO_KEY, JSON.stringify(session));
    return session;
  }

  async function refreshCognito(session) {
    if (!session.refresh) throw new Unauthorized("Your session ended. Sign in again.");
    try {
      const data = await cognito("InitiateAuth", {
        AuthFlow: "REFRESH_TOKEN_AUTH",
        ClientId: config.client_id,
        AuthParameters: { REFRESH_TOKEN: session.refresh },
      });
      return keepCognito(data.AuthenticationResult, session);
    } catch (e) {
      throw new Unauthorized("Your session ended. Sign in again.");
    }
  }

  async function onLogin(event) {
    event.preventDefault();
    const form = $("login-form");
    const error = $("login-error");
    const submit = $("login-submit");
    error.textContent = "";
    submit.disabled = true;
    try {
      let data;
      if (cognitoChallenge.session) {
        const challenge = CHALLENGES[cognitoChallenge.name];
        data = await cognito("RespondToAuthChallenge", {
          ChallengeName: cognitoChallenge.name,
          ClientId: config.client_id,
          Session: cognitoChallenge.session,
          ChallengeResponses: { USERNAME: cognitoChallenge.username, ...challenge.responses($(challenge.field).value) },
        });
      } else {
        const username = $("login-username").value.trim();
        data = await cognito("InitiateAuth", {
          AuthFlow: "USER_PASSWORD_AUTH",
          ClientId: config.client_id,
          AuthParameters: { USERNAME: username, PASSWORD: $("login-password").value },
        });
        cognitoChallenge.username = username;
      }
      if (Object.hasOwn(CHALLENGES, data.ChallengeName || "")) {
        // Each replaces the one before: Cognito may ask for a new password, then the code.
        showChallenge(data.ChallengeName, data.Session);
        return;
      }
      if (!data.AuthenticationResult) throw new Error(`unexpected challenge ${data.ChallengeName || ""}`.trim());
      keepCognito(data.AuthenticationResult, null);
      resetLoginForm();
      start();
    } catch (e) {
      if (e.kind === "NotAuthorizedException" && cognitoChallenge.session) resetLoginForm();
      if (e.kind === "CodeMismatchException") {
        // Same session: the user can type the next code the app shows.
        error.textContent = "Sign-in failed: wrong code. Enter the code your authenticator app shows now.";
        $("login-mfa-code").value = "";
        $("login-mfa-code").focus();
      } else if (e.kind === "ExpiredCodeException") {
        error.textContent = "Sign-in failed: that code was already used. Wait for the next one.";
      } else {
        error.textContent = `Sign-in failed: ${e.message}`;
      }
    } finally {
      submit.disabled = false;
    }
  }

  function showChallenge(name, session) {
    const form = $("login-form");
    const challenge = CHALLENGES[name];
    cognitoChallenge.name = name;
    cognitoChallenge.session = session;
    form.querySelector(".password").hidden = true;
    $("login-password").required = false;
    $("login-username").disabled = true;
    for (const [other, { field, box }] of Object.entries(CHALLENGES)) {
      form.querySelector(box).hidden = other !== name;
      $(field).required = other === name;
    }
    $("login-submit").textContent = challenge.submit;
    $("auth-message").textContent = challenge.message;
    $(challenge.field).focus();
  }

  function resetLoginForm() {
    const form = $("login-form");
    cognitoChallenge.name = "";
    cognitoChallenge.session = "";
    cognitoChallenge.username = "";
    form.reset();
    for (const { field, box } of Object.values(CHALLENGES)) {
      form.querySelector(box).hidden = true;
      $(field).required = false;
    }
    form.querySelector(".password").hidden = false;
    $("login-password").required = true;
    $("login-username").disabled = false;
    $("login-submit").textContent = "Sign in";
  }

  // ---------------------------------------------------------------- the API

  async function api(path, params, options) {
    const raw = Boolean(options && options.raw);
    const url = params ? `${path}?${params}` : path;
    for (let attempt = 0; ; attempt++) {
      const token = await accessToken();
      const res = await fetch(url, {
        headers: { Authorization: `Bearer ${token}`, Accept: raw ? "*/*" : "application/json" },
        credentials: "omit",
        cache: "no-store",
      });
      if (res.status === 401) {
        await res.text().catch(() => "");  // read to the end: the request is then done
        const session = cognitoSession();
        if (config.auth === "cognito" && session && attempt === 0) {
          refreshing = refreshing || refreshCognito(session).finally(() => { refreshing = null; });
          await refreshing;
          continue;
        }
        throw new Unauthorized(config.auth === "cognito" ? "Your session ended. Sign in again." : REFUSED);
      }
      if (!res.ok) {
        let message = `HTTP ${res.status}`;
        try {
          const body = await res.json();
          if (body && typeof body.message === "string") message = body.message;
        } catch (e) { /* not JSON */ }
        throw new Error(message);
      }
      return raw ? res : res.json();
    }
  }

  function handleError(error, what) {
    if (error instanceof Unauthorized) { signOut(error.message); return; }
    setStatus(`${what}: ${error.message}`, "error");
  }

  // ---------------------------------------------------------------- loading a view

  let generation = 0;         // a newer refresh makes older responses stale
  let refreshes = 0;          // views loaded: body[data-refreshes], for tests to wait on
  const view = { params: null, cursor: null, rows: new Map(), last: null };

  async function refresh() {
    if (!signedIn()) return;
    const gen = ++generation;
    const params = queryParams(currentRange());
    view.params = params;
    setStatus("Loading…", "busy");
    const counts = (by, top) => api("api/counts", withParams(params, { by, top }));
    try {
      const [priority, timeline, page, ...groups] = await Promise.all([
        counts("priority", PRIORITIES.length),
        api("api/timeline", params),
        fetchPage(params, null),
        ...GROUP_CHARTS.map((c) => counts(c.by, c.top)),
      ]);
      if (gen !== generation) return;
      view.last = { priority, timeline, groups };
      renderCounters(priority);
      renderCharts();
      renderRows(page, false);
      if (!page.rows.length && !page.cursor) await offerNewest(gen);
      setStatus(`Updated ${fmtClock(new Date())}`, "");
      document.body.dataset.refreshes = String(++refreshes);
    } catch (error) {
      if (gen === generation) handleError(error, "Could not load alerts");
    }
  }

  /** Nothing in this range and no filter: says when the newest stored alert is and offers a
   * range that reaches it (replayed or historical events, such as the demo's samples, carry
   * their own times and can be older than any preset). */
  async function offerNewest(gen) {
    if (Object.keys(state.filters).length || state.q) return;
    const to = new Date();
    const from = new Date(to.getTime() - MAX_RANGE_S * 1000);
    const body = await api("api/alerts", new URLSearchParams({ from: from.toISOString(), to: to.toISOString(), limit: "1" }));
    const newest = Array.isArray(body.alerts) && body.alerts.length ? parseTime(String(body.alerts[0].time || "")) : null;
    const cell = document.querySelector('[data-testid="no-events"] td');
    if (gen !== generation || !newest || !cell) return;
    const start = new Date(Math.max(from.getTime(), newest.getTime() - 86400 * 1000));
    cell.replaceChildren(
      `No alerts in this range. The newest stored alert is from ${fmtLocal(newest.toISOString())}. `,
      el("button", {
        type: "button", class: "quiet", testid: "show-newest",
        onclick: () => navigate({ ...state, range: "custom", from: start.toISOString(), to: to.toISOString(), alert: "" }),
      }, "Show the alerts up to now from the day before it"));
  }

  /** One page of rows. An empty page with a cursor means "nothing in what was read, go on". */
  async function fetchPage(params, cursor) {
    let rows = [];
    let next = cursor;
    for (let calls = 0; calls < 5; calls++) {
      const body = await api("api/alerts", withParams(params, { limit: PAGE_SIZE, cursor: next }));
      rows = rows.concat(Array.isArray(body.alerts) ? body.alerts : []);
      next = body.cursor || null;
      if (rows.length || !next) break;
    }
    return { rows, cursor: next };
  }

  async function loadMore() {
    const button = $("load-more");
    if (!view.cursor || !view.params) return;
    const gen = generation;
    button.disabled = true;
    try {
      const page = await fetchPage(view.params, view.cursor);
      if (gen === generation) renderRows(page, true);
    } catch (error) {
      if (gen === generation) handleError(error, "Could not load more");
    } finally {
      button.disabled = false;
    }
  }

  function setStatus(text, kind) {
    const status = $("status");
    status.textContent = text;
    status.dataset.kind = kind || "";
  }

  function clearData() {
    view.last = null;
    view.cursor = null;
    view.rows.clear();
    $("counters").replaceChildren();
    $("counts-note").textContent = "";
    document.querySelector('[data-testid="events-table"] tbody').replaceChildren();
    $("load-more").hidden = true;
    for (const canvas of document.querySelectorAll("canvas")) {
      const chart = window.Chart && window.Chart.getChart(canvas);
      if (chart) chart.destroy();
    }
    closeDetailDialog();
    setStatus("", "");
  }

  // ---------------------------------------------------------------- counters

  function renderCounters(counts) {
    const byPriority = new Map((counts.groups || []).map((g) => [g.value, g.count]));
    const exact = counts.exact !== false;
    const card = (testid, label, n, priority) => {
      const props = {
        class: `counter${priority ? ` prio-${priority}` : " total"}${n ? "" : " zero"}`,
        testid, dataset: { count: String(n) },
      };
      const body = [el("span", { class: "label" }, label), el("span", { class: "value" }, `${exact ? "" : "≥ "}${fmtCount(n)}`)];
      if (!priority) return el("div", props, body);
      return el("button", {
        ...props, type: "button", title: `Show ${priority} and more severe`,
        onclick: () => addFilter("priority", priority),
      }, body);
    };
    $("counters").replaceChildren(
      card("counter-total", "Total", counts.total || 0, null),
      ...PRIORITIES.map((p) => card(`counter-${p}`, p, byPriority.get(p) || 0, p)),
    );
    const from = fmtLocal(counts.counted_from);
    const to = fmtLocal(counts.counted_to);
    const grain = counts.granularity ? `whole ${counts.granularity}s` : "counted from the matching alerts";
    $("counts-note").textContent = `Counts cover ${from} – ${to} (${grain})` +
      (exact ? "." : "; the count stopped at its bound, so these are lower bounds.");
  }

  // ---------------------------------------------------------------- charts (Chart.js)

  function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }

  function chartDefaults() {
    const Chart = window.Chart;
    Chart.defaults.color = cssVar("--muted");
    Chart.defaults.borderColor = cssVar("--grid");
    Chart.defaults.font.family = cssVar("--font");
    Chart.defaults.maintainAspectRatio = false;
    Chart.defaults.plugins.legend.labels.boxWidth = 12;
    if (window.matchMedia("(prefers-reduced-motion: reduce)").matches) Chart.defaults.animation = false;
  }

  function upsertChart(name, config) {
    const canvas = $(`chart-${name}`);
    const existing = window.Chart.getChart(canvas);
    if (existing && existing.config.type === config.type) {
      existing.data = config.data;
      existing.options = config.options;
      existing.update();
      return;
    }
    if (existing) existing.destroy();
    new window.Chart(canvas, config);  // eslint-disable-line no-new
  }

  /** Clicking a bar adds its filter; `values` parallels the labels (null: not filterable). */
  function clickable(key, values) {
    return {
      onClick: (event, elements) => {
        if (elements.length && values[elements[0].index] !== null) addFilter(key, values[elements[0].index]);
      },
      onHover: (event, elements) => {
        const target = event.native && event.native.target;
        if (target) target.classList.toggle("pointer", Boolean(elements.length && values[elements[0].index] !== null));
      },
    };
  }

  /** Axis labels cut to `max` characters (the tooltip has the whole value). */
  function tickLabel(max) {
    return function (value) { return clip(String(this.getLabelForValue(value)), max); };
  }

  function renderCharts() {
    if (!view.last || !window.Chart) return;
    chartDefaults();
    renderPriorityChart(view.last.priority);
    renderTimeline(view.last.timeline);
    GROUP_CHARTS.forEach((c, i) => renderGroupChart(c, view.last.groups[i]));
  }

  function renderPriorityChart(counts) {
    const byPriority = new Map((counts.groups || []).map((g) => [g.value, g.count]));
    const present = PRIORITIES.filter((p) => byPriority.get(p));
    upsertChart("priority", {
      type: "doughnut",
      data: {
        labels: present,
        datasets: [{
          label: "Alerts",
          data: present.map((p) => byPriority.get(p)),
          backgroundColor: present.map((p) => PRIORITY_COLORS[p]),
          borderColor: cssVar("--card"),
          borderWidth: 2,
        }],
      },
      options: {
        cutout: "58%",
        plugins: { legend: { position: "right" } },
        ...clickable("priority", present),
      },
    });
  }

  function renderGroupChart({ by, label }, counts) {
    const groups = counts.groups || [];
    const labels = groups.map((g) => String(g.value));
    const data = groups.map((g) => g.count);
    const values = labels.slice();
    const colors = labels.map((_, i) => PALETTE[i % PALETTE.length]);
    if (counts.other) { labels.push("(others)"); data.push(counts.other); values.push(null); colors.push(OTHER_COLOR); }
    upsertChart(by, {
      type: "bar",
      data: { labels, datasets: [{ label: "Alerts", data, backgroundColor: colors, borderRadius: 3, maxBarThickness: 22 }] },
      options: {
        indexAxis: "y",
        plugins: { legend: { display: false }, tooltip: { callbacks: { title: (items) => items.map((i) => i.label) } } },
        scales: {
          x: { beginAtZero: true, ticks: { precision: 0 } },
          y: { grid: { display: false }, ticks: { callback: tickLabel(label), autoSkip: false } },
        },
        ...clickable(by, values),
      },
    });
  }

  function bucketLabel(start, seconds, multiDay) {
    const d = parseTime(start);
    if (!d) return String(start);
    if (seconds >= 86400) return fmtDate(d).slice(5);
    const clock = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
    return multiDay ? `${fmtDate(d).slice(5)} ${clock}` : clock;
  }

  function renderTimeline(timeline) {
    const buckets = timeline.buckets || [];
    const seconds = Number(timeline.bucket_seconds) || 60;
    const first = parseTime(buckets.length ? buckets[0].start : "");
    const last = parseTime(buckets.length ? buckets[buckets.length - 1].start : "");
    const multiDay = Boolean(first && last && fmtDate(first) !== fmtDate(last));
    const present = PRIORITIES.filter((p) => buckets.some((b) => b.counts && b.counts[p]));
    upsertChart("timeline", {
      type: "bar",
      data: {
        labels: buckets.map((b) => bucketLabel(b.start, seconds, multiDay)),
        datasets: present.map((p) => ({
          label: p,
          data: buckets.map((b) => (b.counts && b.counts[p]) || 0),
          backgroundColor: PRIORITY_COLORS[p],
          stack: "priority",
        })),
      },
      options: {
        plugins: {
          legend: { position: "bottom" },
          tooltip: { callbacks: { title: (items) => items.length ? fmtLocal(buckets[items[0].dataIndex].start) : "" } },
        },
        scales: {
          x: { stacked: true, grid: { display: false }, ticks: { maxRotation: 0, autoSkipPadding: 12 } },
          y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } },
        },
        // Clicking a bar zooms the view to that bucket.
        onClick: (event, elements) => {
          if (!elements.length) return;
          const start = parseTime(buckets[elements[0].index].start);
          if (!start) return;
          const end = new Date(start.getTime() + seconds * 1000);
          navigate({ ...state, range: "custom", from: start.toISOString(), to: end.toISOString(), alert: "" });
        },
        onHover: (event, elements) => {
          const target = event.native && event.native.target;
          if (target) target.classList.toggle("pointer", elements.length > 0);
        },
      },
    });
  }

  // ---------------------------------------------------------------- the events table

  function filterLink(key, value, label, extraClass) {
    const text = String(value);
    const shown = label === undefined ? text : label;
    return el("button", {
      type: "button",
      class: `filter-link${extraClass ? ` ${extraClass}` : ""}`,
      testid: "filter-link",
      dataset: { key, value: text },
      title: `Filter: ${FILTER_LABELS[key]} ${clip(text, 200)}`,
      onclick: (event) => { event.stopPropagation(); addFilter(key, text); },
    }, shown);
  }

  function priorityBadge(priority) {
    const known = isPriority(priority);
    return filterLink("priority", priority, priority, `badge${known ? ` prio-${priority}` : ""}`);
  }

  function repeatText(repeat, hosts) {
    let text = `×${fmtCount(repeat)}`;
    if (hosts !== null && hosts !== undefined) text += ` on ${plural(hosts, "host")}`;
    return text;
  }

  function valueCell(label, key, value) {
    return el("td", { dataset: { label } }, value ? filterLink(key, value, clip(String(value), 120)) : el("span", { class: "none" }, "—"));
  }

  function rowOf(alert) {
    const str = (v) => (typeof v === "string" ? v : v === null || v === undefined ? "" : String(v));
    const uuid = str(alert.uuid);
    const priority = str(alert.priority);
    const summary = alert.repeat !== null && alert.repeat !== undefined;
    const output = el("div", { class: "output", testid: "output", title: alert.output_truncated ? "Cut; open the alert for all of it" : null }, str(alert.output));
    const tags = (Array.isArray(alert.tags) ? alert.tags : []).map((t) => filterLink("tag", str(t), str(t), "tag"));
    const open = el("button", { type: "button", class: "open", testid: "open-detail", title: str(alert.time) }, fmtLocal(str(alert.time)));
    const tr = el("tr", {
      testid: "event-row",
      class: isPriority(priority) ? `prio-${priority}` : null,
      dataset: { uuid, priority },
      onclick: (event) => { if (!event.target.closest("button.filter-link")) openDetail(uuid); },
    },
    el("td", { class: "time", dataset: { label: "Time" } }, open),
    el("td", { dataset: { label: "Priority" } }, priority ? priorityBadge(priority) : el("span", { class: "none" }, "—")),
    valueCell("Rule", "rule", str(alert.rule)),
    valueCell("Source", "source", str(alert.source)),
    valueCell("Host", "hostname", str(alert.hostname)),
    valueCell("Namespace", "namespace", str(alert.namespace)),
    el("td", { class: "out", dataset: { label: "Output" } },
      summary ? el("span", { class: "repeat", testid: "repeat-badge", title: "A summary of repeated alerts" }, repeatText(alert.repeat, alert.hosts)) : null,
      output,
      tags.length ? el("div", { class: "tags" }, tags) : null));
    view.rows.set(uuid, alert);
    return tr;
  }

  function renderRows(page, append) {
    const tbody = document.querySelector('[data-testid="events-table"] tbody');
    if (!append) { view.rows.clear(); tbody.replaceChildren(); }
    tbody.append(...page.rows.map(rowOf));
    if (!tbody.children.length) {
      tbody.append(el("tr", { class: "empty", testid: "no-events" },
        el("td", { colspan: "7" }, page.cursor ? "Nothing found yet; load more to search further back." : "No alerts in this range.")));
    } else {
      const empty = tbody.querySelector(".empty");
      if (empty && page.rows.length) empty.remove();
    }
    view.cursor = page.cursor;
    $("load-more").hidden = !page.cursor;
  }

  // ---------------------------------------------------------------- detail view

  let detailUuid = "";

  function openDetail(uuid) {
    if (uuid) navigate({ ...state, alert: uuid });
  }

  function syncDetail() {
    const dialog = $("detail");
    if (!state.alert) { closeDetailDialog(); return; }
    if (dialog.open && detailUuid === state.alert) return;
    if (!signedIn()) return;
    loadDetail(state.alert);
  }

  function closeDetailDialog() {
    const dialog = $("detail");
    detailUuid = "";
    if (dialog.open) dialog.close();
  }

  async function loadDetail(uuid) {
    const dialog = $("detail");
    detailUuid = uuid;
    delete dialog.dataset.uuid;
    $("detail-title").textContent = "Loading…";
    $("detail-body").replaceChildren();
    if (!dialog.open) dialog.showModal();
    try {
      const body = await api(`api/alerts/${encodeURIComponent(uuid)}`, null);
      if (detailUuid !== uuid) return;
      renderDetail(uuid, body);
      dialog.dataset.uuid = uuid;
    } catch (error) {
      if (detailUuid !== uuid) return;
      if (error instanceof Unauthorized) { signOut(error.message); return; }
      $("detail-title").textContent = "Alert not shown";
      $("detail-body").replaceChildren(el("p", { class: "error" }, error.message));
    }
  }

  function fieldText(value) {
    if (typeof value === "string") return value;
    if (value === null || value === undefined) return "null";
    return JSON.stringify(value);
  }

  function renderDetail(uuid, body) {
    const doc = body && typeof body.alert === "object" && body.alert ? body.alert : {};
    const row = view.rows.get(uuid) || {};
    const str = (v) => (v === null || v === undefined ? "" : fieldText(v));
    const priority = str(doc.priority);
    $("detail-title").replaceChildren(
      priority ? el("span", { class: `badge${isPriority(priority) ? ` prio-${priority}` : ""}` }, priority) : "",
      el("span", { class: "rule" }, str(doc.rule) || "(no rule)"));

    const facts = [];
    const fact = (label, ...value) => facts.push(el("dt", null, label), el("dd", null, ...value));
    const link = (key, value) => (value ? filterLink(key, value) : el("span", { class: "none" }, "—"));
    fact("Time", el("span", { title: str(doc.time) }, `${fmtLocal(str(doc.time))} `), el("code", null, str(doc.time)));
    fact("Priority", link("priority", priority));
    fact("Rule", link("rule", str(doc.rule)));
    fact("Source", link("source", str(doc.source)));
    fact("Host", link("hostname", str(doc.hostname)));
    if (row.namespace) fact("Namespace", link("namespace", str(row.namespace)));
    if (row.account) fact("Account", link("account", str(row.account)));
    const tags = Array.isArray(doc.tags) ? doc.tags : [];
    fact("Tags", tags.length ? el("span", { class: "tags" }, tags.map((t) => filterLink("tag", str(t), str(t), "tag"))) : el("span", { class: "none" }, "—"));
    fact("UUID", el("code", null, str(doc.uuid) || uuid));
    if (doc.repeat && typeof doc.repeat === "object") {
      const r = doc.repeat;
      const hostsNamed = Array.isArray(r.host_names) && r.host_names.length ? ` (${r.host_names.map(str).join(", ")})` : "";
      fact("Repeated", el("span", { testid: "detail-repeat" }, `${repeatText(r.count, r.hosts)}${hostsNamed}`));
      fact("Seen", `${fmtLocal(str(r.first_seen))} – ${fmtLocal(str(r.last_seen))}`);
    }
    fact("Stored", `${fmtLocal(str(body.received))}, kept until ${fmtLocal(str(body.expires))}`);

    const outputFields = doc.output_fields && typeof doc.output_fields === "object" ? Object.entries(doc.output_fields) : [];
    const fieldRows = outputFields.map(([k, v]) => el("tr", null, el("th", { scope: "row" }, k), el("td", null, fieldText(v))));
    const raw = JSON.stringify(doc, null, 2);
    const copy = el("button", {
      type: "button", class: "quiet", testid: "detail-copy",
      onclick: async () => {
        try { await navigator.clipboard.writeText(raw); copy.textContent = "Copied"; } catch (e) { copy.textContent = "Copy failed"; }
      },
    }, "Copy JSON");

    $("detail-body").replaceChildren(
      el("dl", { class: "facts", testid: "detail-fields" }, facts),
      el("h3", null, "Output"),
      el("pre", { class: "output-full", testid: "detail-output" }, str(doc.output)),
      el("h3", null, `Output fields (${outputFields.length})`),
      outputFields.length
        ? el("div", { class: "scroll" }, el("table", { class: "fields", testid: "detail-output-fields" }, el("tbody", null, fieldRows)))
        : el("p", { class: "none" }, "None."),
      el("div", { class: "raw-head" }, el("h3", null, "Raw JSON"), copy),
      el("pre", { class: "raw", testid: "detail-raw" }, raw));
  }

  // ---------------------------------------------------------------- export

  function filenameOf(disposition) {
    const m = /filename="?([^";]+)"?/.exec(disposition || "");
    const name = m ? m[1].replace(/[^A-Za-z0-9._-]/g, "_") : "";
    return name || "lanner-alerts.jsonl";
  }

  async function exportAlerts() {
    const button = $("export");
    button.disabled = true;
    setStatus("Exporting…", "busy");
    try {
      const params = queryParams(currentRange());
      const parts = [];
      let cursor = null;
      let name = "";
      let calls = 0;
      do {
        const res = await api("api/export", withParams(params, { cursor }), { raw: true });
        name = name || filenameOf(res.headers.get("Content-Disposition"));
        const blob = await res.blob();
        parts.push(blob);
        if (blob.size && (await blob.slice(-1).text()) !== "\n") parts.push("\n");
        cursor = res.headers.get("X-Lanner-Cursor");
        calls++;
      } while (cursor && calls < EXPORT_MAX_PARTS);
      const file = new Blob(parts, { type: "application/x-ndjson" });
      const href = URL.createObjectURL(file);
      const a = el("a", { href, download: name, class: "hidden-link" });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(href), 60000);
      setStatus(cursor ? `Exported the first ${fmtCount(file.size)} bytes; narrow the range for the rest.` : `Exported ${name}`, "");
    } catch (error) {
      handleError(error, "Export failed");
    } finally {
      button.disabled = false;
    }
  }

  // ---------------------------------------------------------------- controls

  let timer = null;

  function setAutoRefresh(on, remember) {
    if (timer) clearInterval(timer);
    timer = on ? setInterval(() => { if (!document.hidden && !$("detail").open) refresh(); }, REFRESH_MS) : null;
    $("auto-refresh").checked = on;
    if (remember) setItem("localStorage", AUTO_KEY, on ? "1" : "0");
  }

  function syncControls() {
    for (const button of document.querySelectorAll("[data-range]")) {
      button.setAttribute("aria-pressed", String(button.dataset.range === state.range));
    }
    const custom = $("custom-range");
    custom.hidden = state.range !== "custom" || document.body.dataset.auth !== "in";
    if (state.range === "custom") {
      $("custom-from").value = toInputValue(state.from);
      $("custom-to").value = toInputValue(state.to);
    }
    const search = $("search-input");
    if (document.activeElement !== search) search.value = state.q;
    const chips = FILTER_KEYS.filter((k) => state.filters[k]).map((key) => el("span", {
      class: `chip${key === "priority" && isPriority(state.filters[key]) ? ` prio-${state.filters[key]}` : ""}`,
      testid: "chip",
      dataset: { key, value: state.filters[key] },
    },
    el("span", { class: "key" }, FILTER_LABELS[key]),
    el("span", { class: "value" }, clip(state.filters[key], 80)),
    el("button", {
      type: "button", class: "remove", testid: "chip-remove",
      "aria-label": `Remove the ${FILTER_LABELS[key]} filter`,
      onclick: () => removeFilter(key),
    }, "×")));
    if (chips.length > 1) {
      chips.push(el("button", { type: "button", class: "clear quiet", testid: "chips-clear", onclick: () => navigate({ ...state, filters: {} }) }, "Clear all"));
    }
    $("chips").replaceChildren(...chips);
  }

  function onPreset(event) {
    const range = event.currentTarget.dataset.range;
    if (range === "custom") {
      const { from, to } = currentRange();
      $("custom-range").hidden = false;
      $("custom-from").value = toInputValue(from);
      $("custom-to").value = toInputValue(to);
      $("custom-from").focus();
      return;
    }
    navigate({ ...state, range, from: "", to: "" });
  }

  function onCustom(event) {
    event.preventDefault();
    const from = new Date($("custom-from").value);
    const to = new Date($("custom-to").value);
    if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime()) || from >= to) {
      setStatus("The custom range needs a start before its end.", "error");
      return;
    }
    navigate({ ...state, range: "custom", from: from.toISOString(), to: to.toISOString() });
  }

  let searchTimer = null;
  function onSearch(event) {
    if (event.type === "submit") event.preventDefault();
    clearTimeout(searchTimer);
    const go = () => {
      const q = $("search-input").value.trim();
      if (q !== state.q) navigate({ ...state, q, alert: "" });
    };
    if (event.type === "input") searchTimer = setTimeout(go, 400); else go();
  }

  function currentTheme() {
    const saved = getItem("localStorage", THEME_KEY);
    if (saved === "dark" || saved === "light") return saved;
    return window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }

  function applyTheme(theme) {
    document.documentElement.dataset.theme = theme;
    const button = $("theme-toggle");
    button.textContent = theme === "dark" ? "☀" : "☾";
    button.setAttribute("aria-label", theme === "dark" ? "Light mode" : "Dark mode");
    button.title = button.getAttribute("aria-label");
    if (window.Chart && view.last) {  // colours come from CSS variables: rebuild
      for (const canvas of document.querySelectorAll("canvas")) {
        const chart = window.Chart.getChart(canvas);
        if (chart) chart.destroy();
      }
      renderCharts();
    }
  }

  function wire() {
    for (const button of document.querySelectorAll("[data-range]")) button.addEventListener("click", onPreset);
    $("custom-range").addEventListener("submit", onCustom);
    $("search-form").addEventListener("submit", onSearch);
    $("search-input").addEventListener("input", onSearch);
    $("search-input").addEventListener("search", onSearch);  // the field's own clear button
    $("refresh").addEventListener("click", () => refresh());
    $("load-more").addEventListener("click", loadMore);
    $("export").addEventListener("click", exportAlerts);
    $("auto-refresh").addEventListener("change", (e) => setAutoRefresh(e.target.checked, true));
    $("theme-toggle").addEventListener("click", () => {
      const next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
      setItem("localStorage", THEME_KEY, next);
      applyTheme(next);
    });
    window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => applyTheme(currentTheme()));
    $("logout").addEventListener("click", () => signOut(config.auth === "cognito" ? "Signed out." : `Signed out. ${NO_TOKEN}`));
    $("login-form").addEventListener("submit", onLogin);
    $("detail-close").addEventListener("click", () => $("detail").close());
    $("detail").addEventListener("close", () => {
      detailUuid = "";
      if (state.alert) navigate({ ...state, alert: "" });
    });
    $("detail").addEventListener("click", (event) => {  // a click on the backdrop closes
      if (event.target === event.currentTarget) event.currentTarget.close();
    });
    const onUrl = () => applyState(readHash(), false);
    window.addEventListener("popstate", onUrl);
    window.addEventListener("hashchange", onUrl);
  }

  // ---------------------------------------------------------------- start

  async function loadConfig() {
    try {
      const res = await fetch("config.json", { credentials: "omit", cache: "no-store" });
      if (!res.ok) return { auth: "token" };
      const body = await res.json();
      if (body && body.auth === "cognito" && /^[a-z]{2}(-[a-z]+)+-\d+$/.test(body.region || "") && body.client_id) return body;
      return { auth: "token" };
    } catch (e) {
      return { auth: "token" };
    }
  }

  function start() {
    if (!signedIn()) {
      showAuth(config.auth === "cognito" ? "Sign in to see alerts." : NO_TOKEN);
      return;
    }
    showApp();
    setAutoRefresh(getItem("localStorage", AUTO_KEY) === "1", false);
    applyState(readHash(), true);
  }

  async function main() {
    const token = takeTokenFromUrl();  // before anything else runs or is fetched
    applyTheme(currentTheme());
    wire();
    config = await loadConfig();
    if (token && config.auth === "token") setItem("sessionStorage", TOKEN_KEY, token);
    start();
  }

  main();
}());
