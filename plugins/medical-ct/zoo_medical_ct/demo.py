"""The demo cohort: synthetic chest CT written as real DICOM series, generated once into a cache.

Each patient gets one or two studies; each study is an axial series of 8
96x96 slices (2.8 mm pixels, 3 mm apart) through a chest: air, a subcutaneous
fat layer, muscle and soft tissue, two lungs with a textured parenchyma and
vessels, a heart, an aorta (some patients with contrast), a vertebra with a
cortical rim, and ribs. Positive studies ("nodule") carry one or two solid or
part-solid lung nodules of 12-30 mm, of varied contrast and position; negative
studies ("normal") do not. Vessels seen end-on look like small nodules, the
parenchyma is noisy and nodules reach only the slices they intersect, so the
task is learnable but not trivial.

Series are written with the encodings scanners use (12- and 16-bit, signed
and unsigned pixels, RescaleSlope 0.25 to 2 and RescaleIntercept -2048 to 0),
file names that do not follow the slice order, and some series stored head
to feet, so the demo goes through the same reader as users' data. The cohort
lives in `$KERAS_ZOO_CACHE/medical-ct-demo-v1/` (default
`~/.cache/keras-zoo/`), with two label files:

- `labels.csv`: slice-level labels (`slice_index`: which slices of each
  series show a nodule), what `demo()` trains on, like an annotated dataset;
- `labels_studies.csv`: one label per study (the usual clinical labels); with
  them the negative slices of positive studies are labelled positive too,
  which a slice model can fit only by memorising patients.

`write_held_out(folder)` writes a few more series from the same generator, of
patients that are in no cohort: the raw inputs `zoo predict` examples use
(`DataAdapter.write_examples`).

Example:

```python
from zoo_medical_ct.demo import demo_cohort
csv_path = demo_cohort()          # generates on first use (a few seconds), then reuses
```
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from zoo_medical_ct.data import DEMO_PATIENTS

log = logging.getLogger(__name__)

VERSION = "medical-ct-demo-v1"
DEFAULT_PATIENTS = DEMO_PATIENTS            # the default of the plugin option `demo_patients`
SIZE = 96
PIXEL_MM = 2.8
SLICES = 8
SLICE_MM = 3.0
CLASSES = ("normal", "nodule")
#: (slope, intercept, signed, bits stored): encodings of different scanners
ENCODINGS = ((1.0, -1024.0, False, 12), (0.5, -1024.0, False, 16), (2.0, -2048.0, False, 12),
             (0.25, -512.0, True, 16))


def demo_cohort(patients: int = DEFAULT_PATIENTS, root: str | Path | None = None) -> Path:
    """The labels CSV of the demo cohort, generating the DICOM files first when they are not cached."""
    from zoo.data import cache_dir

    root = Path(root) if root is not None else cache_dir()
    name = VERSION if patients == DEFAULT_PATIENTS else f"{VERSION}-{patients}p"
    folder = root / name
    if _complete(folder, patients):
        return folder / "labels.csv"
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    try:
        log.info("generating the medical-ct demo cohort (%d patients) in %s", patients, folder)
        summary = write_cohort(tmp, patients)
        (tmp / "cohort.json").write_text(json.dumps(summary, indent=2) + "\n")
        if _complete(folder, patients):          # another process finished first
            shutil.rmtree(tmp)
            return folder / "labels.csv"
        if folder.exists():                      # an older or damaged cohort: replace it
            shutil.rmtree(folder)
        os.rename(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder / "labels.csv"


def _complete(folder: Path, patients: int) -> bool:
    """A finished cohort of this version and size (`cohort.json` is written last)."""
    try:
        summary = json.loads((folder / "cohort.json").read_text())
    except (OSError, ValueError):
        return False
    return summary.get("version") == VERSION and summary.get("patients") == patients and \
        (folder / "labels.csv").is_file()


# --------------------------------------------------------------------------- drawing

class _Canvas:
    """A supersampled slice (`ss` x `ss` subsamples per pixel) that ellipses are painted on."""

    def __init__(self, ss: int, value: float):
        self.ss = ss
        self.n = SIZE * ss
        self.hu = np.full((self.n, self.n), value)

    def ellipse(self, cx, cy, ax, ay, angle=0.0):
        """`(rows, cols, mask)`: the ellipse's bounding box and its inside (pixel units)."""
        reach = max(ax, ay) + 1.0
        r0, r1 = max(0, int((cy - reach) * self.ss)), min(self.n, int((cy + reach) * self.ss) + 1)
        c0, c1 = max(0, int((cx - reach) * self.ss)), min(self.n, int((cx + reach) * self.ss) + 1)
        y = ((np.arange(r0, r1) + 0.5) / self.ss)[:, None] - cy
        x = ((np.arange(c0, c1) + 0.5) / self.ss)[None, :] - cx
        ca, sa = np.cos(angle), np.sin(angle)
        u, v = x * ca + y * sa, -x * sa + y * ca
        return slice(r0, r1), slice(c0, c1), (u / ax) ** 2 + (v / ay) ** 2 <= 1.0

    def full(self, shape) -> np.ndarray:
        rows, cols, inside = shape
        mask = np.zeros((self.n, self.n), bool)
        mask[rows, cols] = inside
        return mask

    def paint(self, value: float, shape, within: np.ndarray | None = None) -> None:
        rows, cols, inside = shape
        if within is not None:
            inside = inside & within[rows, cols]
        self.hu[rows, cols][inside] = value

    def pixels(self) -> np.ndarray:
        """Average the subsamples: partial-volume edges."""
        return self.hu.reshape(SIZE, self.ss, SIZE, self.ss).mean(axis=(1, 3))


def _smooth_noise(rng, shape, sigma_px: float) -> np.ndarray:
    """Gaussian-filtered white noise of unit standard deviation (FFT filter)."""
    noise = rng.standard_normal(shape)
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.fftfreq(shape[1])[None, :]
    gain = np.exp(-2 * (np.pi * sigma_px) ** 2 * (fx ** 2 + fy ** 2))
    out = np.real(np.fft.ifft2(np.fft.fft2(noise) * gain))
    return out / (out.std() + 1e-9)


class _Patient:
    """Anatomy of one patient, drawn on any axial slice (z in mm from the series' first slice)."""

    def __init__(self, rng: np.random.Generator):
        r = rng.uniform
        self.cx, self.cy = SIZE / 2 + r(-3, 3), SIZE / 2 + r(-1, 3)
        self.ax, self.ay = r(38, 44), r(27, 33)
        self.fat = r(0.86, 0.93)
        self.lung_ax, self.lung_ay = r(0.30, 0.36), r(0.58, 0.70)
        self.lung_hu = r(-870, -800)
        self.heart = (r(-3, 3), r(-10, -5), r(9, 13), r(8, 11))        # dx, dy, ax, ay
        self.contrast = bool(rng.random() < 0.5)
        self.vessels = [(r(-1, 1), r(-1, 1), r(0.6, 1.4), r(-1, 1), r(-1, 1)) for _ in range(rng.integers(5, 13))]
        self.ribs = sorted(r(0.3, 2 * np.pi - 0.3, size=rng.integers(6, 11)))
        self.noise = r(12, 28)
        self.tilt = r(-0.08, 0.08)

    def lungs(self):
        dx = 0.47 * self.ax
        return [(self.cx - dx, self.cy - 0.08 * self.ay), (self.cx + dx, self.cy - 0.08 * self.ay)]

    def draw(self, z_mm: float, nodules, rng: np.random.Generator, ss: int = 3) -> np.ndarray:
        c = _Canvas(ss, -1000.0)                                           # air
        growth = 1.0 + 0.03 * (z_mm - SLICES * SLICE_MM / 2) / SLICE_MM     # lungs widen towards the feet
        c.paint(-100.0, c.ellipse(self.cx, self.cy, self.ax, self.ay, self.tilt))             # subcutaneous fat
        c.paint(45.0, c.ellipse(self.cx, self.cy, self.ax * self.fat, self.ay * self.fat, self.tilt))  # muscle
        lung_mask = np.zeros((c.n, c.n), bool)
        for lx, ly in self.lungs():
            lung_mask |= c.full(c.ellipse(lx, ly, self.ax * self.lung_ax * growth, self.ay * self.lung_ay * growth))
        hdx, hdy, hax, hay = self.heart
        heart = c.full(c.ellipse(self.cx + hdx, self.cy + self.ay * 0.1 + hdy, hax + 1.5, hay, 0.3))
        lung_mask &= ~heart
        c.hu[lung_mask] = self.lung_hu
        c.hu[heart] = 40.0
        for angle in self.ribs:                                            # ribs in the chest wall
            rx = self.cx + np.cos(angle) * self.ax * (self.fat - 0.04)
            ry = self.cy + np.sin(angle) * self.ay * (self.fat - 0.04)
            c.paint(750.0, c.ellipse(rx, ry, 1.6, 1.2, angle))
        blood = 180.0 if self.contrast else 40.0
        c.paint(blood, c.ellipse(self.cx + 3, self.cy + 0.45 * self.ay, 2.6, 2.6))          # aorta
        spine_y = self.cy + 0.72 * self.ay
        c.paint(850.0, c.ellipse(self.cx, spine_y, 5.2, 4.6))                               # cortical rim
        c.paint(280.0, c.ellipse(self.cx, spine_y, 4.0, 3.4))                               # cancellous bone
        c.paint(700.0, c.ellipse(self.cx, spine_y + 5.5, 1.8, 2.4))                         # spinous process
        lungs = self.lungs()
        for i, (u, v, radius, du, dv) in enumerate(self.vessels):                           # vessels end-on
            lx, ly = lungs[i % 2]
            vx = lx + u * 0.75 * self.ax * self.lung_ax + du * 0.15 * z_mm
            vy = ly + v * 0.75 * self.ay * self.lung_ay + dv * 0.15 * z_mm
            c.paint(blood - 20.0, c.ellipse(vx, vy, radius, radius), within=lung_mask)
        for nodule in nodules:                                                              # spheres
            dz = z_mm - nodule["z_mm"]
            r2 = nodule["radius_mm"] ** 2 - dz ** 2
            if r2 > 0:
                r_px = np.sqrt(r2) / PIXEL_MM
                c.paint(nodule["hu"], c.ellipse(nodule["x"], nodule["y"], r_px, r_px * nodule["aspect"]),
                        within=lung_mask)
        hu = c.pixels()
        texture = _smooth_noise(rng, hu.shape, 1.2)
        hu = hu + np.where(hu < -500, 35.0 * texture, 0.0)                                  # parenchyma
        return hu + self.noise * _smooth_noise(rng, hu.shape, 0.6)                           # scanner noise


def _nodules(patient: _Patient, rng: np.random.Generator) -> list[dict]:
    out = []
    for _ in range(1 if rng.random() < 0.75 else 2):
        radius = rng.uniform(6.0, 15.0)                  # mm: 12-30 mm diameter
        solid = rng.random() < 0.7
        lx, ly = patient.lungs()[int(rng.integers(0, 2))]
        angle, dist = rng.uniform(0, 2 * np.pi), np.sqrt(rng.uniform(0, 1)) * 0.55
        out.append({
            "x": float(lx + np.cos(angle) * dist * patient.ax * patient.lung_ax),
            "y": float(ly + np.sin(angle) * dist * patient.ay * patient.lung_ay),
            "z_mm": float(rng.uniform(0.25, 0.75) * (SLICES - 1) * SLICE_MM),
            "radius_mm": float(radius),
            "aspect": float(rng.uniform(0.8, 1.2)),
            "hu": float(rng.uniform(0, 70) if solid else rng.uniform(-450, -250)),
        })
    return out


def write_cohort(folder: Path, patients: int, first: int = 0, prefix: str = "CT-DEMO",
                 scanner: "Scanner | None" = None) -> dict:
    """Write the DICOM series and both CSVs into `folder`; return a summary.

    `first`: the first demo patient number (cohorts of different sites take disjoint ranges);
    `scanner`: how this site's scanner changes the images (`None`: the demo's own).
    """
    rows, slice_rows = [], []
    for k in range(patients):
        p = first + k
        pid = f"{prefix}-{k + 1:03d}"
        for study, label, visible in _write_patient(folder, p, pid, scanner=scanner):
            rows.append({"patient_id": pid, "path": study, "label": label})
            slice_rows += [{"patient_id": pid, "path": study, "slice_index": k, "label": CLASSES[int(v)]}
                           for k, v in enumerate(visible)]
    _write_csv(folder / "labels.csv", ["patient_id", "path", "slice_index", "label"], slice_rows)
    _write_csv(folder / "labels_studies.csv", ["patient_id", "path", "label"], rows)
    return {"version": VERSION, "patients": patients, "studies": len(rows),
            "positive_studies": sum(r["label"] == CLASSES[1] for r in rows),
            "slices_per_study": SLICES, "size": SIZE, "pixel_mm": PIXEL_MM, "slice_mm": SLICE_MM,
            "scanner": None if scanner is None else scanner.describe(),
            "note": "synthetic data generated by keras-zoo-medical-ct; not real patients, not for clinical use"}


class Scanner:
    """A site's scanner: extra noise (HU, standard deviation), a calibration shift of every HU value,
    and a softer reconstruction kernel (Gaussian blur, in pixels). Applied to each slice after drawing.

    Example: `Scanner(noise=25.0)` is a low-dose scanner; `Scanner(shift=-40.0, blur=1.0)` a miscalibrated
    one with a soft kernel.
    """

    def __init__(self, noise: float = 0.0, shift: float = 0.0, blur: float = 0.0):
        self.noise, self.shift, self.blur = float(noise), float(shift), float(blur)

    def describe(self) -> str:
        parts = [f"noise +{self.noise:g} HU" if self.noise else "", f"HU shift {self.shift:+g}" if self.shift else "",
                 f"soft kernel (blur {self.blur:g} px)" if self.blur else ""]
        return ", ".join(p for p in parts if p) or "the demo's scanner"

    def apply(self, volume: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = np.asarray(volume, "float64")
        if self.blur:
            fy = np.fft.fftfreq(out.shape[1])[:, None]
            fx = np.fft.fftfreq(out.shape[2])[None, :]
            gain = np.exp(-2 * (np.pi * self.blur) ** 2 * (fx ** 2 + fy ** 2))
            out = np.real(np.fft.ifft2(np.fft.fft2(out, axes=(1, 2)) * gain, axes=(1, 2)))
        if self.noise:
            out = out + self.noise * np.stack([_smooth_noise(rng, s.shape, 0.6) for s in out])
        return out + self.shift


#: the scanners of the federated demo sites, in turn (site 1, 2, 3, 4, ...)
SITE_SCANNERS = (Scanner(), Scanner(noise=30.0), Scanner(shift=-40.0, blur=1.0), Scanner(noise=15.0, shift=30.0))
#: the sites' patient numbers: site i's cohort starts at SITES_START + i * SITE_STRIDE
SITES_START, SITE_STRIDE = 2_000_000, 100_000


def write_sites(folder: str | Path, n: int, patients: int) -> list[tuple[str, str]]:
    """`n` site cohorts of `patients` each under `folder/siteN/`, each from its own scanner (`SITE_SCANNERS`)
    and of its own patients (in no other cohort). Returns `(labels.csv, description)` per site.

    Example: `write_sites("sites", 3, 80)` -> `[("sites/site1/labels.csv", "the demo's scanner"), ...]`.
    """
    out = []
    for i in range(n):
        scanner = SITE_SCANNERS[i % len(SITE_SCANNERS)]
        site = Path(folder) / f"site{i + 1}"
        site.mkdir(parents=True, exist_ok=True)
        summary = write_cohort(site, patients, first=SITES_START + i * SITE_STRIDE, prefix=f"CT-SITE{i + 1}",
                               scanner=scanner)
        (site / "cohort.json").write_text(json.dumps(summary, indent=2) + "\n")
        out.append((str(site / "labels.csv"), f"{patients} patients, {summary['studies']} studies; scanner: "
                                              f"{scanner.describe()}"))
    return out


def _patient_rng(p: int) -> np.random.Generator:
    return np.random.default_rng([20240611, p])


def _write_patient(folder: Path, p: int, pid: str, max_studies: int = 2,
                   scanner: Scanner | None = None) -> list[tuple[str, str, list[bool]]]:
    """Write the studies of demo patient number `p` under `folder / pid`.

    Returns `(study path relative to folder, label, nodule visible per slice)` per study.
    """
    from zoo_medical_ct.io import write_dicom_series

    rng = _patient_rng(p)
    anatomy = _Patient(rng)
    positive = bool(rng.random() < 0.45)
    n_studies = 2 if rng.random() < 0.2 else 1
    out = []
    for s in range(min(n_studies, max_studies)):
        nodules = _nodules(anatomy, rng) if positive else []
        zs = np.arange(SLICES) * SLICE_MM
        volume = np.stack([anatomy.draw(float(z), nodules, rng) for z in zs])
        if scanner is not None:  # its own generator: the draws below stay those of the demo's scanner
            volume = scanner.apply(volume, np.random.default_rng([20240611, p, s, 1]))
        slope, intercept, signed, bits = ENCODINGS[int(rng.integers(0, len(ENCODINGS)))]
        head_first = bool(rng.random() < 0.3)             # stored head to feet: positions descending
        names = [f"IM{k:05d}.dcm" for k in rng.permutation(10_000)[:SLICES]]
        origin_z = -SLICES * SLICE_MM / 2 + rng.uniform(-20, 20)
        written = volume[::-1] if head_first else volume
        study = f"{pid}/study{s + 1}"
        write_dicom_series(
            folder / study, written, patient_id=pid, pixel_spacing=PIXEL_MM,
            slice_spacing=-SLICE_MM if head_first else SLICE_MM,
            origin=(-SIZE * PIXEL_MM / 2, -SIZE * PIXEL_MM / 2,
                    origin_z + ((SLICES - 1) * SLICE_MM if head_first else 0.0)),
            slope=slope, intercept=intercept, signed=signed, bits_stored=bits, file_names=names,
            uid_seed=f"{VERSION}/{study}", description=f"keras-zoo synthetic chest CT ({VERSION})")
        visible = [any(n["radius_mm"] ** 2 - (z - n["z_mm"]) ** 2 > (PIXEL_MM / 2) ** 2 for n in nodules)
                   for z in zs]
        out.append((study, CLASSES[int(positive)], visible))
    return out


#: demo patient numbers from here on belong to no cohort (cohorts number patients from 0)
HELD_OUT_START = 1_000_000


def write_held_out(folder: str | Path, n: int = 2) -> list[Path]:
    """Write `n` single-study patients that no demo cohort contains (nodule first, then normal, alternating).

    Same generator, encodings and file layout as the cohort; returns the series folders
    (`folder/CT-HELDOUT-1/study1`, ...), what `zoo predict` takes.

    Example: `write_held_out("examples")` -> `[Path("examples/CT-HELDOUT-1/study1"), Path(".../CT-HELDOUT-2/study1")]`.
    """
    folder = Path(folder)
    wanted = [CLASSES[1] if i % 2 == 0 else CLASSES[0] for i in range(n)]
    out: list[Path] = []
    p = HELD_OUT_START
    while len(out) < n:
        rng = _patient_rng(p)
        _Patient(rng)
        label = CLASSES[int(rng.random() < 0.45)]      # the draw `_write_patient` makes
        if label == wanted[len(out)]:
            pid = f"CT-HELDOUT-{len(out) + 1}"
            study, _, _ = _write_patient(folder, p, pid, max_studies=1)[0]
            out.append(folder / study)
        p += 1
    return out


def _write_csv(path: Path, fields: list[str], rows: list[dict]) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def held_out_studies(run: str | Path) -> list[tuple[str, str]]:
    """`(study folder, label)` of the demo studies in a run's test split: nodule studies first.

    The nodule studies come in order of how many of their slices show a nodule
    (`labels.csv`), most first, then in file order: the first is a clear case,
    chosen from the labels alone, never from a model's scores. Normal studies
    follow in file order.

    Example: `held_out_studies("runs/medical-ct-20250101-120000")[0]` -> `(".../CT-DEMO-140/study1", "nodule")`.
    """
    from zoo.runs import read_run

    meta = read_run(run)
    patients = set(meta["data_metadata"]["patients"]["test"])
    root = Path(meta["data_metadata"]["source"]).parent
    with open(root / "labels_studies.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["patient_id"] in patients]
    shown: dict[str, int] = {}
    with open(root / "labels.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            shown[r["path"]] = shown.get(r["path"], 0) + (r["label"] != CLASSES[0])
    rows.sort(key=lambda r: (r["label"] == CLASSES[0], -shown.get(r["path"], 0)))    # stable: file order
    return [(str(root / r["path"]), r["label"]) for r in rows]


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m zoo_medical_ct.demo",
                                     description="Print the series folders of held-out demo studies of a run (its "
                                                 "test split): the clearest nodule study first, then normal ones.")
    parser.add_argument("run", help="a run folder of `zoo finetune --plugin medical-ct`")
    parser.add_argument("-n", type=int, default=2, help="how many studies")
    args = parser.parse_args()
    studies = held_out_studies(args.run)
    positives = [s for s in studies if s[1] != "normal"][: (args.n + 1) // 2]
    negatives = [s for s in studies if s[1] == "normal"][: args.n - len(positives)]
    for folder, label in positives + negatives:
        print(folder)
