// Loopback-only FHIR R4 test server around Medplum's in-memory engine. For pytest only; see README.md.
// Usage: node --experimental-websocket server.mjs [--port N] [--token T] [--verbose]
//        [--exit-on-stdin-eof] [--no-split-search-params]
import { createServer } from 'node:http';
import { timingSafeEqual } from 'node:crypto';

const started = performance.now();
const args = parseArgs(process.argv.slice(2));

// @medplum/core reads WebSocket.CLOSING at import time; Node 20 only has it with
// --experimental-websocket. The server never opens WebSockets, so a constant-only stub is enough.
globalThis.WebSocket ??= { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 };
const core = await import('@medplum/core');
const { loadDefinitions, createRouter, TestRepository, buildCapabilityStatement } = await import('./engine.mjs');

const FHIR_JSON = 'application/fhir+json';
const MAX_BODY_BYTES = 64 * 1024 * 1024;
const MAX_LOG = 1000;
// CORS (Fetch standard, https://fetch.spec.whatwg.org/#http-cors-protocol): browser clients such as the
// CDS Hooks sandbox read this server from their page, so every answer allows any origin (no cookies are
// used, so `*` is enough) and exposes the headers a FHIR client reads.
const CORS_HEADERS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': 'ETag, Last-Modified, Location, Content-Location',
};
const PREFLIGHT_MAX_AGE_S = '600';

const { split } = loadDefinitions({ splitSearchParams: !args.noSplit });
const resourceTypes = new Set(core.getResourceTypes());
const router = createRouter();
let baseUrl = '';
let repo; // set on listen
let stats = freshStats();
let fault = null;
let capabilityStatement = null;

const server = createServer((req, res) => {
  handle(req, res).catch((err) => {
    log(`internal error: ${err?.stack ?? err}`);
    if (!res.headersSent) sendFhir(res, 500, core.normalizeOperationOutcome(err));
    else res.destroy();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(args.port, '127.0.0.1', () => {
  const { port } = server.address();
  baseUrl = `http://127.0.0.1:${port}/fhir`;
  repo = new TestRepository(baseUrl);
  process.stdout.write(`LISTENING ${port}\n`);
  const ms = Math.round(performance.now() - started);
  log(`FHIR test server ready on ${baseUrl} in ${ms} ms (split ${split} shared search parameters)`);
});
server.on('error', (err) => {
  log(`cannot listen: ${err.message}`);
  process.exit(1);
});
process.stdout.on('error', () => {}); // parent closed the pipe; keep serving
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, shutdown);
if (args.exitOnStdinEof) {
  process.stdin.on('end', shutdown).on('error', shutdown).resume();
}

function shutdown() {
  server.close();
  server.closeAllConnections();
  process.exit(0);
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://127.0.0.1');
  const path = url.pathname;
  const area = path === '/fhir' || path.startsWith('/fhir/') ? 'fhir' : path.startsWith('/admin/') ? 'admin' : null;
  for (const [name, value] of Object.entries(CORS_HEADERS)) res.setHeader(name, value);
  if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
    return sendPreflight(req, res); // preflights carry no credentials: answered before the token check
  }
  if (!area) {
    return sendFhir(res, 404, outcome('not-found', `Unknown route: ${req.method} ${path}`));
  }
  if (area === 'fhir') {
    countRequest(req, res, path);
  }
  if (args.token && !authorized(req.headers.authorization)) {
    res.setHeader('WWW-Authenticate', 'Bearer');
    return sendFhir(res, 401, outcome('login', 'Missing or invalid bearer token'));
  }
  if (area === 'admin') {
    return handleAdmin(req, res, path);
  }
  if (fault && matchesFault(fault, req.url)) {
    const rule = fault;
    if (rule.times !== null && --rule.times <= 0) fault = null;
    if (rule.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, rule.delayMs));
    if (rule.status !== null) {
      const body = rule.body ?? JSON.stringify(outcome('exception', `Injected fault (HTTP ${rule.status})`));
      res.writeHead(rule.status, { 'Content-Type': rule.contentType ?? FHIR_JSON });
      return res.end(body);
    }
  }
  return handleFhir(req, res, url, path.slice('/fhir'.length).replace(/^\/+|\/+$/g, ''));
}

async function handleFhir(req, res, url, relPath) {
  const method = req.method;
  const segments = relPath ? relPath.split('/') : [];
  const [type, id] = segments;
  if (type === 'metadata' && segments.length === 1) {
    if (method !== 'GET') return sendFhir(res, 405, outcome('not-supported', 'Use GET /metadata'));
    capabilityStatement ??= JSON.stringify(buildCapabilityStatement(baseUrl));
    return sendFhir(res, 200, capabilityStatement);
  }
  if (type && !resourceTypes.has(type)) {
    return sendFhir(res, 404, outcome('not-found', `Unknown resource type: ${type}`));
  }

  let body;
  if (['POST', 'PUT', 'PATCH'].includes(method)) {
    const raw = await readBody(req);
    if (raw === null) return sendFhir(res, 413, outcome('too-costly', `Request body exceeds ${MAX_BODY_BYTES} bytes`));
    const contentType = (req.headers['content-type'] ?? '').toLowerCase();
    if (contentType.startsWith('application/x-www-form-urlencoded')) {
      body = paramsToRecord(new URLSearchParams(raw));
    } else if (raw.trim()) {
      try {
        body = JSON.parse(raw);
      } catch (err) {
        return sendFhir(res, 400, outcome('structure', `Request body is not valid JSON: ${err.message}`));
      }
    }
  }

  const isSearchPost = method === 'POST' && segments.length === 2 && id === '_search';
  if (isSearchPost) {
    // Parameters may be split between the URL and the form body; the engine only reads the body.
    body = mergeRecords(paramsToRecord(url.searchParams), body && typeof body === 'object' ? body : {});
  } else if ((method === 'POST' || method === 'PUT') && (!body || typeof body !== 'object' || Array.isArray(body))) {
    return sendFhir(res, 400, outcome('structure', 'Request body must be a JSON resource'));
  } else if (method === 'POST' && segments.length === 1) {
    delete body.id; // create: the server assigns the id (the engine would otherwise keep the client's)
  }

  const fhirReq = { method, url: relPath + url.search, pathname: '', body, params: {}, query: {}, headers: req.headers };
  const [result, resource] = await router.handleRequest(fhirReq, repo);
  const status = core.getStatus(result);
  if (resource?.resourceType === 'Bundle' && /-response$/.test(resource.type ?? '')) {
    for (const entry of resource.entry ?? []) {
      if (entry?.resource?.id && !entry.fullUrl && resourceTypes.has(entry.resource.resourceType)) {
        entry.fullUrl = `${baseUrl}/${entry.resource.resourceType}/${entry.resource.id}`;
      }
    }
  }
  const versionId = resource?.meta?.versionId;
  if (versionId && resource.id && resource.resourceType !== 'Bundle') {
    res.setHeader('ETag', `W/"${versionId}"`);
    if (resource.meta.lastUpdated) res.setHeader('Last-Modified', new Date(resource.meta.lastUpdated).toUTCString());
    if (status === 201) {
      res.setHeader('Location', `${baseUrl}/${resource.resourceType}/${resource.id}/_history/${versionId}`);
    }
  }
  return sendFhir(res, status, resource ?? result);
}

async function handleAdmin(req, res, path) {
  const route = `${req.method} ${path.replace(/\/+$/, '')}`;
  switch (route) {
    case 'POST /admin/reset':
      repo = new TestRepository(baseUrl);
      stats = freshStats();
      fault = null;
      return sendJson(res, 200, { status: 'reset' });
    case 'GET /admin/stats':
      return sendJson(res, 200, stats);
    case 'GET /admin/faults':
      return sendJson(res, 200, { fault });
    case 'DELETE /admin/faults':
      fault = null;
      return sendJson(res, 200, { status: 'cleared' });
    case 'POST /admin/faults': {
      const raw = await readBody(req);
      let rule;
      try {
        rule = parseFault(JSON.parse(raw ?? ''));
      } catch (err) {
        return sendFhir(res, 400, outcome('invalid', `Bad fault rule: ${err.message}`));
      }
      fault = rule;
      return sendJson(res, 200, { status: 'installed', fault });
    }
    default:
      return sendFhir(res, 404, outcome('not-found', `Unknown admin route: ${route}`));
  }
}

function parseFault(input) {
  if (!input || typeof input !== 'object' || Array.isArray(input)) throw new Error('expected a JSON object');
  const { match = '', status = null, delayMs = 0, body = null, contentType = null, times = null } = input;
  const check = (ok, msg) => {
    if (!ok) throw new Error(msg);
  };
  check(typeof match === 'string', '"match" must be a string');
  check(status === null || (Number.isInteger(status) && status >= 100 && status <= 599), '"status" must be null or 100-599');
  check(Number.isInteger(delayMs) && delayMs >= 0, '"delayMs" must be an integer >= 0');
  check(body === null || typeof body === 'string', '"body" must be null or a string');
  check(contentType === null || typeof contentType === 'string', '"contentType" must be null or a string');
  check(times === null || (Number.isInteger(times) && times > 0), '"times" must be null or an integer > 0');
  return { match, status, delayMs, body, contentType, times };
}

function matchesFault(rule, rawUrl) {
  if (!rule.match || rawUrl.includes(rule.match)) return true;
  try {
    return decodeURIComponent(rawUrl.replaceAll('+', ' ')).includes(rule.match);
  } catch {
    return false;
  }
}

function freshStats() {
  return { requests: 0, byType: {}, recent: [] };
}

function countRequest(req, res, path) {
  const key = path.split('/')[2] || '(root)';
  stats.requests++;
  stats.byType[key] = (stats.byType[key] ?? 0) + 1;
  const record = { method: req.method, url: req.url, status: null };
  stats.recent.push(record);
  if (stats.recent.length > MAX_LOG) stats.recent.shift();
  const t0 = performance.now();
  res.on('finish', () => {
    record.status = res.statusCode;
    if (args.verbose) log(`${req.method} ${req.url} -> ${res.statusCode} (${Math.round(performance.now() - t0)} ms)`);
  });
}

function authorized(header) {
  const expected = Buffer.from(`Bearer ${args.token}`);
  const actual = Buffer.from(header ?? '');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** Resolves to the body as a string, or null when it exceeds MAX_BODY_BYTES (the rest is drained). */
function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function paramsToRecord(params) {
  const record = Object.create(null);
  for (const [key, value] of params) {
    const existing = record[key];
    record[key] = existing === undefined ? value : [].concat(existing, value);
  }
  return record;
}

function mergeRecords(a, b) {
  const merged = { ...a };
  for (const [key, value] of Object.entries(b)) {
    merged[key] = merged[key] === undefined ? value : [].concat(merged[key], value);
  }
  return merged;
}

function outcome(code, diagnostics) {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, details: { text: diagnostics }, diagnostics }] };
}

function sendFhir(res, status, body) {
  res.writeHead(status, { 'Content-Type': FHIR_JSON });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

/**
 * A CORS preflight: any method this server serves, the headers the browser asks for, and Private Network
 * Access (https://wicg.github.io/private-network-access/) when asked, as this server is loopback-only.
 */
function sendPreflight(req, res) {
  res.setHeader('Access-Control-Allow-Methods', 'GET, POST, PUT, PATCH, DELETE, OPTIONS');
  const requested = req.headers['access-control-request-headers'];
  if (requested) res.setHeader('Access-Control-Allow-Headers', requested);
  if (req.headers['access-control-request-private-network'] === 'true') {
    res.setHeader('Access-Control-Allow-Private-Network', 'true');
  }
  res.setHeader('Access-Control-Max-Age', PREFLIGHT_MAX_AGE_S);
  res.writeHead(204);
  res.end();
}

function sendJson(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

function parseArgs(argv) {
  const out = { port: 0, token: null, verbose: false, exitOnStdinEof: false, noSplit: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s) : [arg, undefined];
    const value = () => inline ?? argv[++i];
    if (flag === '--port') out.port = Number.parseInt(value(), 10);
    else if (flag === '--token') out.token = value();
    else if (flag === '--verbose') out.verbose = true;
    else if (flag === '--exit-on-stdin-eof') out.exitOnStdinEof = true;
    else if (flag === '--no-split-search-params') out.noSplit = true;
    else fail(`unknown argument: ${arg}`);
  }
  if (!Number.isInteger(out.port) || out.port < 0 || out.port > 65535) fail('--port must be 0-65535');
  if (out.token === undefined || out.token === '') fail('--token needs a value');
  return out;
}

function fail(message) {
  log(message);
  process.exit(2);
}

function log(message) {
  process.stderr.write(`[fhir-test-server] ${message}\n`);
}
