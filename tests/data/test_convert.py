"""npe.data.convert: the uint8 <-> model-tensor conventions."""

from __future__ import annotations

import warnings

import numpy as np

from npe.data.convert import to_model, to_uint8


def test_round_trip_is_exact_for_uint8():
    image = np.random.default_rng(0).integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    tensor = to_model(image)
    assert tuple(tensor.shape) == (1, 3, 5, 7)
    assert float(tensor.min()) >= -1.0 and float(tensor.max()) <= 1.0
    np.testing.assert_array_equal(to_uint8(tensor)[0], image)


def test_read_only_arrays_convert_silently_and_stay_untouched():
    image = np.full((4, 4, 3), 200, dtype=np.uint8)
    image.flags.writeable = False  # as the editor's frozen crops are
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tensor = to_model(image)
    tensor.add_(1.0)  # the tensor owns its memory: changing it cannot reach the array
    assert int(image[0, 0, 0]) == 200
