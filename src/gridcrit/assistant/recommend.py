"""Maintenance recommendations per critical variable, each backed by a cited clause — or an honest
"insufficient evidence" when the corpus has no clause on that topic.

    variable (e.g. "veg_riesgo_alto", importance, value) ─► topic (keyword rules) ─► regulation query
        ─► Retriever top passages ─► evidence test (topic stems in the passage) ─► template + citation

The templates state the action in terms of the asset's own facts (code, circuit, value of the
variable); the clause is quoted verbatim with document, anchor and page.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from gridcrit.assistant.backends import Citation, best_sentences
from gridcrit.assistant.retrieval import fold, tokenize

TOPICS: list[dict] = [
    {"topic": "vegetacion", "match": r"veg|arbol|poda|nivel_ries|dap|tree",
     "query": "poda de árboles y vegetación cerca de redes de distribución, zona de servidumbre y distancias",
     "evidence": ["vegetacion", "arbol", "poda", "servidumbre"],
     "es": "Programar inspección y poda/despeje de vegetación en {asset}", "en": "Schedule vegetation clearing at {asset}"},
    {"topic": "rayos", "match": r"rayo|lightning|descarga|corriente|guarda|guard|dps|sobretens|atmospher|atmosfer",
     "query": "protección contra rayos en redes de distribución: cable de guarda y DPS",
     "evidence": ["rayo", "sobretension", "guarda", "dps", "descarga"],
     "es": "Revisar apantallamiento (cable de guarda) y DPS en {asset}", "en": "Check shielding and surge arresters at {asset}"},
    {"topic": "puesta_a_tierra", "match": r"tierra|ground|resistiv",
     "query": "mantenimiento y medición de la resistencia de puesta a tierra",
     "evidence": ["tierra"],
     "es": "Medir y corregir la puesta a tierra de {asset}", "en": "Measure and fix the grounding of {asset}"},
    {"topic": "transformador", "match": r"trafo|transformador|kva|date_fab|edad|age|impedanc|usuarios|equipment",
     "query": "mantenimiento e instalación de transformadores de distribución",
     "evidence": ["transformador"],
     "es": "Incluir {asset} en el plan de mantenimiento de transformadores", "en": "Add {asset} to the transformer maintenance plan"},
    {"topic": "apoyos", "match": r"apoyo|poste|cruceta|material|long_apoyo|vientos|estructur|support|pole",
     "query": "estructuras de soporte, postes y crucetas de redes de distribución: requisitos y mantenimiento",
     "evidence": ["poste", "apoyo", "estructura", "cruceta"],
     "es": "Inspeccionar postes, crucetas y templetes de {asset}", "en": "Inspect poles, cross-arms and guys of {asset}"},
    {"topic": "conductor", "match": r"conductor|calibre|length|longitud|tramo|segment|fase|phases",
     "query": "conductores aéreos de redes de distribución: requisitos y mantenimiento",
     "evidence": ["conductor"],
     "es": "Revisar el estado de los conductores de {asset}", "en": "Check the conductors of {asset}"},
    {"topic": "historial", "match": r"hist|saifi|saidi|y_count|eventos|interrup|falla|outage",
     "query": "mantenimiento del sistema de distribución y operación de redes",
     "evidence": ["mantenimiento"],
     "es": "Priorizar {asset} en el mantenimiento preventivo del circuito", "en": "Prioritise {asset} in preventive maintenance"},
]


@dataclass
class Recommendation:
    variable: str
    value: object
    topic: str | None
    action: str
    evidence: str  # "cited" | "insufficient"
    citation: dict | None  # {doc, anchor, page, quote}
    note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def topic_of(variable: str) -> dict | None:
    v = re.sub(r"[_\-.]+", " ", fold(variable))
    # every alternative must start a word: "humedad" is not "edad", "veg_riesgo" is vegetation
    return next((t for t in TOPICS if re.search(r"\b(" + t["match"] + ")", v)), None)


def recommend(variables: dict[str, object], retriever, asset: str = "el activo", lang: str = "es",
              docs: list[str] | None = None) -> list[Recommendation]:
    """One recommendation per critical variable (name -> value), most important first as given."""
    out = []
    for var, value in variables.items():
        t = topic_of(var)
        if t is None:
            out.append(Recommendation(var, value, None, "", "insufficient", None,
                                      "sin tema de mantenimiento conocido para esta variable" if lang == "es"
                                      else "no known maintenance topic for this variable"))
            continue
        action = t[lang if lang in ("es", "en") else "es"].format(asset=asset)
        evidence_stems = set(tokenize(" ".join(t["evidence"])))
        cited = None
        for p in retriever.search(t["query"], k=5, docs=docs):
            if evidence_stems & set(tokenize(p.text + " " + p.title)):
                quote = " … ".join(best_sentences(t["query"], p, 1))
                if quote:
                    c = Citation.of(p, quote)  # the page the quote is printed on
                    cited = {"doc": p.doc, "anchor": p.anchor, "page": c.page, "page_end": c.page_end,
                             "quote": quote}
                    break
        if cited:
            out.append(Recommendation(var, value, t["topic"], f"{action} ({var} = {value}).", "cited", cited))
        else:
            out.append(Recommendation(var, value, t["topic"], f"{action} ({var} = {value}).", "insufficient", None,
                                      "evidencia insuficiente en el corpus: ninguna cláusula trata este tema"
                                      if lang == "es" else "insufficient evidence: no clause in the corpus covers it"))
    return out
