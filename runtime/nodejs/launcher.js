// Stoke's Node.js launcher: the ActionLoop child of the action proxy.
//
// argv: <action dir> <main> <file|archive>. It loads the user's code, acks on
// fd 3 when __OW_WAIT_FOR_ACK is set (or sends {"error": …} if the code does
// not load), then reads one /run body per line on stdin and writes one
// result line per request on fd 3, in request order. Requests start as they
// arrive, so async actions overlap when the proxy allows concurrency.
//
// With no arguments it is prestarted: Node.js starts before the action is
// known, and the first stdin line says what to load,
// {"dir", "main", "kind", "env"}, env being the action's whole environment
// as a list of "K=V" in order.
'use strict';

const fs = require('fs');
const path = require('path');
const Module = require('module');
const readline = require('readline');

let [dir, mainName, kind] = process.argv.slice(2);
const prestarted = dir === undefined;
const RESULT_FD = 3;

function send(obj) {
  let line;
  try {
    line = JSON.stringify(obj);
  } catch (e) {
    line = JSON.stringify({ error: 'The action returned a value that is not JSON: ' + e.message });
  }
  if (line === undefined) line = '{}';
  fs.writeSync(RESULT_FD, line + '\n');
}

// A dotted path: a, a.b, a.b.c (no code injection through main).
const MAIN_RE = /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$/;

function pick(obj, names) {
  return names.reduce((o, n) => (o == null ? undefined : o[n]), obj);
}

// A single source file: run it as a CommonJS module and find main the way
// OpenWhisk's Node.js runtime does: a top-level binding or global first,
// then module.exports / exports.
function loadFile(file, main) {
  const source = fs.readFileSync(file, 'utf8');
  const m = new Module(file, module);
  m.filename = file;
  m.paths = Module._nodeModulePaths(dir);
  const probe = `\n;module.exports.__stoke_main__ = (function () {
  try { return ${main}; } catch (e) {
    if (e instanceof ReferenceError) return undefined; throw e;
  }
})();\n`;
  m._compile(source + probe, file);
  const found = m.exports.__stoke_main__;
  delete m.exports.__stoke_main__;
  return found !== undefined ? found : pick(m.exports, main.split('.'));
}

// An archive: "main" is an export of the package (package.json "main" or
// index.js); "file.func[.more]" is an export of file.js.
function loadArchive(main) {
  const parts = main.split('.');
  if (parts.length === 1) {
    if (!fs.existsSync(path.join(dir, 'package.json')) && !fs.existsSync(path.join(dir, 'index.js'))) {
      throw new Error('Zipped actions must contain either package.json or index.js at the root.');
    }
    return require(dir)[parts[0]];
  }
  return pick(require(path.join(dir, parts[0])), parts.slice(1));
}

function load() {
  if (!MAIN_RE.test(mainName)) throw new Error(`Name of main function is not valid: ${mainName}`);
  process.chdir(dir);
  const fn = kind === 'archive' ? loadArchive(mainName) : loadFile(path.join(dir, 'index.js'), mainName);
  if (typeof fn !== 'function') {
    throw new Error(`Action entrypoint '${mainName}' is not a function.`);
  }
  return fn;
}

function errorValue(e) {
  if (e instanceof Error) return String(e);
  if (e !== null && typeof e === 'object') return e;
  return String(e);
}

let main;

function init() {
  try {
    main = load();
  } catch (e) {
    console.error('Error during initialization:', e && e.stack ? e.stack : e);
    if (process.env.__OW_WAIT_FOR_ACK) send({ error: `Initialization has failed due to: ${errorValue(e)}` });
    process.exit(1);
  }
  if (process.env.__OW_WAIT_FOR_ACK) send({ ok: true });
}

// prestartInit takes the load line of a prestarted launcher and makes
// argv and the environment what a launcher started for this action sees.
// The inherited environment holds only __OW_* variables, all of which are
// in msg.env again: clearing it and setting msg.env in order gives the
// environment, order included, of a launcher started with msg.env.
function prestartInit(line) {
  let msg;
  try {
    msg = JSON.parse(line);
  } catch (e) {
    console.error('Invalid load line:', e.message);
    process.exit(1);
  }
  ({ dir, main: mainName, kind } = msg);
  process.argv.splice(2, process.argv.length, dir, mainName, kind);
  for (const k of Object.keys(process.env)) delete process.env[k];
  for (const kv of msg.env || []) {
    const i = kv.indexOf('=');
    process.env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  init();
}

if (!prestarted) init();

async function invoke(line) {
  let req;
  try {
    req = JSON.parse(line);
  } catch (e) {
    return { error: 'Invalid request: ' + e.message };
  }
  for (const [k, v] of Object.entries(req)) {
    if (k !== 'value' && typeof v === 'string') process.env['__OW_' + k.toUpperCase()] = v;
  }
  try {
    const result = await main(req.value === undefined ? {} : req.value);
    return result === undefined ? {} : result;
  } catch (e) {
    console.error(e && e.stack ? e.stack : e);
    return { error: errorValue(e) };
  }
}

// drained resolves once everything the action wrote to stdout and stderr
// has left the process: writes to pipes are asynchronous in Node.js, and
// the proxy writes its log sentinels as soon as it has the result, so an
// undrained tail would land after them, in the next activation's logs.
function drained() {
  const flush = (stream) => new Promise((resolve) => {
    if (!stream.writableNeedDrain && stream.writableLength === 0) return resolve();
    stream.write('', () => resolve());
  });
  return Promise.all([flush(process.stdout), flush(process.stderr)]);
}

// Results leave in request order: the proxy matches them first in, first
// out.
let tail = Promise.resolve();
const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on('line', (line) => {
  if (line.trim() === '') return;
  if (main === undefined) return prestartInit(line);
  const pending = invoke(line);
  tail = tail.then(() => pending).then(async (result) => {
    await drained();
    send(result);
  });
});
rl.on('close', () => tail.then(() => process.exit(0)));
