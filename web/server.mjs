// Serves the playground on loopback and mints a LiveKit token for every page load (each load
// is its own participant, so a second tab joins beside the first instead of evicting it).
// No dependencies: node's http and crypto.
//
//   LIVEKIT_URL=ws://127.0.0.1:7880 LIVEKIT_API_KEY=devkey LIVEKIT_API_SECRET=secret node server.mjs
//
// Environment: LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET (required); DEV_ROOM (room,
// default voice-agent-demo); LIVEKIT_AGENT_NAME (explicit dispatch to a named agent);
// PLAYGROUND_ADDR (default 127.0.0.1:8090; port 0 picks a free one). Prints
// "playground: http://ADDR/" once it listens.
//
// Routes: GET / (the page, from dist/), POST /token ({url, token, identity, room}), POST
// /dispatch (asks the server for an agent when the room has none: a room that outlived its
// agent gets no automatic dispatch when someone joins it again).
import { createHmac, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const env = (name, fallback) => process.env[name] || fallback;
const missing = ['LIVEKIT_URL', 'LIVEKIT_API_KEY', 'LIVEKIT_API_SECRET'].filter((n) => !process.env[n]);
if (missing.length) {
  console.error(`playground: set ${missing.join(', ')}`);
  process.exit(64);
}
const wsUrl = env('LIVEKIT_URL').replace(/^http/, 'ws');
const httpUrl = wsUrl.replace(/^ws/, 'http').replace(/\/$/, '');
const apiKey = env('LIVEKIT_API_KEY');
const apiSecret = env('LIVEKIT_API_SECRET');
const roomName = env('DEV_ROOM', 'voice-agent-demo');
const agentName = env('LIVEKIT_AGENT_NAME', '');
const [host, port] = env('PLAYGROUND_ADDR', '127.0.0.1:8090').split(/:(?=\d+$)/);
const dist = join(dirname(fileURLToPath(import.meta.url)), 'dist');
const files = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/index.html': ['index.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/app.js.map': ['app.js.map', 'application/json'],
  '/style.css': ['style.css', 'text/css; charset=utf-8'],
};

const b64url = (data) => Buffer.from(data).toString('base64url');

/** An HS256 JWT as LiveKit reads it: the key as issuer, the grants in `video`. */
function jwt(claims, ttlSeconds = 3600) {
  const now = Math.floor(Date.now() / 1000);
  const body = { iss: apiKey, nbf: now - 10, exp: now + ttlSeconds, ...claims };
  const unsigned = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify(body))}`;
  return `${unsigned}.${createHmac('sha256', apiSecret).update(unsigned).digest('base64url')}`;
}

function userToken() {
  const identity = `user-${randomBytes(4).toString('hex')}`;
  const claims = {
    sub: identity,
    jti: identity,
    name: `You (${identity.slice(5)})`,
    video: { room: roomName, roomJoin: true, canPublish: true, canSubscribe: true, canPublishData: true },
  };
  // A named agent is dispatched explicitly when this join creates the room.
  if (agentName) claims.roomConfig = { agents: [{ agentName }] };
  return { url: wsUrl, token: jwt(claims), identity, room: roomName };
}

async function twirp(service, method, body) {
  const token = jwt({ video: { room: roomName, roomAdmin: true, roomList: true } }, 60);
  const res = await fetch(`${httpUrl}/twirp/livekit.${service}/${method}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(`${method}: ${res.status} ${json.msg || ''}`);
  return json;
}

let lastDispatch = 0;
/** Dispatches an agent into the room unless one is there (or was just asked for). */
async function ensureAgent() {
  const { participants = [] } = await twirp('RoomService', 'ListParticipants', { room: roomName });
  if (participants.some((p) => p.kind === 'AGENT' || p.kind === 4)) return 'present';
  if (Date.now() - lastDispatch < 10_000) return 'pending';
  lastDispatch = Date.now();
  await twirp('AgentDispatchService', 'CreateDispatch', { room: roomName, agent_name: agentName });
  return 'dispatched';
}

function send(res, status, type, body) {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

const server = createServer(async (req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  try {
    if (req.method === 'POST' && path === '/token') {
      return send(res, 200, 'application/json', JSON.stringify(userToken()));
    }
    if (req.method === 'POST' && path === '/dispatch') {
      return send(res, 200, 'application/json', JSON.stringify({ agent: await ensureAgent() }));
    }
    if (path === '/favicon.ico') return send(res, 204, 'text/plain', '');
    const file = files[path];
    if (req.method === 'GET' && file) {
      return send(res, 200, file[1], await readFile(join(dist, file[0])));
    }
    send(res, 404, 'text/plain', 'not found');
  } catch (e) {
    console.error(`playground: ${req.method} ${path}: ${e.message}`);
    send(res, 500, 'text/plain', e.message);
  }
});
server.listen(Number(port), host, () => {
  const { address, port: bound } = server.address();
  console.log(`playground: http://${address}:${bound}/`);
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.close(() => process.exit(0)));
