#!/usr/bin/env node
// Builds the optional native kernels (binding.gyp → build/Release/nimbus_kernels.node). Run by
// npm as the package's `install` script, and by `npm run build:native`.
//
// Native is an accelerator, never a requirement (style rule 12): without a compiler, Python or
// Node headers, or when the build breaks, this prints a warning and exits 0, and the server runs
// on the TypeScript kernels. With NIMBUS_NATIVE_REQUIRED=1 (CI) a failed build or an addon that
// does not load is fatal. NIMBUS_NO_NATIVE=1 skips the build (the loader ignores the addon then
// anyway), unless the addon is required.
//
// Defining `install` ourselves matters: a package with a binding.gyp and no install/preinstall
// script gets npm's default `node-gyp rebuild`, which would fail `npm install` on a broken build.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const required = process.env.NIMBUS_NATIVE_REQUIRED === '1';
const addonPath = join(root, 'build', 'Release', 'nimbus_kernels.node');

function giveUp(reason) {
  if (required) {
    console.error(`nimbus: native kernels: ${reason} (NIMBUS_NATIVE_REQUIRED=1, failing)`);
    process.exit(1);
  }
  console.warn(`nimbus: native kernels not built: ${reason}. The server will use the TypeScript kernels ` +
    '(same bytes, slower). Set NIMBUS_NATIVE_REQUIRED=1 to make this an error.');
  process.exit(0);
}

/** node-gyp: ours (devDependency, pinned), else the one npm bundles and names in the environment. */
function findNodeGyp() {
  try {
    return require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    const bundled = process.env.npm_config_node_gyp;
    return bundled !== undefined && existsSync(bundled) ? bundled : null;
  }
}

/**
 * Node's own headers (node_api.h, openssl/) next to this node binary, when they match its version:
 * then node-gyp needs no download (none is possible offline). Otherwise node-gyp uses its cache or
 * downloads them, and npm's `nodedir` setting, if any, still wins.
 */
function localNodeDir() {
  if (process.env.npm_config_nodedir) {
    return null;
  }
  const prefix = resolve(dirname(process.execPath), '..');
  const versionHeader = join(prefix, 'include', 'node', 'node_version.h');
  if (!existsSync(versionHeader) || !existsSync(join(prefix, 'include', 'node', 'openssl', 'evp.h'))) {
    return null;
  }
  const text = readFileSync(versionHeader, 'utf8');
  const part = (name) => new RegExp(`#define\\s+NODE_${name}_VERSION\\s+(\\d+)`).exec(text)?.[1];
  return `v${part('MAJOR')}.${part('MINOR')}.${part('PATCH')}` === process.version ? prefix : null;
}

if (process.env.NIMBUS_NO_NATIVE === '1' && !required) {
  console.warn('nimbus: NIMBUS_NO_NATIVE=1, native kernels not built');
  process.exit(0);
}
const nodeGyp = findNodeGyp();
if (nodeGyp === null) {
  giveUp('node-gyp not found');
}
try {
  require.resolve('node-addon-api');
} catch {
  giveUp('node-addon-api not installed');
}
const nodeDir = localNodeDir();
const args = [nodeGyp, 'rebuild', ...(nodeDir !== null ? [`--nodedir=${nodeDir}`] : [])];
console.log(`nimbus: building the native kernels (node-gyp rebuild${nodeDir !== null ? ` --nodedir=${nodeDir}` : ''})`);
const build = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
if (build.error !== undefined || build.status !== 0) {
  giveUp(build.error?.message ?? `node-gyp exited with ${build.status ?? build.signal}`);
}
// Load it once here, so that a binary that builds but cannot load (symbols, ABI) is caught at
// install time rather than logged at the first start.
try {
  const addon = require(addonPath);
  if (addon.checksum(Buffer.from([1, 2, 3]), 0, 3) !== (~0x0105 & 0xffff)) {
    giveUp('the built addon computes a wrong checksum');
  }
} catch (error) {
  giveUp(`the built addon does not load: ${error.message}`);
}
console.log(`nimbus: native kernels built: ${addonPath}`);
