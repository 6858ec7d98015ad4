"""The retrain summary in words: TabNet fine-tunes in Spanish, tiny changes not printed as 0.0 %."""

from __future__ import annotations

from gridcrit.registry.retrain import _TEXT, _change, _how


def test_tabnet_finetune_is_described_in_spanish():
    how = ("warm-started the champion's TabNet weights for up to 12 epochs on 2024-01..2024-08 plus 12 "
           "replayed period(s) 2023-01..2023-12")
    es = _how(how, _TEXT["es"])
    assert es.startswith("se continuó el entrenamiento de los pesos TabNet del campeón hasta 12 épocas")
    assert "repetidos 2023-01..2023-12" in es and "warm-started" not in es
    pre = _how("self-supervised pretraining on 5724 unlabelled new rows, then fine-tuned for up to 5 epochs",
               _TEXT["es"])
    assert "5724 filas nuevas sin etiqueta" in pre and "pretraining" not in pre


def test_a_tiny_change_keeps_two_decimals():
    from types import SimpleNamespace

    R = SimpleNamespace(improvement=-0.00033, primary_metric="poisson_deviance",  # the fields _change reads
                        metrics={"champion": {"poisson_deviance": 0.5056}, "challenger": {"poisson_deviance": 0.5058}})
    assert "empeoró un 0.03%" in _change(R, _TEXT["es"]) and "0.0%" not in _change(R, _TEXT["es"])
    R.improvement = 0.02
    assert "improved by 2.0%" in _change(R, _TEXT["en"])
