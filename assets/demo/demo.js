/* margin-lab verification page: embeds two images with the exported model, in the browser. */
/* global tf, window, document, atob, URLSearchParams, location */
(function () {
  'use strict';
  const B = window.MARGIN_LAB_BUNDLE;
  const [H, W, C] = B.meta.input.shape;
  const SIZE = H * W * C;
  const thr = B.meta.threshold.cosine;
  const $ = (id) => document.getElementById(id);
  /**
   * The page's words for what a class is, from the data set the model was trained on: the same
   * syllable (glyphs), digit, class (Fashion-MNIST) or person (face folders and other data).
   */
  const WORDS = {
    'hangul-glyphs': { one: 'syllable', many: 'syllables', draw: 'a syllable' },
    mnist: { one: 'digit', many: 'digits', draw: 'a digit' },
    'fashion-mnist': { one: 'class', many: 'classes', draw: 'an item of clothing' },
  };
  const words = WORDS[B.meta.source.dataset] || { one: 'person', many: 'people', draw: 'a face' };
  const api = { backend: null, tried: [], last: null, model: null };
  window.marginLab = api;

  function decode(b64) {
    const s = atob(b64);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }
  const samplePixels = (i) => Float32Array.from(decode(B.samples[i].pixels), (v) => v / 255);

  /** The first backend that starts: ?backend=NAME, else WebGPU, WebGL, wasm, then the CPU. */
  async function pickBackend() {
    const wanted = new URLSearchParams(location.search).get('backend');
    const order = wanted ? [wanted] : ['webgpu', 'webgl', 'wasm', 'cpu'];
    const registered = Object.keys(tf.engine().registryFactory);
    for (const name of order) {
      if (!registered.includes(name)) {
        api.tried.push(`${name}: not in this page`);
        continue;
      }
      try {
        if (await tf.setBackend(name)) {
          await tf.ready();
          return name;
        }
        api.tried.push(`${name}: did not start`);
      } catch (e) {
        api.tried.push(`${name}: ${e && e.message ? e.message : e}`);
      }
    }
    throw new Error(`no TF.js backend started (${api.tried.join('; ')})`);
  }

  function embed(pixels) {
    if (pixels.length !== SIZE) throw new Error(`embed: expected ${SIZE} pixel values, got ${pixels.length}`);
    return tf.tidy(() =>
      Array.from(api.model.predict(tf.tensor4d(Float32Array.from(pixels), [1, H, W, C])).dataSync()),
    );
  }

  function cosine(a, b) {
    let d = 0;
    let na = 0;
    let nb = 0;
    for (let k = 0; k < a.length; k++) {
      d += a[k] * b[k];
      na += a[k] * a[k];
      nb += b[k] * b[k];
    }
    return d / Math.sqrt(na * nb);
  }

  // Two drawing slots. A slot holds exact pixels (a picked sample) until it is drawn on.
  const slots = {};
  let active = 'a';
  function setActive(name) {
    active = name;
    for (const s of ['a', 'b']) $(`slot-${s}`).classList.toggle('active', s === name);
  }
  function canvasPixels(canvas) {
    const small = document.createElement('canvas');
    small.width = W;
    small.height = H;
    const ctx = small.getContext('2d');
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(canvas, 0, 0, W, H);
    const d = ctx.getImageData(0, 0, W, H).data;
    const out = new Float32Array(SIZE);
    for (let i = 0; i < H * W; i++) out[i] = d[i * 4] / 255;
    return out;
  }
  function paint(canvas, pixels) {
    const small = document.createElement('canvas');
    small.width = W;
    small.height = H;
    const img = small.getContext('2d').createImageData(W, H);
    for (let i = 0; i < H * W; i++) {
      const v = Math.round(pixels[i] * 255);
      img.data.set([v, v, v, 255], i * 4);
    }
    small.getContext('2d').putImageData(img, 0, 0);
    const ctx = canvas.getContext('2d');
    ctx.imageSmoothingEnabled = false;
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
  }
  function setPixels(name, pixels, source) {
    slots[name].pixels = Float32Array.from(pixels);
    $(`source-${name}`).textContent = source;
    paint(slots[name].canvas, slots[name].pixels);
    compare();
  }
  function setupSlot(name) {
    const canvas = $(`canvas-${name}`);
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    const slot = { canvas, pixels: null };
    slots[name] = slot;
    let drawing = false;
    const at = (e) => {
      const r = canvas.getBoundingClientRect();
      return [((e.clientX - r.left) * canvas.width) / r.width, ((e.clientY - r.top) * canvas.height) / r.height];
    };
    canvas.addEventListener('pointerdown', (e) => {
      setActive(name);
      drawing = true;
      ctx.strokeStyle = '#fff';
      ctx.lineWidth = canvas.width / 11;
      ctx.lineCap = 'round';
      ctx.lineJoin = 'round';
      ctx.beginPath();
      ctx.moveTo(...at(e));
      canvas.setPointerCapture(e.pointerId);
    });
    canvas.addEventListener('pointermove', (e) => {
      if (!drawing) return;
      ctx.lineTo(...at(e));
      ctx.stroke();
    });
    canvas.addEventListener('pointerup', () => {
      drawing = false;
      slot.pixels = canvasPixels(canvas);
      $(`source-${name}`).textContent = 'drawn';
      compare();
    });
    $(`clear-${name}`).addEventListener('click', () => {
      ctx.fillStyle = '#000';
      ctx.fillRect(0, 0, canvas.width, canvas.height);
      slot.pixels = null;
      $(`source-${name}`).textContent = 'empty';
      compare();
    });
  }

  /** Puts sample `i` into slot `name` ('a' or 'b'). */
  function pick(name, i) {
    const s = B.samples[i];
    if (!s) throw new Error(`pick: no sample ${i} (there are ${B.samples.length})`);
    setPixels(name, samplePixels(i), `sample ${i}: ${s.name}`);
  }

  function compare() {
    const a = slots.a.pixels;
    const b = slots.b.pixels;
    if (!a || !b) {
      api.last = null;
      for (const id of ['cosine', 'angle']) $(id).textContent = '–';
      $('decision').textContent = '–';
      $('decision').className = '';
      drawProjection(null);
      return null;
    }
    const ea = embed(a);
    const eb = embed(b);
    const cos = cosine(ea, eb);
    const same = cos >= thr;
    api.last = { a: ea, b: eb, cosine: cos, angle: (Math.acos(Math.max(-1, Math.min(1, cos))) * 180) / Math.PI, same };
    $('cosine').textContent = cos.toFixed(4);
    $('angle').textContent = `${api.last.angle.toFixed(1)}°`;
    $('decision').textContent = same ? `same ${words.one}` : `different ${words.many}`;
    $('decision').className = same ? 'same' : 'different';
    drawProjection(api.last);
    return api.last;
  }

  function projectEmbedding(e) {
    const n = Math.hypot(...e) || 1;
    const u = e.map((v) => v / n);
    const p = B.projection;
    const dot = (axis) => axis.reduce((s, x, k) => s + x * (u[k] - p.mean[k]), 0);
    return [dot(p.axes[0]), dot(p.axes[1])];
  }

  function drawProjection(last) {
    const cv = $('projection');
    const ctx = cv.getContext('2d');
    ctx.clearRect(0, 0, cv.width, cv.height);
    const pts = B.samples.map((s) => s.xy);
    const extra = last ? [projectEmbedding(last.a), projectEmbedding(last.b)] : [];
    const all = pts.concat(extra);
    const lim = Math.max(1e-6, ...all.map(([x, y]) => Math.max(Math.abs(x), Math.abs(y)))) * 1.1;
    const sx = (x) => cv.width / 2 + (x / lim) * (cv.width / 2);
    const sy = (y) => cv.height / 2 - (y / lim) * (cv.height / 2);
    const labels = [...new Set(B.samples.map((s) => s.label))];
    const colour = (label) => `hsl(${(360 * labels.indexOf(label)) / labels.length}, 70%, 45%)`;
    // Each sample a dot; each class labelled once, at its samples' mean, inside the canvas and
    // not over a label already drawn (a label that would overlap is left out: the dots remain).
    B.samples.forEach((s, i) => {
      ctx.fillStyle = colour(s.label);
      ctx.beginPath();
      ctx.arc(sx(pts[i][0]), sy(pts[i][1]), 3, 0, 2 * Math.PI);
      ctx.fill();
    });
    ctx.font = '13px sans-serif';
    ctx.textBaseline = 'middle';
    const placed = [];
    api.labelBoxes = placed;
    for (const label of labels) {
      const mine = B.samples.map((s, i) => [s, pts[i]]).filter(([s]) => s.label === label);
      const mx = mine.reduce((a, [, p]) => a + p[0], 0) / mine.length;
      const my = mine.reduce((a, [, p]) => a + p[1], 0) / mine.length;
      const text = mine[0][0].name;
      const w = ctx.measureText(text).width;
      const h = 14;
      const x = Math.min(Math.max(2, sx(mx) + 5), cv.width - w - 2);
      const y = Math.min(Math.max(h / 2 + 1, sy(my)), cv.height - h / 2 - 1);
      const box = { x, y: y - h / 2, w, h };
      if (placed.some((b) => box.x < b.x + b.w && b.x < box.x + box.w && box.y < b.y + b.h && b.y < box.y + box.h))
        continue;
      placed.push(box);
      ctx.fillStyle = colour(label);
      ctx.fillText(text, x, y);
    }
    if (extra.length) {
      const [a, b] = extra;
      ctx.strokeStyle = '#000';
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.moveTo(sx(a[0]), sy(a[1]));
      ctx.lineTo(sx(b[0]), sy(b[1]));
      ctx.stroke();
      ctx.lineWidth = 3;
      ctx.beginPath();
      ctx.arc(sx(a[0]), sy(a[1]), 9, 0, 2 * Math.PI);
      ctx.stroke();
      ctx.strokeRect(sx(b[0]) - 8, sy(b[1]) - 8, 16, 16);
    }
  }

  function buildStrip() {
    const strip = $('strip');
    B.samples.forEach((s, i) => {
      const fig = document.createElement('figure');
      const cv = document.createElement('canvas');
      cv.width = W;
      cv.height = H;
      paint(cv, samplePixels(i));
      const cap = document.createElement('figcaption');
      cap.textContent = s.name;
      fig.append(cv, cap);
      fig.title = `sample ${i}`;
      fig.addEventListener('click', () => {
        pick(active, i);
        setActive(active === 'a' ? 'b' : 'a');
      });
      strip.append(fig);
    });
  }

  api.ready = (async () => {
    const m = B.meta;
    api.backend = await pickBackend();
    $('backend').textContent = `${api.backend}${api.tried.length ? ` (not used: ${api.tried.join('; ')})` : ''}`;
    const weightData = decode(B.weights).buffer;
    api.model = await tf.loadLayersModel(
      tf.io.fromMemory({ modelTopology: B.modelTopology, weightSpecs: B.weightSpecs, weightData }),
    );
    $('about').textContent =
      `${m.loss.loss} on ${m.source.dataset || 'custom data'}, epoch ${m.source.epoch}: input ${m.input.shape.join('×')}, ` +
      `${m.embeddingDim}-D embeddings. Threshold measured on ${m.threshold.measuredOn.classes} unseen classes: ` +
      `${(100 * m.threshold.tar).toFixed(1)} % of genuine pairs accepted at FAR ${m.threshold.far}.`;
    $('threshold').textContent = thr.toFixed(4);
    $('title').textContent = `Is it the same ${words.one}?`;
    document.title = $('title').textContent;
    $('draw-what').textContent = words.draw;
    $('strip-title').textContent = `Unseen ${words.many} (never shown in training)`;
    $('projection-title').textContent = `Where the two sit among the unseen ${words.many}`;
    $('one-what').textContent = words.one;
    setupSlot('a');
    setupSlot('b');
    for (const s of ['a', 'b']) $(`slot-${s}`).addEventListener('click', () => setActive(s));
    buildStrip();
    drawProjection(null);
  })();
  api.ready.catch((e) => {
    $('about').textContent = `The page could not start: ${e.message}`;
  });
  Object.assign(api, { embed, pick, setPixels, compare, samples: B.samples, meta: B.meta });
})();
