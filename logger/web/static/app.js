/* smartmeter-logger live page. Data: api/status, api/power (today's E7 rows of the CSV file),
   api/energy (half-hour and day kWh as `summary` computes them) and api/events (server-sent
   events: the live readings and the status). Labels in Japanese or English by the browser's
   language. No inline script (the server's Content-Security-Policy allows only this file). */
"use strict";
(function () {
  const TEXT = {
    ja: {
      title: "電力モニター", power_now: "いまの電力", currents: "電流（R / T 相）", cumulative: "積算電力量",
      bought: "買電", sold: "売電", meter: "メーター", last_reading: "最終取得", signal: "電波",
      today_power: "今日の電力", halfhour: "30 分ごとの電力量", today: "今日", yesterday: "昨日",
      buying: "買電中", selling: "売電中（逆潮流）", power_series: "電力",
      cost: "料金", missing: "欠測 {n} コマ", no_data: "データなし", time: "時刻",
      ago_s: "{n} 秒前", ago_m: "{n} 分前", ago_h: "{n} 時間前",
      signal_value: "LQI {lqi} / {rssi} dBm", signal_unknown: "不明（スキャンしたときに測ります）",
      price_note: "料金 = 買電 kWh × {price} 円/kWh（電力量料金のみ。基本料金・燃料費調整額・再エネ賦課金は含みません）。売電は下向きの棒です。",
      no_price: "料金を表示するには単価を設定してください（.env の UNIT_PRICE_JPY_PER_KWH、summary と同じ）。売電は下向きの棒です。",
      no_csv: "CSV への記録が無効なため（csv.enabled: false）、履歴はなく、ライブの値だけを表示します。",
      footer: "表示しているのは、ロガーが記録した CSV ファイルとライブの読み取り値です。",
      state_connected: "接続中", state_scanning: "メーターを探しています", state_connecting: "ドングルと通信中",
      state_recovering: "接続を復旧中", state_starting: "起動中", state_no_dongle: "ドングルを待っています",
      state_stopping: "停止中", state_stopped: "停止", state_failed: "エラーで停止",
      state_offline: "ロガーに接続できません",
    },
    en: {
      title: "Power monitor", power_now: "Power now", currents: "Currents (R / T)", cumulative: "Cumulative energy",
      bought: "Bought", sold: "Sold", meter: "Meter", last_reading: "Last reading", signal: "Signal",
      today_power: "Today's power", halfhour: "Energy per half-hour", today: "Today", yesterday: "Yesterday",
      buying: "buying", selling: "selling (export)", power_series: "Power",
      cost: "Cost", missing: "{n} half-hour(s) missing", no_data: "no data", time: "Time",
      ago_s: "{n} s ago", ago_m: "{n} min ago", ago_h: "{n} h ago",
      signal_value: "LQI {lqi} / {rssi} dBm", signal_unknown: "unknown (measured when the meter is scanned for)",
      price_note: "Cost = bought kWh × {price} JPY/kWh (energy charge only: no basic charge, fuel-cost adjustment or renewable levy). Sold energy is drawn downwards.",
      no_price: "Set a unit price to see the cost (UNIT_PRICE_JPY_PER_KWH in .env, as for summary). Sold energy is drawn downwards.",
      no_csv: "CSV recording is off (csv.enabled: false): no history, live values only.",
      footer: "What you see is what the logger records: its CSV files and the live readings.",
      state_connected: "connected", state_scanning: "looking for the meter", state_connecting: "talking to the dongle",
      state_recovering: "recovering the connection", state_starting: "starting", state_no_dongle: "waiting for the dongle",
      state_stopping: "stopping", state_stopped: "stopped", state_failed: "stopped on an error",
      state_offline: "cannot reach the logger",
    },
  };
  const first = ((navigator.languages && navigator.languages[0]) || navigator.language || "en").toLowerCase();
  const lang = first.startsWith("ja") ? "ja" : "en";
  const locale = lang === "ja" ? "ja-JP" : "en-US";
  function t(key, vars) {
    let s = TEXT[lang][key] || TEXT.en[key] || key;
    for (const name in vars || {}) s = s.replace("{" + name + "}", vars[name]);
    return s;
  }
  const formats = {};
  function num(value, digits) {
    if (value === null || value === undefined) return "–";
    const f = formats[digits] || (formats[digits] = new Intl.NumberFormat(locale, {
      minimumFractionDigits: digits, maximumFractionDigits: digits }));
    return f.format(value);
  }
  const $ = (id) => document.getElementById(id);

  // What the page shows, readable by tests and curious people: page.power is exactly what is plotted.
  const page = window.smartmeterPage = {
    lang: lang, status: null, power: { day: null, t: [], w: [] }, energy: null, updates: 0, readings: 0,
    charts: {},
  };
  let skew = 0;        // server clock - browser clock (s)
  let dayStart = 0;    // today's local midnight in the meter's time zone (POSIX s)
  let dayEnd = 0;
  let loadingPower = false;
  let pending = [];
  let streamOpened = 0;

  const nowS = () => Date.now() / 1000 + skew;
  function tzDate(ts) {
    const tz = page.status && page.status.timezone;
    return tz ? uPlot.tzDate(new Date(ts * 1e3), tz) : new Date(ts * 1e3);
  }
  const clockFormats = {};
  function clock(ts) {  // 24-hour time in the meter's time zone (what the CSV files use)
    const tz = (page.status && page.status.timezone) || undefined;
    const f = clockFormats[tz] || (clockFormats[tz] = new Intl.DateTimeFormat(locale, {
      hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: tz }));
    return f.format(new Date(ts * 1e3));
  }
  const timeAxis = { values: (u, splits) => splits.map(clock) };
  const timeSeries = { label: "", value: (u, v) => v === null || v === undefined ? "–" : clock(v) };
  function ago(at) {
    if (at === null || at === undefined) return "–";
    const s = Math.max(0, nowS() - at);
    if (s < 90) return t("ago_s", { n: Math.round(s) });
    if (s < 5400) return t("ago_m", { n: Math.round(s / 60) });
    return t("ago_h", { n: num(s / 3600, 1) });
  }
  async function getJSON(url) {
    const r = await fetch(url, { cache: "no-store" });
    if (!r.ok) throw new Error(url + ": HTTP " + r.status);
    return r.json();
  }
  function setState(state) {
    const el = $("state");
    el.dataset.state = state;
    el.textContent = t("state_" + state);
  }

  // ------------------------------------------------------------------ status cards

  function renderStatus(s) {
    page.status = s;
    skew = s.now - Date.now() / 1000;
    setState(s.state);
    const p = s.power_w;
    $("power").textContent = p === null ? "–" : num(Math.abs(p), 0);
    const dir = $("direction");
    dir.className = "sub" + (p === null ? "" : p < 0 ? " sell" : " buy");
    dir.textContent = p === null ? "\u00a0" : (p < 0 ? t("selling") : t("buying"));
    $("current-r").textContent = num(s.current_r_a, 1);
    $("current-t").textContent = num(s.current_t_a, 1);
    $("energy-bought").textContent = num(s.bought_kwh, 1);
    $("energy-sold").textContent = num(s.sold_kwh, 1);
    $("signal").textContent = s.lqi === null ? t("signal_unknown") :
      t("signal_value", { lqi: s.lqi, rssi: num(s.rssi_dbm, 0) });
    $("price-note").textContent = s.price_jpy_per_kwh === null ? t("no_price") :
      t("price_note", { price: num(s.price_jpy_per_kwh, 2) });
    const note = $("power-note");
    note.hidden = s.csv;
    note.textContent = s.csv ? "" : t("no_csv");
    renderAges();
  }
  function renderAges() {
    const s = page.status;
    if (!s) return;
    $("last-reading").textContent = ago(s.last_reading);
    $("current-age").textContent = s.current_at === null ? "\u00a0" : ago(s.current_at);
  }

  // ------------------------------------------------------------------ today's power curve

  function width(el) { return Math.max(200, Math.floor(el.clientWidth)); }
  function powerData() {
    // a gap of more than five minutes (logger stopped, meter silent) is drawn as a gap
    const xs = [], ys = [], t = page.power.t, w = page.power.w;
    for (let i = 0; i < t.length; i++) {
      if (i > 0 && t[i] - t[i - 1] > 300) { xs.push(t[i - 1] + 1); ys.push(null); }
      xs.push(t[i]); ys.push(w[i]);
    }
    return [xs, ys];
  }
  function drawPower() {
    const el = $("power-chart");
    if (page.charts.power) { page.charts.power.destroy(); }
    page.charts.power = new uPlot({
      width: width(el), height: 240, tzDate: tzDate,
      scales: { x: { time: true, range: () => [dayStart, dayEnd] } },
      series: [Object.assign({}, timeSeries, { label: t("time") }), {
        label: t("power_series"), stroke: "#1c7ed6", fill: "rgba(28,126,214,0.12)", width: 1.5,
        points: { show: false }, value: (u, v) => v === null ? "–" : num(v, 0) + " W",
      }],
      axes: [timeAxis, { size: 56, values: (u, vals) => vals.map((v) => num(v, 0)) }],
      cursor: { drag: { x: false, y: false } },
    }, powerData(), el);
  }
  function addPoint(r) {
    const p = page.power;
    if (r.t >= dayEnd) { loadAll(); return false; }
    if (r.t < dayStart || (p.t.length && r.t <= p.t[p.t.length - 1])) return false;
    p.t.push(r.t); p.w.push(r.value);
    return true;
  }
  async function loadPower() {
    loadingPower = true;
    pending = [];
    try {
      const d = await getJSON("api/power?day=today");
      dayStart = d.start; dayEnd = d.end;
      page.power = { day: d.day, t: d.t, w: d.w };
      for (const r of pending) addPoint(r);
    } finally {
      loadingPower = false;
      pending = [];
    }
    drawPower();
  }

  // ------------------------------------------------------------------ half-hour bars

  function drawDay(i, d) {
    const box = $("day-" + i);
    box.querySelector(".date").textContent = d.day;
    const totals = box.querySelector(".totals");
    totals.textContent = "";
    const item = (cls, text) => { const s = document.createElement("span"); s.className = cls; s.textContent = text; totals.appendChild(s); };
    item("buy", t("bought") + " " + num(d.bought_kwh, 2) + " kWh");
    item("sell", t("sold") + " " + num(d.sold_kwh, 2) + " kWh");
    if (d.cost_jpy !== null) item("cost", t("cost") + " " + num(d.cost_jpy, 0) + (lang === "ja" ? " 円" : " JPY"));
    if (!d.slots.bought.some((v) => v !== null)) item("missing", t("no_data"));
    else if (d.missing_halfhours) item("missing", t("missing", { n: d.missing_halfhours }));
    const el = box.querySelector(".bars");
    const key = "day" + i;
    if (page.charts[key]) page.charts[key].destroy();
    const xs = d.slots.t.map((x) => x + 900);
    const sold = d.slots.sold.map((v) => v === null ? null : -v);
    const bars = uPlot.paths.bars({ size: [0.8, 24] });
    const kwh = (u, v) => v === null ? "–" : num(Math.abs(v), 2) + " kWh";
    page.charts[key] = new uPlot({
      width: width(el), height: 180, tzDate: tzDate,
      scales: { x: { time: true, range: () => [d.start, d.end] },
                y: { range: (u, lo, hi) => [Math.min(0, lo || 0), Math.max(0.1, hi || 0)] } },
      series: [{ label: t("time"), value: (u, v) => v === null || v === undefined ? "–" : clock(v - 900) + "–" + clock(v + 900) },
                   { label: t("bought"), stroke: "#d9480f", fill: "rgba(217,72,15,0.7)", paths: bars,
                     points: { show: false }, value: kwh },
                   { label: t("sold"), stroke: "#2b8a3e", fill: "rgba(43,138,62,0.7)", paths: bars,
                     points: { show: false }, value: kwh }],
      axes: [timeAxis, { size: 48, values: (u, vals) => vals.map((v) => num(Math.abs(v), 2)) }],
      cursor: { drag: { x: false, y: false } },
    }, [xs, d.slots.bought, sold], el);
  }
  async function loadEnergy() {
    const e = await getJSON("api/energy");
    page.energy = e;
    e.days.forEach((d, i) => drawDay(1 - i, d));  // days[0] is yesterday
  }
  let energyTimer = null;
  function energySoon() {
    if (energyTimer === null) energyTimer = setTimeout(() => { energyTimer = null; loadEnergy().catch(offline); }, 2000);
  }

  // ------------------------------------------------------------------ live

  function onReadings(list) {
    let added = false, energy = false;
    for (const r of list) {
      page.readings += 1;
      if (r.epc === "E7" && r.dataid === "") {
        if (loadingPower) pending.push(r); else added = addPoint(r) || added;
      }
      if (r.epc === "EA" || r.epc === "EB" || r.epc === "E0" || r.epc === "E3") energy = true;
    }
    if (added && page.charts.power) {
      page.charts.power.setData(powerData(), false);
      page.charts.power.redraw(false, true);
      page.updates += 1;
    }
    if (energy) energySoon();
  }
  function offline() { setState("offline"); }
  function connect() {
    const es = new EventSource("api/events");
    es.addEventListener("open", () => { streamOpened += 1; if (streamOpened > 1) loadAll(); });
    es.addEventListener("status", (e) => renderStatus(JSON.parse(e.data)));
    es.addEventListener("readings", (e) => onReadings(JSON.parse(e.data)));
    es.addEventListener("reload", () => loadAll());
    es.addEventListener("bye", () => setState("stopped"));
    es.addEventListener("error", offline);
  }
  async function loadAll() {
    try {
      renderStatus(await getJSON("api/status"));
      await Promise.all([loadPower(), loadEnergy()]);
    } catch (err) {
      offline();
    }
  }

  function resize() {
    for (const key in page.charts) {
      const u = page.charts[key];
      u.setSize({ width: width(u.root.parentNode), height: u.height });
    }
  }
  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(resize, 150);
  });

  document.documentElement.lang = lang;
  document.title = t("title") + " – smartmeter-logger";
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  setState("starting");
  connect();
  loadAll().then(() => { page.loaded = true; });
  setInterval(() => {
    renderAges();
    if (dayEnd && nowS() >= dayEnd) loadAll();  // midnight: a new day, a new file
  }, 1000);
})();
