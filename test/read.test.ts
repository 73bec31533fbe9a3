/** tidyRead: the values of a tensor computed in a tidy, read outside it, with nothing left behind. */
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as ml from 'margin-lab';
import { tf } from 'margin-lab';
import { tidyRead } from 'margin-lab/dist/util/read';

before(async () => {
  await ml.useBestBackend({ print: false });
});

test('tidyRead returns the values, disposes the result and every intermediate', () => {
  const a = tf.tensor1d([1, 2, 3]);
  const start = tf.memory().numTensors;
  const v = tidyRead(() => tf.add(tf.mul(a, 2), 1));
  assert.deepEqual(Array.from(v), [3, 5, 7]);
  assert.equal(tf.memory().numTensors, start);
  const i = tidyRead(() =>
    tf.argMax(
      tf.tensor2d([
        [0, 5],
        [7, 1],
      ]),
      1,
    ),
  );
  assert.ok(i instanceof Int32Array);
  assert.deepEqual(Array.from(i), [1, 0]);
  assert.equal(tf.memory().numTensors, start);
  a.dispose();
});
