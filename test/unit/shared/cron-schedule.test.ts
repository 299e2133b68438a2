import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCronSchedule } from '../../../shared/cron-schedule.js';
import { UserError } from '../../../shared/errors.js';

const at = (iso: string) => Date.parse(iso);
const isoOf = (ms: number) => new Date(ms).toISOString();

function refused(text: unknown, message: RegExp, zone?: string): void {
  assert.throws(
    () => parseCronSchedule(text, zone),
    (e: unknown) => e instanceof UserError && message.test(e.message),
  );
}

describe('cron schedule', () => {
  it('reads 5 fields as minute first and 6 fields as second first', () => {
    const five = parseCronSchedule('*/15 * * * *');
    assert.equal(isoOf(five.next(at('2026-01-01T10:07:30Z'))), '2026-01-01T10:15:00.000Z');
    const six = parseCronSchedule('*/10 * * * * *');
    assert.equal(isoOf(six.next(at('2026-01-01T10:07:31Z'))), '2026-01-01T10:07:40.000Z');
  });

  it('knows the aliases, Vixie spellings included, in any case', () => {
    const from = at('2026-03-04T05:06:07Z');
    assert.equal(isoOf(parseCronSchedule('@annually').next(from)), '2027-01-01T00:00:00.000Z');
    assert.equal(isoOf(parseCronSchedule('@yearly').next(from)), '2027-01-01T00:00:00.000Z');
    assert.equal(isoOf(parseCronSchedule('@midnight').next(from)), '2026-03-05T00:00:00.000Z');
    assert.equal(isoOf(parseCronSchedule('@Daily').next(from)), '2026-03-05T00:00:00.000Z');
    assert.equal(isoOf(parseCronSchedule('@hourly').next(from)), '2026-03-04T06:00:00.000Z');
  });

  it('refuses @reboot, unknown aliases, bad fields, wrong field counts and non-strings', () => {
    refused('@reboot', /@reboot is not a schedule/);
    refused('@often', /not a schedule alias/);
    refused('* * * *', /has 4 fields/);
    refused('* * * * * * *', /has 7 fields/);
    refused('* * * * $(rm)', /is not a cron field/);
    refused('61 * * * *', /is not a valid schedule/);
    refused(42, /should be a cron schedule string/);
    refused('*'.repeat(129), /longer than 128/);
  });

  it('refuses a schedule that never fires', () => {
    refused('0 0 30 2 *', /never fires/);
  });

  it('refuses an unknown time zone', () => {
    refused('@daily', /not an IANA zone name/, 'Mars/Olympus');
    assert.equal(parseCronSchedule('@daily', 'Europe/Berlin').timezone, 'Europe/Berlin');
  });

  it('next() is strictly after the given time, even on a slot', () => {
    const s = parseCronSchedule('0 * * * *');
    const slot = at('2026-01-01T10:00:00Z');
    assert.equal(s.next(slot), at('2026-01-01T11:00:00Z'));
    assert.equal(s.next(slot - 1), slot);
  });

  it('knows the shortest gap from the fields: within a day, and over midnight', () => {
    const gap = (text: string) => parseCronSchedule(text).minGapMs / 1000;
    assert.equal(gap('*/5 * * * *'), 300);
    assert.equal(gap('* * * * * *'), 1);
    assert.equal(gap('*/15 * * * * *'), 15);
    assert.equal(gap('0 30 2,14 * * *'), 12 * 3600);
    assert.equal(gap('0 9,17 * * 1-5'), 8 * 3600);
    // 23:00 to 01:00 the next day is shorter than 01:00 to 23:00.
    assert.equal(gap('0 1,23 * * *'), 2 * 3600);
    assert.equal(gap('0 9 * * 1-5'), 86_400, 'once a day: a day, the longest gap any rule asks about');
    assert.equal(gap('@yearly'), 86_400);
  });

  it('a daily 02:30 job in Europe/Berlin runs once per day across both DST changes', () => {
    const s = parseCronSchedule('30 2 * * *', 'Europe/Berlin');
    // 2026-03-29: clocks go 02:00 → 03:00, 02:30 does not exist that day.
    const spring: string[] = [];
    for (let t = at('2026-03-27T12:00:00Z'), i = 0; i < 4; i++) spring.push(isoOf((t = s.next(t))));
    assert.equal(new Set(spring.map((x) => x.slice(0, 10))).size, 4, `one run a day in spring: ${spring.join(' ')}`);
    assert.equal(spring[0], '2026-03-28T01:30:00.000Z');
    assert.equal(spring[2], '2026-03-30T00:30:00.000Z');
    // 2026-10-25: clocks go 03:00 → 02:00, 02:30 happens twice; the job runs once.
    const autumn: string[] = [];
    for (let t = at('2026-10-23T12:00:00Z'), i = 0; i < 4; i++) autumn.push(isoOf((t = s.next(t))));
    assert.equal(new Set(autumn.map((x) => x.slice(0, 10))).size, 4, `one run a day in autumn: ${autumn.join(' ')}`);
    assert.equal(autumn[0], '2026-10-24T00:30:00.000Z');
    assert.equal(autumn[3], '2026-10-27T01:30:00.000Z');
  });
});
