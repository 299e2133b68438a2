#!/usr/bin/env node
// Compares two V8 heap snapshots of one process (e.g. from bench/agent-memory.mjs
// --snapshots 25,200): live objects grouped by kind and constructor/function
// name, with the growth from A to B. Objects in B whose ids are not in A are
// the ones allocated in between and still alive (ids are stable within a process).
//   node bench/heap-diff.mjs A.heapsnapshot B.heapsnapshot [--top 30]
//                            [--retainers NAME [--paths 5]]
// --retainers prints retainer chains of a few new objects named NAME, to see
// what holds them.
import fs from 'node:fs';
import { parseArgs } from 'node:util';

// Strings and code are grouped by kind only: their names are their contents.
const BY_KIND_ONLY = new Set(['string', 'concatenated string', 'sliced string', 'code', 'number', 'symbol', 'bigint']);

function load(file) {
  const snap = JSON.parse(fs.readFileSync(file, 'utf8'));
  const meta = snap.snapshot.meta;
  const nf = meta.node_fields;
  const ef = meta.edge_fields;
  return {
    nodes: snap.nodes,
    edges: snap.edges,
    strings: snap.strings,
    nodeTypes: meta.node_types[0],
    edgeTypes: meta.edge_types[0],
    nodeWidth: nf.length,
    edgeWidth: ef.length,
    f: { type: nf.indexOf('type'), name: nf.indexOf('name'), id: nf.indexOf('id'), size: nf.indexOf('self_size'), edges: nf.indexOf('edge_count') },
    e: { type: ef.indexOf('type'), name: ef.indexOf('name_or_index'), to: ef.indexOf('to_node') },
  };
}

function groupOf(s, i) {
  const kind = s.nodeTypes[s.nodes[i + s.f.type]];
  return BY_KIND_ONLY.has(kind) ? `(${kind})` : `${kind}:${s.strings[s.nodes[i + s.f.name]]}`;
}

function tally(s, only) {
  const groups = new Map();
  for (let i = 0; i < s.nodes.length; i += s.nodeWidth) {
    if (only && !only(s.nodes[i + s.f.id])) continue;
    const g = groupOf(s, i);
    const t = groups.get(g) ?? { count: 0, size: 0 };
    t.count += 1;
    t.size += s.nodes[i + s.f.size];
    groups.set(g, t);
  }
  return groups;
}

function total(groups) {
  let count = 0;
  let size = 0;
  for (const t of groups.values()) {
    count += t.count;
    size += t.size;
  }
  return { count, size };
}

function table(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (r) => r.map((v, i) => (i === 0 ? String(v).padEnd(widths[i]) : String(v).padStart(widths[i]))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

/** Up to `max` retainer chains (object <- holder <- …) for nodes named `name` that are new in B. */
function retainers(s, isNew, name, max) {
  const nodeCount = s.nodes.length / s.nodeWidth;
  const firstEdge = new Uint32Array(nodeCount + 1);
  for (let n = 0; n < nodeCount; n++) firstEdge[n + 1] = firstEdge[n] + s.nodes[n * s.nodeWidth + s.f.edges] * s.edgeWidth;
  // Reverse edges: holder node and edge for each node, skipping weak edges.
  const holders = Array.from({ length: nodeCount }, () => []);
  for (let n = 0; n < nodeCount; n++) {
    for (let e = firstEdge[n]; e < firstEdge[n + 1]; e += s.edgeWidth) {
      const kind = s.edgeTypes[s.edges[e + s.e.type]];
      if (kind === 'weak' || kind === 'shortcut') continue;
      holders[s.edges[e + s.e.to] / s.nodeWidth].push([n, e]);
    }
  }
  const label = (n) => `${groupOf(s, n * s.nodeWidth)}@${s.nodes[n * s.nodeWidth + s.f.id]}`;
  const edgeLabel = (e) => {
    const kind = s.edgeTypes[s.edges[e + s.e.type]];
    const v = s.edges[e + s.e.name];
    return kind === 'element' || kind === 'hidden' ? `[${v}]` : `.${s.strings[v]}`;
  };
  const out = [];
  for (let n = 0; n < nodeCount && out.length < max; n++) {
    const i = n * s.nodeWidth;
    if (!isNew(s.nodes[i + s.f.id]) || groupOf(s, i) !== name) continue;
    // Breadth-first towards a GC root, so the chain is a shortest one.
    const seen = new Map([[n, null]]);
    let queue = [n];
    let root;
    while (queue.length && root === undefined) {
      const next = [];
      for (const m of queue) {
        if (holders[m].length === 0 || s.nodeTypes[s.nodes[m * s.nodeWidth + s.f.type]] === 'synthetic') { root = m; break; }
        for (const [h, e] of holders[m]) {
          if (seen.has(h)) continue;
          seen.set(h, [m, e]);
          next.push(h);
        }
      }
      queue = next;
    }
    const chain = [];
    for (let m = root; m !== undefined && m !== n; ) {
      const [child, e] = seen.get(m);
      chain.push(`${label(m)} ${edgeLabel(e)}`);
      m = child;
    }
    out.push(`${label(n)}\n  <- ${chain.reverse().join('\n  <- ')}`);
  }
  return out;
}

function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '30' }, retainers: { type: 'string' }, paths: { type: 'string', default: '5' } },
  });
  if (positionals.length !== 2) throw new Error('usage: heap-diff.mjs A.heapsnapshot B.heapsnapshot [--top N] [--retainers NAME]');
  const a = load(positionals[0]);
  const b = load(positionals[1]);
  const idsA = new Set();
  for (let i = 0; i < a.nodes.length; i += a.nodeWidth) idsA.add(a.nodes[i + a.f.id]);
  const isNew = (id) => !idsA.has(id);

  const ta = tally(a);
  const tb = tally(b);
  const tn = tally(b, isNew);
  const top = Number(values.top);
  const rows = [...new Set([...ta.keys(), ...tb.keys()])]
    .map((g) => {
      const x = ta.get(g) ?? { count: 0, size: 0 };
      const y = tb.get(g) ?? { count: 0, size: 0 };
      const n = tn.get(g) ?? { count: 0, size: 0 };
      return [g.slice(0, 70), x.count, y.count, y.count - x.count, y.size - x.size, n.count];
    })
    .sort((p, q) => q[4] - p[4])
    .slice(0, top);
  const sa = total(ta);
  const sb = total(tb);
  const sn = total(tn);
  console.log(`A: ${sa.count} objects, ${(sa.size / 1048576).toFixed(2)} MiB; B: ${sb.count} objects, ${(sb.size / 1048576).toFixed(2)} MiB; ` +
    `new in B and alive: ${sn.count} objects, ${(sn.size / 1048576).toFixed(2)} MiB`);
  console.log(table(['group (kind:name)', 'count A', 'count B', 'Δcount', 'Δbytes', 'new in B'], rows));
  if (values.retainers) {
    console.log(`\nretainers of new ${values.retainers}:`);
    for (const chain of retainers(b, isNew, values.retainers, Number(values.paths))) console.log(chain);
  }
}

main();
