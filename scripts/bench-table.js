// Turns the JSON lines of scripts/bench.sh into the markdown table of docs/benchmarks.md:
// each scenario for chat-server ("ours") and the Node reference, and their ratio.
'use strict';
const fs = require('node:fs');
const runs = fs.readFileSync(process.argv[2], 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
const of = (server, scenario) => runs.filter((r) => r.server === server && r.scenario.startsWith(scenario)).map((r) => r.result);
const fmt = (x, digits = 1) => (x === undefined || x === null || Number.isNaN(x) ? '–' : Number(x).toLocaleString('en-US', { maximumFractionDigits: digits }));
const ratio = (a, b) => (a && b ? `${fmt(a / b, 2)}×` : '–');
// The highest deliveries/s of a ladder whose p99 stayed ≤ 250 ms with nothing lost.
const capacity = (server, clients) => {
  const ok = of(server, `capacity ${clients} clients`).filter((r) => r.latency_ms && r.latency_ms.p99 <= 250 && r.lost === 0 && !r.loadgen_saturated);
  return ok.length ? ok[ok.length - 1] : undefined;
};
const rows = [];
const add = (what, ours, node, better = 'higher') => rows.push([what, fmt(ours), fmt(node), better === 'higher' ? ratio(ours, node) : ratio(node, ours)]);
const [lo, ln] = [of('ours', 'latency')[0] || {}, of('node', 'latency')[0] || {}];
add('latency run: deliveries/s', lo.deliveries_per_s, ln.deliveries_per_s);
for (const p of ['p50', 'p99', 'max']) add(`latency run: ${p} ms (lower is better)`, lo.latency_ms?.[p], ln.latency_ms?.[p], 'lower');
add('latency run: lost', lo.lost, ln.lost, 'none');
add('latency run: server CPU µs per delivery (lower is better)', lo.server_cpu_us_per_delivery, ln.server_cpu_us_per_delivery, 'lower');
for (const clients of [100, 1000]) {
  const [co, cn] = [capacity('ours', clients) || {}, capacity('node', clients) || {}];
  add(`capacity at ${clients} clients: deliveries/s (p99 ≤ 250 ms, no loss)`, co.deliveries_per_s, cn.deliveries_per_s);
  add(`  … server CPU µs per delivery there (lower is better)`, co.server_cpu_us_per_delivery, cn.server_cpu_us_per_delivery, 'lower');
  const last = (s) => of(s, `capacity ${clients} clients`).slice(-1)[0] || {};
  rows.push([`  … what ended the ladder (ours / node)`, why(last('ours')), why(last('node')), '']);
}
function why(r) {
  if (!r.latency_ms) return 'no result';
  if (r.loadgen_saturated) return `load generator saturated at ${fmt(r.deliveries_per_s)}/s`;
  if (r.lost) return `${fmt(r.lost)} lost at ${fmt(r.deliveries_per_s)}/s`;
  if (r.latency_ms.p99 > 250) return `p99 ${fmt(r.latency_ms.p99)} ms at ${fmt(r.deliveries_per_s)}/s`;
  return 'top of the ladder';
}
for (const n of [1000, 10000]) {
  const [jo, jn] = [of('ours', `join storm ${n}`)[0] || {}, of('node', `join storm ${n}`)[0] || {}];
  add(`join storm ${n}: seconds (lower is better)`, jo.seconds, jn.seconds, 'lower');
  add(`join storm ${n}: failed`, jo.failed, jn.failed, 'none');
}
const [mo, mn] = [of('ours', 'memory')[0] || {}, of('node', 'memory')[0] || {}];
add('memory at 5,000: KiB per idle connection (lower is better)', mo.idle_kib_per_connection, mn.idle_kib_per_connection, 'lower');
add('memory at 5,000: KiB per named connection (lower is better)', mo.named_kib_per_connection, mn.named_kib_per_connection, 'lower');
rows.push(['memory at 5,000: connections named within 60 s', fmt(mo.named), fmt(mn.named), '']);
for (const r of rows) if (r[3] === undefined || r[0].includes(': lost') || r[0].includes('failed')) r[3] = '';
console.log('| scenario | chat-server | Node reference | chat-server better by |');
console.log('| --- | --- | --- | --- |');
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
