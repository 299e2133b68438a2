// One at a time, in arrival order: a queue for work that must not interleave
// (route publishing, judging and creating bind mounts). A failed task does not
// stop the ones after it.
export type Serial = <T>(fn: () => Promise<T>) => Promise<T>;

export function createSerial(): Serial {
  let tail: Promise<unknown> = Promise.resolve();
  return (fn) => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => undefined);
    return run;
  };
}
