// Builds the script-tag bundle (../static/sdk/tme.js, minified IIFE) and the npm ESM entry
// (dist/index.js), then prints the bundle's gzipped size and fails above the 5 KB budget.
import { build } from "esbuild";
import { readFileSync, mkdirSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const pkg = JSON.parse(readFileSync(join(here, "package.json"), "utf8"));
const outDir = process.env.TME_SDK_OUT_DIR || join(here, "..", "static", "sdk");
const BUDGET = 5 * 1024;
const define = { __TME_VERSION__: JSON.stringify(pkg.version) };
const target = ["es2018", "chrome64", "firefox67", "safari12"];

mkdirSync(outDir, { recursive: true });
const bundle = join(outDir, "tme.js");
await build({
  entryPoints: [join(here, "src", "browser.js")],
  outfile: bundle,
  bundle: true,
  minify: true,
  format: "iife",
  target,
  define,
  legalComments: "none",
});
await build({
  entryPoints: [join(here, "src", "index.js")],
  outfile: join(here, "dist", "index.js"),
  bundle: true,
  format: "esm",
  target,
  define,
});

const raw = readFileSync(bundle);
const gz = gzipSync(raw, { level: 9 }).length;
console.log(`tme.js ${pkg.version}: ${raw.length} bytes minified, ${gz} bytes gzipped (budget ${BUDGET}) -> ${bundle}`);
if (gz > BUDGET) {
  console.error(`tme.js is over its ${BUDGET}-byte gzipped budget`);
  process.exit(1);
}
