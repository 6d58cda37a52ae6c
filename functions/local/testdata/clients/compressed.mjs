// Sends compressed web-tracking batches as a Node client would: a raw LZ4
// block made with the npm lz4 package, or zlib-wrapped deflate from Node's
// own zlib, with the x-log-* headers of the OpenAPI SDKs.
//
// Reads from stdin {"url": "http://host:port", "requests": [{"name",
// "logstore", "encoding": "lz4" | "lz4-literal" | "deflate", "body": base64}]}
// and prints one JSON array of results: name, status, requestId, response
// body, rawSize (x-log-bodyrawsize), sentSize and how the body was made.
import { createRequire } from "node:module";
import http from "node:http";
import zlib from "node:zlib";

const require = createRequire(import.meta.url);
const LZ4 = require("lz4");

// literalBlock is an LZ4 block of one literal-only sequence: valid input for
// any LZ4 block decoder, and what to send when the compressor gives up.
function literalBlock(raw) {
  const head = [];
  let n = raw.length;
  head.push((Math.min(n, 15) << 4) & 0xff);
  if (n >= 15) {
    n -= 15;
    while (n >= 255) {
      head.push(255);
      n -= 255;
    }
    head.push(n);
  }
  return Buffer.concat([Buffer.from(head), raw]);
}

function lz4Block(raw) {
  const out = Buffer.alloc(LZ4.encodeBound(raw.length));
  const n = LZ4.encodeBlock(raw, out);
  if (n > 0) {
    return { body: out.subarray(0, n), how: "LZ4.encodeBlock" };
  }
  // encodeBlock returns 0 when it finds the input incompressible.
  return { body: literalBlock(raw), how: "literal block (encodeBlock returned 0)" };
}

// checkLZ4 decodes a block back, so that a bad block is this script's
// failure and not blamed on the server.
function checkLZ4(block, raw) {
  const back = Buffer.alloc(raw.length);
  const n = LZ4.decodeBlock(block, back);
  if (n !== raw.length || !back.equals(raw)) {
    throw new Error(`LZ4 block does not decode back to the input (${n} of ${raw.length} bytes)`);
  }
}

function encode(encoding, raw) {
  switch (encoding) {
    case "lz4": {
      const r = lz4Block(raw);
      checkLZ4(r.body, raw);
      return { ...r, compressType: "lz4" };
    }
    case "lz4-literal": {
      const body = literalBlock(raw);
      checkLZ4(body, raw);
      return { body, how: "hand-made literal-only LZ4 block", compressType: "lz4" };
    }
    case "deflate":
      return { body: zlib.deflateSync(raw), how: "zlib.deflateSync", compressType: "deflate" };
  }
  throw new Error(`unknown encoding ${encoding}`);
}

function post(url, headers, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: "POST", headers, timeout: 15000 }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode, requestId: res.headers["x-log-requestid"] || "", body: Buffer.concat(chunks).toString("utf8") }),
      );
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`no answer from ${url} within 15s`)));
    req.on("error", reject);
    req.end(body);
  });
}

async function main() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  const spec = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  const results = [];
  for (const r of spec.requests) {
    const raw = Buffer.from(r.body, "base64");
    const e = encode(r.encoding, raw);
    const headers = {
      "content-type": "application/json",
      "x-log-apiversion": "0.6.0",
      "x-log-bodyrawsize": String(raw.length),
      "x-log-compresstype": e.compressType,
      "content-length": String(e.body.length),
    };
    const res = await post(`${spec.url}/logstores/${r.logstore}/track`, headers, e.body);
    results.push({ name: r.name, ...res, rawSize: raw.length, sentSize: e.body.length, how: e.how });
  }
  process.stdout.write(JSON.stringify(results));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
