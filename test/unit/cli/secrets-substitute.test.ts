import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDotenv } from '../../../cli/secrets/dotenv.js';
import { resolveEntries, type CommandRequest, type CommandResult, type RunCommand } from '../../../cli/secrets/substitute.js';
import { rejectsConfigError } from '../../support/cli-fixtures.js';

const FILE = '.kamal/secrets';

/** A runner that answers from a table and records what it was asked to run. */
function fakeRunner(answers: Record<string, CommandResult> = {}): RunCommand & { calls: CommandRequest[] } {
  const calls: CommandRequest[] = [];
  const run = async (request: CommandRequest): Promise<CommandResult> => {
    calls.push(request);
    return answers[request.command] ?? { kind: 'exit', code: 127, signal: null };
  };
  return Object.assign(run, { calls });
}

async function resolve(text: string, env: Record<string, string | undefined> = {}, run: RunCommand = fakeRunner()) {
  const resolved = await resolveEntries(parseDotenv(text, FILE), { file: FILE, cwd: '/app', env, run });
  return { values: Object.fromEntries(resolved.values), warnings: resolved.warnings };
}

const rejects = rejectsConfigError;

describe('secrets substitution ($VAR, ${VAR}, $(command))', () => {
  it('replaces $VAR and ${VAR} from earlier lines, then from the environment', async () => {
    const { values, warnings } = await resolve('A=abc\nB=${A}def\nC=$A-$HOME\nD="x ${A} y"', { HOME: '/root', A: 'from-env' });
    assert.deepEqual(values, { A: 'abc', B: 'abcdef', C: 'abc-/root', D: 'x abc y' });
    assert.deepEqual(warnings, []);
  });

  it('uses the environment for names the file sets only later, and the file value once set (Kamal: file overrides env)', async () => {
    const { values } = await resolve('B=$A\nA=file\nC=$A', { A: 'env' });
    assert.deepEqual(values, { B: 'env', A: 'file', C: 'file' });
  });

  it('replaces an unset variable with the empty string and warns with file:line, never a value', async () => {
    const { values, warnings } = await resolve('PASSWORD=s3cret\nDB_PASSWORD=$PRODUCTION_DB_PASSWORD', {});
    assert.equal(values.DB_PASSWORD, '');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] as string, /^\.kamal\/secrets:2: \$PRODUCTION_DB_PASSWORD is not set/);
    assert.ok(!warnings.join().includes('s3cret'));
  });

  it('keeps single-quoted values, \\$ and a lone $ literal', async () => {
    const run = fakeRunner();
    const { values } = await resolve("A='$HOME $(whoami)'\nB=\\$HOME\nC=\"cost: 5$ \\$(whoami)\"\nD=$\nE=${}", { HOME: '/root' }, run);
    assert.deepEqual(values, { A: '$HOME $(whoami)', B: '$HOME', C: 'cost: 5$ $(whoami)', D: '$', E: '${}' });
    assert.equal(run.calls.length, 0);
  });

  it('leaves ${VAR:-default} as Kamal does (only ${VAR} replaced) and warns', async () => {
    const { values, warnings } = await resolve('A=${MISSING:-fallback}', { MISSING: 'set' });
    assert.equal(values.A, 'set:-fallback}');
    assert.match(warnings.join('\n'), /\.kamal\/secrets:1: \$\{MISSING:-…\}-style expansion is not supported/);
  });

  it('runs $(command) with earlier values substituted into its text, in the app dir, with the environment', async () => {
    const run = fakeRunner({ 'op read op://vault/item': { kind: 'ok', stdout: 'p4ss$word\n' } });
    const { values } = await resolve('ITEM=op://vault/item\nA=$(op read $ITEM)\nB="pre-$(op read ${ITEM})-post"', { PATH: '/bin' }, run);
    // Output is kept as printed ($word is not expanded) and one trailing line break is dropped.
    assert.deepEqual(values, { ITEM: 'op://vault/item', A: 'p4ss$word', B: 'pre-p4ss$word-post' });
    assert.equal(run.calls.length, 2);
    assert.equal(run.calls[0]?.cwd, '/app');
    assert.deepEqual(run.calls[0]?.env, { PATH: '/bin' });
  });

  it('takes balanced parentheses and escaped ones as part of the command', async () => {
    const run = fakeRunner({ 'echo $(date) (x) \\)': { kind: 'ok', stdout: 'ok' } });
    const { values } = await resolve('A=$(echo $(date) (x) \\\\))', {}, run);
    assert.equal(values.A, 'ok');
  });

  it('refuses a $( that is never closed, naming the line', async () => {
    await rejects(resolve('A=1\nB=$(op read x'), /^\.kamal\/secrets:2: a \$\( command is never closed/);
    // Positive control: $() is not a command to the gem and stays literal.
    assert.equal((await resolve('A=$()')).values.A, '$()');
  });

  it('names file:line and exit status of a failing command, never its output', async () => {
    const run = fakeRunner({ 'cat config/master.key': { kind: 'exit', code: 1, signal: null } });
    const error = await rejects(resolve('X=1\nRAILS_MASTER_KEY=$(cat config/master.key)', {}, run), /^\.kamal\/secrets:2: the command `cat …` failed with exit status 1$/);
    assert.match(error.hint ?? '', /run the command yourself/);
  });

  it("reports a built-in command's own message (kamal secrets) with file:line", async () => {
    const run = fakeRunner({ 'kamal secrets extract A {}': { kind: 'failed', message: '`kamal secrets extract`: Could not find secret A', hint: 'a hint' } });
    const error = await rejects(resolve('X=$(kamal secrets extract A {})', {}, run), /^\.kamal\/secrets:1: `kamal secrets extract`: Could not find secret A$/);
    assert.equal(error.hint, 'a hint');
  });

  it('stops a value from growing past 64 KiB through repeated references', async () => {
    const lines = ['A=xxxxxxxxxxxxxxxx'];
    for (let i = 0; i < 40; i++) lines.push('A=$A$A');
    await rejects(resolve(lines.join('\n')), /^\.kamal\/secrets:\d+: the value of A is larger than 64 KiB$/);
    // Positive control: a few doublings are fine.
    assert.equal((await resolve(lines.slice(0, 5).join('\n'))).values.A?.length, 16 * 16);
  });

  it('does not recurse: a self-reference reads the previous value once', async () => {
    const { values } = await resolve('A=${A}x\nA=${A}y\nB=$B', { A: 'env', B: 'b' });
    assert.deepEqual(values, { A: 'envxy', B: 'b' });
  });

  it('refuses a command output with a NUL byte', async () => {
    const run = fakeRunner({ 'get it': { kind: 'ok', stdout: 'a\0b' } });
    await rejects(resolve('A=$(get it)', {}, run), /^\.kamal\/secrets:1: the command `get …` printed bytes that are not UTF-8 text or a NUL byte$/);
  });

  it('stops at the first failing command: later commands do not run', async () => {
    const run = fakeRunner({ first: { kind: 'timeout' }, second: { kind: 'ok', stdout: 'x' } });
    await rejects(resolve('A=$(first)\nB=$(second)', {}, run), /^\.kamal\/secrets:1: the command `first …` did not finish within 60 s$/);
    assert.deepEqual(
      run.calls.map((c) => c.command),
      ['first'],
    );
  });
});
