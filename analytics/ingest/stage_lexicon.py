"""The usual steps of a sales funnel, in funnel order, as the words CRMs and teams name
their open stages with: data for analytics.ingest.stage_order, which reads a learned
stage's place from its name when the file carries no probability and no stage history.

Why as data: a word belongs to one step, and adding a language or a CRM's defaults is an
edit here, not in the ordering code. Each term is matched at the start of a word of the
stage name, after folding case and accents (so "Angebot erstellt" and "Angebot/
Preisangebot" match "angebot", "Qualifizierung" matches "qualifizierung"); a term of
fewer than five letters ("new", "neu", "demo") only as a whole word; Chinese and Korean
terms anywhere in the name. When a name matches terms of several steps the
longest term wins ("Value Proposition" is the value-proposition step, not the French
"proposition" of a proposal; "Decision Maker Bought-In" is the decision-makers step, not
"decision").

Sources (real labels, not made up):
- Salesforce's default Opportunity StageName picklist (Prospecting, Qualification, Needs
  Analysis, Value Proposition, Id. Decision Makers, Perception Analysis, Proposal/Price
  Quote, Negotiation/Review) and its German UI labels as listed by cuspy.io
  ("Salesforce Opportunity-Phasen", 2020): Qualifizierung, Wertversprechen,
  ID Entscheidungsträger, Wahrnehmungsanalyse, Angebot/Preisangebot,
  Verhandlung/Überprüfung;
- the same picklist in the vtiger CRM / coreBOS language packs
  (tsolucio/corebos modules/Potentials/language/{de_de,fr_fr,es_es,it_it,nl_nl,pt_br},
  and languages/de_de/Potentials.php of vtiger forks): Neukundenwerbung, Qualifikation,
  Bedarfsanalyse, Entscheider identifizieren, Sichtweisenanalyse, Vorschlag/Angebot;
  Prospection, Ref décideurs, Analyse de perception, Proposition/Prix,
  Négociation/Révision; Investigando, Necesita Análisis, Valorando Proposición,
  Identificando Responsable, Presupuesto Propuesto, Negociando/Revisando; In Prospettiva,
  Qualificazione, Da Analizzare, Proposto il valore, Potere decisionale, Analisi di
  percezione, Proposta/Preventivo Prezzo, Trattativa/Revisione; Kennismaking,
  Kwalificatie, Behoeftenonderzoek, Waardevoorstel, Identificeer Beslissers,
  Perceptieonderzoek, Voorstel/Prijsopgave, Onderhandeling/Afronding; Prospectando,
  Qualificação, Necessita análise, Proposta valor, Identif. decisor, Análise percepção,
  Proposta/cotação, Negociação/revisão;
- HubSpot's default deal pipeline (Appointment Scheduled, Qualified To Buy, Presentation
  Scheduled, Decision Maker Bought-In, Contract Sent), Pipedrive's (Lead In, Contact
  Made, Needs Defined / Demo Scheduled, Proposal Made, Negotiations Started) and Odoo's
  (New, Qualified, Proposition), as the default stage aliases in
  analytics/default_settings.json already carry them;
- HubSpot's default deal pipeline in its German UI (knowledge.hubspot.com/de, "Deal-
  Pipelines und Deal-Phasen einrichten", 2018): Termin geplant, Für Kauf qualifiziert,
  Präsentation vereinbart. "Erstgespräch" (first meeting) was searched for in CRM
  defaults and not found, so it is not in the list: such a stage is placed by the age of
  its deals, which stage_order compares with the lexicon stages' ages;
- amoCRM's default pipeline (Неразобранное, Первичный контакт, Переговоры, Принимают
  решение, Согласование договора) and Bitrix24's default deal stages (crm.status.list
  DEAL_STAGE: Новая, Подготовка документов, Счёт на предоплату, В работе, Финальный
  счёт), as in tests/data/ingest/amocrm_deals.csv and bitrix24_deals.csv;
- Chinese and Korean: the default aliases (新建, 初步接洽, 资格审查, 需求确认, 演示, 方案报价,
  谈判; 신규, 발굴, 자격 확인, 데모, 제안, 협상), Salesforce's Chinese Trailhead unit
  "利用您的业务机会" (潜在客户发掘, 资格认证/需求识别) and Chinese Salesforce practice
  pages (潜在客户 -> 资质确认 -> 需求分析 -> 方案提交 -> 谈判 -> 合同签署; 初步接触 -> 需求确认
  -> 方案沟通 -> 谈判).
A few plain words of the same steps (demo, quote, contract, invoice and their direct
translations; "intro", the first call a team names its own first stage after, as in a
HubSpot pipeline edited to "Intro Call") complete the list where no CRM default was found.
"""

from __future__ import annotations

# (step, terms), first step of a funnel first. Terms are written as they appear in stage
# names; stage_order folds their case and accents the same way it folds a name.
STEPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "new lead / prospecting",
        (
            "new", "lead", "lead in", "prospecting", "prospect",
            "neu", "neukundenwerbung",
            "nouveau", "nouvelle", "prospection",
            "nuevo", "nueva", "prospección", "investigando",
            "novo", "nova", "prospectando", "prospecção",
            "nuovo", "nuova", "prospettiva", "in prospettiva",
            "nieuw", "nieuwe", "kennismaking",
            "новая", "новый", "новое", "неразобранное", "поиск",
            "新建", "潜在客户", "发掘",
            "신규", "발굴",
        ),
    ),
    (
        "first contact / appointment",
        (
            "contact", "contact made", "contacted", "first contact", "initial contact",
            "appointment", "appointment scheduled",
            "intro", "intro call", "intro meeting", "introduction", "introductory",
            "kontakt", "erstkontakt", "termin geplant",
            "premier contact", "primer contacto", "contacto", "contato", "contatto",
            "первичный контакт", "контакт",
            "初步接触", "初步接洽",
        ),
    ),
    (
        "qualification",
        (
            "qualify", "qualifying", "qualified", "qualification", "qualified to buy",
            "qualifizierung", "qualifiziert", "qualifikation", "für kauf qualifiziert",
            "qualifié", "qualifiée",
            "calificación", "calificado", "cualificación", "cualificado",
            "qualificação", "qualificado",
            "qualificazione", "qualificato",
            "kwalificatie", "gekwalificeerd",
            "квалификация", "квалифицирован",
            "资格审查", "资格认证", "资质确认",
            "자격 확인", "자격",
        ),
    ),
    (
        "needs analysis / discovery",
        (
            "needs analysis", "needs defined", "needs", "discovery",
            "bedarfsanalyse", "bedarf",
            "analyse des besoins", "besoins", "découverte",
            "análisis de necesidades", "necesita análisis", "necesidades", "descubrimiento",
            "análise de necessidades", "necessita análise", "necessidades", "descoberta",
            "analisi dei bisogni", "da analizzare",
            "behoeftenonderzoek", "behoefteanalyse",
            "анализ потребностей", "выявление потребностей", "потребност",
            "需求分析", "需求确认", "需求识别",
            "요구 사항 분석", "요구 사항",
        ),
    ),
    (
        "demo / presentation",
        (
            "demo", "demo scheduled", "demonstration", "presentation",
            "presentation scheduled", "product demo",
            "präsentation", "präsentation vereinbart", "vorführung", "produktdemo",
            "démo", "démonstration", "présentation",
            "demostración", "presentación",
            "demonstração", "apresentação",
            "dimostrazione", "presentazione",
            "demonstratie", "presentatie",
            "демо", "демонстрация", "презентация",
            "演示", "产品演示",
            "데모", "시연", "프레젠테이션",
        ),
    ),
    (
        "trial / proof of concept",
        ("trial", "product trial", "proof of concept", "proof", "poc", "pilot", "пилот"),
    ),
    (
        "value proposition",
        (
            "value proposition",
            "wertversprechen", "wertproposition",
            "proposition de valeur",
            "propuesta de valor", "valorando proposición",
            "proposta de valor", "proposta valor",
            "proposta di valore", "proposto il valore",
            "waardevoorstel", "waardepropositie",
            "ценностное предложение",
            "价值主张",
            "가치 제안",
        ),
    ),
    (
        "decision makers",
        (
            "decision makers", "decision maker", "id. decision makers",
            "identify decision makers", "decision maker bought-in",
            "entscheider", "entscheidungsträger",
            "décideurs", "identification des décideurs",
            "identificando responsable",
            "decisor", "decisores",
            "potere decisionale",
            "beslissers",
            "决策者",
            "의사 결정자",
        ),
    ),
    (
        "perception analysis",
        (
            "perception analysis",
            "wahrnehmungsanalyse", "sichtweisenanalyse",
            "analyse de perception",
            "análisis de percepción", "analisis de percepción",
            "análise percepção", "análise de percepção",
            "analisi di percezione",
            "perceptieonderzoek",
        ),
    ),
    (
        "proposal / quote",
        (
            "proposal", "proposal made", "proposal sent", "price quote", "quote",
            "quotation",
            "angebot", "preisangebot", "vorschlag",
            "proposition", "devis", "offre",
            "propuesta", "presupuesto", "cotización", "oferta",
            "proposta", "cotação", "orçamento",
            "preventivo", "offerta",
            "voorstel", "prijsopgave", "offerte",
            "предложение", "коммерческое предложение",
            "提案", "报价", "方案",
            "제안", "견적",
        ),
    ),
    (
        "negotiation / review",
        (
            "negotiation", "negotiations", "negotiations started", "negotiating", "review",
            "verhandlung", "verhandlungen", "überprüfung",
            "négociation", "révision",
            "negociación", "negociando", "revisión", "revisando",
            "negociação", "revisão",
            "trattativa", "negoziazione", "revisione",
            "onderhandeling", "afronding",
            "переговоры",
            "谈判", "商务谈判",
            "협상", "검토",
        ),
    ),
    (
        "commit / final decision",
        (
            "commit", "verbal", "verbal commit", "final decision", "decision", "closing",
            "commit & signing",
            "entscheidung",
            "décision", "decisión", "decisão", "decisione", "beslissing",
            "принимают решение", "принятие решения", "решение",
            "决策",
            "결정",
        ),
    ),
    (
        "contract",
        (
            "contract", "contract sent", "signature",
            "vertrag", "contrat", "contrato", "contratto",
            "договор", "согласование договора", "контракт",
            "合同", "合同签署",
            "계약",
        ),
    ),
    (
        "invoice / payment",
        (
            "invoice", "payment",
            "rechnung", "facture", "factura", "fatura", "fattura", "factuur",
            "счёт", "счет", "оплата",
            "发票", "付款",
            "청구", "결제",
        ),
    ),
)  # fmt: skip
