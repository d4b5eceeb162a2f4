-- The canonical model: a public contract (documented in docs/data-model.md).
-- Users and scheduled scripts query these tables directly, so names only ever grow.
-- Every statement is idempotent: applied on each open of the database.

CREATE SEQUENCE IF NOT EXISTS import_id_seq START 1;

-- One row per upload that landed (refused uploads leave no trace in the database).
CREATE TABLE IF NOT EXISTS imports (
    import_id      BIGINT PRIMARY KEY DEFAULT nextval('import_id_seq'),
    file_name      VARCHAR NOT NULL,
    sha256         VARCHAR NOT NULL,
    stored_path    VARCHAR,
    kind           VARCHAR NOT NULL,
    source_format  VARCHAR NOT NULL,
    encoding       VARCHAR,
    delimiter      VARCHAR,
    as_of_date     DATE NOT NULL,
    rows_read      BIGINT NOT NULL,
    rows_loaded    BIGINT NOT NULL,
    rows_rejected  BIGINT NOT NULL,
    rows_inserted  BIGINT,
    rows_updated   BIGINT,
    started_at     TIMESTAMP NOT NULL,
    finished_at    TIMESTAMP NOT NULL
);

-- Current state of every opportunity: the row from the export with the latest as-of date.
-- opportunity_id is unique (kept so by the importer; no index, so a million-row load stays fast).
CREATE TABLE IF NOT EXISTS opportunities (
    opportunity_id    VARCHAR NOT NULL,
    opportunity_name  VARCHAR,
    account           VARCHAR,
    owner             VARCHAR,            -- NULL when the export carries no owner
    stage             VARCHAR NOT NULL,   -- canonical stage (settings: stages)
    source_stage      VARCHAR,            -- the stage as the CRM wrote it
    amount            DECIMAL(18, 2),
    currency          VARCHAR,
    probability       DOUBLE,             -- percent, 0-100
    forecast_category VARCHAR,
    created_date      DATE,
    close_date        DATE,
    is_closed         BOOLEAN NOT NULL,
    is_won            BOOLEAN NOT NULL,
    lead_source       VARCHAR,
    deal_type         VARCHAR,
    product           VARCHAR,
    snapshot_date     DATE NOT NULL,      -- as-of date of the export this row came from
    import_id         BIGINT NOT NULL
);

-- Every opportunities upload, kept whole as of its as-of date: "the pipeline as we knew it on
-- day N" is the view `opportunity_snapshots` below. Stored once (issue 15.1): each deal's
-- newest snapshot row IS its row in `opportunities` (same columns, with its snapshot_date
-- and import_id); this table holds only the others, the rows a newer export of the deal
-- has since superseded. An import writes each row once: a new deal's row goes only to
-- `opportunities`, and a deal's previous current row moves here when a newer export
-- replaces it. Read `opportunity_snapshots`, not this table.
CREATE TABLE IF NOT EXISTS opportunity_snapshot_history (
    snapshot_date     DATE NOT NULL,
    opportunity_id    VARCHAR NOT NULL,
    opportunity_name  VARCHAR,
    account           VARCHAR,
    owner             VARCHAR,
    stage             VARCHAR NOT NULL,
    source_stage      VARCHAR,
    amount            DECIMAL(18, 2),
    currency          VARCHAR,
    probability       DOUBLE,
    forecast_category VARCHAR,
    created_date      DATE,
    close_date        DATE,
    is_closed         BOOLEAN NOT NULL,
    is_won            BOOLEAN NOT NULL,
    lead_source       VARCHAR,
    deal_type         VARCHAR,
    product           VARCHAR,
    import_id         BIGINT NOT NULL,
    lead_id           VARCHAR,
    sdr               VARCHAR,
    bant_budget       BOOLEAN,
    bant_authority    BOOLEAN,
    bant_need         BOOLEAN,
    bant_timing       BOOLEAN
    -- (snapshot_date, opportunity_id) is unique across this table and `opportunities`, and
    -- every row here is older than the deal's row in `opportunities` (kept so by the importer)
);

-- BANT qualification flags (budget, authority, need, timing) on deals and their snapshots.
-- NULL: the export had no such column; FALSE: it had one and the deal is not qualified on
-- it (a blank cell included). Added by ALTER so old files gain them and every file lists
-- the columns in the same order.
-- where the as-of date came from: given | file name | column | content | today (issue 12.4)
ALTER TABLE imports ADD COLUMN IF NOT EXISTS as_of_source VARCHAR;
-- the lead a deal came from, and the SDR who passed it on (issue 12.6: leads + deals files)
ALTER TABLE opportunities ADD COLUMN IF NOT EXISTS lead_id VARCHAR;
ALTER TABLE opportunities ADD COLUMN IF NOT EXISTS sdr VARCHAR;
ALTER TABLE opportunities ADD COLUMN IF NOT EXISTS bant_budget BOOLEAN;
ALTER TABLE opportunities ADD COLUMN IF NOT EXISTS bant_authority BOOLEAN;
ALTER TABLE opportunities ADD COLUMN IF NOT EXISTS bant_need BOOLEAN;
ALTER TABLE opportunities ADD COLUMN IF NOT EXISTS bant_timing BOOLEAN;

-- The pipeline as we knew it on each as-of date: one row per (snapshot_date, opportunity_id),
-- every opportunities upload whole (a re-export of the same day replaces its deals' rows).
-- The superseded rows plus each deal's current row; the column order of the table it was
-- until issue 15.1, so `SELECT *` reads as before.
CREATE OR REPLACE VIEW opportunity_snapshots AS
SELECT snapshot_date, opportunity_id, opportunity_name, account, owner, stage, source_stage,
       amount, currency, probability, forecast_category, created_date, close_date, is_closed,
       is_won, lead_source, deal_type, product, import_id, lead_id, sdr, bant_budget,
       bant_authority, bant_need, bant_timing
FROM opportunity_snapshot_history
UNION ALL
SELECT snapshot_date, opportunity_id, opportunity_name, account, owner, stage, source_stage,
       amount, currency, probability, forecast_category, created_date, close_date, is_closed,
       is_won, lead_source, deal_type, product, import_id, lead_id, sdr, bant_budget,
       bant_authority, bant_need, bant_timing
FROM opportunities;

-- Stage changes as the CRM recorded them (Salesforce OpportunityHistory, HubSpot
-- "Date entered ..." columns). Read opportunity_stage_history (the view below) instead.
CREATE TABLE IF NOT EXISTS stage_history_imported (
    opportunity_id  VARCHAR NOT NULL,
    stage           VARCHAR NOT NULL,     -- canonical stage
    source_stage    VARCHAR,
    entered_at      TIMESTAMP NOT NULL,
    amount          DECIMAL(18, 2),
    import_id       BIGINT NOT NULL,
    PRIMARY KEY (opportunity_id, stage, entered_at)
);

-- Stage history: the CRM's own where an opportunity has any, otherwise derived from the
-- snapshots (a row whenever a snapshot shows a stage other than the previous snapshot's).
-- A derived row carries no amount: its amount is its export's, and a day's amount comes
-- from the export nearest it (analytics/pointintime.py, NEAREST_EXPORT), which is that
-- export or a newer one; carried here, the older export's amount (and the newer one's
-- currency) won on every stage-history day between exports.
-- A view, so a million-row snapshot import pays nothing for it. Every step is per
-- opportunity (deals with CRM history are dropped whole before the window, which
-- partitions by opportunity), so a filter or join on opportunity_id reaches both tables'
-- scans instead of deriving every deal's snapshot history first.
CREATE OR REPLACE VIEW opportunity_stage_history AS
WITH snapshot_stages AS (
    SELECT s.opportunity_id, s.stage, s.source_stage, s.snapshot_date, s.import_id,
           lag(s.stage) OVER (PARTITION BY s.opportunity_id ORDER BY s.snapshot_date)
               AS previous_stage
    FROM opportunity_snapshots AS s
    ANTI JOIN stage_history_imported AS h ON h.opportunity_id = s.opportunity_id
)
SELECT opportunity_id, stage, source_stage, entered_at, amount, 'history' AS origin, import_id
FROM stage_history_imported
UNION ALL
SELECT opportunity_id, stage, source_stage, CAST(snapshot_date AS TIMESTAMP) AS entered_at,
       CAST(NULL AS DECIMAL(18, 2)) AS amount, 'snapshot' AS origin, import_id
FROM snapshot_stages
WHERE previous_stage IS DISTINCT FROM stage;

CREATE TABLE IF NOT EXISTS reps (
    rep        VARCHAR PRIMARY KEY,       -- the owner name exactly as it appears on deals
    manager    VARCHAR,
    team       VARCHAR,
    region     VARCHAR,
    role       VARCHAR,                   -- SDR / AE / CSM / manager
    level      VARCHAR,                   -- junior / senior / ...
    hire_date  DATE,
    active     BOOLEAN NOT NULL DEFAULT TRUE,
    import_id  BIGINT NOT NULL
);

-- activity_id is unique (kept so by the importer; no index: activity logs are large).
CREATE TABLE IF NOT EXISTS activities (
    activity_id       VARCHAR NOT NULL,
    owner             VARCHAR NOT NULL,
    activity_type     VARCHAR NOT NULL,   -- call, email, meeting, demo, admin, training, ...
    started_at        TIMESTAMP NOT NULL,
    duration_minutes  DOUBLE,
    opportunity_id    VARCHAR,
    lead_id           VARCHAR,
    account           VARCHAR,
    subject           VARCHAR,
    import_id         BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS leads (
    lead_id            VARCHAR PRIMARY KEY,
    created_at         TIMESTAMP NOT NULL,
    owner              VARCHAR,
    source             VARCHAR,
    status             VARCHAR,
    company            VARCHAR,
    first_response_at  TIMESTAMP,
    converted_at       TIMESTAMP,
    opportunity_id     VARCHAR,
    import_id          BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS lead_events (
    lead_id      VARCHAR NOT NULL,
    event_type   VARCHAR NOT NULL,
    occurred_at  TIMESTAMP NOT NULL,
    import_id    BIGINT NOT NULL,
    PRIMARY KEY (lead_id, event_type, occurred_at)
);

CREATE TABLE IF NOT EXISTS quotas (
    owner         VARCHAR NOT NULL,
    period_start  DATE NOT NULL,
    period_end    DATE NOT NULL,
    amount        DECIMAL(18, 2) NOT NULL,
    import_id     BIGINT NOT NULL,
    PRIMARY KEY (owner, period_start, period_end)
);

CREATE TABLE IF NOT EXISTS forecast_submissions (
    owner         VARCHAR NOT NULL,
    period_start  DATE NOT NULL,
    period_end    DATE NOT NULL,
    category      VARCHAR NOT NULL,       -- commit / best case / pipeline
    amount        DECIMAL(18, 2) NOT NULL,
    submitted_at  TIMESTAMP NOT NULL,
    import_id     BIGINT NOT NULL,
    PRIMARY KEY (owner, period_start, period_end, category, submitted_at)
);

-- Dated exchange rates: one unit of `currency` is worth `rate` units of the reporting
-- currency (settings key `reporting_currency`) from `rate_date` until the next rate.
CREATE TABLE IF NOT EXISTS fx_rates (
    currency   VARCHAR NOT NULL,
    rate_date  DATE NOT NULL,
    rate       DECIMAL(18, 8) NOT NULL,
    import_id  BIGINT NOT NULL,
    PRIMARY KEY (currency, rate_date)
);

-- Rows refused by an import run with --keep-valid (partial load), with the reason.
CREATE TABLE IF NOT EXISTS quarantine (
    import_id   BIGINT NOT NULL,
    line        BIGINT,                   -- line in the file (the header is line 1)
    column_name VARCHAR,
    value       VARCHAR,
    problem     VARCHAR NOT NULL
);

-- Rows that loaded but look unlikely (an activity longer than a week, a deal that closed
-- before it was created): listed with the import, removed with its rollback.
CREATE TABLE IF NOT EXISTS import_warnings (
    import_id   BIGINT NOT NULL,
    line        BIGINT,                   -- line in the file (the header is line 1)
    column_name VARCHAR,
    value       VARCHAR,
    warning     VARCHAR NOT NULL
);
-- Rows of the import carrying at least one warning (NULL: imported before warnings existed).
ALTER TABLE imports ADD COLUMN IF NOT EXISTS rows_warned BIGINT;
-- records an import replaced by an equal version, plus rows older than the stored state
-- (rows_updated keeps counting every replaced record: rollback restores that many)
ALTER TABLE imports ADD COLUMN IF NOT EXISTS rows_unchanged BIGINT;
-- A deals file without a stage column: a won-deal list (every row a win) or an update of
-- some fields of stored deals. It says nothing about the rest of the pipeline on its day,
-- so its date is no pipeline snapshot (analytics.pointintime.snapshot_dates). NULL: an
-- import from before this column, or another kind.
ALTER TABLE imports ADD COLUMN IF NOT EXISTS partial BOOLEAN;

-- Settings as data (stage list, later scoring rules and plans): key -> JSON document.
CREATE TABLE IF NOT EXISTS settings (
    key         VARCHAR PRIMARY KEY,
    value       JSON NOT NULL,
    updated_at  TIMESTAMP NOT NULL DEFAULT current_timestamp
);

-- Local sign-in accounts (`python -m analytics users add ...`). Only an argon2id hash of
-- the password is kept. Accounts signing in through OpenID Connect get their role from
-- the roles file instead (docs/data-model.md, README "Accounts and roles").
CREATE TABLE IF NOT EXISTS users (
    email          VARCHAR PRIMARY KEY,   -- the sign-in name, lower case
    role           VARCHAR NOT NULL,      -- ops / executive / manager / rep
    team           VARCHAR,               -- manager: the team they see (reps.team)
    person         VARCHAR,               -- rep: owner name on deals; manager: reps.manager
    password_hash  VARCHAR NOT NULL,      -- argon2id (argon2-cffi), never the password
    created_at     TIMESTAMP NOT NULL,
    updated_at     TIMESTAMP NOT NULL
);

-- Who did what, when: sign-ins (ok and refused), sign-outs, uploads, plan edits, runs,
-- period locks and account changes. Append-only: nothing updates or deletes a row.
CREATE SEQUENCE IF NOT EXISTS audit_id_seq START 1;
CREATE TABLE IF NOT EXISTS audit_log (
    audit_id  BIGINT DEFAULT nextval('audit_id_seq'),
    logged_at TIMESTAMP NOT NULL,
    actor     VARCHAR NOT NULL,           -- e-mail, 'command line' or 'local (open mode)'
    action    VARCHAR NOT NULL,           -- see analytics/audit.py ACTIONS
    detail    JSON                        -- what: file and rows, plan version, month, ...
);

-- Figures kept up to date by every import, rollback and writable open instead of being
-- recounted on each page view (analytics/metrics/derived.py). Derived: never edit them;
-- `derived_tables` records what each was counted from, and a stale one is not used.
CREATE TABLE IF NOT EXISTS derived_tables (
    name          VARCHAR PRIMARY KEY,
    source_stamp  VARCHAR NOT NULL        -- row counts and newest import ids of its sources
);

-- Every won deal with a close date and its touches: activities linked to it up to the end
-- of its close day. In close-date order.
CREATE TABLE IF NOT EXISTS won_deal_touches (
    opportunity_id  VARCHAR NOT NULL,
    owner           VARCHAR,
    close_date      DATE NOT NULL,
    touches         BIGINT NOT NULL
);

-- Every imported stage change (stage_history_imported) with the day it was entered and the day
-- the deal's next change was entered ('infinity' when none: it still holds), and whether it is
-- the deal's first. Read by the point-in-time totals (analytics/pointintime.py) instead of a
-- window over every change. Counted again for the deals an import touched.
CREATE TABLE IF NOT EXISTS stage_history_spans (
    opportunity_id  VARCHAR NOT NULL,
    stage           VARCHAR NOT NULL,
    amount          DECIMAL(18, 2),       -- as recorded with the change (NULL: not recorded)
    from_day        DATE NOT NULL,
    to_day          DATE NOT NULL,        -- the next change's day; 'infinity' when none
    first_change    BOOLEAN NOT NULL
);

-- Activities and their minutes per calendar month, owner and activity type.
CREATE TABLE IF NOT EXISTS activity_months (
    month          DATE NOT NULL,         -- first day of the month
    owner          VARCHAR NOT NULL,
    activity_type  VARCHAR NOT NULL,
    activities     BIGINT NOT NULL,
    minutes        DOUBLE                 -- NULL when none of them has a duration
);
