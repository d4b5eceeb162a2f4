"""Problems grouped (issue 12.3): one report line per column and problem, with the count,
the first five rows and up to five distinct values; the row-level detail stays available
(ImportResult.problems, the quarantine table, the Data page's validation report)."""

from __future__ import annotations

import csv

from analytics.ingest.problems import Problem, ProblemGroup, group_list


def test_thousands_of_identical_problems_are_one_line(tmp_path, run_import, fingerprint):
    path = tmp_path / "deals.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["opportunity_id", "stage", "amount"])
        for i in range(4346):
            writer.writerow([f"D{i}", "Discovery", f"bad{i % 9}"])
    before = fingerprint()

    result = run_import(path)

    assert result.status == "refused"
    report = result.message.splitlines()
    assert len(report) == 2
    assert report[1] == (
        "  deals.csv, column 'amount': is not an amount (4,346 rows: 2, 3, 4, 5, 6, ...); "
        "values 'bad0', 'bad1', 'bad2', 'bad3', 'bad4' and 4 more"
    )
    assert len(result.problems) == 50  # row-level detail kept
    assert fingerprint() == before


def test_keep_valid_groups_the_report_and_quarantines_every_row(tmp_path, run_import, con):
    path = tmp_path / "deals.csv"
    rows = ["opportunity_id,stage,amount,close_date"]
    rows += [f"D{i},Discovery,{'x' if i < 7 else 5},2024-01-0{1 + i % 9}" for i in range(10)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")

    result = run_import(path, keep_valid=True)

    assert result.status == "partial"
    assert result.message.count("is not an amount") == 1
    assert "(7 rows: 2, 3, 4, 5, 6, ...); value 'x'" in result.message
    assert con.execute("SELECT count(*) FROM quarantine").fetchone() == (7,)


def test_group_of_whole_file_problems_in_python():
    problems = [
        Problem("f.csv", 3, "amount", "a", "is bad"),
        Problem("f.csv", 5, "amount", "b", "is bad"),
        Problem("f.csv", 4, "amount", "a", "is bad"),
        Problem("f.csv", None, None, None, "cannot be read"),
    ]

    groups = group_list(problems)

    assert groups == [
        ProblemGroup("f.csv", "amount", "is bad", 3, (3, 4, 5), ("a", "b"), 2),
        ProblemGroup("f.csv", None, "cannot be read", 1, (), (), 0),
    ]
    described = groups[0].describe()
    assert described == "f.csv, column 'amount': is bad (3 rows: 3, 4, 5); values 'a', 'b'"
    assert groups[1].describe() == "f.csv: cannot be read"
