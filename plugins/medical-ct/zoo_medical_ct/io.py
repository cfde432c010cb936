"""Reading CT: DICOM series folders, single DICOM files and NIfTI volumes, in Hounsfield units.

Every reader returns a `Volume`: `hu` is float32 `(n_slices, rows, cols)`, slices
ordered along the slice normal (for an axial series, feet to head), rows from
anterior to posterior and columns from the patient's right to left (the DICOM
display convention; NIfTI volumes are reoriented to it).

- A **DICOM series folder** holds the files of one series. Slices are ordered
  by ImagePositionPatient projected on the slice normal (the cross product of
  the ImageOrientationPatient rows and columns), or by InstanceNumber when
  positions are missing, never by file name.
- **HU** = stored value * RescaleSlope + RescaleIntercept. When either tag is
  missing the file is refused, except for a CT image with signed pixels
  (PixelRepresentation 1): a signed CT image can only hold HU directly (an
  unsigned one cannot store air at -1000 HU without an intercept), so slope 1
  and intercept 0 are safe there and are applied with a warning.
- Compressed transfer syntaxes are decoded by pydicom's installed handlers;
  when none is installed the error names the packages that add one
  (pylibjpeg, python-gdcm).
- A DICOM file **without the 128-byte preamble** (the `DICM` marker at byte
  0, or a bare data set with no file meta, as some older tools and scanners
  write) is read all the same; its transfer syntax is the encoding the data
  set was found in. A file that is neither is "not a DICOM file".
- **Non-image DICOM objects** (an RT Structure Set, a Segmentation, a
  Structured Report, an RT Dose, ...) are refused with what they are and what
  they hold instead of CT pixels; in a series folder they are named before any
  other check, so the message says which file to remove.
- **NIfTI** (`.nii`, `.nii.gz`): values are taken as HU after the file's own
  `scl_slope` / `scl_inter`.

Example:

```python
from zoo_medical_ct.io import read_volume
volume = read_volume("studies/p001/ct")     # a folder of .dcm slices
volume.hu.shape, volume.hu.min()            # (n, 512, 512), about -1024
```
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from zoo.data import progress
from zoo.errors import DataError

log = logging.getLogger(__name__)

NIFTI_SUFFIXES = (".nii", ".nii.gz")
#: the value padding and out-of-field regions get (air)
AIR_HU = -1024.0
_INSTALL_DECODERS = "pip install pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg (or: pip install python-gdcm)"


@dataclass
class Volume:
    """A CT volume in HU: `hu` (n_slices, rows, cols) float32 and where it came from."""

    hu: np.ndarray
    source: str
    kind: str                                   # "dicom-series", "dicom-file" or "nifti"
    spacing: tuple[float, float, float] | None = None   # slice, row, column (mm) when known
    patient_id: str | None = None
    series_uid: str | None = None
    files: list[str] = field(default_factory=list)      # the file of each slice (DICOM series)


# --------------------------------------------------------------------------- dispatch

def is_nifti(path: str | Path) -> bool:
    name = str(path).lower()
    return name.endswith(NIFTI_SUFFIXES)


def read_volume(path: str | Path) -> Volume:
    """A DICOM series folder, a DICOM file or a NIfTI volume -> `Volume` in HU."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_dir():
        return read_dicom_series(path)
    if is_nifti(path):
        return read_nifti(path)
    return read_dicom_file(path)


# --------------------------------------------------------------------------- DICOM

def _dcmread(path: Path, folder: Path | None = None):
    """One DICOM file (with or without the 128-byte preamble); `folder`: the series folder it is in, if any."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        return pydicom.dcmread(path)
    except InvalidDicomError:
        pass
    except (EOFError, OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"{path}: cannot read this DICOM file ({type(exc).__name__}: {exc})") from None
    ds = _read_without_preamble(path)
    if ds is None:
        fix = f"remove it from the series folder {folder}" if folder is not None else \
            "pass a DICOM series folder, a DICOM file or a NIfTI volume (.nii, .nii.gz)"
        raise DataError(f"{path}: not a DICOM file (no 'DICM' marker, with or without the 128-byte preamble, and "
                        f"no DICOM data set at its start); {fix}")
    return ds


def _read_without_preamble(path: Path):
    """A DICOM file missing its 128-byte preamble, read; None when the file is not DICOM at all.

    Two layouts exist: the `DICM` marker and the file meta at byte 0 (read with
    the preamble put back), and a bare data set with no file meta (pydicom's
    `force=True`). A bare data set is accepted only when it starts in group
    0008 (where every image's identifying tags are) and has a SOPClassUID or a
    Modality, so that arbitrary bytes are not taken for DICOM; its transfer
    syntax is the encoding pydicom found it in.
    """
    import io as _bytes_io
    import warnings

    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
            if head == b"DICM":
                fh.seek(0)
                ds = pydicom.dcmread(_bytes_io.BytesIO(bytes(128) + fh.read()))
                log.debug("%s: no 128-byte preamble before the DICM marker; read all the same", path)
                return ds
        with warnings.catch_warnings():              # arbitrary bytes make pydicom warn about unknown tags
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, force=True)
            tags = list(ds.keys())
            if not tags or tags[0].group != 0x0008 or not ("SOPClassUID" in ds or "Modality" in ds):
                return None
            ds.get("Modality")                       # decodes: raises here, not later, for a broken value
    except Exception:                                # noqa: BLE001 - probing: any failure means "not DICOM"
        return None
    implicit, little = ds.original_encoding
    meta = getattr(ds, "file_meta", None) or FileMetaDataset()
    if "TransferSyntaxUID" not in meta:
        meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else \
            ExplicitVRLittleEndian if little else ExplicitVRBigEndian
    ds.file_meta = meta
    log.debug("%s: a bare DICOM data set (no preamble, no file meta), read as %s", path, meta.TransferSyntaxUID.name)
    return ds


def _number(ds, keyword: str):
    value = ds.get(keyword)
    if value is None or value == "":
        return None
    return float(value)


def _functional_group(ds, frame: int | None, sequence: str, keyword: str):
    """A value from an enhanced multi-frame file's per-frame or shared functional groups."""
    for groups, index in (("PerFrameFunctionalGroupsSequence", frame), ("SharedFunctionalGroupsSequence", 0)):
        items = ds.get(groups)
        if not items or index is None or index >= len(items):
            continue
        inner = items[index].get(sequence)
        if inner:
            value = inner[0].get(keyword)
            if value is not None and value != "":
                return value
    return None


def rescale_of(ds, path: Path | str, frame: int | None = None) -> tuple[float, float]:
    """`(slope, intercept)` of a dataset; `DataError` when missing and a default would be a guess."""
    slope = _number(ds, "RescaleSlope")
    intercept = _number(ds, "RescaleIntercept")
    if slope is None:
        value = _functional_group(ds, frame, "PixelValueTransformationSequence", "RescaleSlope")
        slope = None if value is None else float(value)
    if intercept is None:
        value = _functional_group(ds, frame, "PixelValueTransformationSequence", "RescaleIntercept")
        intercept = None if value is None else float(value)
    if slope is not None and intercept is not None:
        return slope, intercept
    missing = [name for name, v in (("RescaleSlope", slope), ("RescaleIntercept", intercept)) if v is None]
    modality = str(ds.get("Modality", "") or "").upper()
    if modality == "CT" and int(ds.get("PixelRepresentation", 0) or 0) == 1:
        log.warning("%s: %s missing; a CT image with signed pixels stores HU directly, using slope 1, "
                    "intercept 0", path, " and ".join(missing))
        return (1.0 if slope is None else slope), (0.0 if intercept is None else intercept)
    raise DataError(
        f"{path}: {' and '.join(missing)} missing, so stored values cannot be converted to Hounsfield units; "
        "only a CT image with signed pixels (Modality CT, PixelRepresentation 1) may default to slope 1 / "
        "intercept 0. Fix the header (the scanner's RescaleSlope and RescaleIntercept) or convert the study again"
    )


#: DICOM objects that are not CT images, by Modality: what they are, and what they hold instead of CT pixels
NON_IMAGE_OBJECTS = {
    "RTSTRUCT": ("an RT Structure Set", "contours (regions of interest), not image pixels"),
    "RTPLAN": ("an RT Plan", "treatment beams, not image pixels"),
    "RTRECORD": ("an RT Treatment Record", "a delivered treatment, not image pixels"),
    "RTDOSE": ("an RT Dose", "a dose grid in gray, not Hounsfield units"),
    "SEG": ("a Segmentation", "a label mask, not Hounsfield units"),
    "SR": ("a Structured Report", "findings and measurements, not image pixels"),
    "PR": ("a Presentation State", "display settings for other images, not image pixels"),
    "KO": ("a Key Object Selection", "references to other images, not image pixels"),
    "REG": ("a Spatial Registration", "a transform between images, not image pixels"),
    "DOC": ("an encapsulated document", "a PDF or CDA document, not image pixels"),
}


def _has_pixels(ds) -> bool:
    return "PixelData" in ds or "FloatPixelData" in ds or "DoubleFloatPixelData" in ds


def _check_modality(ds, path, folder: Path | None = None) -> None:
    """`DataError` for a DICOM object that is not a CT image, saying what it is; `folder`: its series folder."""
    modality = str(ds.get("Modality", "") or "").upper()
    fix = f"remove it from the series folder {folder}" if folder is not None else \
        "pass a CT image series (a folder of CT slices), a CT image file or a NIfTI volume"
    if modality in NON_IMAGE_OBJECTS:
        what, holds = NON_IMAGE_OBJECTS[modality]
        raise DataError(f"{path} is {what} (Modality {modality}), which holds {holds}; {fix}")
    if not _has_pixels(ds):
        sop = ds.get("SOPClassUID")
        name = getattr(sop, "name", None) if sop is not None else None
        what = f"a {name.removesuffix(' Storage')}" if name and name != str(sop) else "a DICOM object"
        tag = f" (Modality {modality})" if modality else ""
        raise DataError(f"{path} is {what}{tag} without pixel data, not an image; {fix}")
    if modality and modality != "CT":
        raise DataError(f"{path}: Modality is {modality}, not CT; Hounsfield units exist only for CT images")


def _pixels(ds, path) -> np.ndarray:
    """Stored pixel values, with a clear error when the transfer syntax cannot be decoded here."""
    if not _has_pixels(ds):
        raise DataError(f"{path}: DICOM file without pixel data (not an image); keep only CT slices in the folder")
    meta = getattr(ds, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    if syntax is not None and syntax.is_compressed:
        from pydicom.pixels import get_decoder

        try:
            decoder = get_decoder(syntax)
        except NotImplementedError:
            raise DataError(f"{path}: pixel data uses transfer syntax {syntax.name} ({syntax}), which pydicom "
                            "cannot decode") from None
        if not decoder.is_available:
            needs = "; ".join(decoder.missing_dependencies)
            raise DataError(f"{path}: pixel data is compressed ({syntax.name}) and no installed handler decodes "
                            f"it ({needs}); install one: {_INSTALL_DECODERS}")
    try:
        return np.asarray(ds.pixel_array)
    except (RuntimeError, ValueError, NotImplementedError, AttributeError, KeyError) as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = f"; a missing handler is installed with: {_INSTALL_DECODERS}" if syntax is not None and \
            syntax.is_compressed else ""
        raise DataError(f"{path}: cannot decode the pixel data ({text}){hint}") from None


def dicom_hu(ds, path: Path | str) -> np.ndarray:
    """HU of one dataset: `(rows, cols)`, or `(frames, rows, cols)` for a multi-frame file."""
    _check_modality(ds, path)
    pixels = _pixels(ds, path)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if int(ds.get("SamplesPerPixel", 1) or 1) != 1:
        raise DataError(f"{path}: {ds.get('SamplesPerPixel')} samples per pixel (colour); CT slices are greyscale")
    if frames > 1:
        out = np.empty(pixels.shape, "float32")
        for i in range(frames):
            slope, intercept = rescale_of(ds, path, frame=i)
            out[i] = pixels[i].astype("float32") * np.float32(slope) + np.float32(intercept)
        return out
    slope, intercept = rescale_of(ds, path)
    return pixels.astype("float32") * np.float32(slope) + np.float32(intercept)


def _orientation(ds) -> np.ndarray | None:
    value = ds.get("ImageOrientationPatient")
    if value is None or len(value) != 6:
        return None
    return np.asarray([float(v) for v in value], "float64")


def _position(ds) -> np.ndarray | None:
    value = ds.get("ImagePositionPatient")
    if value is None or len(value) != 3:
        return None
    return np.asarray([float(v) for v in value], "float64")


def slice_order(datasets: Sequence[Any], files: Sequence[Path], where: Path | str) -> tuple[list[int], float | None]:
    """Order of the slices along their normal (ImagePositionPatient), else by InstanceNumber.

    Returns the order and the slice spacing in mm (None when only InstanceNumber is known).
    """
    n = len(datasets)
    if n == 1:
        return [0], None
    positions = [_position(ds) for ds in datasets]
    orientations = [_orientation(ds) for ds in datasets]
    if all(p is not None for p in positions) and all(o is not None for o in orientations):
        first = orientations[0]
        for o, f in zip(orientations, files):
            if np.abs(o - first).max() > 1e-3:
                raise DataError(f"{f}: ImageOrientationPatient differs from {files[0].name}'s; "
                                f"{where} must hold one series of parallel slices")
        normal = np.cross(first[:3], first[3:])
        keys = np.asarray([float(np.dot(normal, p)) for p in positions])
        order = [int(i) for i in np.argsort(keys, kind="stable")]
        gaps = np.diff(keys[order])
        if gaps.size and gaps.min() < 1e-3:
            i = int(np.argmin(gaps))
            raise DataError(f"{files[order[i]]} and {files[order[i + 1]]} are at the same position "
                            f"({keys[order[i]]:.3f} mm along the slice normal); {where} holds more than one "
                            "acquisition: keep one series per folder")
        return order, float(np.median(gaps))
    numbers = [ds.get("InstanceNumber") for ds in datasets]
    if all(v is not None and v != "" for v in numbers):
        numbers = [int(v) for v in numbers]
        if len(set(numbers)) != n:
            raise DataError(f"{where}: slices repeat InstanceNumber and have no ImagePositionPatient; "
                            "the slice order cannot be determined")
        return [int(i) for i in np.argsort(numbers, kind="stable")], None
    bad = next(f for ds, f, p in zip(datasets, files, positions) if p is None or ds.get("InstanceNumber") is None)
    raise DataError(f"{bad}: neither ImagePositionPatient/ImageOrientationPatient nor InstanceNumber; the slice "
                    "order of the series cannot be determined (file names are not used)")


def _series_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir()
                   if p.is_file() and not p.name.startswith(".") and p.name.upper() != "DICOMDIR")
    if not files:
        subfolders = [p.name for p in folder.iterdir() if p.is_dir()]
        hint = f" (it has sub-folders {', '.join(sorted(subfolders)[:3])}: point at one series folder)" \
            if subfolders else ""
        raise DataError(f"{folder}: no DICOM files in this series folder{hint}")
    return files


def read_dicom_series(folder: str | Path) -> Volume:
    """The DICOM files of one series in `folder` -> `Volume`, slices ordered by position."""
    folder = Path(folder)
    files = _series_files(folder)
    datasets = [_dcmread(f, folder) for f in progress(files, f"reading {folder.name}", unit="DICOM files")]
    for ds, f in zip(datasets, files):               # a structure set or a report next to the slices: name it
        _check_modality(ds, f, folder)
    series = {str(ds.get("SeriesInstanceUID", "")) for ds in datasets} - {""}
    if len(series) > 1:
        raise DataError(f"{folder}: holds {len(series)} series (SeriesInstanceUID {', '.join(sorted(series)[:2])}"
                        "...); put one series per folder")
    shape = None
    for ds, f in zip(datasets, files):
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        if frames > 1:
            raise DataError(f"{f}: a multi-frame file inside a series folder; pass the file itself instead")
        this = (int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0))
        if shape is None:
            shape, first = this, f
        elif this != shape:
            raise DataError(f"{f}: slice of {this[0]}x{this[1]} pixels, but {first.name} is {shape[0]}x{shape[1]}; "
                            f"a series folder ({folder}) must hold slices of one size")
    order, gap = slice_order(datasets, files, folder)
    hu = np.stack([dicom_hu(datasets[i], files[i]) for i in order]).astype("float32")
    ds0 = datasets[order[0]]
    return Volume(hu=hu, source=str(folder), kind="dicom-series", spacing=_spacing(ds0, gap),
                  patient_id=_text(ds0, "PatientID"), series_uid=_text(ds0, "SeriesInstanceUID"),
                  files=[str(files[i]) for i in order])


def read_dicom_file(path: str | Path) -> Volume:
    """One DICOM file (a slice, or an enhanced multi-frame volume) -> `Volume`."""
    path = Path(path)
    ds = _dcmread(path)
    hu = dicom_hu(ds, path)
    if hu.ndim == 2:
        hu = hu[None]
    elif int(ds.get("NumberOfFrames", 1) or 1) > 1:
        hu = hu[_frame_order(ds, hu.shape[0])]
    return Volume(hu=hu.astype("float32"), source=str(path), kind="dicom-file", spacing=_spacing(ds, None),
                  patient_id=_text(ds, "PatientID"), series_uid=_text(ds, "SeriesInstanceUID"), files=[str(path)])


def _frame_order(ds, frames: int) -> list[int]:
    """Frames of an enhanced multi-frame file ordered along the normal, when positions are given."""
    positions = [_functional_group(ds, i, "PlanePositionSequence", "ImagePositionPatient") for i in range(frames)]
    orientation = _functional_group(ds, 0, "PlaneOrientationSequence", "ImageOrientationPatient")
    if orientation is None or any(p is None for p in positions):
        return list(range(frames))
    o = np.asarray([float(v) for v in orientation])
    normal = np.cross(o[:3], o[3:])
    keys = [float(np.dot(normal, [float(v) for v in p])) for p in positions]
    return [int(i) for i in np.argsort(keys, kind="stable")]


def _text(ds, keyword: str) -> str | None:
    value = ds.get(keyword)
    return None if value is None or str(value) == "" else str(value)


def _spacing(ds, gap: float | None) -> tuple[float, float, float] | None:
    pixel = ds.get("PixelSpacing")
    if pixel is None or len(pixel) != 2:
        return None
    thickness = gap if gap is not None else _number(ds, "SliceThickness")
    return (float(thickness) if thickness else 0.0, float(pixel[0]), float(pixel[1]))


# --------------------------------------------------------------------------- NIfTI

def read_nifti(path: str | Path) -> Volume:
    """A NIfTI volume (`.nii`, `.nii.gz`) in HU -> `Volume`, reoriented to DICOM's LPS display order."""
    import nibabel as nib
    from nibabel.filebasedimages import ImageFileError

    path = Path(path)
    try:
        image = nib.load(str(path))
        data = image.get_fdata(dtype=np.float32)
    except (ImageFileError, OSError, EOFError, ValueError) as exc:
        raise DataError(f"{path}: cannot read this NIfTI file ({type(exc).__name__}: {exc})") from None
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise DataError(f"{path}: a NIfTI volume of shape {data.shape}; a CT volume has 3 dimensions")
    ornt = nib.orientations.io_orientation(image.affine)
    transform = nib.orientations.ornt_transform(ornt, nib.orientations.axcodes2ornt(("L", "P", "S")))
    data = nib.orientations.apply_orientation(data, transform)
    zooms = _reoriented_zooms(image.header.get_zooms()[:3], transform)
    # voxel axes are now (i: right->left, j: anterior->posterior, k: inferior->superior)
    hu = np.ascontiguousarray(np.transpose(data, (2, 1, 0)), dtype="float32")
    return Volume(hu=hu, source=str(path), kind="nifti", spacing=(zooms[2], zooms[1], zooms[0]), files=[str(path)])


def _reoriented_zooms(zooms, transform) -> tuple[float, float, float]:
    out = [0.0, 0.0, 0.0]
    for axis, (new_axis, _flip) in enumerate(transform):
        out[int(new_axis)] = float(zooms[axis])
    return out[0], out[1], out[2]


# --------------------------------------------------------------------------- shaping

def _resize_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Linear interpolation weights (n_out, n_in); a wider triangle when shrinking (anti-aliased)."""
    scale = n_in / n_out
    support = max(scale, 1.0)
    centres = (np.arange(n_out) + 0.5) * scale - 0.5
    weights = np.maximum(0.0, 1.0 - np.abs(np.arange(n_in)[None, :] - centres[:, None]) / support)
    weights /= weights.sum(axis=1, keepdims=True)
    return weights.astype("float32")


def square_slices(hu: np.ndarray, size: int) -> np.ndarray:
    """`(n, rows, cols)` HU -> `(n, size, size)`: pad to a square with air, then resize (anti-aliased)."""
    hu = np.asarray(hu, "float32")
    n, rows, cols = hu.shape
    if rows != cols:
        side = max(rows, cols)
        padded = np.full((n, side, side), AIR_HU, "float32")
        r0, c0 = (side - rows) // 2, (side - cols) // 2
        padded[:, r0:r0 + rows, c0:c0 + cols] = hu
        hu, rows, cols = padded, side, side
    if rows == size:
        return hu
    wy = _resize_matrix(rows, size)
    wx = _resize_matrix(cols, size)
    return np.matmul(np.matmul(wy, hu), wx.T).astype("float32")


def stack_context(hu: np.ndarray, slices: int) -> np.ndarray:
    """`(n, S, S)` -> `(n, S, S, slices)`: each slice with its neighbours as channels (2.5D).

    `slices` is odd; the slice itself is the middle channel; neighbours past the
    ends repeat the first or last slice.
    """
    n = hu.shape[0]
    half = slices // 2
    index = np.clip(np.arange(n)[:, None] + np.arange(-half, half + 1)[None, :], 0, n - 1)
    return np.ascontiguousarray(np.moveaxis(hu[index], 1, -1), dtype="float32")


# --------------------------------------------------------------------------- writing (demo data, tests)

def write_dicom_series(folder: str | Path, hu: np.ndarray, *, patient_id: str, study_uid: str | None = None,
                       series_uid: str | None = None, pixel_spacing: float = 1.0, slice_spacing: float = 1.0,
                       origin: Sequence[float] = (0.0, 0.0, 0.0), slope: float = 1.0, intercept: float = -1024.0,
                       signed: bool = False, bits_stored: int = 12, file_names: Sequence[str] | None = None,
                       uid_seed: str | None = None, description: str = "keras-zoo synthetic CT") -> list[Path]:
    """Write `hu` (n, rows, cols) as an axial CT series of uncompressed DICOM files; return the paths.

    Stored value = round((HU - intercept) / slope), clipped to the `bits_stored`
    range; slice i sits at `origin + i * slice_spacing` along z. With `uid_seed`
    the UIDs are derived from it (deterministic files).

    Example: `write_dicom_series("p001/ct", volume, patient_id="p001", slope=0.5, intercept=-1000)`.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    hu = np.asarray(hu, "float64")
    n, rows, cols = hu.shape

    def uid(*parts):
        return generate_uid(entropy_srcs=[uid_seed, *map(str, parts)]) if uid_seed is not None else generate_uid()

    study_uid = study_uid or uid("study")
    series_uid = series_uid or uid("series")
    frame_uid = uid("frame")
    if signed:
        low, high, dtype = -(1 << (bits_stored - 1)), (1 << (bits_stored - 1)) - 1, "<i2"
    else:
        low, high, dtype = 0, (1 << bits_stored) - 1, "<u2"
    stored = np.clip(np.round((hu - intercept) / slope), low, high).astype(dtype)
    names = list(file_names) if file_names is not None else [f"slice{i:04d}.dcm" for i in range(n)]
    paths = []
    for i in range(n):
        sop_uid = uid("sop", i)
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = sop_uid
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = sop_uid
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.FrameOfReferenceUID = frame_uid
        ds.Modality = "CT"
        ds.PatientID = patient_id
        ds.PatientName = patient_id
        ds.SeriesDescription = description
        ds.SeriesNumber = 1
        ds.InstanceNumber = i + 1
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [float(origin[0]), float(origin[1]), float(origin[2]) + i * slice_spacing]
        ds.SliceThickness = abs(slice_spacing)
        ds.PixelSpacing = [pixel_spacing, pixel_spacing]
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows, ds.Columns = rows, cols
        ds.BitsAllocated = 16
        ds.BitsStored = bits_stored
        ds.HighBit = bits_stored - 1
        ds.PixelRepresentation = 1 if signed else 0
        ds.RescaleSlope = f"{slope:g}"
        ds.RescaleIntercept = f"{intercept:g}"
        ds.RescaleType = "HU"
        ds.PixelData = stored[i].tobytes()
        path = folder / names[i]
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
