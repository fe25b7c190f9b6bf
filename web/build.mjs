// Bundles the playground into dist/ with esbuild: dist/app.js (the page's code and the
// livekit-client package, nothing loaded from elsewhere), index.html and style.css.
//
//   node build.mjs            (scripts/setup runs it after `npm ci`)
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'dist');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(here, 'src', 'main.js')],
  bundle: true,
  format: 'esm',
  target: ['es2022'],
  minify: true,
  sourcemap: true,
  outfile: join(out, 'app.js'),
  logLevel: 'warning',
});
for (const file of ['index.html', 'style.css']) {
  copyFileSync(join(here, 'src', file), join(out, file));
}
console.log(`playground built in ${out}`);
