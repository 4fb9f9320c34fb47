// Builds dist/ from src/: one JavaScript and one CSS bundle (GraphiQL and its fonts inside, no CDN),
// index.html, the licences of what is bundled, and build.json, which records a hash of the sources
// so a test can tell when dist/ is older than them (tests/playground/test_assets.py computes the same).
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('.', import.meta.url));
const dist = join(root, 'dist');

function files(directory) {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? files(join(directory, entry.name)) : [join(directory, entry.name)],
  );
}

// The files the bundle is made from: what the hash in build.json covers.
function sourceHash() {
  const paths = ['package.json', 'package-lock.json', 'build.mjs', ...files(join(root, 'src')).map((p) => relative(root, p))]
    .map((p) => p.split(sep).join('/'))
    .sort();
  const hash = createHash('sha256');
  for (const path of paths) {
    hash.update(path);
    hash.update('\0');
    hash.update(readFileSync(join(root, path)));
    hash.update('\0');
  }
  return hash.digest('hex');
}

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist);
await build({
  entryPoints: { playground: join(root, 'src/main.jsx') },
  outdir: dist,
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2020'],
  jsx: 'automatic',
  loader: { '.woff': 'dataurl', '.woff2': 'dataurl', '.svg': 'dataurl' },
  define: { 'process.env.NODE_ENV': '"production"' },
  legalComments: 'linked',
  logLevel: 'warning',
});
copyFileSync(join(root, 'src/index.html'), join(dist, 'index.html'));
writeFileSync(join(dist, 'build.json'), JSON.stringify({ source_sha256: sourceHash() }, null, 2) + '\n');
console.log(`built ${relative(process.cwd(), dist) || '.'}: ${readdirSync(dist).sort().join(', ')}`);
