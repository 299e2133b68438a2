// Test data for bench/backup.mjs: about `bytes` of files under `dir`, half
// random (incompressible) and half text (compresses about 3x with zstd -3),
// each half split between a few big files and many small ones in nested
// folders. Text files are slices of a 32 MiB pool of generated words taken at
// random offsets, so the pool's size (not repetition) bounds what a
// compressor's window can find; writing 1 GiB takes a few seconds.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const MiB = 1024 * 1024;
const POOL_BYTES = 32 * MiB;

/** A deterministic xorshift PRNG, so two runs make the same tree shape. */
function prng(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

function textPool(rand) {
  const letters = 'etaoinshrdlcumwfgypbvkjxqz';
  const words = Array.from({ length: 4096 }, () => {
    const n = 2 + Math.floor(rand() * rand() * 10);
    let w = '';
    for (let i = 0; i < n; i++) w += letters[Math.floor(rand() * rand() * letters.length)];
    return w;
  });
  const parts = [];
  let size = 0;
  while (size < POOL_BYTES) {
    const count = 6 + Math.floor(rand() * 12);
    let line = '';
    for (let i = 0; i < count; i++) line += `${words[Math.floor(rand() * rand() * words.length)]}${rand() < 0.08 ? `, ${Math.floor(rand() * 100000)}` : ''} `;
    line = `${line.trimEnd()}.\n`;
    parts.push(line);
    size += line.length;
  }
  return Buffer.from(parts.join(''), 'latin1');
}

function writeRandom(file, bytes) {
  const fd = fs.openSync(file, 'w');
  const chunk = Buffer.alloc(Math.min(bytes, MiB));
  try {
    for (let left = bytes; left > 0; left -= chunk.length) {
      crypto.randomFillSync(chunk);
      fs.writeSync(fd, chunk, 0, Math.min(chunk.length, left));
    }
  } finally {
    fs.closeSync(fd);
  }
}

function writeText(file, bytes, pool, rand) {
  const fd = fs.openSync(file, 'w');
  try {
    for (let left = bytes; left > 0;) {
      const n = Math.min(left, 4096 + Math.floor(rand() * 12288));
      const at = Math.floor(rand() * (pool.length - n));
      fs.writeSync(fd, pool, at, n);
      left -= n;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Fills `dir` (existing, empty) with about `bytes`; returns {files, bytes} written. */
export function generateData(dir, bytes, seed = 12) {
  const rand = prng(seed);
  const pool = textPool(rand);
  let files = 0;
  let written = 0;
  const add = (rel, size, kind) => {
    const file = path.join(dir, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (kind === 'random') writeRandom(file, size);
    else writeText(file, size, pool, rand);
    files += 1;
    written += size;
  };
  const half = Math.floor(bytes / 2);
  for (const kind of ['random', 'text']) {
    // 60% of each half in four big files, the rest in small files (4-256 KiB) over 64 folders.
    const big = Math.floor((half * 0.6) / 4);
    for (let i = 0; i < 4; i++) add(`big/${kind}-${i}.bin`, big, kind);
    for (let left = half - 4 * big, i = 0; left > 0; i++) {
      const size = Math.min(left, 4096 + Math.floor(rand() * rand() * 252 * 1024));
      add(`small/d${i % 64}/${i % 7}/${kind}-${i}.${kind === 'text' ? 'txt' : 'dat'}`, size, kind);
      left -= size;
    }
  }
  return { files, bytes: written };
}
