// Numbered, append-only schema migrations. Never edit a shipped entry: add a new one.

export interface Migration {
  version: number;
  sql: string;
  /**
   * The migration rebuilds a table others reference: it runs with foreign keys
   * off (SQLite's documented table-rebuild procedure) and fails unless
   * PRAGMA foreign_key_check finds nothing before it commits.
   */
  rebuildsTables?: true;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE trusted_keys (
        kid TEXT PRIMARY KEY,
        jwk TEXT NOT NULL,
        comment TEXT NOT NULL,
        scopes TEXT NOT NULL,
        added_at TEXT NOT NULL
      );
      CREATE TABLE seen_jti (
        jti TEXT PRIMARY KEY,
        exp INTEGER NOT NULL
      );
      CREATE INDEX seen_jti_exp ON seen_jti (exp);
      CREATE TABLE releases (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        service TEXT NOT NULL,
        destination TEXT NOT NULL,
        version TEXT NOT NULL,
        seq INTEGER NOT NULL,
        image TEXT NOT NULL,
        key_id TEXT NOT NULL,
        jws TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (service, destination, seq)
      );
      CREATE INDEX releases_version ON releases (service, destination, version);
      CREATE TABLE deploys (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        release_id INTEGER NOT NULL REFERENCES releases (id),
        service TEXT NOT NULL,
        destination TEXT NOT NULL,
        version TEXT NOT NULL,
        seq INTEGER NOT NULL,
        image TEXT NOT NULL,
        state TEXT NOT NULL,
        error TEXT,
        key_id TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE INDEX deploys_state ON deploys (state);
      CREATE TABLE deploy_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        deploy_id INTEGER NOT NULL REFERENCES deploys (id),
        at TEXT NOT NULL,
        state TEXT NOT NULL,
        message TEXT NOT NULL,
        progress REAL
      );
      CREATE INDEX deploy_events_deploy ON deploy_events (deploy_id, id);
      CREATE TABLE service_seq (
        service TEXT NOT NULL,
        destination TEXT NOT NULL,
        seq INTEGER NOT NULL,
        current_deploy_id INTEGER REFERENCES deploys (id),
        PRIMARY KEY (service, destination)
      );
      CREATE TABLE locks (
        service TEXT NOT NULL,
        destination TEXT NOT NULL,
        deploy_id INTEGER NOT NULL REFERENCES deploys (id),
        since TEXT NOT NULL,
        PRIMARY KEY (service, destination)
      );
      CREATE TABLE routes (
        service TEXT NOT NULL,
        destination TEXT NOT NULL,
        route TEXT NOT NULL,
        PRIMARY KEY (service, destination)
      );
      CREATE TABLE route_version (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        version INTEGER NOT NULL
      );
      INSERT INTO route_version (id, version) VALUES (1, 0);
    `,
  },
  {
    // Issue 4: who did what (audit), operator locks, maintenance mode, and
    // deploys the agent makes itself (bake-window reverts) or that roll back.
    version: 2,
    sql: `
      ALTER TABLE deploys ADD COLUMN trigger TEXT NOT NULL DEFAULT 'push';
      ALTER TABLE deploys ADD COLUMN derived_from INTEGER REFERENCES deploys (id);
      CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        key_id TEXT NOT NULL,
        action TEXT NOT NULL,
        service TEXT NOT NULL DEFAULT '',
        destination TEXT NOT NULL DEFAULT '',
        detail TEXT NOT NULL DEFAULT '{}'
      );
      CREATE INDEX audit_service ON audit (service, destination, id);
      CREATE TABLE operator_locks (
        service TEXT NOT NULL,
        destination TEXT NOT NULL,
        key_id TEXT NOT NULL,
        message TEXT NOT NULL,
        since TEXT NOT NULL,
        PRIMARY KEY (service, destination)
      );
      CREATE TABLE maintenance (
        service TEXT NOT NULL,
        destination TEXT NOT NULL,
        key_id TEXT NOT NULL,
        message TEXT NOT NULL,
        since TEXT NOT NULL,
        PRIMARY KEY (service, destination)
      );
    `,
  },
  {
    // A failed bake as a column, so the bake loop's once-a-second check reads
    // one deploy row instead of searching the audit log. Holds the id of the
    // deploy's `bake.failed` audit row (0: none), back-filled from the audit.
    version: 3,
    sql: `
      ALTER TABLE deploys ADD COLUMN bake_failed INTEGER NOT NULL DEFAULT 0;
      UPDATE deploys SET bake_failed = COALESCE((
        SELECT MIN(a.id) FROM audit a
        WHERE a.action = 'bake.failed' AND a.service = deploys.service AND a.destination = deploys.destination
          AND json_extract(a.detail, '$.deploy') = deploys.id), 0);
    `,
  },
  {
    // Issue 10: webhook deliveries (the last 200 per service and destination),
    // and releases the agent derives from a stored signed one with only the
    // image changed. Those keep the signed release's seq and take the next
    // local `revision` of it, so (service, destination, seq) is no longer
    // unique by itself: the releases table is rebuilt with the wider key.
    version: 4,
    rebuildsTables: true,
    sql: `
      CREATE TABLE releases_new (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        service TEXT NOT NULL,
        destination TEXT NOT NULL,
        version TEXT NOT NULL,
        seq INTEGER NOT NULL,
        image TEXT NOT NULL,
        key_id TEXT NOT NULL,
        jws TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at TEXT NOT NULL,
        revision INTEGER NOT NULL DEFAULT 0,
        UNIQUE (service, destination, seq, revision)
      );
      INSERT INTO releases_new (id, service, destination, version, seq, image, key_id, jws, payload, created_at)
        SELECT id, service, destination, version, seq, image, key_id, jws, payload, created_at FROM releases;
      DROP TABLE releases;
      ALTER TABLE releases_new RENAME TO releases;
      CREATE INDEX releases_version ON releases (service, destination, version);
      CREATE TABLE webhook_deliveries (
        n INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        at TEXT NOT NULL,
        service TEXT NOT NULL,
        destination TEXT NOT NULL,
        source TEXT NOT NULL,
        sender_delivery_id TEXT,
        outcome TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        tag TEXT,
        digest TEXT,
        deploy_id INTEGER
      );
      CREATE INDEX webhook_deliveries_service ON webhook_deliveries (service, destination, n);
      CREATE INDEX webhook_deliveries_sender ON webhook_deliveries (service, destination, source, sender_delivery_id);
    `,
  },
  {
    version: 5,
    sql: `
      CREATE TABLE cron_runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        service TEXT NOT NULL,
        destination TEXT NOT NULL,
        job TEXT NOT NULL,
        trigger TEXT NOT NULL,
        attempt INTEGER NOT NULL DEFAULT 1,
        scheduled_at INTEGER,
        started_at INTEGER NOT NULL,
        ended_at INTEGER,
        outcome TEXT NOT NULL,
        exit_code INTEGER,
        reason TEXT NOT NULL DEFAULT '',
        release TEXT NOT NULL,
        image TEXT NOT NULL,
        output TEXT NOT NULL DEFAULT '',
        output_truncated INTEGER NOT NULL DEFAULT 0,
        notify TEXT
      );
      CREATE INDEX cron_runs_job ON cron_runs (service, destination, job, id);
      CREATE INDEX cron_runs_outcome ON cron_runs (outcome);
      CREATE TABLE cron_state (
        service TEXT NOT NULL,
        destination TEXT NOT NULL,
        job TEXT NOT NULL,
        paused INTEGER NOT NULL DEFAULT 0,
        last_slot INTEGER,
        since INTEGER NOT NULL,
        PRIMARY KEY (service, destination, job)
      );
    `,
  },
  {
    version: 6,
    sql: `
      CREATE TABLE backups (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        service TEXT NOT NULL,
        destination TEXT NOT NULL,
        backup TEXT NOT NULL,
        kind TEXT NOT NULL,
        trigger TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        ended_at INTEGER,
        outcome TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        file TEXT,
        size INTEGER,
        raw_size INTEGER,
        sha256 TEXT,
        plain_sha256 TEXT,
        compression TEXT NOT NULL,
        recipient TEXT,
        release TEXT,
        for_release TEXT,
        image TEXT,
        verify TEXT,
        verify_output TEXT NOT NULL DEFAULT '',
        notify TEXT,
        stored INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX backups_name ON backups (service, destination, backup, id);
      CREATE INDEX backups_outcome ON backups (outcome);
      CREATE TABLE backup_state (
        service TEXT NOT NULL,
        destination TEXT NOT NULL,
        backup TEXT NOT NULL,
        last_slot INTEGER,
        since INTEGER NOT NULL,
        PRIMARY KEY (service, destination, backup)
      );
    `,
  },
  {
    version: 7,
    // TLS certificates the agent serves through the router (agent/tls/): PEM
    // bytes stay in 0600 files under <state>/tls/, never here.
    sql: `
      CREATE TABLE certificates (
        id TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        hosts TEXT NOT NULL,
        service TEXT NOT NULL,
        destination TEXT NOT NULL,
        not_before INTEGER NOT NULL,
        not_after INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        issuer TEXT NOT NULL,
        issued_at INTEGER NOT NULL,
        renew_after INTEGER NOT NULL,
        failures INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER,
        last_error TEXT
      );
    `,
  },
  {
    version: 8,
    sql: `
      CREATE TABLE pauses (
        service TEXT NOT NULL,
        destination TEXT NOT NULL,
        key_id TEXT NOT NULL,
        timeout REAL NOT NULL,
        since TEXT NOT NULL,
        PRIMARY KEY (service, destination)
      );
    `,
  },
  {
    // Issue 14: roles stopped by `deploy app stop` (agent/store/app-state-repo.ts).
    version: 9,
    sql: `
      CREATE TABLE app_stopped (
        service TEXT NOT NULL,
        destination TEXT NOT NULL,
        role TEXT NOT NULL,
        route TEXT,
        deploy_id INTEGER NOT NULL,
        key_id TEXT NOT NULL,
        since TEXT NOT NULL,
        PRIMARY KEY (service, destination, role)
      );
    `,
  },
];
