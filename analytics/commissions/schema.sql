-- Commission payouts (issue 6): plans, runs, frozen statements, locks and the data ops
-- keep beside the CRM exports (credit splits, SPIFFs, draws, refunds/churn).
-- Applied idempotently by analytics.commissions.schema.ensure_schema(con) from every
-- commissions entry point, so an old database picks the tables up on first use.
-- Money is DECIMAL(18,2) in the reporting currency; shares and rates are fractions (0.1 = 10%).

-- Plan versions: append-only. The version effective for a month is the one with the latest
-- effective_from on or before the month's first day (ties: the higher version number).
CREATE TABLE IF NOT EXISTS commission_plans (
    version         INTEGER PRIMARY KEY,
    effective_from  DATE NOT NULL,        -- always the first day of a month
    name            VARCHAR NOT NULL,
    document        JSON NOT NULL,        -- the plan (see analytics/commissions/plans.py)
    saved_at        TIMESTAMP NOT NULL DEFAULT current_timestamp,
    saved_by        VARCHAR,
    note            VARCHAR
);

CREATE SEQUENCE IF NOT EXISTS commission_run_id_seq START 1;

-- A stored computation of every rep's statement for one month: kind 'run' (recorded to
-- compare later: "why did my payout change") or 'lock' (the approved, frozen statement).
CREATE TABLE IF NOT EXISTS commission_runs (
    run_id        BIGINT PRIMARY KEY DEFAULT nextval('commission_run_id_seq'),
    period_start  DATE NOT NULL,
    period_label  VARCHAR NOT NULL,
    kind          VARCHAR NOT NULL,       -- run / lock
    created_at    TIMESTAMP NOT NULL,
    created_by    VARCHAR,
    note          VARCHAR
);

-- One row per rep per run: the statement's header.
CREATE TABLE IF NOT EXISTS commission_run_reps (
    run_id             BIGINT NOT NULL,
    rep                VARCHAR NOT NULL,
    plan_name          VARCHAR,
    plan_version       INTEGER,
    role               VARCHAR,
    level              VARCHAR,
    quota              DECIMAL(18, 2),
    quota_source       VARCHAR,
    credited_bookings  DECIMAL(18, 2) NOT NULL,
    PRIMARY KEY (run_id, rep)
);

-- The statement lines of a run, in order. line_key identifies a line across runs
-- (deal + band, base, cap, SPIFF + deal, ...) so two runs can be compared line by line;
-- home_period is the month whose data produced the line (an adjustment's locked month).
CREATE TABLE IF NOT EXISTS commission_statement_lines (
    run_id          BIGINT NOT NULL,
    rep             VARCHAR NOT NULL,
    line_no         INTEGER NOT NULL,
    kind            VARCHAR NOT NULL,     -- base commission cap spiff clawback adjustment draw note
    line_key        VARCHAR NOT NULL,
    home_period     VARCHAR NOT NULL,
    opportunity_id  VARCHAR,
    description     VARCHAR NOT NULL,
    deal_amount     DECIMAL(18, 2),
    share           DECIMAL(18, 12),
    credited        DECIMAL(18, 2),
    band            VARCHAR,
    rate            DECIMAL(18, 8),
    multiplier      DECIMAL(18, 8),
    amount          DECIMAL(18, 2) NOT NULL,
    PRIMARY KEY (run_id, rep, line_no)
);

-- Approved months. A locked month's statements are the lines of its lock run, for ever.
CREATE TABLE IF NOT EXISTS commission_locks (
    period_start  DATE PRIMARY KEY,
    period_label  VARCHAR NOT NULL,
    run_id        BIGINT NOT NULL,
    locked_at     TIMESTAMP NOT NULL,
    locked_by     VARCHAR
);

-- Split credit: who shares a deal's credit. Without rows, the owner gets all of it.
-- The shares of one deal sum to 1 (checked on save).
CREATE TABLE IF NOT EXISTS credit_splits (
    opportunity_id  VARCHAR NOT NULL,
    rep             VARCHAR NOT NULL,
    share           DECIMAL(18, 12) NOT NULL,
    PRIMARY KEY (opportunity_id, rep)
);

-- SPIFFs: a bonus per won deal closed between start_date and end_date (a product's, or
-- any deal's when product is NULL), for reps of a role/level (NULL = any): amount_per_deal
-- times the rep's credit share, plus rate times the rep's credited amount.
CREATE TABLE IF NOT EXISTS spiffs (
    spiff_id         VARCHAR PRIMARY KEY,
    name             VARCHAR NOT NULL,
    product          VARCHAR,
    role             VARCHAR,
    level            VARCHAR,
    start_date       DATE NOT NULL,
    end_date         DATE NOT NULL,
    amount_per_deal  DECIMAL(18, 2) NOT NULL DEFAULT 0,
    rate             DECIMAL(18, 8) NOT NULL DEFAULT 0,
    min_amount       DECIMAL(18, 2)
);

-- Draws: a monthly minimum paid against commission from start_month to end_month (NULL =
-- open). Recoverable: the top-up is an advance, recovered from later months' excess.
CREATE TABLE IF NOT EXISTS draws (
    rep          VARCHAR NOT NULL,
    start_month  DATE NOT NULL,
    end_month    DATE,
    amount       DECIMAL(18, 2) NOT NULL,
    recoverable  BOOLEAN NOT NULL,
    PRIMARY KEY (rep, start_month)
);

-- Refunds and churn that CRM exports do not carry (a won deal that became lost is found in
-- the snapshots by itself). share = the part of the deal reversed (1 = all of it).
CREATE TABLE IF NOT EXISTS commission_reversals (
    event_id        VARCHAR PRIMARY KEY,
    opportunity_id  VARCHAR NOT NULL,
    event_date      DATE NOT NULL,
    kind            VARCHAR NOT NULL,     -- refund / churn / lost
    share           DECIMAL(18, 12) NOT NULL DEFAULT 1,
    note            VARCHAR
);
