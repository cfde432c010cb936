"""Reading CT: HU conversion, slice order, NIfTI, and the errors bad files give (real files)."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from zoo.errors import DataError
from zoo_medical_ct import io

from ct_testing import phantom


def write_slice(path, stored, *, slope="0.5", intercept="-1000", signed=False, modality="CT", position=None,
                orientation=(1, 0, 0, 0, 1, 0), instance=None, series_uid="1.2.3.4", syntax=ExplicitVRLittleEndian,
                pixel_data=None):
    """One CT slice written by hand (not by the plugin's writer), with exactly the tags given."""
    stored = np.asarray(stored, "<i2" if signed else "<u2")
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.SeriesInstanceUID = series_uid
    if modality is not None:
        ds.Modality = modality
    ds.PatientID = "TEST"
    ds.Rows, ds.Columns = stored.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.PixelRepresentation = 1 if signed else 0
    if slope is not None:
        ds.RescaleSlope = slope
    if intercept is not None:
        ds.RescaleIntercept = intercept
    if position is not None:
        ds.ImagePositionPatient = list(position)
        ds.ImageOrientationPatient = list(orientation)
    if instance is not None:
        ds.InstanceNumber = instance
    if pixel_data is not None:
        ds.PixelData = pixel_data
        ds["PixelData"].is_undefined_length = True
    else:
        ds.PixelData = stored.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


# --------------------------------------------------------------------------- HU

def test_hu_is_stored_times_slope_plus_intercept(tmp_path):
    stored = [[0, 1000], [2000, 4095]]
    path = write_slice(tmp_path / "a.dcm", stored, slope="0.5", intercept="-1000")
    volume = io.read_volume(path)
    # hand-computed: 0*0.5-1000, 1000*0.5-1000, 2000*0.5-1000, 4095*0.5-1000
    assert volume.hu.dtype == np.float32
    np.testing.assert_array_equal(volume.hu[0], [[-1000.0, -500.0], [0.0, 1047.5]])


def test_hu_with_signed_pixels_and_slope_two(tmp_path):
    path = write_slice(tmp_path / "a.dcm", [[-5, 0], [7, 300]], slope="2", intercept="-1024", signed=True)
    np.testing.assert_array_equal(io.read_volume(path).hu[0], [[-1034.0, -1024.0], [-1010.0, -424.0]])


def test_the_plugin_writer_round_trips_hu_through_slope_and_intercept(tmp_path):
    hu = np.array([[[-1000.0, -800.0], [40.0, 700.0]]])
    io.write_dicom_series(tmp_path / "s", hu, patient_id="X", slope=0.25, intercept=-512.0, signed=True,
                          bits_stored=16)
    ds = pydicom.dcmread(next((tmp_path / "s").iterdir()))
    assert (float(ds.RescaleSlope), float(ds.RescaleIntercept)) == (0.25, -512.0)
    assert ds.pixel_array[0, 0] == (-1000 + 512) / 0.25            # stored value, not HU
    np.testing.assert_array_equal(io.read_volume(tmp_path / "s").hu, hu)


def test_pydicom_ct_small_loads_with_plausible_hu():
    from pydicom.data import get_testdata_file

    path = get_testdata_file("CT_small.dcm")
    assert path is not None, "pydicom no longer ships CT_small.dcm"
    volume = io.read_volume(path)
    ds = pydicom.dcmread(path)
    assert volume.hu.shape == (1, 128, 128)
    expected = ds.pixel_array.astype("float32") * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    np.testing.assert_array_equal(volume.hu[0], expected)
    assert -1100 <= volume.hu.min() and volume.hu.max() <= 3100       # air .. dense bone
    assert -200 <= np.median(volume.hu) <= 200                         # mostly soft tissue in this slice


def test_missing_rescale_on_unsigned_ct_is_refused_naming_file_and_tag(tmp_path):
    path = write_slice(tmp_path / "noresc.dcm", [[1024, 0]], intercept=None)
    with pytest.raises(DataError, match=r"noresc\.dcm.*RescaleIntercept missing"):
        io.read_volume(path)


def test_missing_rescale_on_signed_ct_defaults_to_identity(tmp_path, caplog):
    path = write_slice(tmp_path / "signed.dcm", [[-1000, 40]], slope=None, intercept=None, signed=True)
    np.testing.assert_array_equal(io.read_volume(path).hu[0], [[-1000.0, 40.0]])
    assert "signed pixels stores HU directly" in caplog.text


def test_missing_rescale_without_modality_is_refused(tmp_path):
    path = write_slice(tmp_path / "nomod.dcm", [[-1000, 40]], slope=None, intercept=None, signed=True, modality=None)
    with pytest.raises(DataError, match="RescaleSlope and RescaleIntercept missing"):
        io.read_volume(path)


def test_non_ct_modality_is_refused(tmp_path):
    path = write_slice(tmp_path / "mr.dcm", [[1, 2]], modality="MR")
    with pytest.raises(DataError, match=r"mr\.dcm: Modality is MR, not CT"):
        io.read_volume(path)


def test_compressed_pixels_without_a_handler_name_the_packages(tmp_path):
    from pydicom.encaps import encapsulate
    from pydicom.pixels import get_decoder
    from pydicom.uid import JPEGLosslessSV1

    if get_decoder(JPEGLosslessSV1).is_available:
        pytest.skip("a JPEG Lossless handler is installed here; nothing is missing")
    path = write_slice(tmp_path / "jpeg.dcm", [[0, 0]], syntax=JPEGLosslessSV1,
                       pixel_data=encapsulate([b"\xff\xd8\xff\xd9"]))
    with pytest.raises(DataError) as info:
        io.read_volume(path)
    message = str(info.value)
    assert "jpeg.dcm" in message and "JPEG Lossless" in message
    assert "pylibjpeg" in message and "gdcm" in message


def test_a_non_dicom_file_is_refused_naming_it(tmp_path):
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(DataError, match=r"notes\.txt: not a DICOM file"):
        io.read_volume(tmp_path / "notes.txt")


def test_a_non_dicom_file_inside_a_series_folder_is_named(tmp_path):
    io.write_dicom_series(tmp_path / "s", phantom(2), patient_id="X")
    (tmp_path / "s" / "README").write_text("exported by hand")
    with pytest.raises(DataError, match=r"README: not a DICOM file"):
        io.read_volume(tmp_path / "s")


def _without_preamble(path, layout, implicit_vr=True):
    """Rewrite a DICOM file as older tools write it: `marker` keeps "DICM" and the file meta at byte 0,
    `bare` is the data set alone (no preamble, no marker, no file meta)."""
    if layout == "marker":
        path.write_bytes(path.read_bytes()[128:])
        return path
    ds = pydicom.dcmread(path)
    del ds.file_meta
    ds.preamble = None
    pydicom.dcmwrite(path, ds, implicit_vr=implicit_vr, little_endian=True)
    assert path.read_bytes()[:2] == b"\x08\x00"           # group 0008 first: no preamble, no meta
    return path


@pytest.mark.parametrize("layout, implicit_vr", [("marker", True), ("bare", True), ("bare", False)])
def test_a_dicom_file_without_the_preamble_is_read(tmp_path, layout, implicit_vr):
    volume = np.stack([np.full((4, 4), float(v)) for v in (-900, 40, 700)])
    files = io.write_dicom_series(tmp_path / "s", volume, patient_id="X", slope=0.5, intercept=-1024.0,
                                  bits_stored=16, file_names=["c.dcm", "a.dcm", "b.dcm"])
    with pytest.raises(pydicom.errors.InvalidDicomError):
        pydicom.dcmread(_without_preamble(files[1], layout, implicit_vr))     # what pydicom alone says
    one = io.read_volume(files[1])
    np.testing.assert_array_equal(one.hu, volume[1:2])
    assert one.series_uid == pydicom.dcmread(files[0]).SeriesInstanceUID
    for f in files:                                       # a whole series written that way
        if f != files[1]:
            _without_preamble(f, layout, implicit_vr)
    np.testing.assert_array_equal(io.read_volume(tmp_path / "s").hu, volume)


def _rtstruct(path, series_uid="1.2.3.99"):
    """An RT Structure Set: contours of a region of interest, no pixels (written by hand, as a TPS would)."""
    from pydicom.sequence import Sequence
    from pydicom.uid import RTStructureSetStorage

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = RTStructureSetStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = RTStructureSetStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "RTSTRUCT"
    ds.PatientID = "X"
    ds.SeriesInstanceUID = series_uid
    ds.StructureSetLabel = "lungs"
    roi = Dataset()
    roi.ROINumber = 1
    roi.ROIName = "nodule"
    ds.StructureSetROISequence = Sequence([roi])
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.mark.parametrize("preamble", [True, False])
def test_an_rt_structure_set_in_a_series_folder_is_named_for_what_it_is(tmp_path, preamble):
    io.write_dicom_series(tmp_path / "s", phantom(2), patient_id="X")
    rt = _rtstruct(tmp_path / "s" / "RS.lungs.dcm")
    if not preamble:
        _without_preamble(rt, "bare")
    with pytest.raises(DataError) as info:
        io.read_volume(tmp_path / "s")
    message = str(info.value)
    assert message.startswith(f"{rt} is an RT Structure Set (Modality RTSTRUCT), which holds contours")
    assert "not image pixels; remove it from the series folder" in message
    assert "not a DICOM file" not in message and "holds 2 series" not in message
    rt.unlink()
    assert io.read_volume(tmp_path / "s").hu.shape == (2, 16, 16)          # the rest is a good series


def test_an_rt_structure_set_alone_is_refused_saying_what_to_pass(tmp_path):
    with pytest.raises(DataError, match=r"rs\.dcm is an RT Structure Set \(Modality RTSTRUCT\).*; pass a CT image"):
        io.read_volume(_rtstruct(tmp_path / "rs.dcm"))


def test_an_image_less_object_of_another_kind_names_its_sop_class(tmp_path):
    from pydicom.uid import BasicTextSRStorage

    path = _rtstruct(tmp_path / "report.dcm")
    ds = pydicom.dcmread(path)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = BasicTextSRStorage
    del ds.Modality
    ds.save_as(path, enforce_file_format=True)
    with pytest.raises(DataError, match=r"report\.dcm is a Basic Text SR without pixel data, not an image"):
        io.read_volume(path)


def test_bytes_that_only_look_like_a_bare_data_set_stay_not_dicom(tmp_path):
    # group 0008 first, as a bare data set starts, but no SOPClassUID or Modality after it
    (tmp_path / "odd.bin").write_bytes(b"\x08\x00\x05\x00\x0a\x00\x00\x00ISO_IR 100" + b"junk" * 10)
    with pytest.raises(DataError, match=r"odd\.bin: not a DICOM file .*no DICOM data set at its start"):
        io.read_volume(tmp_path / "odd.bin")


# --------------------------------------------------------------------------- series

def test_slices_are_ordered_by_position_not_by_file_name(tmp_path):
    volume = np.stack([np.full((4, 4), float(v)) for v in (-900, -500, 0, 300, 800)])
    # stored head to feet (positions descending as InstanceNumber rises) under shuffled names
    names = ["z.dcm", "b.dcm", "x.dcm", "a.dcm", "m.dcm"]
    io.write_dicom_series(tmp_path / "s", volume[::-1], patient_id="X", slice_spacing=-2.5,
                          origin=(0, 0, 10.0), file_names=names)
    read = io.read_volume(tmp_path / "s")
    np.testing.assert_array_equal(read.hu[:, 0, 0], [-900, -500, 0, 300, 800])
    assert read.spacing[0] == pytest.approx(2.5)
    assert [p.rsplit("/", 1)[-1] for p in read.files] == ["m.dcm", "a.dcm", "x.dcm", "b.dcm", "z.dcm"]


def test_positions_are_projected_on_the_slice_normal(tmp_path):
    # sagittal slices: rows along y, columns along -z; the normal is -x, so larger x comes first
    orientation = (0, 1, 0, 0, 0, -1)
    for i, (x, value) in enumerate([(5.0, 300), (-5.0, 100), (0.0, 200)]):
        write_slice(tmp_path / f"s{i}.dcm", [[value + 1000]], slope="1", intercept="-1000",
                    position=(x, 0, 0), orientation=orientation, instance=i + 1)
    np.testing.assert_array_equal(io.read_volume(tmp_path).hu[:, 0, 0], [300, 200, 100])


def test_instance_number_orders_slices_without_positions(tmp_path):
    for name, instance, value in [("c.dcm", 2, 20), ("a.dcm", 3, 30), ("b.dcm", 1, 10)]:
        write_slice(tmp_path / name, [[value + 1000]], slope="1", intercept="-1000", instance=instance)
    np.testing.assert_array_equal(io.read_volume(tmp_path).hu[:, 0, 0], [10, 20, 30])


def test_a_series_with_mixed_shapes_is_refused_naming_the_file(tmp_path):
    write_slice(tmp_path / "a.dcm", np.zeros((4, 4)), position=(0, 0, 0), instance=1)
    write_slice(tmp_path / "odd.dcm", np.zeros((4, 6)), position=(0, 0, 1), instance=2)
    with pytest.raises(DataError, match=r"odd\.dcm: slice of 4x6 pixels, but a\.dcm is 4x4"):
        io.read_volume(tmp_path)


def test_two_series_in_one_folder_are_refused(tmp_path):
    write_slice(tmp_path / "a.dcm", np.zeros((2, 2)), position=(0, 0, 0), series_uid="1.2.3")
    write_slice(tmp_path / "b.dcm", np.zeros((2, 2)), position=(0, 0, 1), series_uid="1.2.4")
    with pytest.raises(DataError, match="holds 2 series"):
        io.read_volume(tmp_path)


def test_two_slices_at_one_position_are_refused(tmp_path):
    write_slice(tmp_path / "a.dcm", np.zeros((2, 2)), position=(0, 0, 0))
    write_slice(tmp_path / "b.dcm", np.zeros((2, 2)), position=(0, 0, 0))
    with pytest.raises(DataError, match="same position"):
        io.read_volume(tmp_path)


def test_an_empty_folder_is_refused(tmp_path):
    (tmp_path / "series").mkdir()
    with pytest.raises(DataError, match="no DICOM files"):
        io.read_volume(tmp_path / "series")


# --------------------------------------------------------------------------- NIfTI

@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_nifti_round_trip_in_lps_voxel_order(tmp_path, suffix):
    import nibabel as nib

    hu = phantom(4, size=6, seed=1)                                  # (slices, rows, cols) as read
    data = hu.transpose(2, 1, 0)                                     # voxels (i: R->L, j: A->P, k: I->S)
    nib.save(nib.Nifti1Image(data, np.diag([-0.7, -0.8, 2.5, 1.0])), tmp_path / f"v{suffix}")
    volume = io.read_volume(tmp_path / f"v{suffix}")
    assert volume.kind == "nifti"
    np.testing.assert_allclose(volume.hu, hu, atol=1e-4)
    assert volume.spacing == pytest.approx((2.5, 0.8, 0.7))


def test_nifti_in_ras_order_is_reoriented(tmp_path):
    import nibabel as nib

    hu = phantom(3, size=5, seed=2)
    ras = hu.transpose(2, 1, 0)[::-1, ::-1, :]                      # i: L->R, j: P->A
    nib.save(nib.Nifti1Image(np.ascontiguousarray(ras), np.eye(4)), tmp_path / "ras.nii.gz")
    np.testing.assert_allclose(io.read_volume(tmp_path / "ras.nii.gz").hu, hu, atol=1e-4)


def test_nifti_scaling_gives_hu(tmp_path):
    import nibabel as nib

    stored = np.array([[[0, 2000]], [[1000, 4000]]], dtype=np.int16)      # (i, j, k) = (2, 1, 2)
    image = nib.Nifti1Image(stored, np.diag([-1.0, -1.0, 1.0, 1.0]))
    image.header.set_slope_inter(0.5, -1000.0)
    nib.save(image, tmp_path / "scaled.nii")
    hu = io.read_volume(tmp_path / "scaled.nii").hu                       # (k, j, i)
    np.testing.assert_array_equal(hu[:, 0, :], [[-1000.0, -500.0], [0.0, 1000.0]])


def test_a_broken_nifti_is_refused_naming_it(tmp_path):
    (tmp_path / "broken.nii.gz").write_bytes(b"definitely not gzip")
    with pytest.raises(DataError, match=r"broken\.nii\.gz: cannot read this NIfTI file"):
        io.read_volume(tmp_path / "broken.nii.gz")


# --------------------------------------------------------------------------- shaping

def test_square_slices_pads_with_air_and_resizes():
    hu = np.full((2, 4, 8), 40.0, "float32")
    out = io.square_slices(hu, 8)
    assert out.shape == (2, 8, 8)
    np.testing.assert_array_equal(out[:, 2:6, :], 40.0)
    np.testing.assert_array_equal(out[:, :2, :], io.AIR_HU)
    flat = io.square_slices(np.full((1, 64, 64), -600.0, "float32"), 24)
    np.testing.assert_allclose(flat, -600.0, rtol=1e-6)


def test_stack_context_puts_neighbours_in_channels():
    hu = np.arange(4, dtype="float32")[:, None, None] * np.ones((1, 2, 2), "float32")
    out = io.stack_context(hu, 3)
    assert out.shape == (4, 2, 2, 3)
    np.testing.assert_array_equal(out[:, 0, 0], [[0, 0, 1], [0, 1, 2], [1, 2, 3], [2, 3, 3]])
