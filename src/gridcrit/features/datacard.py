"""The data card: every column of a criticality dataset with its meaning, unit and time basis.

``time_basis`` says which moment a value describes; every feature is known at the period start
("as of start": latest snapshot before the start; "past": rows dated before the start). ``driver``
names the physical hazard a feature carries (the synthetic twin's ``truth.json`` drivers:
vegetation x rain, lightning x missing guard wire, transformer age x heat), so explanations can be
checked against the truth.
"""

from __future__ import annotations

import re

SNAP = "as of period start (latest snapshot with FECHA < start)"
PAST = "past: rows dated before the period start"
PERIOD = "the period itself (target; unknown at its start)"

# name -> (meaning, unit, time basis, driver or "")
_FIXED: dict[str, tuple[str, str, str, str]] = {
    "asset_id": ("asset code (CODE; FPARENT for circuits); identifier, never a feature", "", "", ""),
    "period": ("period label 'YYYY-MM' (month) or 'YYYY-Qn' (quarter); sorts chronologically", "", "", ""),
    "period_start": ("first instant of the period", "timestamp", "", ""),
    "circuit": ("circuit (FPARENT) of the asset at the period start; grouping key, not a feature", "", SNAP, ""),
    "kva": ("rated power of the transformer (KVA)", "kVA", SNAP, "transformer loading (customers per kVA) x heat"),
    "kv_primary": ("primary voltage (KV1)", "kV", SNAP, ""),
    "impedance_pct": ("short-circuit impedance (IMPEDANCE)", "%", SNAP, ""),
    "customers": ("customers served by the transformer (USUARIOS)", "customers", SNAP,
                  "transformer loading (customers per kVA) x heat"),
    "age_years": ("age at the period start = start - DATE_FAB", "years", SNAP, "transformer age x heat"),
    "phases_n": ("number of phases (from PHASES)", "count", SNAP, ""),
    "owner_code": ("owner (OWNER1), integer code in order of first appearance", "category", SNAP, ""),
    "trftype_code": ("transformer type (TRFTYPE), code by first appearance", "category", SNAP, ""),
    "mounting_code": ("mounting / substation type (TIPO_SUB), code by first appearance", "category", SNAP, ""),
    "brand_code": ("manufacturer (MARCA), code by first appearance", "category", SNAP, ""),
    "kv": ("nominal voltage (KV / KVNOM)", "kV", SNAP, ""),
    "is_protective": ("1 if the device interrupts faults (recloser, fuse, breaker), 0 sectionaliser", "0/1", SNAP, ""),
    "normally_open": ("1 if STATE is ABIERTO (tie switch)", "0/1", SNAP, ""),
    "switch_kind_code": ("device kind (ASSEMBLY), code by first appearance", "category", SNAP, ""),
    "length_m": ("segment length (LENGTH)", "m", SNAP, "line length exposure"),
    "capacity_a": ("conductor capacity (CAPACITY)", "A", SNAP, ""),
    "resistance_ohm": ("conductor resistance (RESISTANCE)", "ohm", SNAP, ""),
    "conductor_code": ("conductor (CONDUCTOR), code by first appearance", "category", SNAP, ""),
    "guard_wire": ("1 if the segment (switch: its segment) has a guard/shield wire (GUARDACONDUCTOR)", "0/1",
                   SNAP, "lightning x missing guard wire"),
    "guard_wire_feeder": ("1 if the segment feeding the transformer's node has a guard wire", "0/1", SNAP,
                          "lightning x missing guard wire"),
    "guard_wire_share": ("share of the circuit's line length with a guard wire", "fraction", SNAP,
                         "lightning x missing guard wire"),
    "quality_group": ("CREG quality group of the transformer's area (GRUPO015; 1-2 urban, 3-4 rural)", "group",
                      SNAP, "animals (rural), third parties (urban)"),
    "bare_conductor": ("1 if the conductor is bare (TIPOCONDUCTOR DESNUDO), 0 insulated/covered", "0/1", SNAP,
                       "animals on bare conductor"),
    "bare_conductor_feeder": ("1 if the segment feeding the transformer's node is bare conductor", "0/1", SNAP,
                              "animals on bare conductor"),
    "years_since_update": ("years from the segment's last update (FECHA_ACT) to the period start", "years", SNAP,
                           "equipment ageing"),
    "n_segments": ("MV segments of the circuit", "count", SNAP, ""),
    "line_km": ("MV line length of the circuit", "km", SNAP, "line length exposure"),
    "topo_depth": ("segments between the asset and its substation", "segments", SNAP, ""),
    "topo_path_km": ("line length from the substation to the asset", "km", SNAP, ""),
    "topo_protective_upstream": ("protective devices (reclosers, fuses, breakers) on the path from the "
                                 "substation", "count", SNAP, ""),
    "topo_protective_downstream": ("protective devices below the switch", "count", SNAP, ""),
    "topo_node_customers": ("customers of all transformers on the same node", "customers", SNAP, ""),
    "topo_circuit_customers": ("customers on the asset's circuit", "customers", SNAP, ""),
    "topo_circuit_transformers": ("transformers on the asset's circuit", "count", SNAP, ""),
    "topo_customers_downstream": ("customers of transformers downstream (interrupted if it opens)",
                                  "customers", SNAP, ""),
    "topo_transformers_downstream": ("transformers downstream", "count", SNAP, ""),
    # the faults a switch clears happen on the line below it: its exposure to every line hazard
    "topo_km_downstream": ("line length downstream, this segment included", "km", SNAP, "line length exposure"),
    "topo_customers": ("customers of the circuit", "customers", SNAP, ""),
    "topo_transformers": ("transformers of the circuit", "count", SNAP, ""),
    "topo_max_depth": ("longest path of the circuit in segments", "segments", SNAP, ""),
    "topo_protective_devices": ("protective devices on the circuit", "count", SNAP, ""),
    "topo_switches": ("switching devices on the circuit", "count", SNAP, ""),
    "lightning_strokes_prev_period": ("cloud-to-ground strokes in the 3x3 km box around the asset during "
                                      "the previous period (circuits: mean over their segments)", "strokes",
                                      PAST, "lightning x missing guard wire"),
    "lightning_density_last_12m": ("cloud-to-ground stroke density around the asset over the 12 months "
                                   "before the start", "strokes/km²", PAST, "lightning x missing guard wire"),
    "rain_prev_period_mm": ("rain in the asset's municipality during the previous period", "mm", PAST,
                            "rain (vegetation contact, pole soil)"),
    "rain_max_day_prev_period_mm": ("wettest day of the previous period", "mm/day", PAST, "rain (vegetation contact, pole soil)"),
    "rain_last_3m_mm": ("rain over the 3 months before the start", "mm", PAST, "rain (vegetation contact, pole soil)"),
    "rain_normal_mm": ("normal rain of the coming period: mean of the same month/quarter in earlier years",
                       "mm", PAST, "rain (vegetation contact, pole soil)"),
    "temp_mean_prev_period_c": ("mean daily temperature in the previous period", "°C", PAST,
                                "transformer age x heat"),
    "temp_max_prev_period_c": ("hottest daily mean temperature in the previous period", "°C", PAST,
                               "transformer age x heat"),
    "temp_normal_c": ("normal temperature of the coming period (same month/quarter of earlier years)", "°C",
                      PAST, "transformer age x heat"),
    "wind_gust_max_prev_period_ms": ("strongest gust in the previous period", "m/s", PAST, ""),
    "hist_periods_since_last": ("periods since the asset's last interruption (never: observed + 1)",
                                "periods", PAST, "persistent asset condition"),
    "hist_periods_observed": ("periods of event history available before the start", "periods", PAST, ""),
    "hist_circuit_count_last_12m": ("interruptions on the asset's circuit in the 12 months before",
                                    "events", PAST, ""),
    "hist_circuit_saifi_last_12m": ("SAIFI contribution of the asset's circuit in the 12 months before",
                                    "interruptions/customer", PAST, ""),
    "y_saifi": ("SAIFI contribution in the period: sum of per-row SAIFI of the sustained (> 3 min) rows of "
                "events operated at the asset (momentary rows are MAIFI, not SAIFI)",
                "interruptions/customer", PERIOD, ""),
    "y_saidi": ("SAIDI contribution in the period: sum of per-row SAIDI of the sustained (> 3 min) rows",
                "hours/customer", PERIOD, ""),
    "y_count": ("interruptions (distinct evento, momentary included) starting in the period", "events",
                PERIOD, ""),
    "y_risk": ("risk class 0 Bajo (no sustained interruption) / 1 Medio / 2 Alto / 3 Muy Alto: terciles of "
               "positive y_saifi fitted on training periods; -1 without target", "class", PERIOD, ""),
}

# physical driver (as written in the card) -> hazard names of the synthetic twin's truth.json
TWIN_DRIVERS = {
    "vegetation x rain": ("vegetation",),
    "rain (vegetation contact, pole soil)": ("vegetation", "poles"),
    "line length exposure": ("vegetation", "animals", "equipment", "third_party"),
    "transformer loading (customers per kVA) x heat": ("age_heat",),
    "lightning x missing guard wire": ("lightning",),
    "lightning x missing grounding": ("lightning",),
    "transformer age x heat": ("age_heat",),
    "animals (rural), third parties (urban)": ("animals", "third_party"),
    "animals on bare conductor": ("animals",),
    "equipment ageing": ("equipment",),
    "pole failures x rain": ("poles",),
    "wooden poles: failures x rain, climbed by animals": ("poles", "animals"),
    "persistent asset condition": (),
    # the asset's past interruptions by recorded cause (CREG codes; 30 = atmospheric covers lightning
    # and storm-blown branches, 33/40 = transformer failures)
    "recorded cause: atmospheric": ("lightning", "vegetation"),
    "recorded cause: animals": ("animals",),
    "recorded cause: vegetation": ("vegetation",),
    "recorded cause: third_party": ("third_party",),
    "recorded cause: equipment": ("age_heat", "equipment"),
    "recorded cause: poles": ("poles",),
}

_UNITS = {"count": "events", "saifi": "interruptions/customer", "saidi": "hours/customer"}


def describe(name: str, group: str = "") -> dict:
    """Card entry of one column."""
    if name in _FIXED:
        meaning, unit, basis, driver = _FIXED[name]
    elif m := re.fullmatch(r"hist_(count|saifi|saidi)_(prev_period|last_(\d+)m|total)", name):
        what = {"count": "interruptions", "saifi": "SAIFI contribution", "saidi": "SAIDI contribution"}[m[1]]
        span = {"prev_period": "the previous period", "total": "all past periods"}.get(
            m[2], f"the {m[3]} months before the start")
        meaning, unit, basis, driver = f"asset's own {what} over {span}", _UNITS[m[1]], PAST, "persistent asset condition"
    elif m := re.fullmatch(r"hist_cause_([a-z_]+)_total", name):
        from gridcrit.features.targets import CAUSE_GROUPS

        codes = "CREG " + "/".join(str(c) for c in CAUSE_GROUPS[m[1]]) if m[1] in CAUSE_GROUPS else (
            "29 unknown, 47 omitted, undescribed or missing codes")
        meaning = (f"asset's own interruptions recorded with cause {m[1].replace('_', ' ')} ({codes}) over all "
                   "past periods (the groups sum to its all-time interruption count)")
        unit, basis, driver = "events", PAST, f"recorded cause: {m[1]}"
    elif m := re.fullmatch(r"veg_(records|high_risk|records_last_12m)_(\d+m|on_segment|circuit)", name):
        what = {"records": "vegetation inspection records", "high_risk": "vegetation records rated Alto",
                "records_last_12m": "vegetation records of the last 12 months"}[m[1]]
        where = {"on_segment": "on the segment (NODO_1/NODO_2 join)",
                 "circuit": "on the circuit (CIRCUITO_TRAMO join)"}.get(m[2], f"within {m[2]} of the asset")
        meaning, unit, basis, driver = f"{what} {where}, dated before the start", "records", PAST, "vegetation x rain"
    elif m := re.fullmatch(r"supports(_no_grounding|_wood)?_(\d+m)", name):
        what = {None: "supports (poles/towers)", "_no_grounding": "supports without foot grounding (TIERRA_PIE)",
                "_wood": "wooden supports (MATERIAL MADERA)"}[m[1]]
        driver = {None: "", "_no_grounding": "lightning x missing grounding",
                  "_wood": "wooden poles: failures x rain, climbed by animals"}[m[1]]
        meaning, unit, basis = f"{what} within {m[2]} of the asset, known before the start", "supports", PAST
    elif name in ("pole_wood", "pole_no_grounding"):
        what = {"pole_wood": "wooden (MATERIAL MADERA)", "pole_no_grounding": "without foot grounding (TIERRA_PIE)"}
        driver = {"pole_wood": "wooden poles: failures x rain, climbed by animals",
                  "pole_no_grounding": "lightning x missing grounding"}[name]
        from gridcrit.features.exposure import OWN_POLE_M

        meaning, unit, basis = (f"1 if the asset's own pole (nearest support within {OWN_POLE_M:g} m) is {what[name]}, "
                                "else 0; NaN while none is known", "flag", PAST)
    else:
        meaning, unit, basis, driver = "", "", "", ""
    return {"meaning": meaning, "unit": unit, "time_basis": basis, "group": group, "driver": driver,
            "twin_drivers": list(TWIN_DRIVERS.get(driver, ()))}


def build_card(columns: list[str], groups: dict[str, str], meta: dict) -> dict:
    """Data card of a dataset: metadata plus one entry per column (missing meanings are an error)."""
    cols = {c: describe(c, groups.get(c, "target" if c.startswith("y_") else "key")) for c in columns}
    undocumented = [c for c, d in cols.items() if not d["meaning"]]
    if undocumented:  # a bug, not user input: every column we emit must be documented
        raise AssertionError(f"undocumented dataset columns: {undocumented}")
    drivers: dict[str, list[str]] = {}
    for c, d in cols.items():
        if d["group"] in ("asset", "topology", "exposure", "history"):
            for k in d["twin_drivers"]:
                drivers.setdefault(k, []).append(c)
    # "drivers": twin hazard name -> feature columns that carry it (for checking explanations)
    return {**meta, "drivers": drivers, "columns": cols}
