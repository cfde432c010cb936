"""The Keras serialisables a detection model holds: the vision plugin's preprocessing and the core's
detection layers (anchor points, decoded boxes, NMS). Imported before a run's model is loaded."""

from zoo.detection import AnchorPoints, DecodeBoxes, Postprocess, PyramidLocations
from zoo_vision.layers import ImageNetPreprocess

__all__ = ["AnchorPoints", "DecodeBoxes", "Postprocess", "PyramidLocations", "ImageNetPreprocess"]
