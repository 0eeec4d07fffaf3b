"""Batch throughput on CPU: seconds per image per stage with the real network sizes.

Writes a CNN folder with a ResNet-101 shape network (224x224 -> 198, written here without
torchvision, pickled as the original ships it: class in shape_model.py, module MainModel) and
the full bump U-Net (500x500) with random weights, then runs the batch on paper crops with their
.pts (landmark path) with --jobs 1 and --jobs 2, using the Surrey model.

    .venv/bin/python bench/batch.py [--images 20] [--shared ../shared]

Last line: SUMMARY s_per_image=.. prepare_s=.. shape_cnn_s=.. bump_cnn_s=.. core_s=.. write_s=..
images_per_s_jobs2=.. peak_rss_mb=.. cpu_s_per_image=.. prepare_detect_s=..
(cpu_s_per_image: CPU time of the jobs=1 run per image, its worker processes included; on a
machine shared with other work the wall-clock numbers overstate the cost. prepare_detect_s: the
prepare stage with dlib detection on in-the-wild photos, which the landmark-path run above does
not include.)
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

RESNET_SOURCE = '''
import torch
from torch import nn


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (stride) -> 1x1 (x4) residual block with batch norms."""

    def __init__(self, c_in, width, stride):
        super().__init__()
        c_out = 4 * width
        self.conv1 = nn.Conv2d(c_in, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, c_out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(c_out)
        self.shortcut = None
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = torch.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return torch.relu(y + (x if self.shortcut is None else self.shortcut(x)))


class KitModel(nn.Module):
    """ResNet-101 (3, 4, 23, 3 bottlenecks) regressing 198 coefficients from 224x224."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        layers, c_in = [], 64
        for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 23, 2), (512, 3, 2)):
            for i in range(blocks):
                layers.append(Bottleneck(c_in, width, stride if i == 0 else 1))
                c_in = 4 * width
        self.layers = nn.Sequential(*layers)
        self.fc_ftnew = nn.Linear(2048, 198)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = nn.functional.max_pool2d(x, 3, stride=2, padding=1)
        x = self.layers(x).mean(dim=(2, 3))
        return self.fc_ftnew(x)
'''


def make_cnn_dir(folder: Path) -> Path:
    """CNN folder with shape_model.{py,pth}, shape_mean.npz and ckpt_109_grad.pth.tar."""
    from extreme3d.models.bump_cnn import BUMP_WEIGHTS, BumpNet

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from _helpers import pickle_shape_net

    def small_head(net: torch.nn.Module) -> None:
        """Small outputs: plausible coefficients (a few tenths of a std)."""
        net.fc_ftnew.weight.mul_(0.01)
        net.fc_ftnew.bias.zero_()

    folder.mkdir(parents=True, exist_ok=True)
    pickle_shape_net(folder, RESNET_SOURCE, seed=0, adjust=small_head)
    np.savez(folder / "shape_mean.npz", np.full((3, 224, 224), 110.0, np.float32))
    bump = BumpNet()
    with torch.no_grad():  # mask head positive (dense surface kept), bump near flat
        bump.Gnet.last_alt_mask.bias.fill_(2.0)
        bump.Gnet.last_alt.weight.mul_(0.01)
    torch.save(bump.state_dict(), folder / BUMP_WEIGHTS)
    return folder


def stop_forkserver() -> None:
    """Stops multiprocessing's fork server (a later pool starts a new one): the batch's worker
    processes are its children, so their CPU time reaches RUSAGE_CHILDREN only once it exits."""
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    if server is not None and getattr(server, "_forkserver_pid", None) is not None:
        server._stop()


def cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children, s (the batch's
    workers included once the fork server is stopped, stop_forkserver)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def peak_rss_mb() -> float:
    """Peak resident memory of this process and of its (finished) children, MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024.0


def main() -> int:
    """Runs the benchmark and prints the SUMMARY line."""
    from extreme3d.paths import shared_dir
    from extreme3d.pipeline import STAGES, BatchOptions, run_batch
    from extreme3d.prepare.sfm import convert_sfm

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--shared", type=Path, default=shared_dir())
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--skip-jobs2", action="store_true")
    parser.add_argument("--detect", type=int, default=5,
                        help="also time the prepare stage with dlib detection on this many "
                             "shared test photos (0: skip)")
    args = parser.parse_args()

    paper = args.shared / "data" / "paper" / "imgs"
    crops = sorted(p for p in paper.glob("*.png") if p.with_suffix(".pts").is_file())
    crops = crops[: args.images]
    if not crops:
        print(f"no paper crops in {paper}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        work = Path(tmp)
        model = convert_sfm(args.shared / "models" / "sfm", work / "sfm_mod.h5")
        cnn = make_cnn_dir(work / "CNN")
        listing = work / "list.txt"
        listing.write_text("".join(f"{p}\n" for p in crops))

        def run(jobs: int, out: str):
            t0, c0 = time.perf_counter(), cpu_seconds()
            summary = run_batch(BatchOptions(
                input_list=listing, output_dir=work / out, landmark_dir=paper, model_path=model,
                cnn_dir=cnn, device="cpu", jobs=jobs, batch_size=args.batch_size, progress=False,
                trust_cnn_pickles=True,  # the bench's own stand-in networks, written above
            ), log=lambda _msg: None)
            wall = time.perf_counter() - t0
            stop_forkserver()  # the workers' CPU time counted (CNN worker, stage and core pools)
            cpu = cpu_seconds() - c0
            for rec in summary.failed:
                print(f"failed: {rec.name}: {rec.reason}", file=sys.stderr)
            print(f"jobs={jobs}: CPU time {cpu:.1f} s, wall {wall:.1f} s, load average "
                  f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
            return summary, wall, cpu

        s1, wall1, cpu1 = run(1, "out_jobs1")
        n1 = len(s1.done)
        per = s1.seconds_per_image()
        print(f"jobs=1: {n1}/{len(crops)} images in {wall1:.1f} s "
              f"(shape {s1.shape_source}, bump {s1.bump_source})")
        for stage in STAGES:
            print(f"  {stage:10s} {per[stage]:.3f} s/image")
        ips2 = float("nan")
        if not args.skip_jobs2:
            s2, wall2, _ = run(2, "out_jobs2")
            ips2 = len(s2.done) / wall2 if wall2 > 0 else float("nan")
            print(f"jobs=2: {len(s2.done)}/{len(crops)} images in {wall2:.1f} s "
                  f"({ips2:.3f} images/s)")
    detect_s = float("nan")
    photos = sorted((args.shared / "data" / "test").glob("*.*"))[: args.detect]
    if photos:
        from extreme3d.prepare_images import prepare_image

        prepare_image(photos[0])  # load dlib's models outside the timing
        t0 = time.perf_counter()
        for photo in photos:
            try:
                prepare_image(photo)
            except Exception as exc:  # noqa: BLE001 - a photo without a face still counts
                print(f"prepare {photo.name}: {exc}", file=sys.stderr)
        detect_s = (time.perf_counter() - t0) / len(photos)
        print(f"prepare with dlib detection: {detect_s:.3f} s/image on {len(photos)} test photos")
    s_per_image = wall1 / max(n1, 1)
    print(
        f"SUMMARY s_per_image={s_per_image:.3f} prepare_s={per['prepare']:.3f} "
        f"shape_cnn_s={per['shape_cnn']:.3f} bump_cnn_s={per['bump_cnn']:.3f} "
        f"core_s={per['core']:.3f} write_s={per['write']:.3f} "
        f"images_per_s_jobs2={ips2:.3f} peak_rss_mb={peak_rss_mb():.0f} "
        f"cpu_s_per_image={cpu1 / max(n1, 1):.3f} prepare_detect_s={detect_s:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
