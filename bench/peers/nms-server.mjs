// Launches node-media-server (the npm package, the benchmarks' peer) with RTMP, and HTTP-FLV with --http-port:
//   node bench/peers/nms-server.mjs --port=PORT [--host=127.0.0.1] [--http-port=PORT]
// No HTTPS/RTMPS listener, no recording, no auth, logs at "error" only, its store in a
// temporary folder removed at exit. Prints "nms listening: RTMP HOST:PORT/tcp" on stdout once the
// RTMP listener is bound; stops on SIGTERM/SIGINT (exit code 0, so --cpu-prof profiles get written).
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const NodeMediaServer = require('node-media-server');
const logger = require('node-media-server/src/core/logger.js');
const { version } = require('node-media-server/package.json');

const { values } = parseArgs({ options: { port: { type: 'string' }, host: { type: 'string', default: '127.0.0.1' }, 'http-port': { type: 'string' } } });
const port = Number(values.port);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error('usage: nms-server.mjs --port=PORT [--host=HOST]');
  process.exit(2);
}

const dataDir = mkdtempSync(join(tmpdir(), 'nimbus-bench-nms-'));
const config = {
  bind: values.host,
  rtmp: { port },
  ...(values['http-port'] === undefined ? {} : { http: { port: Number(values['http-port']) } }),
  store: { path: dataDir },
  webadmin: { enable: false },
};
// The constructor prints a banner at "info" and sets the level to "debug": silence it around it.
const log = console.log;
console.log = () => {};
const nms = new NodeMediaServer(config, join(dataDir, 'config.json'));
console.log = log;
logger.level = 'error';

const tcp = nms.rtmpServer.tcpServer;
tcp.once('listening', () => {
  console.log(`nms listening: RTMP ${values.host}:${port}/tcp (node-media-server ${version})`);
});
tcp.once('error', (err) => {
  console.error(`nms: cannot listen: ${err.message}`);
  process.exit(1);
});
await nms.run();

let stopping = false;
const stop = () => {
  if (stopping) {
    return;
  }
  stopping = true;
  // Sessions are not closed by stop(); exit once the listeners and the store are done.
  nms.stop().finally(() => {
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(0);
  });
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
