import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'puppeteer-core';
import { launchBrowser, skipUnlessBrowser } from '../helpers/browser.js';
import { tempDir, withTimeout } from '../helpers/ffmpeg.js';
import { startHttpServer } from '../helpers/http.js';
import type { ServerProcess } from '../helpers/serverProcess.js';

/** What the chat page keeps for the test (its own globals). */
interface ChatPage {
  received: string[];
  members: string[] | null;
  say(text: string): void;
  title: string;
  logText(): string;
}

/**
 * A MonaServer-style app with an HTML/JS client (test/fixtures/chat: a chat room): Nimbus serves
 * the page, two headless Chromium pages join over WebSocket and talk; each sees the other's words.
 */
describe('a MonaServer chat app with its web page, in the browser', { timeout: 60_000, skip: skipUnlessBrowser() }, () => {
  let server: ServerProcess;
  let browser: Browser | undefined;
  let base: string;

  before(async () => {
    const started = await startHttpServer([], fileURLToPath(new URL('../fixtures/chat/', import.meta.url)));
    server = started.server;
    base = `http://127.0.0.1:${started.httpPort}/chat/`;
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    assert.equal(await server.stop(), 0);
  });

  const open = async (nick: string): Promise<Page> => {
    const page = await browser!.newPage();
    await page.goto(`${base}?nick=${nick}`, { waitUntil: 'load' });
    await page.waitForFunction(() => (globalThis as unknown as ChatPage).members !== null, { timeout: 10_000, polling: 100 });
    return page;
  };

  it('two pages join, talk and see each other leave', async (t) => {
    const ann = await open('ann');
    const bob = await open('bob');
    assert.deepEqual(await bob.evaluate(() => (globalThis as unknown as ChatPage).members), ['ann', 'bob']);
    await ann.evaluate(() => (globalThis as unknown as ChatPage).say('hello bob'));
    await bob.evaluate(() => (globalThis as unknown as ChatPage).say('hi ann'));
    for (const page of [ann, bob]) {
      await page.waitForFunction(() => (globalThis as unknown as ChatPage).received.length >= 2, { timeout: 10_000, polling: 100 }).catch(async (err: unknown) => {
        throw new Error(`${String(err)}; the page shows: ${await page.evaluate(() => (globalThis as unknown as ChatPage).logText())}; server: ${server.output.slice(-2000)}`);
      });
      assert.deepEqual(await page.evaluate(() => (globalThis as unknown as ChatPage).received), ['ann: hello bob', 'bob: hi ann']);
    }
    // A page in the background gets no frames, and a screenshot of it waits for one: ann comes to the front first.
    await ann.bringToFront();
    const png = Buffer.from(await withTimeout(ann.screenshot({ type: 'png' }), 10_000, 'screenshot'));
    const file = join(tempDir('nimbus-chat-'), 'chat.png');
    writeFileSync(file, png);
    t.diagnostic(`screenshot ${file}`);
    // The folder's page is a template of the query (MonaServer's folder view): the nickname is in the title.
    assert.equal(await ann.evaluate(() => (globalThis as unknown as ChatPage).title), 'Chat: ann');
    await bob.close();
    await ann.waitForFunction(() => (globalThis as unknown as ChatPage).logText().includes('bob left'), { timeout: 10_000, polling: 100 });
    await ann.close();
  });
});
