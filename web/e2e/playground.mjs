// Drives the playground in a real Chromium (Debian's, never a downloaded one) like a person:
// opens the page, waits for the agent to listen, turns the microphone on (Chromium's fake
// microphone plays --wav once), waits for both captions and the agent's voice, then types a
// message and waits for its answer. Saves a screenshot per step in --out and prints one JSON
// object: the agent states the page showed, its captions, the inbound WebRTC audio stats.
//
//   node e2e/playground.mjs --url http://127.0.0.1:PORT/ --wav question.wav --out DIR \
//       [--type "a typed question"] [--chromium /usr/bin/chromium] [--timeout-secs 60]
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string' },
    wav: { type: 'string' },
    out: { type: 'string' },
    type: { type: 'string', default: 'What can you do?' },
    chromium: { type: 'string', default: process.env.CHROMIUM_BIN || '/usr/bin/chromium' },
    'timeout-secs': { type: 'string', default: '60' },
  },
});
for (const required of ['url', 'wav', 'out']) {
  if (!args[required]) {
    console.error(`playground.mjs: --${required} is required`);
    process.exit(64);
  }
}
const timeout = Number(args['timeout-secs']) * 1000;
mkdirSync(args.out, { recursive: true });
const log = (...a) => console.error('[playground]', ...a);

const browser = await chromium.launch({
  executablePath: args.chromium,
  headless: true,
  // As root on a machine with no network but loopback: no sandbox, no background traffic.
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
    `--use-file-for-fake-audio-capture=${args.wav}%noloop`,
    '--autoplay-policy=no-user-gesture-required',
    '--allow-loopback-in-peer-connection',
  ],
});
const result = { steps: [], screenshots: [], console: [] };
let failure;
let page;
try {
  page = await browser.newPage({ viewport: { width: 900, height: 720 } });
  page.on('console', (m) => {
    if (result.console.length < 200) result.console.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => result.console.push(`pageerror: ${e.message}`));
  let n = 0;
  const step = async (name, condition, arg) => {
    log(`waiting: ${name}`);
    await page.waitForFunction(condition, arg, { timeout, polling: 100 });
    const path = join(args.out, `${String(++n).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path });
    result.steps.push(name);
    result.screenshots.push(path);
    log(`done: ${name}`);
  };
  const agentCaptions = () =>
    page.evaluate(() => window.playground.captions().filter((c) => c.speaker === 'agent'));

  await page.goto(`${args.url}?mic=off`);
  await step('agent-listening', () => window.playground?.states.includes('listening'));
  await page.click('#mic');
  await step('user-caption', () => window.playground.captions().some((c) => c.speaker === 'user' && c.text));
  await step('agent-speaking', () => window.playground.states.includes('speaking'));
  await step('agent-caption', () =>
    window.playground.captions().some((c) => c.speaker === 'agent' && c.final && c.text),
  );
  await step('agent-done', () => window.playground.states.at(-1) === 'listening');
  result.audio = await page.evaluate(() => window.playground.audioStats());
  await page.click('#mic');
  const before = (await agentCaptions()).length;
  await page.fill('#message', args.type);
  await page.press('#message', 'Enter');
  await step(
    'typed-answer',
    (count) => window.playground.captions().filter((c) => c.speaker === 'agent' && c.final).length > count,
    before,
  );
  await step('typed-done', () => window.playground.states.at(-1) === 'listening');
  result.states = await page.evaluate(() => window.playground.states);
  result.captions = await page.evaluate(() => window.playground.captions());
  result.audio_after = await page.evaluate(() => window.playground.audioStats());
} catch (e) {
  failure = e;
  result.error = String(e.message || e);
  // What the page showed when it failed.
  const shown = await page
    ?.evaluate(() => ({ states: window.playground?.states, captions: window.playground?.captions() }))
    .catch(() => ({}));
  Object.assign(result, shown);
  await page?.screenshot({ path: join(args.out, 'failed.png') }).catch(() => {});
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(failure ? 1 : 0);
