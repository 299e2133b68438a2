// Renders ERB templates with Ruby's own ERB in a child `ruby`, the way Kamal
// does (`ERB.new(text, trim_mode: "-").result`: no file name, so `__dir__` is
// "." and relative paths are the working directory's, the app dir). All files
// go to one process, in order, as in Kamal: @variables and Dotenv.load in the
// base file are seen by the destination file. The templates travel on stdin as
// JSON, never inside the script; stdin is then closed for whatever the
// templates run. The result comes back on a copy of stdout, while the
// template's own stdout (`puts`, `system`) is pointed at stderr, which is
// discarded: commands may print secrets there.

import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

const SCRIPT = `
require "erb"
require "json"
module BerthErb
  def self.where(error)
    (error.backtrace || []).each { |l| m = l.match(/\\A\\(erb\\):(\\d+)/); return m[1].to_i if m }
    m = error.message.to_s.match(/\\(erb\\):(\\d+)/)
    m && m[1].to_i
  end

  def self.run
    input = JSON.parse($stdin.read)
    $stdin.reopen(File::NULL)
    out = STDOUT.dup
    STDOUT.reopen(STDERR)
    ["active_support", "active_support/core_ext/object/blank"].each do |lib|
      begin
        require lib
      rescue LoadError, StandardError
      end
    end
    results = []
    input["files"].each do |template|
      begin
        text = ERB.new(template, trim_mode: "-").result
        if text.bytesize > input["max"]
          results << { "error" => "too_large" }
          break
        end
        text = text.dup.force_encoding(Encoding::UTF_8)
        unless text.valid_encoding?
          results << { "error" => "not_text" }
          break
        end
        results << { "text" => text }
      rescue Exception => e
        results << { "error" => "exception", "class" => e.class.name, "message" => e.message.to_s[0, 2000], "line" => where(e) }
        break
      end
    end
    out.write(JSON.generate(results))
    out.flush
  end
end
BerthErb.run
`;

export type RubyFileResult =
  | { text: string }
  | { error: 'too_large' | 'not_text' }
  | { error: 'exception'; class: string; message: string; line: number | null };

export type RubyOutcome =
  | { kind: 'ok'; results: RubyFileResult[] }
  | { kind: 'timeout' }
  | { kind: 'failed'; reason: string };

/** The `ruby` executable on `PATH`, if there is one; no process is started to find it. */
export function findRuby(path: string | undefined): string | undefined {
  for (const dir of (path ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, 'ruby');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

export function renderWithRuby(
  ruby: string,
  templates: string[],
  opts: { cwd: string; env: Record<string, string>; timeoutMs: number; maxBytes: number },
): Promise<RubyOutcome> {
  return new Promise((resolvePromise) => {
    let settled = false;
    const out: Buffer[] = [];
    let outSize = 0;
    // JSON may escape each byte of the output into six.
    const maxOut = templates.length * opts.maxBytes * 6 + 64 * 1024;
    const child = spawn(ruby, ['-e', SCRIPT], {
      cwd: opts.cwd,
      env: opts.env,
      // stderr is discarded, like $(command) output in secrets files: commands may print secrets there.
      stdio: ['pipe', 'pipe', 'ignore'],
      // Its own process group, so a timeout also stops what the template started.
      detached: true,
    });
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    };
    const finish = (outcome: RubyOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.stdout?.destroy();
      resolvePromise(outcome);
    };
    const timer = setTimeout(() => {
      killGroup();
      finish({ kind: 'timeout' });
    }, opts.timeoutMs);
    child.stdout?.on('data', (chunk: Buffer) => {
      outSize += chunk.length;
      if (outSize > maxOut) {
        killGroup();
        finish({ kind: 'ok', results: [{ error: 'too_large' }] });
        return;
      }
      out.push(chunk);
    });
    child.stdin?.on('error', () => undefined);
    child.on('error', (err: NodeJS.ErrnoException) => finish({ kind: 'failed', reason: `could not start ${ruby}: ${err.code ?? 'error'}` }));
    child.on('close', (code, signal) => {
      // A template that daemonizes keeps nothing waiting on us.
      killGroup();
      const raw = Buffer.concat(out).toString('utf8');
      try {
        const results = JSON.parse(raw) as RubyFileResult[];
        if (Array.isArray(results) && results.length > 0) {
          finish({ kind: 'ok', results });
          return;
        }
      } catch {
        // Fall through: no complete answer.
      }
      finish({ kind: 'failed', reason: `ruby exited (${signal ?? `status ${code}`}) without rendering` });
    });
    child.stdin?.end(JSON.stringify({ files: templates, max: opts.maxBytes }));
  });
}
