// Sends the events given as JSON on stdin through Segment's official Node library, unchanged:
//   node send.mjs WRITE_KEY HOST < calls.json      calls: [{"method": "track", "args": {...}}, ...]
// Exits non-zero when the library reports an error.
import { Analytics } from "@segment/analytics-node";

const [writeKey, host] = process.argv.slice(2);
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const calls = JSON.parse(Buffer.concat(chunks).toString("utf8"));

const analytics = new Analytics({ writeKey, host, maxRetries: 0, flushInterval: 100 });
let failed = null;
analytics.on("error", (err) => { failed = err; });
for (const { method, args } of calls) analytics[method](args);
await analytics.closeAndFlush({ timeout: 15000 });
if (failed) {
  console.error("analytics-node error:", failed);
  process.exit(1);
}
