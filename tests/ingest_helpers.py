"""Small valid export files for the data-stage tests (written by the tests into tmp_path)."""

from __future__ import annotations

from pathlib import Path

EV_HEADER = (
    "evento,periodo,equipo_ope,tipo_equi_ope,cto_equi_ope,tipo_elemento,inicio,fin,duracion_h,"
    "tipo_duracion,causa,tipo_causa,CNT_TRAFOS_AFEC,cnt_usus,SAIDI,SAIFI"
)


def ev_row(
    i: int, *, inicio: str = "2019-01-05 10:00:00", fin: str = "2019-01-05 12:30:00", usus: str = "120"
) -> str:
    """One interrupciones row (event ``i``) in the utility's CSV format."""
    return (
        f"{7549800 + i},201901,SW{i:04d},interruptor,NSA23L14,13.2,{inicio},{fin},2.5,> 3 min,30.0,NP,4,{usus},"
        f"0.0006,0.00024"
    )


def write_events(path: Path, n: int = 5, start: int = 0) -> Path:
    path.write_text("\n".join([EV_HEADER, *(ev_row(start + i) for i in range(n))]) + "\n", encoding="utf-8")
    return path


TRAFO_HEADER = "CODE,PHASES,FPARENT,ELNODE,KVA,FECHA,USUARIOS,LONGITUD,LATITUD,DEP,MUN"


def trafo_row(i: int, fecha: str = "2019-01-31", lon: str = "-75.51", lat: str = "5.06") -> str:
    return f"T{i:05d},ABC,NSA23L14,N{i:05d},37.5,{fecha},{20 + i},{lon},{lat},CALDAS,MANIZALES"


def write_trafos(path: Path, n: int = 5, fecha: str = "2019-01-31") -> Path:
    path.write_text(
        "\n".join([TRAFO_HEADER, *(trafo_row(i, fecha) for i in range(n))]) + "\n", encoding="utf-8"
    )
    return path


def checksums(store: Path) -> dict[str, str]:
    """Every table's checksum (what "nothing was written" is checked against)."""
    from gridcrit.data.store import connect, store_checksums

    con = connect(store, read_only=True)
    try:
        return store_checksums(con)
    finally:
        con.close()


def stored_rows(store: Path, sql: str) -> list[tuple]:
    """The rows ``sql`` returns from ``store`` (opened read-only)."""
    from gridcrit.data.store import connect

    con = connect(store, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()
