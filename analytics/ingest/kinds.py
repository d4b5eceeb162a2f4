"""What each kind of upload may carry: canonical fields, their value types, and keys.

Kinds are data: the detector scores headers against these synonym lists, the value
parser picks its SQL by `type`, and the loader upserts by `key`. Synonyms cover the
generic spellings and the UI languages we support (English, Russian, Korean, Chinese,
and the Portuguese Salesforce labels below); CRM-specific headers live in formats/*.toml
(German, Spanish and French Salesforce, German Pipedrive among them).

Portuguese (Brazil) Salesforce: "Proprietário da oportunidade", "Fase", "Nome da conta"
are the key columns a public sales report lists for its "tbSalesforce" export
("COLUNAS CHAVE (tbSalesforce)"), and two other public dashboards read
"Proprietário da oportunidade" from real exports (found with the project's code search,
find_string "Proprietário da oportunidade"). The Portuguese labels of the opportunity's
name, id, amount and dates were not found, so they are not listed and no pt-BR format
exists: such a file maps these three columns and leaves the rest to a person.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # id | text | amount | number | percent | date | timestamp | bool | outcome
    required: bool = False
    synonyms: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Kind:
    name: str
    label: str
    table: str
    fields: tuple[Field, ...]
    key: tuple[str, ...]
    # "entity": duplicate keys in one file are an error; "event": exact repeats collapse.
    key_policy: str = "entity"

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.required)


_OWNER = (
    "owner",
    "rep",
    "sales rep",
    "deal owner",
    "opportunity owner",
    "salesperson",
    "sales person",
    "seller",
    "sales agent",
    "sales_agent",
    "sales rep id",
    "sr id",
    "sr_id",
    "account executive",
    "assigned to",
    "user",
    "responsible",
    "ответственный",
    "менеджер",
    "владелец",
    "proprietário da oportunidade",
    "담당자",
    "영업 담당자",
    "소유자",
    "负责人",
    "销售",
    "销售人员",
    "所有者",
)

OPPORTUNITIES = Kind(
    name="opportunities",
    label="Opportunities (deals)",
    table="opportunities",
    key=("opportunity_id",),
    fields=(
        Field(
            "opportunity_id",
            "id",
            synonyms=(
                "opportunity id",
                "deal id",
                "record id",
                "id",
                "opportunity_id",
                "opp id",
                # an English CRM or spreadsheet export's own reference ("Deal Ref")
                "deal ref",
                "deal reference",
                "id сделки",
                "거래 id",
                "商机id",
                "商机编号",
            ),
        ),
        Field(
            "opportunity_name",
            "text",
            synonyms=(
                "opportunity name",
                "opportunity",
                "deal name",
                "deal",
                "name",
                "title",
                "сделка",
                "название сделки",
                "название",
                "거래",
                "거래명",
                "거래 이름",
                "商机",
                "商机名称",
                "交易名称",
            ),
        ),
        Field(
            "account",
            "text",
            synonyms=(
                "account",
                "account name",
                "company",
                "company name",
                "organization",
                "customer",
                "client",
                "nome da conta",
                "компания",
                "клиент",
                "회사",
                "고객사",
                "客户",
                "公司",
            ),
        ),
        Field("owner", "text", synonyms=_OWNER),
        Field(
            "stage",
            "text",
            required=True,
            synonyms=(
                "stage",
                "deal stage",
                "deal_stage",
                "stage name",
                "pipeline stage",
                "pipeline step",
                "fase",
                "этап",
                "стадия",
                "этап сделки",
                "단계",
                "거래 단계",
                "阶段",
                "销售阶段",
            ),
        ),
        Field(
            "status",
            "outcome",
            # "Result" holds won / lost / open words like a status; a value that is not one
            # is reported by the outcome check, so a stray "Result" column cannot pass
            synonyms=("status", "deal status", "outcome", "result", "статус"),
        ),
        Field(
            "amount",
            "amount",
            synonyms=(
                "amount",
                "value",
                "deal value",
                "close value",
                "close_value",
                "total amount",
                "expected revenue",
                "opportunity amount",
                "revenue",
                # German: Salesforce's Amount label ("Betrag", "Betrag (€)", "Betrag (EUR)":
                # the unit is read off the header like "Value (€)"), and Pipedrive's German
                # export's deal value ("Deal - Wert") where the file is not detected as
                # Pipedrive. Not a bare "Wert": tests/ingest/test_propose.py uses it as a
                # header no synonym matches, and no CRM default was found to write it alone.
                "betrag",
                "deal - wert",
                "сумма",
                "бюджет",
                "금액",
                "거래 금액",
                "金额",
                "商机金额",
            ),
        ),
        Field(
            "currency",
            "text",
            synonyms=(
                "currency",
                "opportunity currency",
                "amount currency",
                "валюта",
                "통화",
                "币种",
            ),
        ),
        Field(
            "probability",
            "percent",
            synonyms=(
                "probability",
                "probability %",
                "deal probability",
                "win probability",
                "вероятность",
                "확률",
                "赢率",
                "概率",
            ),
        ),
        Field("forecast_category", "text", synonyms=("forecast category", "forecast_category")),
        Field(
            "created_date",
            "date",
            synonyms=(
                "created date",
                "create date",
                "created",
                "created on",
                "opened",
                "created time",
                "date created",
                "engage date",
                "engage_date",
                "дата создания",
                "создана",
                "생성일",
                "생성 날짜",
                "创建日期",
                "创建时间",
            ),
        ),
        Field(
            "close_date",
            "date",
            synonyms=(
                "close date",
                "closing date",
                "won date",
                "won_date",
                "date won",
                "closed won date",
                "expected close date",
                "closed date",
                "won/lost date",
                "close_date",
                "expected closing",
                "дата закрытия",
                "предполагаемая дата закрытия",
                "마감일",
                "종료일",
                "成交日期",
                "结束日期",
                "关闭日期",
                "预计成交日期",
            ),
        ),
        # The day the report ran, or each deal's last modification: the export is as of
        # its latest value (analytics/ingest/asof.py). Not stored.
        Field(
            "report_date",
            "date",
            synonyms=(
                "report date",
                "report run date",
                "run date",
                "as of",
                "as of date",
                "export date",
                "exported at",
                "snapshot date",
                "last modified date",
                "last modified",
                "modified date",
                "date modified",
                "lastmodifieddate",
                "last updated",
                "дата изменения",
                "최종 수정일",
                "最后修改日期",
            ),
        ),
        Field("is_closed", "bool", synonyms=("is closed", "closed", "isclosed")),
        Field("is_won", "bool", synonyms=("is won", "won", "iswon", "is closed won")),
        Field(
            "lead_source",
            "text",
            synonyms=(
                "lead source",
                "source",
                "deal source",
                "original source type",
                "источник",
                "소스",
                "来源",
            ),
        ),
        Field("deal_type", "text", synonyms=("type", "deal type", "opportunity type", "тип")),
        # The lead a deal was converted from: links a deals file to a leads file.
        Field(
            "lead_id",
            "id",
            synonyms=(
                "lead id",
                "lead_id",
                "mql id",
                "mql_id",
                "converted lead",
                "converted lead id",
                "convertedleadid",
                "original lead id",
                "id лида",
            ),
        ),
        Field(
            "sdr",
            "text",
            synonyms=("sdr", "sdr id", "sdr_id", "sales development rep", "bdr", "bdr id"),
        ),
        Field("product", "text", synonyms=("product", "product name", "продукт", "제품", "产品")),
        # BANT qualification flags, yes/no per deal: generic names for a hand-made sheet;
        # CRM custom fields (Salesforce Budget_Confirmed__c ...) are in formats/*.toml. No
        # plain "timeline" or "decision maker": such columns usually hold a quarter or a
        # person, not a yes/no.
        Field(
            "bant_budget",
            "bool",
            synonyms=("budget", "bant budget", "budget confirmed", "has budget", "budget approved"),
        ),
        Field(
            "bant_authority",
            "bool",
            synonyms=(
                "authority",
                "bant authority",
                "authority confirmed",
                "decision maker identified",
                "decision maker confirmed",
            ),
        ),
        Field(
            "bant_need",
            "bool",
            synonyms=("need", "bant need", "need confirmed", "need identified"),
        ),
        Field(
            "bant_timing",
            "bool",
            synonyms=("timing", "bant timing", "timing confirmed", "timeline confirmed"),
        ),
    ),
)

STAGE_HISTORY = Kind(
    name="stage_history",
    label="Opportunity stage history",
    table="stage_history_imported",
    key=("opportunity_id", "stage", "entered_at"),
    key_policy="event",
    fields=(
        Field(
            "opportunity_id",
            "id",
            required=True,
            synonyms=(
                "opportunity id",
                "opportunityid",
                "deal id",
                "record id",
            ),
        ),
        Field("stage", "text", required=True, synonyms=("stage", "stagename", "deal stage")),
        Field(
            "entered_at",
            "timestamp",
            required=True,
            synonyms=(
                "entered at",
                "date entered",
                "stage entered",
                "createddate",
                "created date",
                "changed at",
                "date",
            ),
        ),
        Field("amount", "amount", synonyms=("amount",)),
    ),
)

REPS = Kind(
    name="reps",
    label="Reps and teams",
    table="reps",
    key=("rep",),
    fields=(
        Field(
            "rep",
            "text",
            required=True,
            synonyms=(
                "rep",
                "sales rep",
                "sales agent",
                "sales_agent",
                "salesperson",
                "owner",
                "user",
                "full name",
                "name",
                "employee",
                "сотрудник",
                "менеджер",
                "담당자",
                "销售人员",
            ),
        ),
        Field(
            "manager", "text", synonyms=("manager", "reports to", "руководитель", "관리자", "经理")
        ),
        Field("team", "text", synonyms=("team", "sales team", "команда", "отдел", "팀", "团队")),
        Field(
            "region",
            "text",
            synonyms=(
                "region",
                "regional office",
                "regional_office",
                "territory",
                "office",
                "регион",
                "지역",
                "区域",
            ),
        ),
        Field("role", "text", synonyms=("role", "user role", "position", "роль", "역할", "角色")),
        Field("level", "text", synonyms=("level", "seniority", "grade", "уровень", "레벨", "级别")),
        Field("hire_date", "date", synonyms=("hire date", "start date", "hired", "дата найма")),
        Field("active", "bool", synonyms=("active", "is active", "isactive", "активен")),
    ),
)

ACTIVITIES = Kind(
    name="activities",
    label="Activities (calls, emails, meetings ...)",
    table="activities",
    key=("activity_id",),
    fields=(
        Field("activity_id", "id", synonyms=("activity id", "id", "task id", "event id")),
        Field("owner", "text", required=True, synonyms=_OWNER + ("assigned to",)),
        Field(
            "activity_type",
            "text",
            required=True,
            synonyms=(
                "activity type",
                "type",
                "task type",
                "event type",
                "тип",
                "유형",
                "类型",
            ),
        ),
        Field(
            "started_at",
            "timestamp",
            required=True,
            synonyms=(
                "started at",
                "start",
                "start time",
                "activity date",
                "date",
                "due date",
                "activitydate",
                "startdatetime",
                "дата",
                "일자",
                "日期",
            ),
        ),
        Field(
            "duration_minutes",
            "number",
            synonyms=(
                "duration minutes",
                "duration",
                "durationinminutes",
                "duration (minutes)",
            ),
        ),
        Field("opportunity_id", "id", synonyms=("opportunity id", "deal id", "whatid")),
        Field("lead_id", "id", synonyms=("lead id", "whoid")),
        Field("account", "text", synonyms=("account", "account name", "company")),
        Field("subject", "text", synonyms=("subject", "title", "description", "тема")),
    ),
)

LEADS = Kind(
    name="leads",
    label="Leads",
    table="leads",
    key=("lead_id",),
    fields=(
        # "mql id" / "first contact date" / "origin": the marketing-qualified-leads export
        # (Olist's public data set: mql_id, first_contact_date, landing_page_id, origin)
        Field(
            "lead_id",
            "id",
            required=True,
            synonyms=("lead id", "id", "record id", "mql id", "marketing qualified lead id"),
        ),
        Field(
            "created_at",
            "timestamp",
            required=True,
            synonyms=(
                "created at",
                "created date",
                "createddate",
                "create date",
                "created",
                "created time",  # Zoho CRM's label on every module, leads too
                "first contact date",
                "first contact",
                "first contact at",
            ),
        ),
        Field("owner", "text", synonyms=_OWNER + ("lead owner",)),
        Field(
            "source",
            "text",
            synonyms=("source", "lead source", "leadsource", "origin", "lead origin", "channel"),
        ),
        Field("status", "text", synonyms=("status", "lead status")),
        Field("company", "text", synonyms=("company", "account", "organization")),
        Field(
            "first_response_at",
            "timestamp",
            synonyms=(
                "first response at",
                "first response",
                "first contacted",
                "first touch",
            ),
        ),
        Field(
            "converted_at",
            "timestamp",
            synonyms=("converted at", "converted date", "converteddate"),
        ),
        Field(
            "opportunity_id",
            "id",
            synonyms=(
                "opportunity id",
                "converted opportunity id",
                "convertedopportunityid",
                "deal id",
                "converted deal id",
                "converted deal",
            ),
        ),
    ),
)

LEAD_EVENTS = Kind(
    name="lead_events",
    label="Lead events (for scoring)",
    table="lead_events",
    key=("lead_id", "event_type", "occurred_at"),
    key_policy="event",
    fields=(
        Field("lead_id", "id", required=True, synonyms=("lead id", "lead")),
        Field(
            "event_type", "text", required=True, synonyms=("event type", "event", "type", "action")
        ),
        Field(
            "occurred_at",
            "timestamp",
            required=True,
            synonyms=(
                "occurred at",
                "timestamp",
                "date",
                "event date",
                "time",
            ),
        ),
    ),
)

QUOTAS = Kind(
    name="quotas",
    label="Quotas",
    table="quotas",
    key=("owner", "period_start", "period_end"),
    fields=(
        Field("owner", "text", required=True, synonyms=_OWNER),
        Field(
            "period_start",
            "date",
            required=True,
            synonyms=(
                "period start",
                "start",
                "from",
                "month",
                "period",
            ),
        ),
        Field("period_end", "date", synonyms=("period end", "end", "to")),
        Field("amount", "amount", required=True, synonyms=("amount", "quota", "target", "план")),
    ),
)

FORECAST_SUBMISSIONS = Kind(
    name="forecast_submissions",
    label="Forecast submissions",
    table="forecast_submissions",
    key=("owner", "period_start", "period_end", "category", "submitted_at"),
    fields=(
        Field("owner", "text", required=True, synonyms=_OWNER),
        Field("period_start", "date", required=True, synonyms=("period start", "start", "month")),
        Field("period_end", "date", synonyms=("period end", "end")),
        Field(
            "category",
            "text",
            required=True,
            synonyms=(
                "category",
                "forecast category",
                "forecast_category",
            ),
        ),
        Field(
            "amount", "amount", required=True, synonyms=("amount", "forecast", "forecast amount")
        ),
        Field("submitted_at", "timestamp", synonyms=("submitted at", "submitted", "date")),
    ),
)

FX_RATES = Kind(
    name="fx_rates",
    label="Exchange rates",
    table="fx_rates",
    key=("currency", "rate_date"),
    fields=(
        Field(
            "currency", "text", required=True, synonyms=("currency", "code", "iso code", "валюта")
        ),
        Field(
            "rate_date", "date", required=True, synonyms=("rate date", "date", "valid from", "дата")
        ),
        Field(
            "rate", "number", required=True, synonyms=("rate", "exchange rate", "fx rate", "курс")
        ),
    ),
)

KIND_LIST: tuple[Kind, ...] = (
    OPPORTUNITIES,
    STAGE_HISTORY,
    REPS,
    ACTIVITIES,
    LEADS,
    LEAD_EVENTS,
    QUOTAS,
    FORECAST_SUBMISSIONS,
    FX_RATES,
)
KINDS: dict[str, Kind] = {k.name: k for k in KIND_LIST}
