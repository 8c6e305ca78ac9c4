#!/usr/bin/env node
// Runs the official GraphQL-over-HTTP audit (graphql-http `auditServer`)
// against a running server.
//
//   node audit.mjs http://127.0.0.1:1234/graphql
//
// Exit codes: 0 = every audit is `ok`; 1 = at least one audit is
// `notice` (failed MAY), `warn` (failed SHOULD) or `error` (failed MUST);
// 2 = bad usage or the audit could not run (connection refused, timeout, ...).
//
// Env: AUDIT_TIMEOUT_MS (per request, default 10000).

import { auditServer } from 'graphql-http';

const TIMEOUT_MS = Number(process.env.AUDIT_TIMEOUT_MS) || 10000;
const BODY_MAX = 600;

function fatal(msg) {
  console.error(`graphql-http audit: ${msg}`);
  process.exit(2);
}

const args = process.argv.slice(2);
if (args.length !== 1 || args[0] === '-h' || args[0] === '--help') {
  console.error('usage: node audit.mjs <url>   (e.g. http://127.0.0.1:1234/graphql)');
  process.exit(2);
}
let url;
try {
  url = new URL(args[0]);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error();
} catch {
  fatal(`invalid http(s) URL: ${args[0]}`);
}
url = url.toString();

// --- fetch wrapper: remembers which request produced which response ------
// The audits run concurrently, so the request description is attached to the
// Response (and to its clones, which the audit uses when it reads the body).
const REQ = Symbol('request');

function describeRequest(input, init = {}) {
  const u = new URL(typeof input === 'string' ? input : input.url);
  const method = (init.method || 'GET').toUpperCase();
  const headers = Object.fromEntries(new Headers(init.headers || {}).entries());
  const notes = [];
  if (!('accept' in headers)) notes.push('no accept set (Node fetch sends "accept: */*")');
  if (init.body != null && !('content-type' in headers))
    notes.push('no content-type set (Node fetch sends "content-type: text/plain;charset=UTF-8")');
  let line = `${method} ${u.pathname}${u.search ? decodeURIComponent(u.search) : ''}`;
  for (const [k, v] of Object.entries(headers)) line += ` | ${k}: ${v}`;
  if (init.body != null) line += ` | body: ${init.body}`;
  else if (method !== 'GET') line += ' | (no body)';
  if (notes.length) line += ` | ${notes.join('; ')}`;
  return line;
}

function tag(res, info) {
  res[REQ] = info;
  const origClone = res.clone;
  res.clone = function clone() {
    return tag(origClone.call(this), info);
  };
  return res;
}

async function auditFetch(input, init = {}) {
  const info = describeRequest(input, init);
  let res;
  try {
    res = await fetch(input, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (err) {
    const cause = err?.cause ? ` (${err.cause.code || err.cause.message || err.cause})` : '';
    const e = new Error(`request failed: ${info}\n  -> ${err?.name}: ${err?.message}${cause}`);
    e.fatal = true;
    throw e;
  }
  return tag(res, info);
}

// --- run -----------------------------------------------------------------
let results;
try {
  results = await auditServer({ url, fetchFn: auditFetch });
} catch (err) {
  if (err?.fatal) fatal(`cannot audit ${url}: ${err.message}`);
  fatal(`audit crashed: ${err?.stack || err}`);
}

async function describeResponse(res) {
  if (!res) return '(no response)';
  const headers = [];
  for (const [k, v] of res.headers.entries()) {
    if (['date', 'content-length', 'connection', 'keep-alive'].includes(k)) continue;
    headers.push(`${k}: ${v}`);
  }
  let body;
  try {
    body = res.bodyUsed ? '(body already consumed)' : await res.text();
  } catch (e) {
    body = `(unreadable body: ${e.message})`;
  }
  if (body.length > BODY_MAX) body = body.slice(0, BODY_MAX) + `... (${body.length} chars)`;
  return `HTTP ${res.status} ${res.statusText} | ${headers.join(' | ') || '(no headers)'}\n      body: ${body === '' ? '(empty)' : body}`;
}

const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
const order = { error: 0, warn: 1, notice: 2, ok: 3 };
// Stable, readable order: failures last so they are visible at the bottom.
const sorted = [...results].sort((a, b) => order[b.status] - order[a.status]);
for (const r of sorted) {
  counts[r.status] = (counts[r.status] || 0) + 1;
  const label = r.status.toUpperCase().padEnd(6);
  console.log(`${label} ${r.id}  ${r.name}`);
  if (r.status !== 'ok') {
    console.log(`      reason:   ${r.reason}`);
    console.log(`      request:  ${r.response?.[REQ] ?? '(unknown)'}`);
    console.log(`      response: ${await describeResponse(r.response)}`);
  }
}

console.log(
  `\n${counts.ok} ok, ${counts.warn} warn, ${counts.error} error, ${counts.notice} notice` +
    ` (${results.length} audits against ${url})`,
);
process.exit(results.every((r) => r.status === 'ok') ? 0 : 1);
