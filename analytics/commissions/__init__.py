"""Commission payouts: plans as data, explainable statements, what-if, approval.

- `plans`: the plan model (versioned, effective-dated), validation, storage, default plan;
- `engine`: credited deals, quotas and each rep's statement lines for a month;
- `statements`: the sentence explaining a total, run-to-run diffs, what-if, exports;
- `approval`: recorded runs, period locks (frozen statements) and the payroll table;
- `data`: the rows ops keep beside the CRM exports (splits, SPIFFs, draws, refunds).

Definitions: docs/metrics.md (Commissions).
"""
