/**
 * Builds the dashboard into one self-contained HTML file (edge/dist/dashboard.html): the app and
 * Chart.js bundled and inlined, so the Worker serves it with no CDN and no asset store. wrangler runs
 * this before `dev` and `deploy` ([build] in wrangler.toml).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const source = join(here, "..", "dashboard");
const out = join(here, "..", "dist", "dashboard.html");

const result = await build({
  entryPoints: [join(source, "app.ts")],
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  write: false,
  legalComments: "inline",
});
const js = result.outputFiles[0]!.text.replaceAll("</script", "<\\/script");
const html = readFileSync(join(source, "index.html"), "utf8").replace("/*APP*/", () => js);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, html);
process.stdout.write(`dashboard: ${out} (${(html.length / 1024).toFixed(0)} KiB)\n`);
