import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseIni } from '../../../src/config/ini.js';
import { loadConfig, nearestKey } from '../../../src/config/loadConfig.js';
import { ConfigError, MediaServerError } from '../../../src/errors.js';

const dirWith = (ini: string): string => {
  const dir = mkdtempSync(join(tmpdir(), 'nimbus-config-'));
  writeFileSync(join(dir, 'nimbus.ini'), ini);
  return dir;
};

describe('ini format', () => {
  it('reads sections into dotted keys, comments only at line start, case-sensitive keys', () => {
    const entries = parseIni('host=1.2.3.4\n; comment\n# also\n[RTMP]\nport = 1936 ; not a comment\n\n[logs]\nLevel=7\nflag\n');
    assert.deepEqual(
      entries.map((e) => [e.key, e.value]),
      [['host', '1.2.3.4'], ['RTMP.port', '1936 ; not a comment'], ['logs.Level', '7'], ['logs.flag', 'true']],
    );
  });
});

describe('loadConfig', () => {
  it('has working defaults with no file', () => {
    const { config, warnings } = loadConfig({ cwd: mkdtempSync(join(tmpdir(), 'nimbus-empty-')) });
    assert.equal(config.rtmp.port, 1935);
    assert.equal(config.rtmp.timeoutMs, 60_000);
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.rtmp.host, '0.0.0.0');
    assert.equal(config.media.gopCache, true);
    assert.equal(config.file, null);
    assert.deepEqual(warnings, []);
    assert.ok(Object.isFrozen(config) && Object.isFrozen(config.rtmp) && Object.isFrozen(config.values));
  });

  it('reads nimbus.ini from the working directory and lets the command line override it', () => {
    const cwd = dirWith('[RTMP]\nport=1940\ntimeout=5\n[media]\ngopCache=false\n');
    const { config } = loadConfig({ cwd, overrides: { 'RTMP.port': '1941', log: '7' } });
    assert.equal(config.rtmp.port, 1941);
    assert.equal(config.rtmp.timeoutMs, 5000);
    assert.equal(config.media.gopCache, false);
    assert.equal(config.values['RTMP.port'], '1941');
    assert.equal(config.values.log, undefined, 'command-line-only flags are not configuration');
  });

  it('warns about unknown keys of its own sections with the nearest known key, and keeps every key for scripts', () => {
    const cwd = dirWith('hots=x\n[RTMP]\nprot=1936\n[RTPM]\nport=1\n[myapp]\nsecret=x\n[admin]\nuser=root\n');
    const { config, warnings } = loadConfig({ cwd });
    assert.equal(warnings.length, 3, warnings.join('\n'));
    assert.match(warnings.join('\n'), /unknown configuration key RTMP\.prot .*did you mean RTMP\.port\?/);
    assert.match(warnings.join('\n'), /unknown configuration key RTPM\.port .*did you mean RTMP\.port\?/);
    assert.match(warnings.join('\n'), /unknown configuration key hots .*did you mean host\?/);
    // Sections Nimbus does not know at all are the apps' settings: no warning.
    assert.equal(config.values['myapp.secret'], 'x');
    assert.equal(config.values['admin.user'], 'root');
    assert.equal(nearestKey('rtmp.timout'), 'RTMP.timeout');
  });

  it('stops on a bad value, naming the key, the value and what is allowed', () => {
    for (const [key, value, expected] of [
      ['RTMP.port', '70000', /RTMP\.port: "70000" is not valid, expected an integer from 0 to 65535/],
      ['RTMP.port', 'abc', /RTMP\.port: "abc"/],
      ['RTMP.timeout', '-1', /RTMP\.timeout: "-1" is not valid, expected a number from 0/],
      ['media.gopCache', 'maybe', /media\.gopCache: "maybe" is not valid, expected true or false/],
    ] as const) {
      assert.throws(() => loadConfig({ cwd: tmpdir(), file: null, overrides: { [key]: value } }), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.code, 'MS_ERR_CONFIG_INVALID');
        assert.match(err.message, expected);
        return true;
      });
    }
  });

  it('reports a missing --config file', () => {
    assert.throws(() => loadConfig({ file: '/nonexistent/nimbus.ini' }), (err: unknown) => {
      assert.ok(err instanceof MediaServerError);
      assert.equal(err.code, 'MS_ERR_CONFIG_FILE');
      return true;
    });
  });
});
