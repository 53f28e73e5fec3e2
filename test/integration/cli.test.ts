import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { RtmpClient } from '../../src/client/RtmpClient.js';
import { tempDir } from '../helpers/ffmpeg.js';
import { ServerProcess, cliPath, freePort, startServer } from '../helpers/serverProcess.js';

const runCli = (args: string[], cwd?: string): { status: number | null; out: string } => {
  const r = spawnSync(process.execPath, [cliPath, ...args], { cwd, timeout: 10_000 });
  return { status: r.status, out: r.stdout.toString() + r.stderr.toString() };
};

describe('the nimbus command', { timeout: 60_000 }, () => {
  it('prints its usage and every key with --help', () => {
    const { status, out } = runCli(['--help']);
    assert.equal(status, 0);
    assert.match(out, /Usage: nimbus \[--config FILE\]/);
    assert.match(out, /RTMP\.port\s+RTMP TCP port/);
  });

  it('stops with a message naming the key, the value and what is allowed', () => {
    const { status, out } = runCli(['--RTMP.port=99999']);
    assert.equal(status, 2);
    assert.match(out, /RTMP\.port: "99999" is not valid, expected an integer from 0 to 65535/);
    const bad = runCli(['--log=12']);
    assert.equal(bad.status, 2);
    const missing = runCli(['--config', '/nonexistent.ini']);
    assert.equal(missing.status, 2);
    assert.match(missing.out, /does not exist/);
  });

  it('reads nimbus.ini from its working directory, warns about unknown keys, and listens where told', async () => {
    const dir = tempDir();
    const port = await freePort();
    writeFileSync(join(dir, 'nimbus.ini'), `host=127.0.0.1\n[RTMP]\nport=${port}\nprot=5\n[RTMFP]\nport=0\n`);
    const server = new ServerProcess([], dir);
    await server.waitFor(new RegExp(`nimbus listening: RTMP 127\\.0\\.0\\.1:${port}/tcp`));
    assert.match(server.output, /unknown configuration key RTMP\.prot .*did you mean RTMP\.port\?/);
    assert.equal(await server.stop('SIGINT'), 0);
  });

  it('closes sessions and exits 0 on SIGINT and SIGTERM', async () => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      const { server, port } = await startServer();
      const client = new RtmpClient();
      await client.connect(`rtmp://127.0.0.1:${port}/live`);
      const closed = new Promise((r) => client.once('close', r));
      assert.equal(await server.stop(signal), 0);
      await closed;
      assert.match(server.output, new RegExp(`${signal} received, stopping`));
      assert.match(server.output, /session closed: server stopping/);
    }
  });

  it('fails to start, with a message, when the port is taken', async () => {
    const { server, port } = await startServer();
    const second = runCli([`--RTMP.port=${port}`, '--RTMFP.port=0', '--host=127.0.0.1']);
    assert.equal(second.status, 1);
    assert.match(second.out, /cannot start: .*EADDRINUSE/);
    await server.stop();
  });
});
