"""The compact text a record keeps: bits and images round-trip, older plain base64 images still
read, and ten digits take a third of their plain size."""

import base64

import numpy as np

from bench.recovery.codec import pack_correct, pack_uint8_images, unpack_correct, unpack_images


def test_bits_round_trip_any_length():
    rng = np.random.default_rng(0)
    for n in (1, 7, 8, 9, 1000):
        b = rng.random(n) < 0.5
        assert np.array_equal(unpack_correct(pack_correct(b), n), b)


def test_images_round_trip_compressed_and_older_text_still_reads():
    rng = np.random.default_rng(1)
    imgs = np.zeros((10, 28, 28), np.uint8)
    imgs[:, 8:20, 10:18] = rng.integers(0, 256, (10, 12, 8))  # a digit-like blob on background
    text = pack_uint8_images(imgs)
    assert np.array_equal(unpack_images(text), imgs)
    old = base64.b64encode(imgs.tobytes()).decode()  # what records held before compression
    assert np.array_equal(unpack_images(old), imgs)
    assert len(text) < len(old) / 2


def test_floats_pack_losslessly_and_lists_still_read():
    from bench.recovery.codec import pack_floats, unpack_floats

    f32 = np.float32(np.random.default_rng(2).normal(5, 1, 100)).astype(float).tolist()
    assert pack_floats(f32).startswith("f4:") and unpack_floats(pack_floats(f32)) == f32
    f64 = [0.1, 1 / 3]
    assert pack_floats(f64).startswith("f8:") and unpack_floats(pack_floats(f64)) == f64
    assert unpack_floats([1.0, 2.0]) == [1.0, 2.0]


def test_recover_slim_keeps_what_the_report_reads():
    from bench.experiments.recover.recover_run import slim

    settings = {"generators": ["g", "h"], "generator_seeds": [0, 1], "seeds_for": {}, "seeds": [0, 1]}
    record = {
        "accuracy": 90.0,
        "correct": "AAA=",
        "histories": {"loss": [1.0]},
        "preview": pack_uint8_images(np.zeros((2, 28, 28), np.uint8)),
    }
    cell = {"generator": "g", "generator_seed": 0, "seed": 0}
    kept = slim(record, cell, settings)
    assert "histories" not in kept and kept["preview"] == record["preview"] and kept["correct"] == "AAA="
    for other in ({**cell, "generator": "h"}, {**cell, "generator_seed": 1}, {**cell, "seed": 1}):
        assert "preview" not in slim(record, other, settings)
