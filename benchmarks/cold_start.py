"""Training the classifier and the LSGAN of a cold start: one after the other on all cores (what
`bench recover` does), or side by side in threads with one core each; run by hand, prints figures.

Side by side saves about a fifth of the time, but `bench recover` does not do it in threads: both
trainers draw from torch's global RNG (dropout, inits), so interleaved their weights would depend
on timing. (Here, too, the side-by-side models differ from the serial ones; only time is measured.)

Both default recipes for --epochs epochs on the full MNIST training set (their real recipes run
5 and 20 epochs; time per epoch is flat, so the ratio carries over), seed 0, on the CPU:
  (a) serial: the classifier, then the LSGAN, each with torch's default intra-op threads;
  (b) together: both at once in two threads, one intra-op thread each.

    .venv/bin/python benchmarks/cold_start.py --data-dir ../shared/data/mnist     # ~2 min
"""

from __future__ import annotations

import argparse
import dataclasses
import threading
import time

import torch

from bench.classifier import ClassifierConfig, train_classifier
from bench.data import load_mnist, to_pixels
from lwgan.lsgan import LSGANConfig, train_lsgan


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default="../shared/data/mnist")
    p.add_argument("--epochs", type=int, default=1)
    args = p.parse_args()
    mnist = load_mnist(args.data_dir)
    x, y = to_pixels(mnist.train_images), mnist.train_labels
    clf_cfg = dataclasses.replace(ClassifierConfig(), epochs=args.epochs)
    gan_cfg = dataclasses.replace(LSGANConfig(), epochs=args.epochs)

    def timed(fn):
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0

    def clf():
        train_classifier(x, y, seed=0, device="cpu", cfg=clf_cfg)

    def gan():
        train_lsgan(gan_cfg, x, seed=0, device="cpu")

    threads = torch.get_num_threads()
    print(
        f"{args.epochs} epoch(s) of each default recipe on {x.shape[0]:,} images; torch {torch.__version__}, "
        f"{threads} threads"
    )
    t_clf, t_gan = timed(clf), timed(gan)
    print(f"(a) serial, {threads} threads each: classifier {t_clf:.1f} s + lsgan {t_gan:.1f} s = {t_clf + t_gan:.1f} s")
    torch.set_num_threads(1)
    got = {}
    jobs = [
        threading.Thread(target=lambda k=k, f=f: got.__setitem__(k, timed(f))) for k, f in (("clf", clf), ("gan", gan))
    ]
    t0 = time.perf_counter()
    for j in jobs:
        j.start()
    for j in jobs:
        j.join()
    wall = time.perf_counter() - t0
    torch.set_num_threads(threads)
    print(f"(b) together, 1 thread each: {wall:.1f} s wall (classifier {got['clf']:.1f} s, lsgan {got['gan']:.1f} s)")
    print(f"together / serial: {wall / (t_clf + t_gan):.2f}")


if __name__ == "__main__":
    main()
