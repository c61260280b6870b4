"""The state DB schema as an ordered list of forward migrations.

Migration N (1-based) moves the schema from version N-1 to N. Each is a tuple
of statements run in one transaction together with the version bump, so a
crash or a second process starting at the same time never sees half a schema.
To add tables, append a migration; never edit one that has shipped.
"""

from __future__ import annotations

Migration = tuple[str, ...]

MIGRATIONS: tuple[Migration, ...] = (
    # 1: a one-row table /ready writes to; authentication: rotating refresh
    # tokens, login throttling, audit trail.
    (
        "CREATE TABLE write_probe (id INTEGER PRIMARY KEY CHECK (id = 1), at REAL NOT NULL)",
        """
        CREATE TABLE refresh_families (
            id          TEXT PRIMARY KEY,
            user_id     INTEGER NOT NULL,
            created_at  REAL NOT NULL,
            revoked_at  REAL,
            revoked_why TEXT
        )
        """,
        "CREATE INDEX refresh_families_user ON refresh_families (user_id)",
        """
        CREATE TABLE refresh_tokens (
            token_sha256 TEXT PRIMARY KEY,
            family_id    TEXT NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
            user_id      INTEGER NOT NULL,
            issued_at    REAL NOT NULL,
            expires_at   REAL NOT NULL,
            spent_at     REAL
        )
        """,
        "CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id)",
        "CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at)",
        """
        CREATE TABLE login_failures (
            scope TEXT NOT NULL CHECK (scope IN ('account', 'client')),
            key   TEXT NOT NULL,
            at    REAL NOT NULL
        )
        """,
        "CREATE INDEX login_failures_key ON login_failures (scope, key, at)",
        """
        CREATE TABLE auth_events (
            id         INTEGER PRIMARY KEY AUTOINCREMENT,
            at         REAL NOT NULL,
            event      TEXT NOT NULL,
            outcome    TEXT NOT NULL,
            user_id    INTEGER,
            email_hash TEXT,
            client     TEXT,
            request_id TEXT
        )
        """,
        "CREATE INDEX auth_events_at ON auth_events (at)",
    ),
    # 2: backup: every run/verify/restore/drill/prune and its outcome, and the
    # snapshots each target holds (sizes, when last verified).
    (
        """
        CREATE TABLE backup_runs (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            action      TEXT NOT NULL
                        CHECK (action IN ('run', 'verify', 'restore', 'drill', 'prune')),
            target      TEXT,
            snapshot_id TEXT,
            started_at  REAL NOT NULL,
            finished_at REAL NOT NULL,
            ok          INTEGER NOT NULL,
            bytes       INTEGER,
            detail      TEXT
        )
        """,
        "CREATE INDEX backup_runs_action ON backup_runs (action, ok, finished_at)",
        """
        CREATE TABLE backup_snapshots (
            target      TEXT NOT NULL,
            snapshot_id TEXT NOT NULL,
            created_at  REAL NOT NULL,
            size        INTEGER NOT NULL,
            new_bytes   INTEGER NOT NULL,
            files       INTEGER NOT NULL,
            verified_at REAL,
            PRIMARY KEY (target, snapshot_id)
        )
        """,
    ),
    # 3: deploy: the release in each blue/green slot and which one serves, and
    # the history of deploys and rollbacks (what, when, by whom, outcome, timings).
    (
        """
        CREATE TABLE deploy_slots (
            slot         TEXT PRIMARY KEY CHECK (slot IN ('blue', 'green')),
            release_id   TEXT NOT NULL,
            version      TEXT NOT NULL,
            web_root     TEXT,
            commit_time  REAL,
            installed_at REAL NOT NULL,
            active       INTEGER NOT NULL DEFAULT 0
        )
        """,
        """
        CREATE TABLE deploy_history (
            id             INTEGER PRIMARY KEY AUTOINCREMENT,
            kind           TEXT NOT NULL CHECK (kind IN ('deploy', 'rollback')),
            release_id     TEXT NOT NULL,
            version        TEXT NOT NULL,
            previous_id    TEXT,
            slot           TEXT NOT NULL,
            actor          TEXT NOT NULL,
            started_at     REAL NOT NULL,
            switched_at    REAL,
            finished_at    REAL,
            outcome        TEXT CHECK (outcome IN ('success', 'rolled_back', 'failed')),
            reason         TEXT,
            commit_time    REAL,
            reverted_at    REAL
        )
        """,
        "CREATE INDEX deploy_history_started ON deploy_history (started_at)",
    ),
    # 4: the agent: every scheduled job run (gristops agent, or a systemd timer
    # running `gristops agent --job NAME`) and its outcome.
    (
        """
        CREATE TABLE agent_runs (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            job         TEXT NOT NULL,
            command     TEXT NOT NULL,
            started_at  REAL NOT NULL,
            finished_at REAL NOT NULL,
            outcome     TEXT NOT NULL
                        CHECK (outcome IN ('success', 'failed', 'timeout', 'killed', 'error')),
            exit_code   INTEGER,
            output      TEXT
        )
        """,
        "CREATE INDEX agent_runs_job ON agent_runs (job, finished_at)",
    ),
    # 5: tls: how each certificate was issued (CA, names, method) so renewal
    # replays it, and the outcome of the last attempt.
    (
        """
        CREATE TABLE tls_certificates (
            name            TEXT PRIMARY KEY,
            domains         TEXT NOT NULL,
            directory_url   TEXT NOT NULL,
            method          TEXT NOT NULL,
            account_url     TEXT,
            serial          TEXT,
            not_before      REAL,
            not_after       REAL,
            issued_at       REAL,
            ari_renew_at    REAL,
            last_attempt_at REAL,
            last_outcome    TEXT CHECK (last_outcome IN ('issued', 'renewed', 'failed')),
            last_error      TEXT
        )
        """,
    ),
    # 6: scan: each `gristops scan` run, its findings per severity and the worst few.
    (
        """
        CREATE TABLE scan_runs (
            id           INTEGER PRIMARY KEY AUTOINCREMENT,
            started_at   REAL NOT NULL,
            finished_at  REAL NOT NULL,
            url          TEXT,
            low          INTEGER NOT NULL,
            medium       INTEGER NOT NULL,
            high         INTEGER NOT NULL,
            critical     INTEGER NOT NULL,
            top_findings TEXT NOT NULL,
            skipped      TEXT NOT NULL
        )
        """,
        "CREATE INDEX scan_runs_finished ON scan_runs (finished_at)",
    ),
    # 7: the status page's request history: per minute, what every gateway
    # worker served (counts, 5xx, latency sum and cumulative buckets as JSON),
    # and where each running gateway's sampling stands.
    (
        """
        CREATE TABLE request_minutes (
            minute       INTEGER PRIMARY KEY,
            requests     REAL NOT NULL,
            errors       REAL NOT NULL,
            duration_sum REAL NOT NULL,
            buckets      TEXT NOT NULL
        )
        """,
        # The totals each running gateway last sampled: a worker taking over the
        # sampling goes on from there.
        """
        CREATE TABLE request_baselines (
            gateway TEXT PRIMARY KEY,
            at      REAL NOT NULL,
            totals  TEXT NOT NULL
        )
        """,
    ),
    # 8: gitops: every reconcile pass (what was fetched, what it was reconciled
    # toward, what differed, the outcome); a row with bad = 1 marks its commit as
    # one whose deploy failed, not retried until a newer commit arrives.
    (
        """
        CREATE TABLE gitops_runs (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            started_at  REAL NOT NULL,
            finished_at REAL NOT NULL,
            trigger     TEXT NOT NULL,
            head_sha    TEXT,
            commit_sha  TEXT,
            outcome     TEXT NOT NULL CHECK (outcome IN ('applied', 'in_sync', 'drift',
                        'reverted', 'rolled_back', 'failed', 'refused', 'skipped')),
            bad         INTEGER NOT NULL DEFAULT 0,
            release_id  TEXT,
            changes     TEXT NOT NULL DEFAULT '',
            diff        TEXT NOT NULL DEFAULT '',
            reason      TEXT
        )
        """,
        "CREATE INDEX gitops_runs_commit ON gitops_runs (commit_sha, bad)",
    ),
    # 9: the signing keys of access tokens (Ed25519, PKCS#8 PEM), shared by every
    # gateway that uses this state DB; they were files in data_dir/keys before.
    (
        """
        CREATE TABLE signing_keys (
            kid        TEXT PRIMARY KEY,
            pem        TEXT NOT NULL,
            created_at REAL NOT NULL
        )
        """,
    ),
    # 10: which token a refresh token was spent for, so that a retried refresh (its
    # answer lost with a gateway) can supersede a successor nobody has used.
    ("ALTER TABLE refresh_tokens ADD COLUMN successor_sha256 TEXT",),
)
