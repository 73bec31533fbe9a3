/**
 * Multi-threaded wasm in Node.
 *
 * tfjs-backend-wasm 4.22 ships a threaded SIMD build (Emscripten pthreads; XNNPACK spreads
 * convolutions and matrix products over a thread pool), but in Node it never uses it, for two
 * reasons:
 *
 *   1. its `WASM_HAS_MULTITHREAD_SUPPORT` flag returns false whenever `IS_NODE` is set;
 *   2. it hands Emscripten the pthread worker script and the module source as `Blob`s behind
 *      `blob:` URLs. Node's `worker_threads.Worker` cannot start from a `blob:` URL, and the
 *      worker's Node `importScripts` reads its argument with `fs.readFileSync`, which cannot read
 *      one either.
 *
 * A third obstacle is in its C++ side: the thread count is capped at half of
 * `emscripten_num_logical_cores()` (it assumes two hyper-threads per core), which in Node is
 * `os.cpus().length`. On a 2-core machine that leaves one thread whatever `setThreadsCount` asks.
 *
 * What this module does, only while the wasm backend initialises:
 *   - sets the flag to true (Node 20 has SharedArrayBuffer and wasm threads);
 *   - records the text of every `Blob` built from strings (a thin subclass of the global Blob);
 *   - makes `URL.createObjectURL` of the worker-script Blob write it to a file and return the
 *     file's path, which Node's Worker accepts. The worker script gets a short postscript that
 *     swaps the module Blob it is sent for the path of a file with the same source, preceded by
 *     the few bundle-level names that source refers to (`require$$0` … and `commonjsGlobal`).
 *   - makes `os.cpus()` list 2 × `threads` entries, so that the cap above is `threads`.
 * Afterwards the global Blob, `URL.createObjectURL` and `os.cpus` are put back, and the pool's
 * running workers are `unref()`ed (Emscripten `ref()`s a worker while its pthread runs, and
 * XNNPACK's pool threads never end, which would keep a finished script alive).
 *
 * The files live in a folder under the OS temp dir named after a hash of their content, are
 * written atomically and are reused by later processes.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as crypto from 'crypto';
import { writeFileAtomic } from '../util/fs';

/** The names the bundled factory source uses from the bundle's top level, and their values. */
const BUNDLE_PRELUDE = [
  "var require$$0 = require('fs');",
  "var require$$1 = require('path');",
  "var require$$3 = require('perf_hooks');",
  "var require$$4 = require('os');",
  'var commonjsGlobal = globalThis;',
  'var _scriptDir = self.location.href;',
].join('\n');

const FACTORY_MARKER = 'var WasmBackendModuleThreadedSimd';
const WORKER_MARKER = 'ENVIRONMENT_IS_PTHREAD';

function contentFile(dir: string, name: string, text: string): string {
  const file = path.join(dir, name);
  if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== text) writeFileAtomic(file, text);
  return file;
}

interface EmscriptenThreads {
  PThread?: { runningWorkers: Array<{ unref(): void }>; unusedWorkers: Array<{ unref(): void }> };
}

/**
 * Runs `init` (which must call `tf.setBackend('wasm')` and `tf.ready()`) with the interception
 * above in place, asking XNNPACK for `threads` threads (1–8). Returns the thread count the
 * backend reports. Throws when the environment lacks what wasm threads need, or when the backend
 * did not start with the threads asked for.
 */
export async function withNodeWasmThreads(threads: number, init: () => Promise<void>): Promise<number> {
  if (!(Number.isInteger(threads) && threads >= 2 && threads <= 8)) {
    throw new Error(
      `withNodeWasmThreads: threads must be an integer from 2 to 8 (XNNPACK's pool in tfjs-backend-wasm holds 8), got ${threads}`,
    );
  }
  if (typeof SharedArrayBuffer === 'undefined')
    throw new Error('this Node has no SharedArrayBuffer, which wasm threads need');
  if (typeof Blob === 'undefined' || typeof URL.createObjectURL !== 'function') {
    throw new Error('this Node has no global Blob / URL.createObjectURL (Node ≥ 18 is needed for wasm threads)');
  }
  const OriginalBlob = globalThis.Blob;
  const originalCreate = URL.createObjectURL;
  const texts = new WeakMap<Blob, string>();
  let factorySource: string | null = null;
  const dir = path.join(os.tmpdir(), `margin-lab-wasm-threads-${process.getuid?.() ?? 'u'}`);

  class RecordingBlob extends OriginalBlob {
    constructor(parts?: BlobPart[], options?: BlobPropertyBag) {
      super(parts, options);
      if (parts && parts.every((p) => typeof p === 'string')) {
        const text = (parts as string[]).join('');
        texts.set(this, text);
        if (text.startsWith(FACTORY_MARKER)) factorySource = text;
      }
    }
  }
  const createObjectURL = (obj: Blob): string => {
    const text = texts.get(obj);
    if (text === undefined || !text.includes(WORKER_MARKER) || factorySource === null) return originalCreate(obj);
    const main = `${BUNDLE_PRELUDE}\n${factorySource}\n`;
    const hash = crypto.createHash('sha256').update(main).update(text).digest('hex').slice(0, 16);
    const mainFile = contentFile(dir, `module-${hash}.js`, main);
    const postscript = [
      '',
      '// margin-lab: the module arrives as a Blob, which this Node worker cannot import; use the file instead.',
      '(function () {',
      '  var handle = self.onmessage;',
      '  self.onmessage = function (e) {',
      `    if (e && e.data && e.data.cmd === 'load' && typeof e.data.urlOrBlob !== 'string') e.data.urlOrBlob = ${JSON.stringify(mainFile)};`,
      '    return handle(e);',
      '  };',
      '})();',
      '',
    ].join('\n');
    return contentFile(dir, `worker-${hash}.js`, text + postscript);
  };

  fs.mkdirSync(dir, { recursive: true });

  const tfcore = require('@tensorflow/tfjs') as typeof import('@tensorflow/tfjs');

  const wasmPkg = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
  tfcore.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  wasmPkg.setThreadsCount(threads);
  // The os module object itself (an `import *` binding is a copy whose members cannot be replaced).

  const nodeOs = require('os') as typeof import('os');
  const originalCpus = nodeOs.cpus;
  const realCpus = originalCpus();
  (globalThis as { Blob: typeof Blob }).Blob = RecordingBlob;
  URL.createObjectURL = createObjectURL;
  nodeOs.cpus = () => Array.from({ length: 2 * threads }, (_, i) => realCpus[i % Math.max(1, realCpus.length)]);
  try {
    await init();
  } finally {
    (globalThis as { Blob: typeof Blob }).Blob = OriginalBlob;
    URL.createObjectURL = originalCreate;
    nodeOs.cpus = originalCpus;
  }
  const module = (tfcore.backend() as unknown as { wasm?: EmscriptenThreads }).wasm;
  for (const w of [...(module?.PThread?.runningWorkers ?? []), ...(module?.PThread?.unusedWorkers ?? [])]) w.unref();
  const got = wasmPkg.getThreadsCount();
  if (got !== threads)
    throw new Error(`the threaded wasm build started with ${got} thread(s), not the ${threads} asked for`);
  return got;
}
