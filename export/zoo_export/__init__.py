"""keras-zoo-export: Keras models to SavedModel, TFLite (LiteRT) and ONNX, verified.

Depends on Keras, TensorFlow and the runtimes only; never on `zoo`.
Importing this package does not import TensorFlow.
"""

__version__ = "0.1.0"
