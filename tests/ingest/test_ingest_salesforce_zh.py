"""A Salesforce export with the UI in Simplified Chinese loads with no settings edited.

The labels (`analytics/ingest/formats/salesforce_report_zh.toml`) are Salesforce's own
zh_CN field labels, as a saved zh_CN Salesforce page lists them beside the API names.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from analytics import db
from analytics.ingest import import_file

HEADER = (
    "业务机会 ID,业务机会名,客户名,业务机会所有人,阶段,金额,可能性 (%),"
    "创建日期,结束日期,潜在客户来源,类型"
)
ROWS = [
    "006A1,华东扩容,上海某公司,王伟,Prospecting,120000,10,2026-09-01,2026-12-15,Web,New Customer",
    "006A2,续约,北京某公司,李娜,Closed Won,80000,100,2026-08-01,2026-10-20,Partner,Existing",
    "006A3,试点,深圳某公司,王伟,Closed Lost,50000,0,2026-07-10,2026-09-30,Web,New Customer",
    "006A4,扩展,杭州某公司,李娜,谈判/审核,64000,90,2026-09-15,2026-11-30,Web,New Customer",
]


def test_a_chinese_salesforce_export_loads_every_field(tmp_path: Path) -> None:
    path = tmp_path / "业务机会_2026-11-16.csv"
    path.write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8-sig")
    con = db.connect(tmp_path / "sales.duckdb")
    try:
        result = import_file(con, path, data_dir=tmp_path / "store")
        assert result.status == "loaded", result.message
        assert result.source_format == "salesforce_report_zh"
        assert result.as_of == date(2026, 11, 16)
        rows = con.execute(
            "SELECT opportunity_id, opportunity_name, account, owner, stage, amount, "
            "is_closed, is_won, lead_source, created_date, close_date "
            "FROM opportunities ORDER BY opportunity_id"
        ).fetchall()
    finally:
        con.close()
    assert [r[0] for r in rows] == ["006A1", "006A2", "006A3", "006A4"]
    first = rows[0]
    assert first[1:6] == ("华东扩容", "上海某公司", "王伟", "Discovery", 120000)  # its alias
    assert first[8:] == ("Web", date(2026, 9, 1), date(2026, 12, 15))
    assert (rows[1][6], rows[1][7]) == (True, True)  # Closed Won
    assert (rows[2][6], rows[2][7]) == (True, False)  # Closed Lost
    assert rows[3][4:8] == ("谈判/审核", 64000, False, False)  # a new, open stage
