// Drives the live page of a running `smartmeter-logger run --web` in Debian's headless Chromium
// (playwright-core, no browser download) and prints what it saw as one JSON document on stdout;
// tests/test_web_browser.py compares that with the CSV files and the API. Also makes the
// README's screenshots (--shots DIR).
//
//   node tests/browser/page_check.mjs --url http://127.0.0.1:8000/ [--shots DIR] [--wait-new 1]
//
// Needs NODE_PATH pointing at a node_modules with playwright-core (scripts/test.sh installs it in
// ~/.cache/smartmeter-deps/node) and CHROMIUM (default /usr/bin/chromium).
import { createRequire } from "node:module";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const require = createRequire(import.meta.url);
const { chromium } = require("playwright-core");

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith("--")) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const URL_ = args.url;
const SHOTS = args.shots || "";
const WAIT_NEW = args["wait-new"] !== "0";
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const FLAGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps",
  "--disable-dev-shm-usage"];

async function open(locale, viewport, mobile) {
  const dir = mkdtempSync(join(tmpdir(), "smartmeter-chromium-"));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM, headless: true, args: FLAGS, locale, viewport,
    deviceScaleFactor: mobile ? 2 : 1, isMobile: mobile, hasTouch: mobile,
    extraHTTPHeaders: { "Accept-Language": locale },
  });
  const page = context.pages()[0] || await context.newPage();
  const problems = [];
  page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") problems.push(m.text()); });
  page.on("pageerror", (e) => problems.push("page error: " + e.message));
  page.on("requestfailed", (r) => {
    if (!r.url().endsWith("/api/events")) problems.push("request failed: " + r.url());
  });
  const outside = [];
  page.on("request", (r) => { if (!r.url().startsWith(URL_)) outside.push(r.url()); });
  await page.goto(URL_, { waitUntil: "load" });
  await page.waitForFunction(() => window.smartmeterPage && window.smartmeterPage.loaded === true,
    null, { timeout: 30000 });
  const close = async () => { await context.close(); rmSync(dir, { recursive: true, force: true }); };
  return { page, problems, outside, close };
}

const snapshot = (page) => page.evaluate(() => {
  const p = window.smartmeterPage;
  const chart = p.charts.power;
  const label = (sel) => { const el = document.querySelector(sel); return el ? el.textContent.trim() : null; };
  return {
    lang: document.documentElement.lang,
    title: label("h1"),
    labels: [...document.querySelectorAll("[data-i18n]")].map((el) => el.textContent.trim()),
    state: label("#state"),
    power: label("#power"),
    direction: label("#direction"),
    lastReading: label("#last-reading"),
    signal: label("#signal"),
    totals: [...document.querySelectorAll(".totals")].map((el) => el.textContent.trim()),
    plotted: { t: p.power.t.slice(), w: p.power.w.slice() },
    chartPoints: chart ? chart.data[1].filter((v) => v !== null).length : -1,
    chartCanvas: document.querySelectorAll("#power-chart canvas").length,
    barCharts: document.querySelectorAll(".bars canvas").length,
    energy: p.energy,
    status: p.status,
    updates: p.updates,
    html: document.documentElement.outerHTML,
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  };
});

const out = {};
// Japanese, a desktop window
{
  const { page, problems, outside, close } = await open("ja-JP", { width: 1100, height: 1000 }, false);
  await page.evaluate(() => { window.noReload = 1; });
  out.ja = await snapshot(page);
  if (SHOTS) await page.screenshot({ path: join(SHOTS, "web-page.png"), fullPage: true });
  if (WAIT_NEW) {
    const before = out.ja.plotted.t.length;
    await page.waitForFunction((n) => window.smartmeterPage.power.t.length > n, before, { timeout: 40000 });
    out.jaAfter = await snapshot(page);
    out.jaAfter.notReloaded = await page.evaluate(() => window.noReload === 1);
  }
  // bad requests, from the page's own origin
  out.bad = await page.evaluate(async () => {
    const get = async (u, method) => {
      const r = await fetch(u, { method: method || "GET" });
      return { url: u, method: method || "GET", status: r.status, type: r.headers.get("content-type"),
               nosniff: r.headers.get("x-content-type-options"), body: await r.text() };
    };
    return [await get("api/power?day=lastweek"), await get("api/power?when=today"), await get("no/such/page"),
            await get("api/nothing"), await get("../../etc/passwd"), await get("api/status", "POST"),
            await get("api/status", "DELETE")];
  });
  out.api = await page.evaluate(async () => {
    const texts = {};
    for (const u of ["api/status", "api/power?day=today", "api/power?day=yesterday", "api/energy", "app.js"]) {
      texts[u] = await (await fetch(u)).text();
    }
    return texts;
  });
  out.jaProblems = problems;
  out.outside = outside;
  await close();
}
// English, a phone
{
  const { page, problems, close } = await open("en-US", { width: 390, height: 844 }, true);
  out.en = await snapshot(page);
  if (SHOTS) await page.screenshot({ path: join(SHOTS, "web-page-phone.png"), fullPage: true });
  out.enProblems = problems;
  await close();
}
process.stdout.write(JSON.stringify(out));
