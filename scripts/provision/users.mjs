// Several runners (developers, parallel helpers) may share the test engines:
// each registers its pid; provisioning is serialised by a lock directory, and
// teardown happens only when the last live user leaves.
import fs from 'node:fs';
import path from 'node:path';
import { isAlive } from './daemons.mjs';
import { RUN_DIR } from './engines.mjs';

const USERS_DIR = path.join(RUN_DIR, 'users');
const LOCK_DIR = path.join(RUN_DIR, 'provision.lock');
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export function registerUser() {
  fs.mkdirSync(USERS_DIR, { recursive: true });
  fs.writeFileSync(path.join(USERS_DIR, String(process.pid)), '');
}

/** Unregisters this process; returns the pids of other live users. */
export function unregisterUser() {
  fs.rmSync(path.join(USERS_DIR, String(process.pid)), { force: true });
  const others = [];
  for (const name of fs.existsSync(USERS_DIR) ? fs.readdirSync(USERS_DIR) : []) {
    const pid = Number(name);
    if (Number.isSafeInteger(pid) && isAlive(pid)) others.push(pid);
    else fs.rmSync(path.join(USERS_DIR, name), { force: true });
  }
  return others;
}

/** Runs `fn` holding the provisioning lock (stale locks of dead pids are taken over). */
export async function withProvisionLock(fn, log) {
  fs.mkdirSync(RUN_DIR, { recursive: true });
  let warned = false;
  for (;;) {
    try {
      fs.mkdirSync(LOCK_DIR);
      fs.writeFileSync(path.join(LOCK_DIR, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      const holder = Number(fs.readFileSync(path.join(LOCK_DIR, 'pid'), 'utf8').trim() || 0);
      if (!holder || !isAlive(holder)) {
        await sleep(200); // let a holder that just created the directory write its pid
        const again = Number(fs.readFileSync(path.join(LOCK_DIR, 'pid'), 'utf8').trim() || 0);
        if (!again || !isAlive(again)) fs.rmSync(LOCK_DIR, { recursive: true, force: true });
        continue;
      }
      if (!warned) log(`waiting for pid ${holder} to finish provisioning`);
      warned = true;
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(LOCK_DIR, { recursive: true, force: true });
  }
}
