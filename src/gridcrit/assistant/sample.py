"""Small, deterministic inputs for docs, tests and demos: a PDF writer and a sample store.

``make_pdf`` writes a plain-text PDF (Helvetica, WinAnsi) so tests exercise the real pypdf path without
shipping PDFs; ``make_sample_store`` fills a store with a few circuits, assets and outage events under
the schema's column names, for data questions when no synthetic twin is at hand.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from gridcrit.data.schema import TABLES
from gridcrit.data.store import connect


def _esc(s: str) -> bytes:
    return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("cp1252", "replace")


def make_pdf(pages: list[str]) -> bytes:
    """A PDF with one page per string (lines split on newlines; blank pages allowed)."""
    objs: list[bytes] = []
    n_pages = len(pages)
    font_id = 3 + 2 * n_pages
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n_pages))
    objs.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objs.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    for i, text in enumerate(pages):
        lines = text.splitlines()
        stream = b"BT /F1 10 Tf 14 TL 50 800 Td " + b" ".join(b"(" + _esc(ln) + b") '" for ln in lines) + b" ET"
        objs.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode()
        )
        objs.append(b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream")
    objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for k, o in enumerate(objs, start=1):
        offsets.append(len(out))
        out += f"{k} 0 obj\n".encode() + o + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{off:010d} 00000 n \n".encode() for off in offsets)
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


SAMPLE_CIRCUITS = {  # circuit -> municipality
    "NSA23L14": "MANIZALES",
    "MAZ30L13": "MANIZALES",
    "CHI23L11": "CHINCHINÁ",
    "VIL23L12": "VILLAMARÍA",
    "DOS23L15": "DOSQUEBRADAS",
}


def make_sample_store(store: str | Path, seed: int = 0, n_events: int = 600) -> Path:
    """Fill ``store`` with a small utility: 5 circuits, 40 transformers, 10 switches, 20 segments, events 2021-2023."""
    rng = np.random.default_rng(seed)
    months = pd.date_range("2021-01-31", "2023-12-31", freq="ME")
    snap = [months[-1].date()]  # one snapshot is enough for municipality look-ups
    trafos, switches, redmt = [], [], []
    for c, mun in SAMPLE_CIRCUITS.items():
        dep = "RISARALDA" if mun == "DOSQUEBRADAS" else "CALDAS"
        for k in range(8):
            for f in snap:
                trafos.append({"CODE": f"T{c[:3]}{k:03d}", "FPARENT": c, "ELNODE": f"N{c}{k}", "FECHA": f,
                               "KVA": float(rng.choice([15, 25, 37.5, 75])), "USUARIOS": int(rng.integers(5, 80)),
                               "MUN": mun, "DEP": dep})
        for k in range(2):
            switches.append({"CODE": f"S{c[:3]}{k:02d}", "FPARENT": c, "LINESECTIO": f"L{c}{k}", "FECHA": snap[0],
                             "ASSEMBLY": "RECONECTADOR" if k == 0 else "CORTACIRCUITO", "MUN": mun, "DEP": dep})
        for k in range(4):
            redmt.append({"CODE": f"L{c}{k}", "FPARENT": c, "ELNODE1": f"N{c}{k}", "ELNODE2": f"N{c}{k + 1}",
                          "ORDER_": 1, "FECHA": snap[0], "LENGTH": float(rng.integers(50, 900)), "MUN": mun, "DEP": dep})
    n_total = sum(t["USUARIOS"] for t in trafos)
    devices = [(t["CODE"], "transformador", t["FPARENT"]) for t in trafos] + [
        (s["CODE"], "interruptor", s["FPARENT"]) for s in switches] + [(r["CODE"], "tramo de linea", r["FPARENT"])
                                                                         for r in redmt]
    causes = ["30.0", "27.0", "19.0", "15.0", "29.0", "37.0", "40.0", "Condiciones atmosféricas"]
    rows = []
    t0 = datetime(2021, 1, 1)
    for e in range(n_events):
        code, kind, circ = devices[int(rng.integers(len(devices)))]
        start = t0 + timedelta(minutes=int(rng.integers(0, 3 * 365 * 24 * 60)))
        dur = float(np.round(rng.exponential(3.0), 4))
        users = int(rng.integers(1, 400))
        rows.append({
            "evento": 1_000_000 + e, "periodo": start.year * 100 + start.month, "equipo_ope": code,
            "tipo_equi_ope": kind, "cto_equi_ope": circ, "tipo_elemento": "13.2", "inicio": start,
            "fin": start + timedelta(hours=dur), "duracion_h": dur, "tipo_duracion": "> 3 min" if dur > 0.05 else "<= 3 min",
            "causa": str(rng.choice(causes)), "tipo_causa": "NP" if rng.random() < 0.85 else "PR",
            "CNT_TRAFOS_AFEC": int(rng.integers(1, 30)), "cnt_usus": users,
            "SAIDI": dur * users / n_total, "SAIFI": users / n_total,
        })
        if rng.random() < 0.15:  # a second restoration step of the same event
            r2 = dict(rows[-1])
            r2["inicio"] = start + timedelta(minutes=5)
            r2["cnt_usus"] = users // 2
            r2["SAIFI"] = r2["cnt_usus"] / n_total
            r2["SAIDI"] = dur * r2["cnt_usus"] / n_total
            rows.append(r2)
    con = connect(store)
    try:
        for name, data in (("trafos", trafos), ("switches", switches), ("redmt", redmt), ("interrupciones", rows)):
            cols = list(TABLES[name].columns)
            frame = pd.DataFrame(data).reindex(columns=cols)
            con.register("_sample", frame)
            con.execute(f'INSERT INTO "{name}" SELECT {", ".join(chr(34) + c + chr(34) for c in cols)} FROM _sample')
            con.unregister("_sample")
    finally:
        con.close()
    return Path(store)


SAMPLE_REGULATION = [
    """REGLAMENTO DE PRUEBA - Hoja 1
CAPÍTULO 1 – DISPOSICIONES GENERALES

Artículo 1.1. Objeto
Este reglamento de prueba fija requisitos de seguridad para redes de distribución
de media tensión y para la poda de la vegetación cercana a las líneas.

Artículo 1.2. Distancias de seguridad
La distancia mínima vertical entre conductores de 13,2 kV y el suelo en vías
vehiculares debe ser de 5,6 m. Las ramas de los árboles deben mantenerse a
no menos de 2,5 m de los conductores desnudos.
""",
    """REGLAMENTO DE PRUEBA - Hoja 2
Artículo 1.3. Puesta a tierra
Todo transformador de distribución debe tener su sistema de puesta a tierra con
resistencia no mayor a 10 ohmios, medida al menos una vez cada cinco años.

Artículo 1.4. Protección contra rayos
En zonas de alta densidad de descargas atmosféricas las redes deben tener cable de
guarda o dispositivos de protección contra sobretensiones (DPS) en cada transformador.
""",
]
