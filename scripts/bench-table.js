// Turns the JSON lines of scripts/bench.sh into the markdown table of docs/benchmarks.md:
// each scenario for chat-server ("ours") and each peer that ran (the naive socketioxide port,
// socket.io on Bun, the Node reference), and chat-server's ratio to the best of them.
'use strict';
const fs = require('node:fs');
const runs = fs.readFileSync(process.argv[2], 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
const NAMES = { ours: 'chat-server', naive: 'naive socketioxide port', bun: 'socket.io on Bun', node: 'Node reference' };
const servers = Object.keys(NAMES).filter((s) => runs.some((r) => r.server === s));
const peers = servers.filter((s) => s !== 'ours');
const of = (server, scenario) => runs.filter((r) => r.server === server && r.scenario.startsWith(scenario)).map((r) => r.result);
const fmt = (x, digits = 1) => (x === undefined || x === null || Number.isNaN(x) ? '–' : Number(x).toLocaleString('en-US', { maximumFractionDigits: digits }));
// The highest deliveries/s of a ladder whose p99 stayed ≤ 250 ms with nothing lost.
const capacity = (server, clients) => {
  const ok = of(server, `capacity ${clients} clients`).filter((r) => r.latency_ms && r.latency_ms.p99 <= 250 && r.lost === 0 && !r.failed_joins && r.sent > 0 && !r.loadgen_saturated);
  return ok.length ? ok[ok.length - 1] : undefined;
};
const rows = [];
// add(label, value of a result, better): one row; `better` is 'higher', 'lower' or 'none'.
// The last column is chat-server against the best peer (> 1× means chat-server is ahead).
const add = (what, pick, better = 'higher') => {
  const values = servers.map((s) => pick(s));
  const ours = values[servers.indexOf('ours')];
  const theirs = peers.map((s) => pick(s)).filter((v) => typeof v === 'number' && v > 0);
  let ratio = '';
  if (better !== 'none' && typeof ours === 'number' && ours > 0 && theirs.length) {
    const best = better === 'higher' ? Math.max(...theirs) : Math.min(...theirs);
    ratio = `${fmt(better === 'higher' ? ours / best : best / ours, 2)}×`;
  }
  rows.push([what, ...values.map((v) => (typeof v === 'string' ? v : fmt(v))), ratio]);
};
const first = (scenario) => (s) => of(s, scenario)[0] || {};
const latency = first('latency');
add('latency run: deliveries/s', (s) => latency(s).deliveries_per_s, 'none');
for (const p of ['p50', 'p99', 'max']) add(`latency run: ${p} ms (lower is better)`, (s) => latency(s).latency_ms?.[p], 'lower');
add('latency run: lost', (s) => latency(s).lost, 'none');
add('latency run: server CPU µs per delivery (lower is better)', (s) => latency(s).server_cpu_us_per_delivery, 'lower');
for (const clients of [100, 1000]) {
  const cap = (s) => capacity(s, clients) || {};
  add(`capacity at ${clients} clients: deliveries/s (p99 ≤ 250 ms, no loss)`, (s) => cap(s).deliveries_per_s);
  add('  … server CPU µs per delivery there (lower is better)', (s) => cap(s).server_cpu_us_per_delivery, 'lower');
  add('  … what ended the ladder', (s) => why(of(s, `capacity ${clients} clients`).slice(-1)[0] || {}), 'none');
}
function why(r) {
  if (!r.latency_ms) return 'no result';
  if (r.loadgen_saturated) return `load generator saturated at ${fmt(r.deliveries_per_s)}/s`;
  if (r.lost) return `${fmt(r.lost)} lost at ${fmt(r.deliveries_per_s)}/s`;
  if (r.latency_ms.p99 > 250) return `p99 ${fmt(r.latency_ms.p99)} ms at ${fmt(r.deliveries_per_s)}/s`;
  return 'top of the ladder';
}
for (const n of [1000, 10000]) {
  const storm = first(`join storm ${n}`);
  add(`join storm ${n}: seconds (lower is better)`, (s) => storm(s).seconds, 'lower');
  add(`join storm ${n}: failed`, (s) => storm(s).failed, 'none');
}
const mem = (s) => runs.find((r) => r.server === s && r.scenario === 'memory')?.result || {};
const orig = first('memory original');
add('memory at 5,000: KiB per idle connection (lower is better)', (s) => mem(s).idle_kib_per_connection, 'lower');
add('memory at 5,000: KiB per named connection, `presence=changes` (lower is better)', (s) => mem(s).named_kib_per_connection, 'lower');
add('memory at 5,000: connections named (the scenario gives up after 120 s)', (s) => mem(s).named, 'none');
add('memory at 5,000: MiB of RSS before / after they all left', (s) => (mem(s).rss_before_kib ? `${fmt(mem(s).rss_before_kib / 1024)} / ${fmt(mem(s).rss_after_leave_kib / 1024)}` : undefined), 'none');
add('memory at 1,000: KiB per named connection, original protocol (lower is better)', (s) => orig(s).named_kib_per_connection, 'lower');
add('memory at 1,000, original protocol: connections named (gives up after 120 s)', (s) => orig(s).named, 'none');
console.log(`| scenario | ${servers.map((s) => NAMES[s]).join(' | ')} | chat-server against the best peer |`);
console.log(`| --- | ${servers.map(() => '---').join(' | ')} | --- |`);
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
