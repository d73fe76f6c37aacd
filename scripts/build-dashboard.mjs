#!/usr/bin/env node
// Builds the dashboard (src/dashboard/, browser code) into dist/dashboard/: one bundled, minified
// app.js made by esbuild (one request instead of a module graph, and the wire types it imports
// from src/protocol are erased rather than emitted), plus index.html and styles.css copied as they
// are. Nothing is fetched from elsewhere at run time: the page works offline. Type-checking is
// done by `npm run typecheck` (src/dashboard/tsconfig.json, with the DOM library).
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const src = join(import.meta.dirname, '..', 'src', 'dashboard', '/');
const out = join(import.meta.dirname, '..', 'dist', 'dashboard', '/');
/** The browsers the page is written for: what Debian's chromium and current Firefox/Safari run. */
const TARGET = ['chrome110', 'firefox110', 'safari16'];

mkdirSync(out, { recursive: true });
await build({
  entryPoints: [`${src}main.ts`],
  outfile: `${out}app.js`,
  bundle: true,
  format: 'esm',
  minify: true,
  sourcemap: true,
  target: TARGET,
  logLevel: 'warning',
});
for (const file of ['index.html', 'styles.css']) copyFileSync(`${src}${file}`, `${out}${file}`);
