// The back-office pages. Each page is a function that loads what it shows through the
// public GraphQL API; live pages also subscribe. The server applies the caller's role to
// every field (masked email, refused wallets): the page shows what comes back.
"use strict";

(() => {
  const {$, el, fillTable, showError, addDecimal, money, lineChart} = UI;
  const CURRENCIES = ["EUR", "USD", "GBP", "SEK", "NOK", "CAD", "JPY"];
  const DAYS = 30;
  const RECONCILE_MS = 6000;  // after a live event: the analytics rollups have caught up
  const state = {me: null, permissions: new Set(), currency: localStorage.getItem("pms.admin.currency") || "EUR",
                 daily: [], delta: emptyDelta(), feed: null, alertsFeed: null, reconcile: null};

  const Q = {
    login: `mutation($email: String!, $password: String!) {
      staffLogin(email: $email, password: $password) {
        __typename
        ... on MfaRequired { challengeId methods webauthnOptions }
        ... on AuthTokens { accessToken }
        ... on InvalidCredentials { message }
        ... on TooManyAttempts { message retryAfterSeconds }
        ... on MfaFailed { message } } }`,
    verify: `mutation($challengeId: String!, $method: MfaMethod!, $code: String, $assertion: JSON) {
      verifyMfa(challengeId: $challengeId, method: $method, code: $code, assertion: $assertion) {
        __typename
        ... on AuthTokens { accessToken }
        ... on InvalidCredentials { message }
        ... on TooManyAttempts { message } } }`,
    me: `{ me { __typename ... on StaffUser { id email displayName role permissions } } }`,
    daily: `query($from: Date!, $to: Date!, $currency: String!) {
      analyticsDaily(fromDay: $from, toDay: $to, currency: $currency) {
        __typename
        ... on AnalyticsDailySeries { days { day depositsCount deposits { amount } withdrawalsCount
              withdrawals { amount } betsCount stakes { amount } wins { amount } ggr { amount }
              activePlayers registrations rollbacks } }
        ... on ValidationError { message } } }`,
    events: `subscription { playerEvents { id type subject time data } }`,
    series: `query($input: AnalyticsSeriesInput!) { analyticsSeries(input: $input) {
        __typename
        ... on AnalyticsSeries { periods { start registrations registrationFailures
              registrationErrors { field reason count } kycDecisions kycVerified kycSuccessRate
              medianKycDecisionSeconds } }
        ... on ValidationError { message } } }`,
    kycQueue: `query($first: Int!) { kycQueue(first: $first) { totalCount
        edges { node { ageSeconds case { id playerId provider status riskLevel createdAt } } } } }`,
    alerts: `query { alerts(first: 50) { id ruleKey kind metric status value threshold firedAt
        acknowledgedBy resolvedAt } }`,
    alertEvents: `subscription { alerts { type alert { id ruleKey kind metric status value threshold
        firedAt acknowledgedBy resolvedAt } } }`,
    acknowledge: `mutation($id: ID!) { acknowledgeAlert(id: $id, note: "acknowledged on the dashboard") {
        __typename ... on Alert { id status acknowledgedBy } ... on UserError { message } } }`,
    search: `query($search: String!) { players(filter: {search: $search}, first: 20) {
      totalCount edges { node { id login email country status } } } }`,
    // One request per section: a section the role may not read fails alone (a refused
    // non-null field would otherwise null the whole player).
    player: `query($id: ID!) { player(id: $id) { id login email country currency status confirmStatus
      vipLevel riskLevel createdAt } }`,
    sections: {
      wallets: `query($id: ID!) { player(id: $id) { wallets { kind currency balance { amount currency }
        held { amount } available { amount } } } }`,
      ledger: `query($id: ID!) { player(id: $id) { ledger(first: 20) { edges { node { createdAt kind walletKind
        amount { amount currency } balanceAfter { amount } reference } } } } }`,
      bonuses: `query($id: ID!) { player(id: $id) { bonuses { kind status amount { amount currency } expiresAt } } }`,
      segments: `query($id: ID!) { player(id: $id) { segments { name } } }`,
      kycCases: `query($id: ID!) { player(id: $id) { kycCases { status provider riskLevel createdAt decidedAt } } }`,
      audit: `query($target: String!, $bare: String!) {
        a: auditLog(target: $target, first: 20) { occurredAt actor action outcome }
        b: auditLog(target: $bare, first: 20) { occurredAt actor action outcome } }`,
    },
    setStatus: `mutation($id: ID!, $status: PlayerStatus!, $reason: String!) {
      setPlayerStatus(playerId: $id, status: $status, reason: $reason) {
        __typename
        ... on SetPlayerStatusSuccess { player { id status } }
        ... on UserError { message } } }`,
  };

  function emptyDelta() {
    return {registrations: 0, deposits: "0", depositsCount: 0};
  }

  // ---- sign-in -------------------------------------------------------------------------
  let challenge = null;

  $("password-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    showError("signin-error", null);
    try {
      const {staffLogin: r} = await PMS.query(Q.login, {email: $("signin-email").value, password: $("signin-password").value});
      if (r.__typename === "AuthTokens") return signedIn(r.accessToken);
      if (r.__typename !== "MfaRequired") throw new Error(r.message);
      challenge = r;
      $("password-form").hidden = true;
      $("mfa-form").hidden = false;
      $("webauthn-submit").hidden = !r.methods.includes("WEBAUTHN") || !window.PublicKeyCredential;
      $("signin-code").focus();
    } catch (err) {
      showError("signin-error", err);
    }
  });

  $("mfa-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    await verify({challengeId: challenge.challengeId, method: "TOTP", code: $("signin-code").value.trim()});
  });

  $("webauthn-submit").addEventListener("click", async () => {
    try {
      const assertion = await webauthnAssertion(challenge.webauthnOptions);
      await verify({challengeId: challenge.challengeId, method: "WEBAUTHN", assertion});
    } catch (err) {
      showError("signin-error", err);
    }
  });

  async function verify(variables) {
    showError("signin-error", null);
    try {
      const {verifyMfa: r} = await PMS.query(Q.verify, variables);
      if (r.__typename !== "AuthTokens") throw new Error(r.message);
      await signedIn(r.accessToken);
    } catch (err) {
      showError("signin-error", err);
    }
  }

  // WebAuthn: the server's request options (base64url fields) to a browser assertion, and
  // the assertion back to the JSON form the server parses.
  const b64urlToBytes = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  const bytesToB64url = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  async function webauthnAssertion(options) {
    const publicKey = {...options, challenge: b64urlToBytes(options.challenge),
      allowCredentials: (options.allowCredentials || []).map((c) => ({...c, id: b64urlToBytes(c.id)}))};
    const credential = await navigator.credentials.get({publicKey});
    const r = credential.response;
    return {id: credential.id, rawId: bytesToB64url(credential.rawId), type: credential.type,
            response: {authenticatorData: bytesToB64url(r.authenticatorData), clientDataJSON: bytesToB64url(r.clientDataJSON),
                       signature: bytesToB64url(r.signature), userHandle: r.userHandle ? bytesToB64url(r.userHandle) : null}};
  }

  async function signedIn(accessToken) {
    PMS.signIn(accessToken);
    await start();
  }

  async function start() {
    try {
      const {me} = await PMS.query(Q.me);
      if (!me || me.__typename !== "StaffUser") throw new Error("the back office is for staff accounts");
      state.me = me;
      state.permissions = new Set(me.permissions);
    } catch (err) {
      PMS.signOut(false);
      showSignin();
      showError("signin-error", err);
      return;
    }
    $("signin").hidden = true;
    $("app").hidden = false;
    $("whoami").textContent = `${state.me.displayName} (${state.me.role})`;
    startLiveFeed();
    route();
  }

  function showSignin() {
    challenge = null;
    $("app").hidden = true;
    $("signin").hidden = false;
    $("password-form").hidden = false;
    $("mfa-form").hidden = true;
    $("signin-code").value = "";
  }

  $("signout").addEventListener("click", () => PMS.signOut());
  // A fresh page on sign-out: nothing the previous user saw stays in memory or on screen.
  PMS.onSignedOut(() => window.location.replace(`${location.pathname}#overview`) || location.reload());

  // ---- pages and routing ---------------------------------------------------------------
  const PAGES = {overview: loadOverview, registrations: loadRegistrations, kyc: loadKyc,
                 money: loadMoney, alerts: loadAlerts, player: async () => {}};

  function route() {
    const page = PAGES[location.hash.slice(1)] ? location.hash.slice(1) : "overview";
    document.querySelectorAll("main > section").forEach((s) => { s.hidden = s.dataset.page !== page; });
    document.querySelectorAll("#nav a").forEach((a) => a.classList.toggle("active", a.dataset.page === page));
    showError("page-error", null);
    PAGES[page]().catch((err) => showError("page-error", err));
  }
  window.addEventListener("hashchange", () => PMS.signedIn && route());

  $("currency").replaceChildren(...CURRENCIES.map((c) => el("option", {value: c}, c)));
  $("currency").value = state.currency;
  $("currency").addEventListener("change", () => {
    state.currency = $("currency").value;
    localStorage.setItem("pms.admin.currency", state.currency);
    route();
  });

  // ---- analytics (overview, registrations, money) --------------------------------------
  const isoDay = (d) => d.toISOString().slice(0, 10);
  function dayRange() {
    const to = new Date();
    const from = new Date(to.getTime() - (DAYS - 1) * 86400000);
    const days = [];
    for (let d = new Date(from); isoDay(d) <= isoDay(to); d = new Date(d.getTime() + 86400000)) days.push(isoDay(d));
    return days;
  }

  // Every day of the range, zero-filled where the rollups have no row.
  async function loadDaily() {
    const days = dayRange();
    const {analyticsDaily: r} = await PMS.query(Q.daily, {from: days[0], to: days[days.length - 1], currency: state.currency});
    if (r.__typename !== "AnalyticsDailySeries") throw new Error(r.message);
    const byDay = new Map(r.days.map((d) => [d.day, d]));
    const zero = {amount: "0"};
    state.daily = days.map((day) => byDay.get(day) || {day, depositsCount: 0, deposits: zero, withdrawalsCount: 0,
      withdrawals: zero, betsCount: 0, stakes: zero, wins: zero, ggr: zero, activePlayers: 0, registrations: 0, rollbacks: 0});
    state.delta = emptyDelta();
    return state.daily;
  }

  function today() {
    const last = state.daily[state.daily.length - 1];
    return {...last, registrations: last.registrations + state.delta.registrations,
            depositsCount: last.depositsCount + state.delta.depositsCount,
            deposits: {amount: addDecimal(last.deposits.amount, state.delta.deposits)}};
  }

  function renderOverview() {
    const t = today();
    $("kpi-registrations").textContent = String(t.registrations);
    $("kpi-deposits").textContent = `${t.deposits.amount} ${state.currency}`;
    $("kpi-deposits-count").textContent = `${t.depositsCount} deposit(s)`;
    $("kpi-ggr").textContent = `${t.ggr.amount} ${state.currency}`;
    $("kpi-active").textContent = String(t.activePlayers);
    const days = state.daily.map((d) => d.day);
    const deposits = state.daily.map((d, i) => (i === state.daily.length - 1 ? t.deposits.amount : d.deposits.amount));
    lineChart("chart-overview", days, [
      {label: `Deposits (${state.currency})`, values: deposits},
      {label: `GGR (${state.currency})`, values: state.daily.map((d) => d.ggr.amount)},
      {label: "New players", values: state.daily.map((d, i) => (i === state.daily.length - 1 ? t.registrations : d.registrations))},
    ]);
  }

  async function loadOverview() {
    await loadDaily();
    renderOverview();
  }

  // The business-metric series (analyticsSeries) by day over the dashboard's range.
  async function loadSeries() {
    const days = dayRange();
    const {analyticsSeries: r} = await PMS.query(Q.series, {input: {granularity: "DAY",
      fromDay: days[0], toDay: days[days.length - 1]}});
    if (r.__typename !== "AnalyticsSeries") throw new Error(r.message);
    return r.periods;
  }

  async function loadRegistrations() {
    const periods = await loadSeries();
    lineChart("chart-registrations", periods.map((p) => p.start), [
      {label: "New players", values: periods.map((p) => p.registrations)},
      {label: "Refused registrations", values: periods.map((p) => p.registrationFailures ?? 0)},
    ]);
    const totals = new Map();
    for (const p of periods) {
      for (const e of p.registrationErrors || []) {
        const key = `${e.field}\u0000${e.reason}`;
        totals.set(key, (totals.get(key) || 0) + e.count);
      }
    }
    fillTable($("registration-errors"), [...totals].sort((a, b) => b[1] - a[1])
      .map(([key, count]) => [...key.split("\u0000"), String(count)]));
  }

  async function loadMoney() {
    await loadDaily();
    const days = state.daily.map((d) => d.day);
    lineChart("chart-money", days, [
      {label: `Deposits (${state.currency})`, values: state.daily.map((d) => d.deposits.amount)},
      {label: `Withdrawals (${state.currency})`, values: state.daily.map((d) => d.withdrawals.amount)},
      {label: "Rollbacks", values: state.daily.map((d) => d.rollbacks)},
    ]);
    fillTable($("money-table"), [...state.daily].reverse().map((d) => [
      d.day, `${d.deposits.amount} (${d.depositsCount})`, `${d.withdrawals.amount} (${d.withdrawalsCount})`,
      d.stakes.amount, d.wins.amount, d.ggr.amount, String(d.rollbacks)]));
  }

  const KYC_QUEUE_SHOWN = 50;

  async function loadKyc() {
    await loadKycQueue();  // COMPLIANCE reads the queue without analytics:read
    const periods = await loadSeries();
    const decided = periods.reduce((n, p) => n + p.kycDecisions, 0);
    const verified = periods.reduce((n, p) => n + p.kycVerified, 0);
    const medians = periods.map((p) => p.medianKycDecisionSeconds).filter((m) => m !== null);
    $("kyc-success").textContent = decided ? `${Math.round((100 * verified) / decided)} %` : "-";
    $("kyc-time").textContent = medians.length ? duration(medians[medians.length - 1]) : "-";
    lineChart("chart-kyc", periods.map((p) => p.start), [
      {label: "KYC decisions", values: periods.map((p) => p.kycDecisions)},
      {label: "Verified", values: periods.map((p) => p.kycVerified)},
    ]);
  }

  async function loadKycQueue() {
    if (!state.permissions.has("kyc:read")) {
      $("kyc-queue").textContent = "-";
      return fillTable($("kyc-queue-list"), NOT_PERMITTED);
    }
    const {kycQueue: q} = await PMS.query(Q.kycQueue, {first: KYC_QUEUE_SHOWN});
    $("kyc-queue").textContent = String(q.totalCount);
    fillTable($("kyc-queue-list"), q.edges.map(({node: {case: c, ageSeconds}}) => [
      c.createdAt.slice(0, 19).replace("T", " "), duration(ageSeconds), c.status, c.provider,
      c.riskLevel ?? "",
      el("a", {href: "#player", onclick: (ev) => { ev.preventDefault(); location.hash = "#player"; openPlayer(c.playerId); }},
         c.playerId)]));
  }

  const duration = (s) => (s < 120 ? `${Math.round(s)} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`);

  // ---- alerts --------------------------------------------------------------------------
  const alerts = new Map();

  async function loadAlerts() {
    if (!state.permissions.has("alert:read")) {
      fillTable($("alerts-table"), [["not permitted for your role"]]);
      return;
    }
    const data = await PMS.query(Q.alerts);
    alerts.clear();
    data.alerts.forEach((a) => alerts.set(a.id, a));
    renderAlerts();
    startAlertFeed();
  }

  function startAlertFeed() {
    if (state.alertsFeed) return;
    state.alertsFeed = PMS.subscribe(Q.alertEvents, {}, ({alerts: e}) => {
      alerts.set(e.alert.id, e.alert);
      renderAlerts();
    }, (err) => showError("page-error", err));
  }

  function renderAlerts() {
    const manage = state.permissions.has("alert:manage");
    const rows = [...alerts.values()].sort((a, b) => b.firedAt.localeCompare(a.firedAt)).map((a) => [
      a.firedAt, `${a.ruleKey} (${a.metric})`, el("span", {dataset: {alert: a.id, status: a.status}}, a.status),
      `${a.value} / ${a.threshold}`,
      manage && a.status === "FIRING"
        ? el("button", {type: "button", dataset: {acknowledge: a.id}, onclick: () => acknowledge(a.id)}, "Acknowledge")
        : (a.acknowledgedBy ?? ""),
    ]);
    fillTable($("alerts-table"), rows);
  }

  async function acknowledge(id) {
    try {
      const {acknowledgeAlert: r} = await PMS.query(Q.acknowledge, {id});
      if (r.__typename !== "Alert") throw new Error(r.message);
      alerts.set(id, {...alerts.get(id), status: r.status, acknowledgedBy: r.acknowledgedBy});
      renderAlerts();
    } catch (err) {
      showError("page-error", err);
    }
  }

  // ---- live feed -----------------------------------------------------------------------
  function startLiveFeed() {
    if (state.feed || !state.permissions.has("event:read")) return;
    state.feed = PMS.subscribe(Q.events, {}, ({playerEvents: e}) => onEvent(e),
                               (err) => showError("page-error", err));
  }

  function onEvent(e) {
    const feed = $("live-feed");
    const amount = e.data && e.data.amount ? ` ${e.data.amount} ${e.data.currency || ""}` : "";
    feed.prepend(el("li", {dataset: {type: e.type}}, el("time", {}, e.time.slice(11, 19)), ` ${e.type}${amount} `,
                    el("code", {}, e.subject || "")));
    while (feed.children.length > 50) feed.lastChild.remove();
    if (!state.daily.length) return;
    // Today's figures move at once; the rollups confirm them a few seconds later.
    if (e.type === "wallet.deposited" && e.data.currency === state.currency && e.data.walletKind !== "BONUS") {
      state.delta.deposits = addDecimal(state.delta.deposits, e.data.amount);
      state.delta.depositsCount += 1;
    } else if (e.type === "player.registered") {
      state.delta.registrations += 1;
    } else {
      return;
    }
    if (!$("app").querySelector('section[data-page="overview"]').hidden) renderOverview();
    clearTimeout(state.reconcile);
    state.reconcile = setTimeout(() => loadDaily().then(renderOverview).catch(() => {}), RECONCILE_MS);
  }

  // ---- player lookup -------------------------------------------------------------------
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

  $("player-search").addEventListener("submit", async (event) => {
    event.preventDefault();
    showError("page-error", null);
    const text = $("player-query").value.trim();
    try {
      if (UUID.test(text)) return await openPlayer(text);
      const {players} = await PMS.query(Q.search, {search: text});
      $("player-results").replaceChildren(...players.edges.map(({node: p}) => el("li", {},
        el("a", {href: "#player", dataset: {player: p.id}, onclick: (ev) => { ev.preventDefault(); openPlayer(p.id); }},
           `${p.login} · ${p.email ?? "(email hidden)"} · ${p.country} · ${p.status}`))));
      if (players.edges.length === 1) await openPlayer(players.edges[0].node.id);
    } catch (err) {
      showError("page-error", err);
    }
  });

  const NOT_PERMITTED = [["not permitted for your role"]];

  async function openPlayer(id) {
    const {data, errors} = await PMS.request(Q.player, {id});
    const p = data && data.player;
    if (!p) throw new Error(errors.length ? errors.map((e) => e.message).join("; ") : "player not found");
    $("player-detail").hidden = false;
    $("player-title").textContent = `${p.login} (${p.id})`;
    const fields = [["Email", p.email ?? "not permitted"], ["Country", p.country], ["Currency", p.currency],
      ["Status", p.status], ["Verification", p.confirmStatus], ["VIP level", String(p.vipLevel)],
      ["Risk level", p.riskLevel ?? "not permitted"], ["Registered", p.createdAt]];
    $("player-fields").replaceChildren(...fields.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {dataset: {field: k}}, v)]));
    renderActions(p);
    await Promise.all(Object.entries(SECTIONS).map(([name, render]) => loadSection(name, id, render)));
  }

  // What each section needs. The server hides a refused list as empty (it does not say
  // "forbidden"), so the page names the reason from the role's own permission list.
  const SECTION_PERMISSION = {wallets: "wallet:read", ledger: "wallet:read", bonuses: "bonus:read",
                              segments: "segment:read", kycCases: "kyc:read", audit: "audit:read"};

  async function loadSection(name, id, render) {
    if (!state.permissions.has(SECTION_PERMISSION[name])) return render(null);
    const variables = name === "audit" ? {target: `player:${id}`, bare: id} : {id};
    const {data, errors} = await PMS.request(Q.sections[name], variables);
    const value = name === "audit" ? data : data && data.player;
    render(errors.length || !value ? null : value);
  }

  // Each section's renderer gets null when the server refused it.
  const SECTIONS = {
    wallets: (p) => fillTable($("player-wallets"), p ? p.wallets.map((w) => [w.kind, money(w.balance),
      `held ${w.held.amount}`, `available ${w.available.amount}`]) : NOT_PERMITTED),
    ledger: (p) => fillTable($("player-ledger"), p && p.ledger ? p.ledger.edges.map(({node: t}) => [t.createdAt,
      t.kind, t.walletKind, money(t.amount), t.balanceAfter.amount, t.reference ?? ""]) : NOT_PERMITTED),
    bonuses: (p) => fillTable($("player-bonuses"), p ? p.bonuses.map((b) => [b.kind, b.status, money(b.amount),
      b.expiresAt]) : NOT_PERMITTED),
    segments: (p) => { $("player-segments").textContent = p ? (p.segments.map((s) => s.name).join(", ") || "none")
      : "not permitted for your role"; },
    kycCases: (p) => fillTable($("player-kyc"), p ? p.kycCases.map((k) => [k.provider, k.status, k.riskLevel ?? "",
      k.createdAt, k.decidedAt ?? ""]) : NOT_PERMITTED),
    audit: (d) => fillTable($("player-audit"), d ? [...d.a, ...d.b].sort((x, y) => y.occurredAt.localeCompare(x.occurredAt))
      .map((a) => [a.occurredAt, a.actor, a.action, a.outcome]) : NOT_PERMITTED),
  };

  function renderActions(p) {
    const box = $("player-actions");
    box.replaceChildren();
    if (!state.permissions.has("player:block")) return;
    const reason = el("input", {id: "status-reason", placeholder: "reason (required)"});
    const result = el("span", {id: "status-result"});
    const buttons = ["ACTIVE", "BLOCKED", "CLOSED"].filter((s) => s !== p.status).map((status) =>
      el("button", {type: "button", dataset: {status}, onclick: async () => {
        try {
          const {setPlayerStatus: r} = await PMS.query(Q.setStatus, {id: p.id, status, reason: reason.value});
          if (r.__typename !== "SetPlayerStatusSuccess") throw new Error(r.message);
          await openPlayer(p.id);
        } catch (err) {
          result.textContent = err.message;
        }
      }}, status === "ACTIVE" ? "Reactivate" : status === "BLOCKED" ? "Block" : "Close account"));
    box.append(reason, ...buttons, result);
  }

  // ---- boot ----------------------------------------------------------------------------
  if (PMS.signedIn) start();
})();
