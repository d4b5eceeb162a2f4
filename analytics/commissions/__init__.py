"""Commission payouts: plans as data, explainable statements, what-if, approval.

- `plans`: the plan model (versioned, effective-dated), JSON, validation, storage, default
  plan;
- `plan_rows`: a plan's rules as a table editor's flat rows (tiers as text) and back;
- `cents`: rounding to the cent, parts that add up to their whole;
- `credits`: which rep is credited with how much of each won deal (splits, currencies);
- `tiers`: quota, tiers, accelerators, threshold/decelerator and cap -> commission lines;
- `spiffs`, `clawbacks`, `corrections`, `draws`: the adjustments, one module each (SPIFFs,
  clawbacks of reversed deals, corrections of locked months, draws);
- `lines`: the lines a statement is made of, the statement, stored runs;
- `engine`: the `Ledger`, which feeds each month's data through the above;
- `team`: the team table (one row per rep over a period) of the page and the report;
- `statements`: the sentence explaining a total, run-to-run diffs, what-if, exports;
- `approval`: recorded runs, period locks (frozen statements) and the payroll table;
- `payroll`: the payroll table as a frame (summary or every line) for `report commissions`;
- `data`: the rows ops keep beside the CRM exports (splits, SPIFFs, draws, refunds).

Definitions: docs/metrics.md (Commissions).
"""
