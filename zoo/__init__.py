"""keras-zoo: fine-tune pretrained Keras 3 models from plugins, export them verified.

Importing `zoo` is cheap: TensorFlow and Keras load only when a model is built.
"""

__version__ = "0.1.0"
