// Measures a full page load in headless Chromium: bytes transferred (compressed, as sent),
// and the time from navigation to connected (#chat.connected). Not a test: a measurement.
// Usage: node page_weight.js <url>   (e.g. a running chat-server: http://127.0.0.1:3000/)
'use strict';
const { chromium } = require('playwright-core');

(async () => {
  const url = process.argv[2] || 'http://127.0.0.1:3000/';
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu',
    '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  const runs = [];
  for (let i = 0; i < 5; i++) {
    const context = await browser.newContext(); // cold cache every run
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    let bytes = 0;
    const files = [];
    cdp.on('Network.loadingFinished', (e) => { bytes += e.encodedDataLength; });
    cdp.on('Network.responseReceived', (e) => files.push(e.response.url.split('/').pop() || 'index.html'));
    // The page itself notes when #chat becomes connected (reading performance.now() from here
    // after waitForSelector would add the harness's polling and round trip: 60-110 ms).
    await page.addInitScript(() => {
      new MutationObserver((_, observer) => {
        const chat = document.getElementById('chat');
        if (chat && chat.classList.contains('connected')) {
          window.__connectedAt = performance.now();
          observer.disconnect();
        }
      }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['class'] });
    });
    await page.goto(url);
    await page.waitForSelector('#chat.connected', { timeout: 20000 });
    const connectedMs = await page.evaluate(() => window.__connectedAt);
    runs.push({ bytes, connectedMs, files: files.length });
    await context.close();
  }
  await browser.close();
  const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(JSON.stringify({
    url,
    transferred_bytes: median(runs.map((r) => r.bytes)),
    navigation_to_connected_ms: Math.round(median(runs.map((r) => r.connectedMs))),
    requests: runs[0].files,
    runs: runs.map((r) => ({ bytes: r.bytes, ms: Math.round(r.connectedMs) })),
  }, null, 1));
})().catch((e) => { console.error(e); process.exit(1); });
