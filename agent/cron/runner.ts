// One cron run: a fresh container of the release's image for the job's role,
// with the role's full environment (secrets unsealed as for the app), under the
// agent's guardrails of today, on the agent's network, removed when it ends.
// Output is decoded per stream, secrets redacted, the tail kept; a timeout or a
// stop (concurrency replace, service removed, agent stopping) removes the
// container, which ends the run.
import type { CronOutcome } from '../../shared/api-types.js';
import type { CronJobSpec } from '../../shared/manifest-cron.js';
import type { ManifestPayload } from '../../shared/manifest.js';
import { OutputTail, Redactor } from '../core/cron/output.js';
import type { DockerPort, ProcessSession } from '../docker.js';
import { oneOffContainerSpec, type OneOffDeps } from '../ops/one-off-container.js';

export const CRON_KIND = 'cron';
/** The job a cron container runs (beside berth.kind=cron). */
export const CRON_JOB_LABEL = 'berth.cron';

export interface CronRunnerDeps extends OneOffDeps {
  docker: DockerPort;
}

export interface CronRunSpec {
  manifest: ManifestPayload;
  deployId: number;
  job: string;
  spec: CronJobSpec;
}

export interface OutputChunkText {
  stream: 'stdout' | 'stderr';
  data: string;
}

export interface CronRunResult {
  outcome: Exclude<CronOutcome, 'running' | 'skipped'>;
  exitCode: number | null;
  reason: string;
  output: string;
  outputTruncated: boolean;
}

export interface CronRunHandle {
  /** Ends the run early: its container is removed and the run ends with `outcome`. */
  stop(outcome: 'replaced' | 'stopped' | 'interrupted', reason: string): void;
  done: Promise<CronRunResult>;
}

export type CronRunner = (run: CronRunSpec, onOutput?: (chunk: OutputChunkText) => void) => CronRunHandle;

export function createCronRunner(deps: CronRunnerDeps): CronRunner {
  return (run, onOutput) => {
    let ended: { outcome: CronRunResult['outcome']; reason: string } | undefined;
    let session: ProcessSession | undefined;
    // Read through a function: `end` may set it from a timer or a stop while this run awaits.
    const endedBy = () => ended;
    const end = (outcome: CronRunResult['outcome'], reason: string) => {
      if (ended) return;
      ended = { outcome, reason };
      session?.close();
      void session?.dispose();
    };
    const done = (async (): Promise<CronRunResult> => {
      const tail = new OutputTail();
      let secrets: Record<string, string> = {};
      try {
        const made = await oneOffContainerSpec(deps, {
          manifest: run.manifest, deployId: run.deployId, role: run.spec.role, cmd: run.spec.command,
          kind: CRON_KIND, labels: { [CRON_JOB_LABEL]: run.job }, suffix: `cron-${run.job}`,
        });
        secrets = made.secrets;
        const early = endedBy();
        if (early) return { ...early, exitCode: null, output: '', outputTruncated: false };
        session = await deps.docker.runAttached(made.spec, { tty: false, stdin: false });
      } catch (e) {
        // Never the spec or the environment: only what went wrong.
        const reason = `could not start: ${e instanceof Error ? e.message : String(e)}`;
        const by = endedBy();
        return { outcome: by?.outcome ?? 'start_failed', exitCode: null, reason: by?.reason ?? reason, output: '', outputTruncated: false };
      }
      if (endedBy()) void session.dispose();
      const timer = setTimeout(() => end('timed_out', `timed out after ${run.spec.timeout}s; the container was killed`), run.spec.timeout * 1000);
      timer.unref();
      try {
        const decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() };
        const redactors = { stdout: new Redactor(secrets), stderr: new Redactor(secrets) };
        const emit = (stream: 'stdout' | 'stderr', text: string) => {
          if (text === '') return;
          tail.append(text);
          onOutput?.({ stream, data: text });
        };
        try {
          for await (const chunk of session.output) emit(chunk.stream, redactors[chunk.stream].push(decoders[chunk.stream].decode(chunk.data, { stream: true })));
        } catch {
          // The stream breaks when the container is removed under it (timeout, stop): the ending says why.
        }
        for (const stream of ['stdout', 'stderr'] as const) emit(stream, redactors[stream].push(decoders[stream].decode()) + redactors[stream].flush());
        const cut = endedBy();
        if (cut) return { ...cut, exitCode: null, output: tail.text(), outputTruncated: tail.truncated };
        const exitCode = (await session.exitCode()) ?? null;
        const late = endedBy();
        if (late) return { ...late, exitCode: null, output: tail.text(), outputTruncated: tail.truncated };
        ended = exitCode === 0
          ? { outcome: 'succeeded', reason: '' }
          : { outcome: 'failed', reason: exitCode === null ? 'its exit code is unknown' : `exited with code ${exitCode}` };
        return { ...ended, exitCode, output: tail.text(), outputTruncated: tail.truncated };
      } finally {
        clearTimeout(timer);
        await session.dispose();
      }
    })();
    return { stop: (outcome, reason) => end(outcome, reason), done };
  };
}
