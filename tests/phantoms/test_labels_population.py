"""CheXpert labels follow the ground truth; the population sampler draws sensible prevalences."""

from __future__ import annotations

import pytest

from ldedit_core.phantoms import CHEXPERT_COLUMNS, chexpert_labels, make_phantom, sample_population
from ldedit_core.phantoms.population import DEFAULT_PREVALENCE, draw_severities
from tests.phantoms.conftest import phantom


def test_labels_follow_severities():
    assert chexpert_labels(phantom(1)) == {
        "No Finding": 1.0,
        "Cardiomegaly": 0.0,
        "Pleural Effusion": 0.0,
        "Edema": 0.0,
        "Lung Lesion": 0.0,
    }
    sick = chexpert_labels(phantom(1, cardiomegaly=0.8, effusion_left=0.3, nodule=0.5))
    assert sick == {
        "No Finding": 0.0,
        "Cardiomegaly": 1.0,
        "Pleural Effusion": 1.0,
        "Edema": 0.0,
        "Lung Lesion": 1.0,
    }
    assert chexpert_labels(phantom(1, edema=0.5))["Edema"] == 1.0
    assert chexpert_labels(phantom(1, edema=0.01))["Edema"] == 0.0


def test_cardiomegaly_label_is_ctr_above_half():
    mild = make_phantom(2, 64, cardiomegaly=0.05)
    assert (chexpert_labels(mild)["Cardiomegaly"] == 1.0) == (mild.params["ctr"] > 0.5)
    assert mild.params["ctr"] < 0.5


def test_all_columns_follow_chexpert_hierarchy():
    labels = chexpert_labels(phantom(1, cardiomegaly=0.8, edema=0.5), all_columns=True)
    assert tuple(labels) == CHEXPERT_COLUMNS
    assert labels["Enlarged Cardiomediastinum"] == 1.0 and labels["Lung Opacity"] == 1.0
    assert labels["Pneumothorax"] == 0.0


def test_population_is_reproducible_and_labelled():
    a = list(sample_population(3, seed=5, size=64))
    b = list(sample_population(3, seed=5, size=64))
    assert [p.params for p in a] == [p.params for p in b]
    assert len({p.params["seed"] for p in a}) == 3


def test_population_prevalences():
    import numpy as np

    rng = np.random.default_rng(0)
    draws = [draw_severities(rng, DEFAULT_PREVALENCE) for _ in range(4000)]
    healthy = sum(all(v == 0 for v in d.values()) for d in draws) / len(draws)
    assert 0.30 < healthy < 0.42
    cardio = sum(d["cardiomegaly"] > 0 for d in draws) / len(draws)
    effusion = sum(max(d["effusion_left"], d["effusion_right"]) > 0 for d in draws) / len(draws)
    assert 0.2 < cardio < 0.3 and 0.2 < effusion < 0.3
    both = sum(d["effusion_left"] > 0 and d["effusion_right"] > 0 for d in draws) / len(draws)
    assert 0.05 < both < 0.15
    none = list(sample_population(2, seed=1, size=64, prevalence={d: 0.0 for d in DEFAULT_PREVALENCE}))
    assert all(chexpert_labels(p)["No Finding"] == 1.0 for p in none)


def test_population_argument_checks():
    with pytest.raises(ValueError, match="prevalence"):
        list(sample_population(1, seed=0, prevalence={"edema": 1.2}))
    with pytest.raises(ValueError, match="did you mean 'effusion'"):
        list(sample_population(1, seed=0, prevalence={"efusion": 0.2}))
    with pytest.raises(ValueError, match="n"):
        list(sample_population(-1, seed=0))
