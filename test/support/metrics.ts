// Reading a metrics listener as Prometheus would: GET /metrics parsed into
// series → value, and the TCP ports a process listens on (to prove a listener
// is off).
import { readdir, readFile, readlink } from 'node:fs/promises';
import http from 'node:http';

export interface Scrape {
  status: number;
  contentType: string | undefined;
  text: string;
  /** `name{label="v",...}` exactly as rendered → value. */
  series: Map<string, number>;
}

export function parseExposition(text: string): Map<string, number> {
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    series.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return series;
}

export function scrape(port: number, path = '/metrics', method = 'GET', host = '127.0.0.1'): Promise<Scrape> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, headers: { host }, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], text, series: parseExposition(text) }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('scrape timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** The value of one series, or undefined when absent. */
export function value(s: Scrape, series: string): number | undefined {
  return s.series.get(series);
}

/** TCP ports process `pid` listens on (Linux /proc). */
export async function listeningPorts(pid: number): Promise<number[]> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const m = /^socket:\[(\d+)\]$/.exec(link);
    if (m?.[1]) inodes.add(m[1]);
  }
  const ports: number[] = [];
  for (const table of ['tcp', 'tcp6']) {
    const text = await readFile(`/proc/${pid}/net/${table}`, 'utf8').catch(() => '');
    for (const row of text.split('\n').slice(1)) {
      const f = row.trim().split(/\s+/);
      // local_address is f[1] (ADDR:PORT in hex), st is f[3] (0A = LISTEN), inode is f[9].
      if (f[3] === '0A' && f[9] !== undefined && inodes.has(f[9])) ports.push(parseInt((f[1] ?? '').split(':').pop() ?? '', 16));
    }
  }
  return ports.sort((a, b) => a - b);
}
