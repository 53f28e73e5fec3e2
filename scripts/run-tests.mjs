#!/usr/bin/env node
// Runs every test file under the given folders (default: test/) with node:test and tsx.
// Node 20's test runner has no glob support, so the files are collected here.
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';

const roots = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const extra = process.argv.slice(2).filter((a) => a.startsWith('-'));
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      walk(path);
    } else if (name.endsWith('.test.ts')) {
      files.push(path);
    }
  }
};
for (const root of roots.length > 0 ? roots : ['test']) {
  const path = resolve(root);
  if (statSync(path).isDirectory()) {
    walk(path);
  } else {
    files.push(path);
  }
}
if (files.length === 0) {
  console.error('run-tests: no test files found');
  process.exit(1);
}
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
const result = spawnSync(process.execPath, [
  '--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-timeout=120000', ...extra, ...files,
], { stdio: 'inherit' });
process.exit(result.status ?? 1);
