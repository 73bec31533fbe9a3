/** The progress line redraws every interval even when steps come faster than the interval. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { ProgressReporter } from 'margin-lab/dist/train/progress';

test('tty progress redraws every 100 ms of a clock while steps arrive every millisecond', () => {
  const writes: string[] = [];
  const stream = { isTTY: true, write: (s: string) => writes.push(s) } as unknown as NodeJS.WriteStream;
  const realNow = Date.now;
  let clock = 1_000_000;
  Date.now = () => clock;
  try {
    const r = new ProgressReporter('tty', stream);
    for (let step = 1; step <= 450; step++, clock++) {
      r.update({ epoch: 1, epochs: 1, step, steps: 1000, loss: 1, samplesPerSec: 1, eta: 1, extra: {} });
    }
  } finally {
    Date.now = realNow;
  }
  const draws = writes.filter((w) => w.startsWith('\r')).length;
  assert.equal(draws, 5, `${draws} redraws in 450 ms of updates (one every 101 ms expected)`);
});
