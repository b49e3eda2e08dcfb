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
