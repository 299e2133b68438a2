// The ERB subset Berth evaluates without Ruby (BERTH_ERB=builtin): each form
// real deploy.yml files use renders as Ruby's ERB renders it, and anything
// else is refused naming the tag, file:line and how to get Ruby.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderErb } from '../../../cli/config/erb.js';
import { ConfigError } from '../../../shared/errors.js';
import { appDirs } from '../../support/cli-fixtures.js';

const app = appDirs('berth-erb-');

const FILES = {
  '.ruby-version': '3.3.1\n',
  '.redis-password': 'dummy-redis\n',
  '.env.staging': 'STAGING_HOST=10.0.1.5\nFROM_FILE=$BASE_VALUE-x\n',
  '.env': 'DOT_ENV=1\n',
};

async function render(template: string, env: Record<string, string> = {}, destination = '', timeoutMs?: number): Promise<string> {
  const dir = app(FILES);
  const [out] = await renderErb([{ label: 'config/deploy.yml', text: template }], dir, destination, {
    maxBytes: 4096,
    env: { PATH: process.env.PATH ?? '', BERTH_ERB: 'builtin', ...env },
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  });
  return (out as { text: string }).text;
}

async function refused(template: string, env: Record<string, string> = {}, timeoutMs?: number): Promise<ConfigError> {
  const err = await render(template, env, '', timeoutMs).then(
    () => assert.fail('rendered'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ConfigError, String(err));
  return err;
}

describe('built-in ERB: forms of real configs', () => {
  const cases: Array<[string, string, Record<string, string>?]> = [
    ['<%= ENV["X"] %>', 'x1', { X: 'x1' }],
    ["<%= ENV['X'] %>", 'x1', { X: 'x1' }],
    ['<%= ENV["X"] %>', '', {}],
    ['<%= ENV.fetch("X") %>', 'x1', { X: 'x1' }],
    ['<%= ENV.fetch("X", "dflt") %>', 'dflt', {}],
    ['<%= ENV.fetch("X") { "blk" } %>', 'blk', {}],
    ['<%= ENV["X"] || "dflt" %>', 'dflt', {}],
    ['<%= ENV["X"] || "dflt" %>', 'set', { X: 'set' }],
    ['<%= ENV["X"] == "false" ? "off" : "on" %>', 'off', { X: 'false' }],
    ['<%= ENV["X"] != "false" ? "off" : "on" %>', 'on', { X: 'false' }],
    ['<%= ENV["X"].presence || "d" %>', 'd', { X: '  ' }],
    ['<%= `printf " abc1234\\n"`.strip %>', 'abc1234'],
    ['<%= %x(printf "ecr-token\\n").chomp %>', 'ecr-token'],
    ['<%= `printf "#{ENV["X"]}"` %>', 'in-cmd', { X: 'in-cmd' }],
    ['<%= File.read(".ruby-version").strip %>', '3.3.1'],
    ['<%= File.read(File.expand_path(".redis-password", __dir__)).strip %>', 'dummy-redis'],
    ['<%= "a#{ENV["X"]}b" %>', 'axb', { X: 'x' }],
    ["<%= 'lit' %>-<%= 42 %>-<%= nil %>-<%= true %>", 'lit-42--true'],
    ['<%= ENV.fetch("N", "12abc").to_i %> <%= nil.to_s %>|<%= " x\\n".to_s %>', '12 | x\n'],
    ['<%# a comment, ignored %>kept', 'kept'],
    ['<%% literal %>', '<% literal %>'],
    ['<% @host = ENV.fetch("H", "10.0.0.1") %><%= @host %>', '10.0.0.1'],
    ['<% host = "local" %><%= host %>', 'local'],
    ['<%= ENV["KAMAL_DESTINATION"] || "none" %>', 'none', { KAMAL_DESTINATION: 'stale' }],
    ['<% require "dotenv"; Dotenv.load(".env.staging") %><%= ENV["STAGING_HOST"] %> <%= ENV["FROM_FILE"] %>', '10.0.1.5 base-x', { BASE_VALUE: 'base' }],
    ['<% Dotenv.load(".env.staging") %><%= ENV["STAGING_HOST"] %>', 'kept', { STAGING_HOST: 'kept' }],
    ['<% Dotenv.overload(".env.staging") %><%= ENV["STAGING_HOST"] %>', '10.0.1.5', { STAGING_HOST: 'kept' }],
    ['<% require "dotenv/load" %><%= ENV["DOT_ENV"] %>', '1'],
    ['<% Dotenv.load(".missing") %>ok', 'ok'],
    ['<% if ENV["X"] == "1" %>yes<% elsif ENV["X"] == "2" %>two<% else %>no<% end %>', 'two', { X: '2' }],
    ['<% unless ENV["X"] %>unset<% end %>', 'unset'],
    // kamal init's template has this in a comment; Kamal renders it, and what it prints stays in the comment.
    ['a: 1\n  #   RUBY_VERSION: <%= ENV["RBENV_VERSION"] || ENV["rvm_ruby_string"] || "#{RUBY_ENGINE}-#{RUBY_ENGINE_VERSION}" %>\n', 'a: 1\n  #   RUBY_VERSION: \n'],
    ['  # v<%= ENV["V"] %>', '  # v3', { V: '3' }],
  ];
  for (const [template, expected, env] of cases) {
    it(`${template} → ${JSON.stringify(expected)}`, async () => {
      assert.equal(await render(template, env), expected);
    });
  }

  it('trims like ERB with trim_mode "-": <%- drops the indentation, -%> the line break', async () => {
    const template = 'a:\n  <%- if true -%>\n  - x\n  <%- end -%>\nb: <%= "y" -%>\nc: 1\n';
    assert.equal(await render(template), 'a:\n  - x\nb: yc: 1\n');
  });

  it('sets KAMAL_DESTINATION to the destination, as Kamal does before rendering', async () => {
    assert.equal(await render('<%= ENV["KAMAL_DESTINATION"] %>', {}, 'staging'), 'staging');
  });
});

describe('built-in ERB: refusals', () => {
  it('names the tag and file:line of an expression outside the subset, and suggests Ruby', async () => {
    const err = await refused('service: demo\nimage: <%= Gem::Specification.find_by_name("kamal").gem_dir %>\n');
    assert.equal(err.message, 'ERB <%= Gem::Specification.find_by_name("kamal").gem_dir %> is not supported without Ruby (config/deploy.yml:2)');
    assert.match(err.hint ?? '', /apt install ruby/);
    for (const template of ['<%= ENV["X"].split(",").first %>', '<% [1, 2].each do |i| %><%= i %><% end %>', '<%= system("id") %>', '<%= undefined_thing %>']) {
      assert.match((await refused(template)).message, /is not supported without Ruby \(config\/deploy\.yml:1\)$/);
    }
  });

  it('says which ENV.fetch name is unset, and never prints a value in a message', async () => {
    assert.equal((await refused('x: 1\ny: <%= ENV.fetch("NOT_SET") %>\n')).message, 'ERB <%= ENV.fetch("NOT_SET") %> failed: raised KeyError: NOT_SET is not set (config/deploy.yml:2)');
    const err = await refused('<%= ENV["TOKEN"].empty? ? 1 : ENV["TOKEN"].nosuch %>', { TOKEN: 'hunter2-secret' });
    assert.doesNotMatch(`${err.message} ${err.hint ?? ''}`, /hunter2/);
    const strip = await refused('<%= ENV["UNSET"].strip %>');
    assert.equal(strip.message, 'ERB <%= ENV["UNSET"].strip %> failed: undefined method strip for nil (config/deploy.yml:1)');
  });

  it('gives what a failing command printed, as Ruby\'s backticks do (git describe outside a repository)', async () => {
    assert.equal(await render('[<%= `echo partial; exit 3` %>]'), '[partial\n]');
    assert.equal(await render('v: "<%= `git describe --tags --always 2>/dev/null`.strip %>"'), 'v: ""');
  });

  it('takes begin … rescue … end inside one tag, as real configs guard Dotenv.load with it', async () => {
    // placecal's form: without the gem Ruby raises LoadError; the subset always has dotenv, so nothing is rescued.
    assert.equal(await render('<% begin; require "dotenv"; Dotenv.load(".kamal/secrets.staging"); rescue LoadError; end %>a: 1\n'), 'a: 1\n');
    assert.equal(await render('<% begin\n  x = File.read("nope")\nrescue\n  x = "fallback"\nend %>v: <%= x %>'), 'v: fallback');
    assert.equal(await render('<% begin; x = ENV.fetch("NOPE"); rescue StandardError; x = "dflt"; end %><%= x %>'), 'dflt');
    // A class the subset cannot tell apart is not guessed at: the error surfaces.
    assert.match((await refused('<% begin; x = File.read("nope"); rescue Errno::ENOENT; x = 1; end %>')).message, /raised Errno::ENOENT/);
    assert.match((await refused('<% begin %>x<% end %>')).message, /is not supported without Ruby/);
    assert.match((await refused('<% begin; x = 1; rescue => e; end %>')).message, /is not supported without Ruby/);
  });

  it('refuses a missing file, a command printing binary and an unclosed tag or if', async () => {
    assert.match((await refused('<%= File.read("nope.txt") %>')).message, /^ERB <%= File\.read\("nope\.txt"\) %> failed: raised Errno::ENOENT: no such file \(config\/deploy\.yml:1\)$/);
    assert.match((await refused('<%= `printf "\\\\377"; exit 3` %>')).message, /failed: exited with status 3 \(config\/deploy\.yml:1\)$/);
    assert.equal((await refused('a: 1\nb: <%= ENV["X"]\n')).message, 'ERB tag opened with <% is never closed with %> (config/deploy.yml:2)');
    assert.match((await refused('<% if true %>x')).message, /not closed with <% end %>/);
  });

  it('stops a command that sleeps at the time limit, and one that prints too much', async () => {
    const err = await refused('<%= `sleep 30` %>', {}, 300);
    assert.match(err.message, /^ERB <%= `sleep 30` %> failed: took longer than 0.3 s/);
    assert.match((await refused('<%= `head -c 100000 /dev/zero | tr "\\\\0" x` %>')).message, /printed more than 4096 bytes/);
    assert.equal((await refused(`<%= "${'x'.repeat(100)}" %>`.repeat(100))).message, 'config/deploy.yml renders (ERB) to more than 4096 bytes');
  });

  it('refuses an unknown BERTH_ERB', async () => {
    assert.match((await refused('<%= 1 %>', { BERTH_ERB: 'perl' })).message, /^BERTH_ERB should be ruby, builtin or auto/);
  });
});
