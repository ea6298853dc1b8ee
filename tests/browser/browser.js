// Opens a risk map in headless Chromium (system /usr/bin/chromium via playwright-core), selects an
// hour in the layer control, clicks one of its markers and prints what it saw as one JSON object.
// Usage: node browser.js URL HOUR_LABEL SCREENSHOT_PATH
// Requests to anything but 127.0.0.1 are aborted (and listed) so the map is checked as if offline.
const { chromium } = require("playwright-core");
const fs = require("fs");
const os = require("os");
const path = require("path");

async function main() {
  const [url, hour, screenshot] = process.argv.slice(2);
  if (!url || !hour || !screenshot) throw new Error("usage: node browser.js URL HOUR SCREENSHOT");
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "accidents-chromium-"));
  // A fresh profile directory (playwright passes it to Chromium as --user-data-dir).
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1280, height: 860 },
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  const result = { blockedRequests: [], consoleErrors: [] };
  try {
    const page = await context.newPage();
    page.on("pageerror", (err) => result.consoleErrors.push(String(err)));
    await page.route("**/*", (route) => {
      const host = new URL(route.request().url()).hostname;
      if (host === "127.0.0.1" || route.request().url().startsWith("data:")) return route.continue();
      result.blockedRequests.push(route.request().url());
      return route.abort();
    });
    await page.goto(url, { waitUntil: "load" });
    await page.waitForSelector(".leaflet-control-layers-selector", { timeout: 15000 });
    result.layers = await page.$$eval(".leaflet-control-layers-list label", (labels) =>
      labels.map((l) => l.textContent.trim()));
    result.initiallyVisible = await page.$$eval("path.risk-marker", (ps) =>
      [...new Set(ps.map((p) => [...p.classList].find((c) => c.startsWith("hour-"))))]);

    // Offline base layers under the markers: land outline, roads, heat image (in their panes).
    result.landShapes = await page.$$eval("path.land-outline", (ps) => ps.length);
    result.roadLines = await page.$$eval("path.road-line", (ps) => ps.length);
    result.heat = await page.$$eval("img.risk-heat", (imgs) => imgs.map((i) => ({
      loaded: i.complete && i.naturalWidth > 0, width: i.getBoundingClientRect().width })));
    result.paneZ = await page.evaluate(() => Object.fromEntries(["land", "heat", "roads", "overlay"].map(
      (n) => [n, Number(getComputedStyle(document.querySelector(`.leaflet-${n}-pane`)).zIndex)])));
    // fit bounds: every marker of the first hour lies inside the viewport
    result.markersInView = await page.$$eval("path.risk-marker", (ps) => ps.every((p) => {
      const r = p.getBoundingClientRect();
      return r.left >= 0 && r.top >= 0 && r.right <= innerWidth && r.bottom <= innerHeight;
    }));

    await page.locator(".leaflet-control-layers-list label", { hasText: hour }).click();
    const hourClass = "hour-" + hour.slice(0, 2);
    await page.waitForSelector(`path.${hourClass}`, { state: "visible", timeout: 10000 });
    result.visibleMarkers = await page.$$eval("path.risk-marker", (ps) =>
      ps.map((p) => ({ cls: p.getAttribute("class"), fill: p.getAttribute("fill") })));

    // Click a marker whose centre is not covered by a panel or by another marker.
    const target = await page.$$eval(`path.${hourClass}`, (ps) => {
      for (const p of ps) {
        const r = p.getBoundingClientRect();
        const x = r.left + r.width / 2, y = r.top + r.height / 2;
        if (document.elementFromPoint(x, y) === p) return { x, y };
      }
      return null;
    });
    if (!target) throw new Error(`no clickable marker for ${hour}`);
    await page.mouse.click(target.x, target.y);
    await page.waitForSelector(".leaflet-popup-content", { state: "visible", timeout: 10000 });
    result.popupText = (await page.textContent(".leaflet-popup-content")).trim();
    await page.waitForTimeout(400); // let the popup's fade-in finish before the screenshot
    result.statsText = (await page.textContent("#risk-stats")).trim();
    await page.screenshot({ path: screenshot });
    result.screenshot = screenshot;
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(result) + "\n");
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
  process.exit(1);
});
