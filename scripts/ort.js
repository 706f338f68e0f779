#!/usr/bin/env node
// ONNX Runtime (npm onnxruntime-node, installed by scripts/deps.sh install_ort into .deps/ort) as
// an outside oracle and a benchmark peer for ravel's ONNX files.
//
//   node scripts/ort.js predict MODEL.onnx IN.npy OUT.npy [--batch 256] [--threads 2]
//       runs the model's first input/output over IN (float32 [N, ...]) in batches, writes float32
//   node scripts/ort.js time MODEL.onnx N,C,H,W [--name NAME] [--reps 11] [--threads 2]
//       prints "TIME NAME <median seconds per run>" (bench/compare's format), after 3 warm-ups
//
// Exit status 1 with one line on stderr when a file is missing or malformed.
'use strict';
const fs = require('fs');
const path = require('path');

const ortDir = process.env.RAVEL_ORT_DIR ||
               path.join(__dirname, '..', '.deps', 'ort', 'node_modules', 'onnxruntime-node');
const ort = require(ortDir);

function fail(msg) {
  process.stderr.write(`ort.js: ${msg}\n`);
  process.exit(1);
}

// .npy version 1.0/2.0, little-endian float32, C order: the only kind ravel's tests write here.
function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY') fail(`${file}: not .npy`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + hlen);
  if (!/'descr':\s*'<f4'/.test(header) || /'fortran_order':\s*True/.test(header))
    fail(`${file}: expected little-endian float32 in C order, header ${header.trim()}`);
  const m = header.match(/'shape':\s*\(([^)]*)\)/);
  if (!m) fail(`${file}: no shape in header`);
  const shape = m[1].split(',').map(s => s.trim()).filter(s => s.length).map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const off = start + hlen;
  if (buf.length - off < count * 4) fail(`${file}: truncated data`);
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = buf.readFloatLE(off + 4 * i);
  return {shape, data};
}

function writeNpy(file, shape, data) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${
      shape.length === 1 ? ',' : ''}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  const body = Buffer.alloc(data.length * 4);
  for (let i = 0; i < data.length; i++) body.writeFloatLE(data[i], 4 * i);
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(header, 'latin1'), body]));
}

function option(args, name, fallback) {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
}

async function session(model, threads) {
  if (!fs.existsSync(model)) fail(`${model}: no such file`);
  return ort.InferenceSession.create(model, {intraOpNumThreads: threads, interOpNumThreads: 1});
}

async function predict(args) {
  const [model, input, output] = args;
  const batch = Number(option(args, '--batch', 256));
  const s = await session(model, Number(option(args, '--threads', 2)));
  const x = readNpy(input);
  const per = x.data.length / x.shape[0];
  const chunks = [];
  let outShape = null;
  for (let b = 0; b < x.shape[0]; b += batch) {
    const n = Math.min(batch, x.shape[0] - b);
    const t = new ort.Tensor('float32', x.data.subarray(b * per, (b + n) * per),
                             [n, ...x.shape.slice(1)]);
    const r = (await s.run({[s.inputNames[0]]: t}))[s.outputNames[0]];
    outShape = r.dims.slice(1);
    chunks.push(r.data);
  }
  const all = new Float32Array(chunks.reduce((a, c) => a + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  writeNpy(output, [x.shape[0], ...outShape], all);
}

async function time(args) {
  const [model, dims] = args;
  const shape = dims.split(',').map(Number);
  const reps = Number(option(args, '--reps', 11));
  const s = await session(model, Number(option(args, '--threads', 2)));
  const x = new ort.Tensor('float32', new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.5),
                           shape);
  const feed = {[s.inputNames[0]]: x};
  for (let i = 0; i < 3; i++) await s.run(feed);
  const ts = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    await s.run(feed);
    ts.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  ts.sort((a, b) => a - b);
  console.log(`TIME ${option(args, '--name', path.basename(model))} ${ts[ts.length >> 1]}`);
}

const [mode, ...rest] = process.argv.slice(2);
const modes = {predict, time};
if (!modes[mode]) fail(`unknown mode '${mode}' (predict, time)`);
modes[mode](rest).catch(e => fail(e.message));
