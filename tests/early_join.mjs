// Runs a call page's early-join script (src/early_join.js, as the server writes it into
// the page) in node, against a real server: the few globals of a page it touches are
// stubbed, the WebSocket is node's own. Used by tests/early_join.rs.
//
//   node --experimental-websocket tests/early_join.mjs SCRIPT_FILE HOST SCENARIO
//
// SCENARIO: `at-once` (the page joins as it loads), `join-now` (the join card's Join now,
// pressed before the app, with the name typed as "  Zoë  "), `hydrated` (the app is there
// already), `kept-seat` (this tab holds a seat in the room from before). Prints what the
// page kept from the server, as JSON (null: it opened no socket).
import { readFileSync } from 'node:fs';

const [file, host, scenario] = process.argv.slice(2);
const listeners = {};
const stored = {};
globalThis.window = globalThis;
globalThis.location = { protocol: 'http:', host };
globalThis.addEventListener = (type, listener) => { listeners[type] = listener; };
globalThis.sessionStorage = { getItem: (key) => stored[key] ?? null };
globalThis.document = {
  documentElement: { hasAttribute: (name) => scenario === 'hydrated' && name === 'data-hydrated' },
  addEventListener: (type, listener) => { listeners[`document:${type}`] = listener; },
};
const script = readFileSync(file, 'utf8');
if (scenario === 'kept-seat') {
  // The key the script looks under: the room's, then the name.
  const config = JSON.parse(script.slice(script.lastIndexOf('})(') + 3, -1));
  stored[config.seats + config.name] = 'a token';
}
// Run as the page runs an inline script: in the global scope.
(0, eval)(script);
if (scenario === 'join-now') {
  const form = {
    id: 'join-card',
    hasAttribute: (name) => name === 'data-sent-early',
    elements: { namedItem: (name) => (name === 'name' ? { value: '  Zoë  ' } : null) },
  };
  listeners['document:submit']({ target: form });
}
const deadline = Date.now() + 5000;
const early = () => window.__tandemEarlySocket;
while (Date.now() < deadline && !(early() && early().queue.length > 0)) {
  if (!early() && Date.now() > deadline - 4500) break;
  await new Promise((resolve) => setTimeout(resolve, 20));
}
const kept = early() ? early().queue : null;
console.log(JSON.stringify({ kept, name: early()?.name ?? null }));
// The page goes: the seat is given back (`leave`), and the socket closed; the harness
// waits for the close, so the `leave` went out before it exits.
const socket = early()?.socket;
if (listeners.pagehide) listeners.pagehide();
if (socket && socket.readyState !== 3) {
  await new Promise((resolve) => {
    socket.addEventListener('close', resolve);
    setTimeout(resolve, 2000);
  });
}
process.exit(0);
