// Background daemons of the test environment (containerd, dockerd, registry):
// started detached with a pid file, recognised again by that pid file, and
// stopped by pid only after checking the process is still the one we started.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export function readPid(pidFile) {
  try {
    const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 1 ? pid : null;
  } catch {
    return null;
  }
}

/** Alive and not a zombie (a re-parented zombie still answers kill 0). */
export function isAlive(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

function cmdline(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

/**
 * The pid in `pidFile` when that process is alive and its command line holds
 * `marker` (a path only our daemons use), so a recycled pid is never ours.
 */
export function ourPid(pidFile, marker) {
  const pid = readPid(pidFile);
  if (pid === null || !isAlive(pid)) return null;
  return cmdline(pid).includes(marker) ? pid : null;
}

export function startDaemon({ cmd, args, logFile, pidFile }) {
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const out = fs.openSync(logFile, 'w');
  // Detached: the daemons must outlive a crash of the runner only long enough
  // to be found and stopped by the next one (same pid files).
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  child.on('error', () => {});
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${cmd}; see ${logFile}`);
  if (pidFile) fs.writeFileSync(pidFile, `${child.pid}\n`);
  return child.pid;
}

export function logTail(logFile, lines = 20) {
  try {
    return fs.readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Poll `check` until it returns true; fail early when `pid` died. */
export async function waitUntil(what, check, { pid, logFile, timeoutMs = 90_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (pid !== undefined && !isAlive(pid)) {
      throw new Error(`${what} exited during start; last lines of ${logFile}:\n${logTail(logFile)}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`${what} not ready after ${timeoutMs / 1000}s; last lines of ${logFile}:\n${logTail(logFile)}`);
    }
    await sleep(250);
  }
}

export function unixSocketAccepts(socketPath) {
  return new Promise((resolve) => {
    const socket = net.connect(socketPath);
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

/** SIGTERM, wait, then SIGKILL. Returns whether something was stopped. */
export async function stopDaemon(pidFile, marker, { timeoutMs = 30_000 } = {}) {
  const pid = ourPid(pidFile, marker);
  if (pid === null) {
    fs.rmSync(pidFile, { force: true });
    return false;
  }
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid) && Date.now() < deadline) await sleep(100);
  if (isAlive(pid)) {
    process.kill(pid, 'SIGKILL');
    while (isAlive(pid)) await sleep(50);
  }
  fs.rmSync(pidFile, { force: true });
  return true;
}

/**
 * Processes whose command line holds `marker` (e.g. container shims started by
 * one of our containerds, left behind when an engine was killed hard).
 */
export function processesWith(marker) {
  const pids = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid !== process.pid && isAlive(pid) && cmdline(pid).includes(marker)) pids.push(pid);
  }
  return pids;
}

export async function killAll(pids) {
  for (const pid of pids) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  }
  const deadline = Date.now() + 10_000;
  while (pids.some(isAlive) && Date.now() < deadline) await sleep(50);
}
