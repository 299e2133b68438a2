// Preloaded into a berth-agent by bench/agent-memory.mjs
// (NODE_OPTIONS="--expose-gc --require …/agent-probe.cjs"), never in production.
// On SIGUSR2 it reads BERTH_MEMORY_PROBE_DIR/request.json ({ n, snapshot }),
// forces full GCs, and writes result-<n>.json with process.memoryUsage(), the
// live handle counts and, when asked, a heap snapshot: the numbers only the
// process itself can give, after a GC, with no inspector attached.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const v8 = require('node:v8');

const dir = process.env.BERTH_MEMORY_PROBE_DIR;
if (dir) {
  process.on('SIGUSR2', () => {
    // Off the signal tick, so whatever the agent was doing settles first.
    setImmediate(() => {
      const req = JSON.parse(fs.readFileSync(path.join(dir, 'request.json'), 'utf8'));
      // What V8 holds committed per space as the agent left it, before any forced GC.
      const spacesBefore = {};
      for (const s of v8.getHeapSpaceStatistics()) spacesBefore[s.space_name] = { size: s.space_size, used: s.space_used_size };
      const before = process.memoryUsage();
      // Several passes: weak callbacks and finalizers free more on the next one.
      for (let i = 0; i < 4; i++) globalThis.gc();
      const mem = process.memoryUsage();
      const resources = {};
      for (const r of process.getActiveResourcesInfo()) resources[r] = (resources[r] ?? 0) + 1;
      const heap = v8.getHeapStatistics();
      const out = {
        n: req.n,
        before: { memoryUsage: before, spaces: spacesBefore },
        memoryUsage: mem,
        mallocedMemory: heap.malloced_memory,
        peakMallocedMemory: heap.peak_malloced_memory,
        nativeContexts: heap.number_of_native_contexts,
        resources,
      };
      if (req.snapshot) out.snapshot = v8.writeHeapSnapshot(path.join(dir, `agent-${String(req.n).padStart(4, '0')}.heapsnapshot`));
      const file = path.join(dir, `result-${req.n}.json`);
      fs.writeFileSync(`${file}.tmp`, JSON.stringify(out));
      fs.renameSync(`${file}.tmp`, file);
    });
  });
}
