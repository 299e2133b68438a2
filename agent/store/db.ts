// The only importer of better-sqlite3. Repos talk to the narrow `Db` below, so
// the driver can be swapped or faked without touching them.
import Database from 'better-sqlite3';
import { ConfigError } from '../../shared/errors.js';
import { MIGRATIONS } from './migrations.js';

export type SqlValue = string | number | bigint | null;
export type Row = Record<string, unknown>;

export interface Db {
  run(sql: string, ...params: SqlValue[]): { changes: number; lastInsertRowid: number };
  get<T extends Row = Row>(sql: string, ...params: SqlValue[]): T | undefined;
  all<T extends Row = Row>(sql: string, ...params: SqlValue[]): T[];
  /** Runs fn in one IMMEDIATE transaction; rolls back if it throws. */
  transaction<T>(fn: () => T): T;
  tableNames(): string[];
  close(): void;
}

export function openDatabase(file: string): Db {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  // WAL + NORMAL is durable across process crashes, which is the failure we plan for.
  db.pragma('synchronous = NORMAL');
  migrate(db);

  const statements = new Map<string, Database.Statement>();
  const prepare = (sql: string): Database.Statement => {
    let st = statements.get(sql);
    if (!st) {
      st = db.prepare(sql);
      statements.set(sql, st);
    }
    return st;
  };

  return {
    run(sql, ...params) {
      const r = prepare(sql).run(...params);
      return { changes: r.changes, lastInsertRowid: Number(r.lastInsertRowid) };
    },
    get<T extends Row>(sql: string, ...params: SqlValue[]) {
      return prepare(sql).get(...params) as T | undefined;
    },
    all<T extends Row>(sql: string, ...params: SqlValue[]) {
      return prepare(sql).all(...params) as T[];
    },
    transaction<T>(fn: () => T): T {
      return db.transaction(fn).immediate();
    },
    tableNames() {
      const rows = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .all() as Array<{ name: string }>;
      return rows.map((r) => r.name);
    },
    close() {
      statements.clear();
      db.close();
    },
  };
}

function migrate(db: Database.Database): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
  const applied = new Set(
    (db.prepare('SELECT version FROM schema_migrations').all() as Array<{ version: number }>).map((r) => r.version),
  );
  const known = Math.max(...MIGRATIONS.map((m) => m.version));
  const newest = Math.max(0, ...applied);
  if (newest > known) {
    // Running old code on a newer schema would silently misread rows.
    throw new ConfigError(
      `database schema version ${newest} is newer than this berth-agent understands (${known})`,
      'upgrade berth-agent',
    );
  }
  for (const m of MIGRATIONS) {
    if (applied.has(m.version)) continue;
    // foreign_keys cannot change inside a transaction, so a rebuild turns it off around one.
    if (m.rebuildsTables) db.pragma('foreign_keys = OFF');
    try {
      db.transaction(() => {
        db.exec(m.sql);
        if (m.rebuildsTables && (db.pragma('foreign_key_check') as unknown[]).length > 0) {
          throw new ConfigError(`database migration ${m.version} would break a foreign key`, 'restore the database from a backup');
        }
        db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(m.version, new Date().toISOString());
      }).immediate();
    } finally {
      if (m.rebuildsTables) db.pragma('foreign_keys = ON');
    }
  }
}
