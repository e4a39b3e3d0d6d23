// Load generator for bench/fanout.py, using the official socket.io-client.
//
//   node bench/loadgen.js <config.json>
//
// The config (written by fanout.py) lists the clients: {circle, cookie?, csrf?}. The
// generator opens one WebSocket per client, joins each to its circle (chat:join), then
// prints "READY" and waits for "GO" on stdin. It then sends `rate` chat:send events a
// second for `duration` seconds, spread over the circles round-robin and over each
// circle's members in turn. Each body carries the message number and the send time;
// every receiver computes its delivery latency. After a drain period it prints one
// line "RESULT <json>" and waits for "BYE" before closing the sockets (so that the
// orchestrator can read the server's CPU time before the disconnect storm).
//
// Everything runs in this one process, so send and receive times use one clock.

"use strict";

const fs = require("fs");
const readline = require("readline");
const { performance } = require("perf_hooks");
const { io } = require("socket.io-client");

const cfg = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const clients = cfg.clients;
const rate = cfg.rate;
const duration = cfg.duration;
const drainMs = (cfg.drain || 5) * 1000;
const totalMessages = Math.round(rate * duration);
const pad = "x".repeat(Math.max(0, (cfg.body_size || 120) - 40));

const lines = readline.createInterface({ input: process.stdin });
const waiting = [];
lines.on("line", (l) => {
  const w = waiting.shift();
  if (w) w(l.trim());
});
const nextLine = () => new Promise((resolve) => waiting.push(resolve));
const log = (...a) => console.error(`[loadgen ${cfg.label}]`, ...a);

// circle -> indexes of its clients; each client's position in its circle
const circles = new Map();
clients.forEach((c, i) => {
  if (!circles.has(c.circle)) circles.set(c.circle, []);
  c.member = circles.get(c.circle).length;
  circles.get(c.circle).push(i);
});
const circleIds = [...circles.keys()];
const perCircle = Math.max(...[...circles.values()].map((v) => v.length));

const sentAt = new Float64Array(totalMessages);
const circleOf = new Int32Array(totalMessages);
const acked = new Uint8Array(totalMessages); // 0 pending, 1 ok, 2 error
const ackLatency = [];
const ackErrors = {};
const received = new Uint8Array(totalMessages * perCircle);
const latencies = new Float64Array(totalMessages * perCircle);
let deliveries = 0;
let duplicates = 0;
let misdelivered = 0;
let unexpectedDisconnects = 0;
let sending = false;

function connect(i) {
  const c = clients[i];
  const headers = { Origin: cfg.origin };
  if (c.cookie) headers.Cookie = c.cookie;
  // A client may name its own server (bench/knee.py: two processes, clients split).
  const socket = io(c.url || cfg.url, {
    transports: ["websocket"],
    extraHeaders: headers,
    auth: c.csrf ? { csrf: c.csrf } : {},
    reconnection: false,
    forceNew: true,
    timeout: 20000,
  });
  socket.on("chat:message", (evt) => {
    const now = performance.now();
    const m = evt.message;
    const parts = m.body.split("|");
    const k = Number(parts[1]);
    if (m.circle_id !== c.circle || !(k >= 0 && k < totalMessages)) {
      misdelivered += 1;
      return;
    }
    const slot = k * perCircle + c.member;
    if (received[slot]) {
      duplicates += 1;
      return;
    }
    received[slot] = 1;
    latencies[slot] = now - Number(parts[2]);
    deliveries += 1;
  });
  socket.on("disconnect", (reason) => {
    if (sending) {
      unexpectedDisconnects += 1;
      log(`client ${i} disconnected: ${reason}`);
    }
  });
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (err) => reject(new Error(`client ${i}: ${err.message}`)));
  });
}

async function connectAll() {
  const sockets = new Array(clients.length);
  const batch = 50;
  for (let start = 0; start < clients.length; start += batch) {
    const idx = [];
    for (let i = start; i < Math.min(start + batch, clients.length); i++) idx.push(i);
    await Promise.all(idx.map(async (i) => {
      sockets[i] = await connect(i);
      const ack = await sockets[i].timeout(20000).emitWithAck("chat:join", { circle_id: clients[i].circle });
      if (!ack.ok) throw new Error(`client ${i}: chat:join ${JSON.stringify(ack)}`);
    }));
  }
  return sockets;
}

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function send(sockets, k) {
  const circle = circleIds[k % circleIds.length];
  const members = circles.get(circle);
  const sender = members[Math.floor(k / circleIds.length) % members.length];
  const t = performance.now();
  sentAt[k] = t;
  circleOf[k] = circle;
  const body = `b|${k}|${t.toFixed(3)}|${pad}`;
  sockets[sender].timeout(30000).emit(
    "chat:send",
    { circle_id: circle, client_id: `bench-${cfg.label}-${k}`, body },
    (err, ack) => {
      if (!err && ack && ack.ok) {
        acked[k] = 1;
        ackLatency.push(performance.now() - t);
      } else {
        acked[k] = 2;
        const why = err ? "timeout" : (ack && ack.error) || "no-ack";
        ackErrors[why] = (ackErrors[why] || 0) + 1;
      }
    },
  );
}

async function main() {
  const t0 = performance.now();
  const sockets = await connectAll();
  log(`${sockets.length} sockets connected and joined in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  console.log("READY");
  await nextLine();

  sending = true;
  const start = performance.now();
  let k = 0;
  await new Promise((resolve) => {
    const tick = setInterval(() => {
      const due = Math.min(totalMessages, Math.floor(((performance.now() - start) / 1000) * rate));
      while (k < due) send(sockets, k++);
      if (k >= totalMessages) {
        clearInterval(tick);
        resolve();
      }
    }, 2);
  });
  const sendSeconds = (performance.now() - start) / 1000;
  // Drain: wait until everything arrived, or the drain time is up.
  const expected = totalMessages * perCircle;
  const drainEnd = performance.now() + drainMs;
  while (performance.now() < drainEnd && (deliveries < expected || acked.includes(0))) {
    await new Promise((r) => setTimeout(r, 20));
  }
  sending = false;

  // "lost": the server said ok (stored) but a member of the circle never heard it.
  // "undelivered" also counts messages still queued at the server when the drain ended.
  let undelivered = 0;
  let lost = 0;
  for (let m = 0; m < totalMessages; m++) {
    const members = circles.get(circleOf[m]).length;
    for (let r = 0; r < members; r++) {
      if (!received[m * perCircle + r]) {
        undelivered += 1;
        if (acked[m] === 1) lost += 1;
      }
    }
  }
  const lat = Array.from(latencies.filter((_v, i) => received[i])).sort((a, b) => a - b);
  const ackSorted = ackLatency.slice().sort((a, b) => a - b);
  const result = {
    label: cfg.label,
    sockets: sockets.length,
    circles: circleIds.length,
    messages: totalMessages,
    send_seconds: sendSeconds,
    acked_ok: acked.reduce((n, v) => n + (v === 1), 0),
    no_ack_after_drain: acked.reduce((n, v) => n + (v === 0), 0),
    ack_errors: ackErrors,
    expected_deliveries: expected,
    deliveries,
    lost,
    undelivered,
    duplicates,
    misdelivered,
    unexpected_disconnects: unexpectedDisconnects,
    latency_ms: {
      p50: percentile(lat, 50), p95: percentile(lat, 95), p99: percentile(lat, 99),
      max: lat.length ? lat[lat.length - 1] : null,
    },
    ack_ms: { p50: percentile(ackSorted, 50), p99: percentile(ackSorted, 99) },
  };
  // KRING_TRACE=FILE: per message, [ms after the first send, its slowest delivery in ms]
  // (a stall of the server shows as a run of slow messages; bench/README.md).
  if (process.env.KRING_TRACE) {
    const trace = [];
    for (let m = 0; m < totalMessages; m++) {
      let worst = 0;
      for (let r = 0; r < perCircle; r++) worst = Math.max(worst, latencies[m * perCircle + r]);
      trace.push([Math.round(sentAt[m] - sentAt[0]), Math.round(worst * 10) / 10]);
    }
    fs.writeFileSync(process.env.KRING_TRACE, JSON.stringify(trace));
  }
  console.log("RESULT " + JSON.stringify(result));
  await nextLine();
  for (const s of sockets) s.disconnect();
  setTimeout(() => process.exit(0), 200);
}

main().catch((err) => {
  console.error(err);
  console.log("FAILED " + JSON.stringify(String(err)));
  process.exit(1);
});
