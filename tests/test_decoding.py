import numpy as np
import pytest

from lmcollapse.models.decoding import Sampler, draw_categorical
from lmcollapse.config import SamplerConfig

P = np.array([[0.5, 0.2, 0.15, 0.1, 0.05, 0.0]])


def test_pure_sampler_is_identity():
    np.testing.assert_allclose(Sampler().transform(P), P)


def test_temperature_sharpens_and_flattens():
    cold, hot = Sampler(SamplerConfig(temperature=0.5)).transform(P)[0], Sampler(SamplerConfig(temperature=2.0)).transform(P)[0]
    expected_cold = P[0] ** 2 / (P[0] ** 2).sum()
    np.testing.assert_allclose(cold, expected_cold)
    assert hot[0] < P[0, 0] < cold[0] and hot[5] == 0


def test_top_k_and_top_p():
    np.testing.assert_allclose(Sampler(SamplerConfig(top_k=2)).transform(P)[0], [0.5 / 0.7, 0.2 / 0.7, 0, 0, 0, 0])
    # top_p=0.8: 0.5+0.2 = 0.7 < 0.8, so the third token is needed too.
    np.testing.assert_allclose(Sampler(SamplerConfig(top_p=0.8)).transform(P)[0], [0.5 / 0.85, 0.2 / 0.85, 0.15 / 0.85, 0, 0, 0])
    np.testing.assert_allclose(Sampler(SamplerConfig(top_p=0.5)).transform(P)[0], [1, 0, 0, 0, 0, 0])


def test_invalid_settings():
    for kwargs in ({"temperature": 0}, {"top_k": -1}, {"top_p": 0}, {"max_tokens": 0}):
        with pytest.raises(ValueError):
            Sampler(SamplerConfig(**kwargs))


def test_draw_categorical_boundaries():
    probs = np.array([[0.25, 0.25, 0.5]] * 4)
    assert draw_categorical(probs, np.array([0.0, 0.2499, 0.25, 0.99999])).tolist() == [0, 0, 1, 2]
