// The pure part of Kamal's error pages: what a page may hold, and rendering
// with the maintenance message pasted in HTML-escaped (never evaluated).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  errorPageHash,
  errorPageProblem,
  errorPagesSchema,
  MAX_ERROR_PAGE_BYTES,
  parseErrorPage,
  renderParsedPage,
} from '../../../shared/error-pages.js';
import { parseManifestPayload } from '../../../shared/manifest.js';
import { parseRouteSet } from '../../../agent/router/table.js';
import { minimalManifest } from '../../support/manifest-fixture.js';

const render = (html: string, message?: string): string => renderParsedPage(parseErrorPage(html), message);

describe('error page templates', () => {
  it('pastes the message HTML-escaped; a page without actions is served as is', () => {
    assert.equal(render('<p>{{ .Message }}</p>', '<script>alert("x")</script> & \'y\''), '<p>&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; &#39;y&#39;</p>');
    assert.equal(render('<p>{{.Message}}</p>'), '<p></p>');
    const plain = '<html><style>a{color:red}</style><body>Bad gateway</body></html>';
    assert.equal(render(plain, 'ignored'), plain);
  });

  it('takes the if branch with a message, the else branch without (kamal-proxy 503.html), and trims with {{- -}}', () => {
    const page = '<article>\n  {{ if .Message }}\n  <p>{{ .Message }}</p>\n  {{ else }}\n  <p>Try later</p>\n  {{ end }}\n</article>';
    assert.match(render(page, 'Back at 5'), /<p>Back at 5<\/p>/);
    assert.doesNotMatch(render(page, 'Back at 5'), /Try later/);
    assert.match(render(page), /<p>Try later<\/p>/);
    assert.equal(render('a  {{- .Message -}}  b', 'M'), 'aMb');
    assert.equal(render('a{{/* note */}}b'), 'ab');
    assert.equal(render('{{ if .Message }}{{ if .Message }}x{{ end }}{{ end }}', 'm'), 'x');
  });

  it('refuses what Berth would have to evaluate, and malformed actions', () => {
    for (const [html, why] of [
      ['{{ .Status }}', /only \{\{ \.Message \}\}/],
      ['{{ printf "%s" .Message }}', /only/],
      ['{{ template "x" }}', /only/],
      ['{{ .Message', /without "\}\}"/],
      ['{{ if .Message }}x', /without \{\{ end \}\}/],
      ['x{{ end }}', /without \{\{ if \}\}/],
      ['{{ else }}', /outside/],
      ['{{ if .Message }}a{{ else }}b{{ else }}c{{ end }}', /outside/],
    ] as const) {
      assert.throws(() => parseErrorPage(html), why, html);
    }
  });

  it('bounds a page and refuses text that is not UTF-8', () => {
    assert.equal(errorPageProblem('<p>ok</p>'), undefined);
    assert.match(errorPageProblem('x'.repeat(MAX_ERROR_PAGE_BYTES + 1)) ?? '', /more than 65536/);
    assert.match(errorPageProblem('bad \uD800 surrogate') ?? '', /not UTF-8/);
  });
});

describe('error pages in the manifest and the route set', () => {
  it('accepts statuses 400-599 only, at most 16 pages and 96 KiB together', () => {
    assert.ok(errorPagesSchema.safeParse({ '502': '<p>x</p>', '404': 'y' }).success);
    for (const bad of [{ '999': 'x' }, { '502.html': 'x' }, { '../502': 'x' }, { '302': 'x' }, {}]) {
      assert.equal(errorPagesSchema.safeParse(bad).success, false, JSON.stringify(bad));
    }
    const many = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [String(500 + i), 'x']));
    assert.match(JSON.stringify(errorPagesSchema.safeParse(many).error?.issues), /at most 16/);
    const big = { '500': 'x'.repeat(60_000), '502': 'y'.repeat(60_000) };
    assert.match(JSON.stringify(errorPagesSchema.safeParse(big).error?.issues), /together/);
    assert.match(JSON.stringify(errorPagesSchema.safeParse({ '502': '{{ .Status }}' }).error?.issues), /only/);
  });

  it('travels in the manifest; routes name pages by SHA-256', () => {
    const m = parseManifestPayload({ ...minimalManifest(), error_pages: { '502': '<p>down</p>' } });
    assert.equal(m.error_pages?.['502'], '<p>down</p>');
    assert.throws(() => parseManifestPayload({ ...minimalManifest(), error_pages: { '502': '{{ .Status }}' } }), /error_pages\.502: uses \{\{ \.Status \}\}/);
    assert.throws(() => parseManifestPayload({ ...minimalManifest(), error_pages: { '../502': 'x' } }), /error_pages/);
    assert.equal(errorPageHash('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    const route = { service: 'demo', hosts: ['demo.test'], target: '127.0.0.1:3000' };
    assert.doesNotThrow(() => parseRouteSet({ version: 1, routes: [{ ...route, error_pages: { '502': errorPageHash('x') } }] }));
    assert.throws(() => parseRouteSet({ version: 1, routes: [{ ...route, error_pages: { '502': '../x' } }] }), /SHA-256/);
    assert.throws(() => parseRouteSet({ version: 1, routes: [{ ...route, error_pages: { '200': errorPageHash('x') } }] }), /error_pages\.200/);
  });
});
